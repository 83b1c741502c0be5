package s3server_test

import (
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/s3server/s3test"
)

// awsCLI is the AWS CLI v2 of Debian's awscli package (installed by `make deps`).
const awsCLI = "/usr/bin/aws"

// cli runs the AWS CLI against p as acct and returns stdout.
type cli struct {
	t   *testing.T
	p   *s3test.Process
	env []string
}

func newCLI(t *testing.T, p *s3test.Process, acct s3test.Account) *cli {
	if _, err := os.Stat(awsCLI); err != nil {
		t.Fatalf("%s is missing: run `make deps` (installs Debian's awscli)", awsCLI)
	}
	home := t.TempDir()
	return &cli{t: t, p: p, env: []string{
		"HOME=" + home, "PATH=/usr/bin:/bin",
		"AWS_ACCESS_KEY_ID=" + acct.AccessKey, "AWS_SECRET_ACCESS_KEY=" + acct.SecretKey,
		"AWS_DEFAULT_REGION=us-east-1", "AWS_PAGER=", "AWS_CONFIG_FILE=" + filepath.Join(home, "none"),
	}}
}

func (c *cli) run(args ...string) (string, error) {
	cmd := exec.Command(awsCLI, append([]string{"--endpoint-url", c.p.URL}, args...)...)
	cmd.Env = c.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (c *cli) ok(args ...string) string {
	c.t.Helper()
	out, err := c.run(args...)
	require.NoError(c.t, err, "aws %s: %s", strings.Join(args, " "), out)
	return out
}

func (c *cli) json(args ...string) map[string]any {
	c.t.Helper()
	var m map[string]any
	out := c.ok(args...)
	require.NoError(c.t, json.Unmarshal([]byte(out), &m), out)
	return m
}

// TestAWSCLISeedQuickstart runs the seed quickstart's aws commands (and the common ones
// around them) with the real AWS CLI against a real s3server process.
func TestAWSCLISeedQuickstart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	p := s3test.Start(t)
	aws := newCLI(t, p, s3test.User)
	dir := t.TempDir()

	aws.ok("s3api", "create-bucket", "--bucket", "source-bucket")
	aws.ok("s3api", "create-bucket", "--bucket", "target-bucket")
	for _, b := range []string{"source-bucket", "target-bucket"} {
		aws.ok("s3api", "put-bucket-versioning", "--bucket", b, "--versioning-configuration", "Status=Enabled")
	}
	assert.Equal(t, "Enabled", aws.json("s3api", "get-bucket-versioning", "--bucket", "source-bucket")["Status"])

	// Replication needs versioning: a bucket without it is refused with a clear error.
	aws.ok("s3api", "create-bucket", "--bucket", "plain-bucket")
	repl := `{"Role":"arn:aws:iam::000000000000:role/backbeat","Rules":[{"ID":"all","Status":"Enabled","Prefix":"","Destination":{"Bucket":"arn:aws:s3:::target-bucket"}}]}`
	out, err := aws.run("s3api", "put-bucket-replication", "--bucket", "plain-bucket", "--replication-configuration", repl)
	require.Error(t, err)
	assert.Contains(t, out, "InvalidRequest")
	out, err = aws.run("s3api", "put-bucket-replication", "--bucket", "source-bucket", "--replication-configuration", `{"Role":"r","Rules":[{"Status":"Enabled","Prefix":"","Destination":{"Bucket":"not-an-arn"}}]}`)
	require.Error(t, err, "a destination that is not a bucket ARN is refused")
	assert.NotContains(t, out, "InternalError")

	aws.ok("s3api", "put-bucket-replication", "--bucket", "source-bucket", "--replication-configuration", repl)
	got := aws.json("s3api", "get-bucket-replication", "--bucket", "source-bucket")
	assert.Contains(t, mustJSON(t, got), "arn:aws:s3:::target-bucket")

	body := filepath.Join(dir, "replication_contents")
	require.NoError(t, os.WriteFile(body, []byte("content to be replicated\n"), 0o644))
	put := aws.json("s3api", "put-object", "--bucket", "source-bucket", "--key", "object-to-replicate", "--body", body)
	v1, _ := put["VersionId"].(string)
	require.NotEmpty(t, v1)
	head := aws.json("s3api", "head-object", "--bucket", "source-bucket", "--key", "object-to-replicate")
	assert.Equal(t, "PENDING", head["ReplicationStatus"])
	assert.Equal(t, v1, head["VersionId"])

	aws.ok("s3api", "put-object", "--bucket", "source-bucket", "--key", "object-to-replicate", "--body", body, "--metadata", "color=blue", "--content-type", "text/plain")
	head = aws.json("s3api", "head-object", "--bucket", "source-bucket", "--key", "object-to-replicate")
	assert.Equal(t, map[string]any{"color": "blue"}, head["Metadata"])
	assert.Equal(t, "text/plain", head["ContentType"])
	assert.Equal(t, v1, aws.json("s3api", "head-object", "--bucket", "source-bucket", "--key", "object-to-replicate", "--version-id", v1)["VersionId"])

	aws.ok("s3api", "put-object-tagging", "--bucket", "source-bucket", "--key", "object-to-replicate", "--tagging", "TagSet=[{Key=k,Value=v}]")
	assert.Contains(t, aws.ok("s3api", "get-object-tagging", "--bucket", "source-bucket", "--key", "object-to-replicate"), `"Value": "v"`)

	outFile := filepath.Join(dir, "out")
	aws.ok("s3api", "get-object", "--bucket", "source-bucket", "--key", "object-to-replicate", outFile)
	assertSameFile(t, body, outFile)

	versions := aws.json("s3api", "list-object-versions", "--bucket", "source-bucket")
	assert.Len(t, versions["Versions"], 2)
	del := aws.json("s3api", "delete-object", "--bucket", "source-bucket", "--key", "object-to-replicate")
	assert.Equal(t, true, del["DeleteMarker"])
	_, err = aws.run("s3api", "head-object", "--bucket", "source-bucket", "--key", "object-to-replicate")
	assert.Error(t, err, "head of a deleted key fails")

	// A bucket without replication: no status shown.
	aws.ok("s3api", "put-object", "--bucket", "target-bucket", "--key", "plain", "--body", body)
	_, hasStatus := aws.json("s3api", "head-object", "--bucket", "target-bucket", "--key", "plain")["ReplicationStatus"]
	assert.False(t, hasStatus)

	// Wrong secret is refused.
	bad := newCLI(t, p, s3test.Account{AccessKey: s3test.User.AccessKey, SecretKey: "wrong"})
	out, err = bad.run("s3api", "list-buckets")
	require.Error(t, err)
	assert.Contains(t, out, "SignatureDoesNotMatch")

	// Multipart through the high-level command (24 MiB → parts of 8 MiB), data intact.
	big := filepath.Join(dir, "big")
	writeRandom(t, big, 24<<20)
	aws.ok("s3", "cp", big, "s3://source-bucket/big", "--only-show-errors")
	aws.ok("s3", "cp", "s3://source-bucket/big", big+".2", "--only-show-errors")
	assertSameFile(t, big, big+".2")
	assert.Contains(t, aws.json("s3api", "head-object", "--bucket", "source-bucket", "--key", "big")["ETag"], "-3")

	// A presigned URL works with a plain HTTP client.
	url := strings.TrimSpace(aws.ok("s3", "presign", "s3://source-bucket/big", "--expires-in", "60"))
	resp, err := http.Get(url)
	require.NoError(t, err)
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, int64(24<<20), n)

	// An anonymous caller cannot read the journal.
	resp, err = http.Get(p.URL + "/_/backbeat/journal?after=0")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
}

func mustJSON(t *testing.T, v any) string {
	data, err := json.Marshal(v)
	require.NoError(t, err)
	return string(data)
}

func writeRandom(t *testing.T, path string, n int) {
	buf := make([]byte, n)
	_, err := rand.Read(buf)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, buf, 0o644))
}

func assertSameFile(t *testing.T, a, b string) {
	t.Helper()
	da, err := os.ReadFile(a)
	require.NoError(t, err)
	db, err := os.ReadFile(b)
	require.NoError(t, err)
	assert.True(t, string(da) == string(db), "%s and %s differ", a, b)
}
