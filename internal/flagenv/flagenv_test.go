package flagenv

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newSet() (*flag.FlagSet, *string, *time.Duration) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	s := fs.String("data-dir", "def", "where data lives")
	d := fs.Duration("wait", time.Second, "how long")
	return fs, s, d
}

func TestPrecedence(t *testing.T) {
	env := map[string]string{"BACKBEAT_DATA_DIR": "/from/env", "BACKBEAT_WAIT": "5s"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }

	fs, s, d := newSet()
	require.NoError(t, Parse(fs, []string{"--data-dir", "/from/flag"}, lookup))
	assert.Equal(t, "/from/flag", *s, "command line wins over env")
	assert.Equal(t, 5*time.Second, *d, "env wins over default")

	fs, s, _ = newSet()
	require.NoError(t, Parse(fs, nil, func(string) (string, bool) { return "", false }))
	assert.Equal(t, "def", *s, "default when neither is set")
	assert.Contains(t, fs.Lookup("data-dir").Usage, "(env BACKBEAT_DATA_DIR)")
}

func TestBadEnvValue(t *testing.T) {
	fs, _, _ := newSet()
	err := Parse(fs, nil, func(k string) (string, bool) { return "soon", k == "BACKBEAT_WAIT" })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "BACKBEAT_WAIT")
	assert.Contains(t, err.Error(), "--wait")
}

func TestSecret(t *testing.T) {
	env := map[string]string{"BACKBEAT_SECRET_KEY": "from-env"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	newSecretSet := func() (*flag.FlagSet, *string) {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var s string
		SecretVar(fs, &s, "secret-key", "secret key")
		return fs, &s
	}

	fs, s := newSecretSet()
	require.NoError(t, Parse(fs, nil, lookup))
	assert.Equal(t, "from-env", *s, "no file: the environment")
	assert.Contains(t, fs.Lookup("secret-key-file").Usage, "(env BACKBEAT_SECRET_KEY_FILE)")
	assert.Contains(t, fs.Lookup("secret-key-file").Usage, "the environment variable BACKBEAT_SECRET_KEY;")

	file := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(file, []byte("from-file\r\n"), 0o600))
	fs, s = newSecretSet()
	require.NoError(t, Parse(fs, []string{"--secret-key-file", file}, lookup))
	assert.Equal(t, "from-file", *s, "the file wins over the environment")

	fs, _ = newSecretSet()
	err := Parse(fs, []string{"--secret-key-file", filepath.Join(t.TempDir(), "missing")}, lookup)
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), "--secret-key-file")

	for _, args := range [][]string{{"--secret-key", "x"}, {"-secret-key=x"}, {"--secret-key=x"}} {
		fs, s = newSecretSet()
		err := Parse(fs, args, lookup)
		require.Error(t, err, "%q", args)
		assert.Equal(t, "--secret-key is not accepted: a secret on the command line shows in ps; put it in a file and give --secret-key-file FILE, or set the environment variable BACKBEAT_SECRET_KEY", err.Error())
		assert.Empty(t, *s)
	}
	fs, _ = newSecretSet()
	require.NoError(t, Parse(fs, []string{"--", "--secret-key"}, lookup), "after --, an argument is not a flag")
}

func TestPFlags(t *testing.T) {
	env := map[string]string{"BACKBEAT_SOURCE_ENDPOINT": "http://env", "BACKBEAT_BUCKET": "not-bound",
		"BACKBEAT_TIMEOUT": "3s", "BACKBEAT_REPLICATION_SECRET_KEY": "sk"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	newSet := func() (*pflag.FlagSet, *string, *string, *time.Duration, *string) {
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		fs.SetOutput(io.Discard)
		ep := fs.String("source-endpoint", "http://def", "endpoint")
		timeout := fs.Duration("timeout", time.Second, "timeout")
		var sk string
		PSecretVar(fs, &sk, "replication-secret-key", "secret key")
		Bind(fs)
		bucket := fs.String("bucket", "", "an operand: no environment")
		return fs, ep, bucket, timeout, &sk
	}

	fs, ep, bucket, timeout, sk := newSet()
	require.NoError(t, fs.Parse([]string{"--timeout", "5s"}))
	require.NoError(t, ApplyEnv(fs, lookup))
	assert.Equal(t, "http://env", *ep)
	assert.Equal(t, 5*time.Second, *timeout, "the command line wins")
	assert.Empty(t, *bucket, "a flag not bound has no environment fallback")
	assert.Equal(t, "sk", *sk)
	assert.Contains(t, fs.Lookup("source-endpoint").Usage, "(env BACKBEAT_SOURCE_ENDPOINT)")
	assert.NotContains(t, fs.Lookup("bucket").Usage, "(env ")

	fs, _, _, _, _ = newSet()
	err := CheckArgs(fs, []string{"status", "--replication-secret-key", "x"})
	require.ErrorContains(t, err, "--replication-secret-key is not accepted")
	assert.Contains(t, err.Error(), "--replication-secret-key-file FILE, or set the environment variable BACKBEAT_REPLICATION_SECRET_KEY")
	require.NoError(t, CheckArgs(fs, []string{"status", "--replication-secret-key-file", "f"}))

	fs, _, _, _, _ = newSet()
	env["BACKBEAT_TIMEOUT"] = "soon"
	require.ErrorContains(t, ApplyEnv(fs, lookup), `environment variable BACKBEAT_TIMEOUT="soon" is not a valid value for --timeout`)
}
