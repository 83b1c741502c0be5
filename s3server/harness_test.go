package s3server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/internal/testlog"
)

// Test accounts of every harness.
var (
	testUser  = Account{Name: "backbeatuser", AccessKey: "AKTESTUSER0000000001", SecretKey: "testsecret1"}
	testOther = Account{Name: "other", AccessKey: "AKTESTOTHER000000001", SecretKey: "testsecret2"}
	testRepl  = Account{Name: "replication", AccessKey: "AKTESTREPL0000000001", SecretKey: "testsecret3", Replication: true}
)

// harness is a Server on a real 127.0.0.1 listener with a fresh data directory.
type harness struct {
	t       *testing.T
	srv     *Server
	URL     string // http://127.0.0.1:port
	DataDir string
	http    *http.Server
}

// newHarness starts a server; cfg may tweak the Config before New.
func newHarness(t *testing.T, tweak ...func(*Config)) *harness {
	t.Helper()
	dir := t.TempDir()
	acc, err := json.Marshal(Accounts{Accounts: []Account{testUser, testOther, testRepl}})
	require.NoError(t, err)
	accPath := filepath.Join(dir, "accounts.json")
	require.NoError(t, os.WriteFile(accPath, acc, 0o600))
	cfg := Config{DataDir: filepath.Join(dir, "data"), AccountsFile: accPath, Logger: testlog.Discard()}
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	for _, f := range tweak {
		f(&cfg)
	}
	srv, err := New(cfg)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hs := srv.httpServer(context.Background())
	go hs.Serve(ln)
	h := &harness{t: t, srv: srv, URL: "http://" + ln.Addr().String(), DataDir: cfg.DataDir, http: hs}
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	return h
}

// client returns an aws-sdk-go-v2 S3 client (path-style) signed as acct for the
// server's region.
func (h *harness) client(acct Account) *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint:     aws.String(h.URL),
		Region:           h.srv.cfg.Region,
		UsePathStyle:     true,
		Credentials:      credentials.NewStaticCredentialsProvider(acct.AccessKey, acct.SecretKey, ""),
		RetryMaxAttempts: 1,
	})
}

// mkBucket creates a bucket as testUser, with versioning Enabled when versioned.
func (h *harness) mkBucket(name string, versioned bool) {
	h.t.Helper()
	c := h.client(testUser)
	ctx := context.Background()
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	require.NoError(h.t, err)
	if versioned {
		_, err = c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
			Bucket:                  aws.String(name),
			VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled},
		})
		require.NoError(h.t, err)
	}
}

// ensureBucket makes bucket name (testUser's) unless it exists.
func (h *harness) ensureBucket(name string, versioned bool) {
	h.t.Helper()
	if _, err := h.srv.store.GetBucket(context.Background(), name); err == nil {
		return
	}
	h.mkBucket(name, versioned)
}

// apiCode returns the S3 error code of an SDK error ("" when err is nil or not an API
// error).
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// unsignedPayload is the x-amz-content-sha256 of a request whose body is not hashed.
const unsignedPayload = "UNSIGNED-PAYLOAD"

// payloadHash returns the hex SHA-256 of body, for x-amz-content-sha256.
func payloadHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// sign signs req as acct (SigV4, us-east-1) with payload as its x-amz-content-sha256,
// the path signed as sent, as S3 clients do. Tests use it for raw requests the SDK
// cannot express.
func sign(req *http.Request, acct Account, payload string) error {
	req.Header.Set("X-Amz-Content-Sha256", payload)
	creds := aws.Credentials{AccessKeyID: acct.AccessKey, SecretAccessKey: acct.SecretKey}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	return signer.SignHTTP(req.Context(), creds, req, payload, "s3", "us-east-1", time.Now())
}
