package flagenv

import (
	"flag"
	"io"
	"testing"
	"time"

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
