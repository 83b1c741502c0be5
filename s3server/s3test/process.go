// Package s3test starts a real s3server process for integration, crash and end-to-end
// tests of any package: it builds cmd/s3server once per test binary, runs it on a free
// 127.0.0.1 port with a fresh accounts file, and gives signed clients for the S3 API and
// the privileged /_/backbeat/ routes.
package s3test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/backbeat-temporal/backbeat/bbproto/bbclient"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Credentials of the accounts every Process has.
var (
	// User is the ordinary account (bucket owner in tests).
	User = Account{Name: "backbeatuser", AccessKey: "AKS3TESTUSER00000001", SecretKey: "s3test-user-secret"}
	// Replication is the replication identity (allowed on /_/backbeat/ routes).
	Replication = Account{Name: "replication", AccessKey: "AKS3TESTREPL00000001", SecretKey: "s3test-repl-secret", Replication: true}
	// Alice and Bob are two more ordinary accounts: tenants of the same server, for
	// tests of what one account may do to another's buckets.
	Alice = Account{Name: "alice", AccessKey: "AKS3TESTALICE0000001", SecretKey: "s3test-alice-secret"}
	Bob   = Account{Name: "bob", AccessKey: "AKS3TESTBOB000000001", SecretKey: "s3test-bob-secret"}
)

// Account is an entry of the accounts file.
type Account struct {
	Name        string `json:"name"`
	AccessKey   string `json:"accessKey"`
	SecretKey   string `json:"secretKey"`
	Replication bool   `json:"replication,omitempty"`
}

// MakeBucket creates bucket name through c and, unless versioning is "", sets its
// versioning status: the bucket fixture of every package's tests.
func MakeBucket(t testing.TB, c *s3.Client, name string, versioning s3types.BucketVersioningStatus) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("s3test: create bucket %s: %v", name, err)
	}
	if versioning == "" {
		return
	}
	if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(name),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: versioning}}); err != nil {
		t.Fatalf("s3test: set the versioning of bucket %s to %s: %v", name, versioning, err)
	}
}

// SecretFile writes a's secret key to a file of the test's temporary directory (mode
// 0600) and returns its path: what a command's --secret-key-file takes (a secret is never
// a flag value; see internal/flagenv).
func (a Account) SecretFile(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), a.Name+".secret")
	if err := os.WriteFile(path, []byte(a.SecretKey+"\n"), 0o600); err != nil {
		t.Fatalf("s3test: write the secret key of %s: %v", a.Name, err)
	}
	return path
}

// Process is a running s3server.
type Process struct {
	t       testing.TB
	Bin     string
	DataDir string
	Addr    string // 127.0.0.1:port
	URL     string // http://Addr
	Args    []string
	log     *bytes.Buffer

	mu   sync.Mutex // guards cmd and done: a storm kills and starts from two goroutines
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd exited
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// Binary builds cmd/s3server once per test binary and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "s3test-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "s3server")
		out, err := exec.Command("go", "build", "-o", buildPath, filepath.Join(root, "cmd", "s3server")).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build cmd/s3server: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("s3test: %v", buildErr)
	}
	return buildPath
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the module")
	}
	return filepath.Dir(mod), nil
}

// Start runs an s3server with a new data directory under t.TempDir() and waits until it
// answers. extra flags are appended to the command line. The process is killed at the
// end of the test.
func Start(t testing.TB, extra ...string) *Process {
	t.Helper()
	dir := t.TempDir()
	return StartIn(t, filepath.Join(dir, "data"), extra...)
}

