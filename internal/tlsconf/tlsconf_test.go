package tlsconf_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/activities"
	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/bbproto/bbclient"
	"github.com/backbeat-temporal/backbeat/internal/tlsconf"
	"github.com/backbeat-temporal/backbeat/internal/tlsconf/tlstest"
	"github.com/backbeat-temporal/backbeat/journal"
	"github.com/backbeat-temporal/backbeat/s3server/s3test"
)

func s3Client(url string, hc *http.Client) *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint:     aws.String(url),
		Region:           "us-east-1",
		UsePathStyle:     true,
		Credentials:      credentials.NewStaticCredentialsProvider(s3test.User.AccessKey, s3test.User.SecretKey, ""),
		HTTPClient:       hc,
		RetryMaxAttempts: 1,
	})
}

// TestS3ServerHTTPS runs s3server with a certificate of a test CA: clients given that CA
// (S3 API and the journal route, as ingest reads it) work; a client given another CA, or
// none, fails with a message naming the option to fix; a plain-HTTP client is refused.
func TestS3ServerHTTPS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts s3server")
	}
	ca := tlstest.NewCA(t, "backbeat test CA")
	cert, key := ca.Issue(t, "127.0.0.1", "localhost")
	p := s3test.Start(t, "--tls-cert", cert, "--tls-key", key)
	url := "https://" + p.Addr
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	good, err := tlsconf.HTTPClient(tlsconf.Client{CAFile: ca.CAFile, CAFlag: "--s3-ca-file"})
	require.NoError(t, err)
	_, err = s3Client(url, good).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("tls-bucket")})
	require.NoError(t, err)
	out, err := s3Client(url, good).ListBuckets(ctx, &s3.ListBucketsInput{})
	require.NoError(t, err)
	require.Len(t, out.Buckets, 1)
	journalOver := func(hc *http.Client) *journal.Client {
		bb, err := bbclient.New(bbclient.Config{Endpoint: url, HTTP: hc,
			Credentials: credentials.NewStaticCredentialsProvider(s3test.Replication.AccessKey, s3test.Replication.SecretKey, "")})
		require.NoError(t, err)
		return journal.New(bb)
	}
	b, err := journalOver(good).Read(ctx, 0, 10, 0)
	require.NoError(t, err)
	assert.NotEmpty(t, b.JournalID)

	other := tlstest.NewCA(t, "another CA")
	wrong, err := tlsconf.HTTPClient(tlsconf.Client{CAFile: other.CAFile, CAFlag: "--s3-ca-file"})
	require.NoError(t, err)
	_, err = s3Client(url, wrong).ListBuckets(ctx, &s3.ListBucketsInput{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "TLS to "+p.Addr+": its certificate is not signed by a CA of the CA bundle "+other.CAFile)
	assert.Contains(t, err.Error(), "give the bundle of the CA that signed it with --s3-ca-file")
	_, err = journalOver(wrong).Read(ctx, 0, 10, 0)
	require.ErrorContains(t, err, "give the bundle of the CA that signed it with --s3-ca-file")

	// The worker's replicator: the source's CA comes from --s3-ca-file (Site.CAFile).
	src := activities.Site{Endpoint: url, AccessKey: s3test.Replication.AccessKey, SecretKey: s3test.Replication.SecretKey, CAFile: ca.CAFile}
	repl, err := activities.New(ctx, activities.Config{Source: src, MaxAttempts: 1})
	require.NoError(t, err)
	_, err = repl.SetStatus(ctx, "tls-bucket", "missing", "v1", bbproto.StatusCompleted, "")
	require.Error(t, err) // no such version, but s3server answered over TLS
	assert.NotContains(t, err.Error(), "TLS to")
	src.CAFile = other.CAFile
	repl, err = activities.New(ctx, activities.Config{Source: src, MaxAttempts: 1})
	require.NoError(t, err)
	_, err = repl.SetStatus(ctx, "tls-bucket", "missing", "v1", bbproto.StatusCompleted, "")
	require.ErrorContains(t, err, "give the bundle of the CA that signed it with --s3-ca-file (or AWS_CA_BUNDLE)")

	system, err := tlsconf.HTTPClient(tlsconf.Client{CAFlag: "--s3-ca-file"})
	require.NoError(t, err)
	_, err = s3Client(url, system).ListBuckets(ctx, &s3.ListBucketsInput{})
	require.ErrorContains(t, err, "not signed by a CA of the system's CA roots: give the bundle of the CA that signed it with --s3-ca-file")

	// A plain-HTTP request to the HTTPS port gets no S3 answer.
	_, err = s3Client("http://"+p.Addr, http.DefaultClient).ListBuckets(ctx, &s3.ListBucketsInput{})
	require.Error(t, err)

	// The other way round: TLS to a plain-HTTP s3server says it does not speak TLS.
	plain := s3test.Start(t)
	_, err = s3Client("https://"+plain.Addr, good).ListBuckets(ctx, &s3.ListBucketsInput{})
	require.ErrorContains(t, err, "the server does not speak TLS: use its plain address (http://)")
}

// TestS3ServerTLSFlags checks that s3server refuses a certificate without its key.
func TestS3ServerTLSFlags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds s3server")
	}
	ca := tlstest.NewCA(t, "backbeat test CA")
	cert, _ := ca.Issue(t, "127.0.0.1")
	dir := t.TempDir()
	acc := filepath.Join(dir, "accounts.json")
	require.NoError(t, os.WriteFile(acc, []byte(`{"accounts":[]}`), 0o600))
	out, err := execS3Server(t, "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "d"), "--accounts", acc, "--tls-cert", cert)
	require.Error(t, err)
	assert.Contains(t, out, "--tls-cert and --tls-key go together")
}

func TestClientConfig(t *testing.T) {
	ca := tlstest.NewCA(t, "ca")
	cert, key := ca.Issue(t, "client")
	_, err := tlsconf.Client{CertFile: cert}.Config()
	require.ErrorContains(t, err, "give both files or neither")
	tc, err := tlsconf.Client{CAFile: ca.CAFile, CertFile: cert, KeyFile: key, ServerName: "temporal.example"}.Config()
	require.NoError(t, err)
	assert.Len(t, tc.Certificates, 1)
	assert.Equal(t, "temporal.example", tc.ServerName)
	assert.NotNil(t, tc.RootCAs)
	_, err = tlsconf.Client{CAFile: cert + ".missing"}.Config()
	require.ErrorContains(t, err, "read the CA bundle")
	_, err = tlsconf.Client{CAFile: key}.Config()
	require.ErrorContains(t, err, "holds no PEM certificate")
	assert.Equal(t, "/x", tlsconf.S3CAFile("/x", func(string) string { return "/env" }))
	assert.Equal(t, "/env", tlsconf.S3CAFile("", func(k string) string { return map[string]string{"AWS_CA_BUNDLE": "/env"}[k] }))
}

func execS3Server(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(s3test.Binary(t), args...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
