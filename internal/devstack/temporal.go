package devstack

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
)

// TemporalOption configures StartTemporal.
type TemporalOption func(*temporalOptions)

type temporalOptions struct {
	port, uiPort int
	dbFile       string
	headless     bool
	readyTimeout time.Duration
	attrs        map[string]string
}

// TemporalPort serves the frontend on 127.0.0.1:port. Default: a FreePort.
func TemporalPort(port int) TemporalOption { return func(o *temporalOptions) { o.port = port } }

// TemporalUIPort serves the Web UI on 127.0.0.1:port. Default: a FreePort.
func TemporalUIPort(port int) TemporalOption { return func(o *temporalOptions) { o.uiPort = port } }

// TemporalHeadless runs without the Web UI. Default: with the UI.
func TemporalHeadless() TemporalOption { return func(o *temporalOptions) { o.headless = true } }

// TemporalSearchAttributes registers search attributes (name → type: Int, Keyword,
// Bool...) at start, e.g. contract.SearchAttributes(). Default none.
func TemporalSearchAttributes(attrs map[string]string) TemporalOption {
	return func(o *temporalOptions) { o.attrs = attrs }
}

// TemporalReadyTimeout bounds each wait for readiness. Default DefaultReadyTimeout.
func TemporalReadyTimeout(d time.Duration) TemporalOption {
	return func(o *temporalOptions) { o.readyTimeout = d }
}

// Temporal is a `temporal server start-dev` process started by StartTemporal.
type Temporal struct {
	t            testing.TB
	proc         *Process
	port, uiPort int
	dbFile       string
}

// TemporalBinary returns the Temporal CLI installed by scripts/temporal.sh (it installs
// it into .tools/bin when missing: minutes the first time).
func TemporalBinary(t testing.TB) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatalf("devstack: %v", err)
	}
	out, err := exec.Command("bash", filepath.Join(root, "scripts", "temporal.sh"), "path").Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("devstack: install the Temporal CLI (scripts/temporal.sh install): %v\n%s", err, stderr)
	}
	return strings.TrimSpace(string(out))
}

// moduleRoot returns the directory of this module's go.mod.
func moduleRoot() (string, error) {
	gobin, err := goCommand()
	if err != nil {
		return "", err
	}
	out, err := exec.Command(gobin, "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == "/dev/null" {
		return "", fmt.Errorf("not inside the module (go env GOMOD is empty)")
	}
	return filepath.Dir(gomod), nil
}

// StartTemporal runs the Temporal dev server (SQLite in t.TempDir(), so Kill and
// Restart keep the workflows) on 127.0.0.1 and returns once the frontend answers a
// health check and the default namespace is registered. It is stopped when the test
// ends.
func StartTemporal(t testing.TB, opts ...TemporalOption) *Temporal {
	t.Helper()
	o := temporalOptions{readyTimeout: DefaultReadyTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	bin := TemporalBinary(t)
	if o.port == 0 {
		o.port = FreePort(t)
	}
	if o.uiPort == 0 && !o.headless {
		o.uiPort = FreePort(t)
	}
	tp := &Temporal{t: t, port: o.port, uiPort: o.uiPort, dbFile: filepath.Join(t.TempDir(), "temporal.db")}
	args := []string{"server", "start-dev", "--ip", "127.0.0.1", "--port", strconv.Itoa(o.port),
		"--db-filename", tp.dbFile, "--log-level", "warn", "--metrics-port", strconv.Itoa(FreePort(t))}
	if o.headless {
		args = append(args, "--headless")
	} else {
		args = append(args, "--ui-ip", "127.0.0.1", "--ui-port", strconv.Itoa(o.uiPort))
	}
	// As scripts/temporal.sh: lift the dev server's one-shard transfer-task poll limit.
	args = append(args, "--dynamic-config-value", "history.transferProcessorMaxPollRPS=1000")
	for name, typ := range o.attrs {
		args = append(args, "--search-attribute", name+"="+typ)
	}
	addr := tp.Addr()
	tp.proc = StartProcess(t, Command{
		Name:         "temporal-" + strconv.Itoa(o.port),
		Path:         bin,
		Args:         args,
		Ready:        func(ctx context.Context) error { return TemporalReady(ctx, addr) },
		ReadyTimeout: o.readyTimeout,
	})
	return tp
}

// TemporalReady returns nil when the Temporal frontend at addr answers a health check
// and describes the default namespace.
func TemporalReady(ctx context.Context, addr string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("temporal at %s: %w", addr, err)
	}
	conn.Close()
	c, err := client.DialContext(ctx, client.Options{HostPort: addr, Logger: tlog.NewStructuredLogger(discardLogger())})
	if err != nil {
		return fmt.Errorf("temporal at %s: %w", addr, err)
	}
	defer c.Close()
	if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		return fmt.Errorf("temporal health at %s: %w", addr, err)
	}
	if _, err := c.WorkflowService().DescribeNamespace(ctx, describeDefault()); err != nil {
		return fmt.Errorf("temporal namespace default at %s: %w", addr, err)
	}
	return nil
}

// Addr returns "127.0.0.1:PORT", the frontend (BACKBEAT_TEMPORAL_ADDRESS).
func (tp *Temporal) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(tp.port)) }

// UIURL returns the Web UI's base URL ("" when headless).
func (tp *Temporal) UIURL() string {
	if tp.uiPort == 0 {
		return ""
	}
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(tp.uiPort))
}

// Client dials the server; the client is closed when the test ends.
func (tp *Temporal) Client() client.Client {
	tp.t.Helper()
	c, err := client.Dial(client.Options{HostPort: tp.Addr(), Logger: tlog.NewStructuredLogger(discardLogger())})
	if err != nil {
		tp.t.Fatalf("devstack: dial temporal: %v", err)
	}
	tp.t.Cleanup(c.Close)
	return c
}

// Process returns the underlying process.
func (tp *Temporal) Process() *Process { return tp.proc }

// Kill kills the server with SIGKILL and waits until it is gone.
func (tp *Temporal) Kill() {
	tp.t.Helper()
	if err := tp.proc.Kill(); err != nil {
		tp.t.Fatalf("devstack: %v", err)
	}
}

// Restart starts the server again on the same ports with the same database.
func (tp *Temporal) Restart() {
	tp.t.Helper()
	if err := tp.proc.Restart(); err != nil {
		tp.t.Fatalf("devstack: %v", err)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func describeDefault() *workflowservice.DescribeNamespaceRequest {
	return &workflowservice.DescribeNamespaceRequest{Namespace: "default"}
}