// StartIn is Start with a given data directory (to restart on the same data).
func StartIn(t testing.TB, dataDir string, extra ...string) *Process {
	t.Helper()
	accounts := filepath.Join(filepath.Dir(dataDir), "accounts.json")
	if _, err := os.Stat(accounts); err != nil {
		data, _ := json.Marshal(map[string][]Account{"accounts": {User, Replication, Alice, Bob}})
		if err := os.WriteFile(accounts, data, 0o600); err != nil {
			t.Fatalf("s3test: write accounts: %v", err)
		}
	}
	p := &Process{t: t, Bin: Binary(t), DataDir: dataDir, Addr: freeAddr(t), log: &bytes.Buffer{}}
	p.URL = "http://" + p.Addr
	p.Args = append([]string{"--listen", p.Addr, "--data-dir", dataDir, "--accounts", accounts}, extra...)
	p.start()
	t.Cleanup(func() { p.Kill() })
	return p
}

func (p *Process) start() {
	p.t.Helper()
	if err := p.Start(); err != nil {
		p.t.Fatalf("s3test: %v", err)
	}
}

// Start starts the s3server again, on the same data directory and port, after Kill (a
// crash test's restart; Restart is Kill then Start), and waits until it listens (20 s
// at most). Unlike the package's Start it reports an error instead of failing the test,
// so that it may run outside the test's goroutine; it is an error while the process
// runs.
func (p *Process) Start() error {
	p.mu.Lock()
	if p.done != nil && !isClosed(p.done) {
		p.mu.Unlock()
		return fmt.Errorf("s3server on %s is already running (pid %d)", p.Addr, p.cmd.Process.Pid)
	}
	cmd := exec.Command(p.Bin, p.Args...)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	cmd.Env = append(os.Environ(), "BACKBEAT_LOG_LEVEL=warn")
	if err := cmd.Start(); err != nil {
		p.mu.Unlock()
		return fmt.Errorf("start s3server: %w", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	deadline := time.Now().Add(20 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", p.Addr, 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("s3server exited at start (is %s taken?): %s", p.Addr, p.log.String())
		case <-time.After(20 * time.Millisecond): // polling interval of a condition with a deadline
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("s3server did not listen on %s within 20s: %s", p.Addr, p.log.String())
		}
	}
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// Kill sends SIGKILL and waits for the process to exit. It does nothing when the process
// is not running.
func (p *Process) Kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	p.cmd.Process.Kill()
	<-p.done
}

// Running reports whether the s3server was started and has not exited.
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done != nil && !isClosed(p.done)
}

// Restart kills the process (SIGKILL) and starts it again on the same data and port.
func (p *Process) Restart() {
	p.t.Helper()
	p.Kill()
	p.start()
}

// Pid returns the process ID of the running s3server (0 when it was never started).
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Log returns what the process printed.
func (p *Process) Log() string { return p.log.String() }

// Client returns an aws-sdk-go-v2 S3 client signed as acct (path-style, no retries).
func (p *Process) Client(acct Account) *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint:     aws.String(p.URL),
		Region:           "us-east-1",
		UsePathStyle:     true,
		Credentials:      credentials.NewStaticCredentialsProvider(acct.AccessKey, acct.SecretKey, ""),
		RetryMaxAttempts: 1,
	})
}

// BBClient returns a client of the privileged routes signed as the Replication account.
func (p *Process) BBClient() *bbclient.Client { return BBClientOf(p.URL, Replication) }

// BBClientOf returns a client of the privileged routes of the s3server at endpoint,
// signed as acct. It panics on an empty endpoint.
func BBClientOf(endpoint string, acct Account) *bbclient.Client {
	c, err := bbclient.New(bbclient.Config{Endpoint: endpoint,
		Credentials: credentials.NewStaticCredentialsProvider(acct.AccessKey, acct.SecretKey, "")})
	if err != nil {
		panic(err) // only an empty endpoint fails: a bug of the test
	}
	return c
}

// Backbeat sends a signed request (as the Replication account, UNSIGNED-PAYLOAD) to a
// privileged route: path is what follows /_/backbeat/, including any query, with the key
// already escaped (it is signed as sent, as S3 clients do). The answer is returned
// whatever its status.
func (p *Process) Backbeat(ctx context.Context, method, path string, body io.Reader, hdr http.Header) (*http.Response, error) {
	return p.BBClient().Raw(ctx, method, path, body, hdr)
}

func freeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("s3test: free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
