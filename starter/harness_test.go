package starter

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/internal/devstack"
	"github.com/backbeat-temporal/backbeat/s3server/s3test"
)

// Profiles of the AWS files written by useProfiles.
const (
	profUser        = "backbeatuser"  // s3test.User
	profReplication = "replication"   // s3test.Replication
	profWrongSecret = "wrongsecret"   // s3test.User's access key, another secret
	profUnknownKey  = "unknownkey"    // an access key no server knows
	profNoKeys      = "nokeys"        // in the config file, without keys
	profOther       = "otheraccount"  // s3test.Alice: another tenant of the same servers
	noSuchProfile   = "no-such-thing" // in neither file
)

// useProfiles writes an AWS config and credentials file with the profiles above, points
// AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE at them and clears the environment
// variables that would otherwise leak into the commands. It returns the config file.
func useProfiles(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	creds := filepath.Join(dir, "credentials")
	var c, k strings.Builder
	for _, p := range []struct{ name, ak, sk string }{
		{profUser, s3test.User.AccessKey, s3test.User.SecretKey},
		{profReplication, s3test.Replication.AccessKey, s3test.Replication.SecretKey},
		{profWrongSecret, s3test.User.AccessKey, "not-the-secret"},
		{profUnknownKey, "AKUNKNOWN0000000000", "whatever"},
		{profOther, s3test.Alice.AccessKey, s3test.Alice.SecretKey},
	} {
		fmt.Fprintf(&c, "[profile %s]\nregion = us-east-1\n\n", p.name)
		fmt.Fprintf(&k, "[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n\n", p.name, p.ak, p.sk)
	}
	fmt.Fprintf(&c, "[profile %s]\nregion = us-east-1\n", profNoKeys)
	require.NoError(t, os.WriteFile(cfg, []byte(c.String()), 0o600))
	require.NoError(t, os.WriteFile(creds, []byte(k.String()), 0o600))
	t.Setenv("AWS_CONFIG_FILE", cfg)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", creds)
	for _, v := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
		EnvSourceEndpoint, EnvS3Endpoint, EnvTargetEndpoint, EnvSourceProfile, EnvTargetProfile, EnvReplicationProfile,
		EnvReplicationAccessKey, EnvReplicationSecretKey, EnvReplicationSecretKey + "_FILE", EnvRegion, EnvTemporalAddress, EnvNamespace, EnvTopic,
		EnvPartitions, EnvTimeout, EnvRole, EnvOutput, EnvS3CAFile, "AWS_CA_BUNDLE",
		EnvTemporalTLSCA, EnvTemporalTLSCert, EnvTemporalTLSKey, EnvTemporalTLSServerName} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	return cfg
}

// result is what one command printed and returned.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// run runs the command line through Execute.
func run(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := Execute(ctx, args, &out, &errb)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// runOK runs the command line and requires exit code 0.
func runOK(t *testing.T, args ...string) result {
	t.Helper()
	r := run(t, args...)
	require.Equal(t, ExitOK, r.code, "starter %s\n%s", strings.Join(args, " "), r)
	return r
}

// runJSON runs the command line, requires exit code 0 and decodes stdout into v.
func runJSON(t *testing.T, v any, args ...string) result {
	t.Helper()
	r := runOK(t, append(args, "--output", "json")...)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), v), "stdout is JSON: %s", r.stdout)
	return r
}

// pair is a source and a target s3server with clients as the user.
type pair struct {
	src, dst   *s3test.Process
	srcC, dstC *s3.Client
}

func startPair(t *testing.T) *pair {
	t.Helper()
	if testing.Short() {
		t.Skip("starts s3server processes")
	}
	p := &pair{src: s3test.Start(t), dst: s3test.Start(t)}
	p.srcC, p.dstC = p.src.Client(s3test.User), p.dst.Client(s3test.User)
	return p
}

// flags are the endpoint and profile flags of the pair.
func (p *pair) flags(extra ...string) []string {
	return append([]string{"--source-endpoint", p.src.URL, "--target-endpoint", p.dst.URL,
		"--source-profile", profUser, "--target-profile", profUser, "--timeout", "5s"}, extra...)
}

// cmd is a command line: the command words, then the pair's flags, then extra.
func (p *pair) cmd(words string, extra ...string) []string {
	return append(strings.Fields(words), p.flags(extra...)...)
}

func putObject(t *testing.T, c *s3.Client, bucket, key, body string) string {
	t.Helper()
	out, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
		Body: strings.NewReader(body), ContentType: aws.String("text/plain")})
	require.NoError(t, err)
	return aws.ToString(out.VersionId)
}

// bbVersionOf reads a version through the privileged route (as the replication
// identity), without starter's code.
func bbVersionOf(t *testing.T, p *s3test.Process, bucket, key, vid string) *bbproto.Version {
	t.Helper()
	v, err := p.BBClient().Version(context.Background(), bucket, key, vid)
	require.NoError(t, err, "version %s/%s@%s", bucket, key, vid)
	return v
}

// statusOf is the replication status of v, as starter's reports show it.
func statusOf(v *bbproto.Version) string { return string(v.ReplicationStatus()) }

// setStatusOf writes a version's status through the privileged route, without
// starter's code (as the worker's activity does).
func setStatusOf(t *testing.T, p *s3test.Process, bucket, key, vid string, status bbproto.Status, reason string) {
	t.Helper()
	_, err := p.BBClient().SetStatus(context.Background(), bucket, key, vid, status, reason)
	require.NoError(t, err, "status %s/%s@%s", bucket, key, vid)
}

// journalStatusRecords returns the journal records of op "status" for bucket/key.
func journalStatusRecords(t *testing.T, p *s3test.Process, bucket, key string) []map[string]any {
	t.Helper()
	resp, err := p.Backbeat(context.Background(), http.MethodGet, "journal?after=0&limit=10000", nil, nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(body)), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec))
		if rec["op"] == "status" && rec["bucket"] == bucket && rec["key"] == key {
			out = append(out, rec)
		}
	}
	return out
}

// putReplica writes a replica of a source version on the target through the privileged
// route, as the worker's activity does: from a source bucket "src" of another server,
// owned by s3test.User.
func putReplica(t *testing.T, dst *s3test.Process, bucket, key, vid, body string) {
	t.Helper()
	hdr := http.Header{"X-Backbeat-Version-Id": {vid}, "X-Backbeat-Last-Modified": {time.Now().UTC().Format(time.RFC3339Nano)},
		"Content-Type": {"text/plain"}, "Content-Length": {fmt.Sprint(len(body))},
		"X-Backbeat-Source-Bucket": {"src"}, "X-Backbeat-Source-Account": {s3test.User.Name}, "X-Backbeat-Source-Journal-Id": {"the-source-server"}}
	resp, err := dst.Backbeat(context.Background(), http.MethodPut, "replica/"+bbproto.EscapeKey(bucket)+"/"+bbproto.EscapeKey(key), strings.NewReader(body), hdr)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, "replica: %s", b)
}

// closedURL is an http URL on which nothing listens.
func closedURL(t *testing.T) string {
	t.Helper()
	return "http://" + devstack.FreeAddr(t)
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
