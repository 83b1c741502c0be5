package devstack

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.yaml.in/yaml/v3"
)

// TemporalOption configures StartTemporal.
type TemporalOption func(*temporalOptions)

type temporalOptions struct {
	port, uiPort int // uiPort: a FreePort unless headless
	dbFile       string
	headless     bool
	readyTimeout time.Duration // DefaultReadyTimeout, DefaultTemporalPostgresReadyTimeout on PostgreSQL
	attrs        map[string]string
	postgres     bool              // TemporalPostgres
	shards       int               // TemporalShards
	tls          *TemporalTLSFiles // TemporalTLS
}

// TemporalPort serves the frontend on 127.0.0.1:port. Default: a FreePort.
func TemporalPort(port int) TemporalOption { return func(o *temporalOptions) { o.port = port } }

// TemporalHeadless runs without the Web UI. Default: with the UI.
func TemporalHeadless() TemporalOption { return func(o *temporalOptions) { o.headless = true } }

// TemporalSearchAttributes registers search attributes (name → type: Int, Keyword,
// Bool...) at start, e.g. contract.SearchAttributes(). Default none.
func TemporalSearchAttributes(attrs map[string]string) TemporalOption {
	return func(o *temporalOptions) { o.attrs = attrs }
}

// Temporal is a Temporal server started by StartTemporal: the dev server (`temporal
// server start-dev`), or with TemporalPostgres the server on PostgreSQL.
type Temporal struct {
	t            testing.TB
	proc         *Process
	port, uiPort int
	dbFile       string    // the dev server's SQLite file, or the data directory on PostgreSQL
	pgs          *pgServer // nil for the dev server
	// tls is the TLS setting of devstack's own connections (nil: plain text).
	tls *tls.Config
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
// ends. With TemporalPostgres it runs the server on PostgreSQL instead.
func StartTemporal(t testing.TB, opts ...TemporalOption) *Temporal {
	t.Helper()
	var o temporalOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.postgres {
		return startTemporalPostgres(t, o)
	}
	if o.tls != nil {
		t.Fatalf("devstack: TemporalTLS needs TemporalPostgres: the dev server serves no TLS")
	}
	if o.readyTimeout == 0 {
		o.readyTimeout = DefaultReadyTimeout
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
	// As scripts/temporal.sh: the project's dynamic config.
	dc, err := DynamicConfig()
	if err != nil {
		t.Fatalf("devstack: %v", err)
	}
	for _, kv := range dc {
		args = append(args, "--dynamic-config-value", kv)
	}
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

// DynamicConfig returns the project's Temporal dynamic config
// (deploy/temporal/dynamicconfig.yaml, one home for every Temporal it runs) as the dev
// server's --dynamic-config-value arguments: KEY=VALUE, VALUE in JSON, in file order.
func DynamicConfig() ([]string, error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	path := filepath.Join(root, "deploy", "temporal", "dynamicconfig.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the Temporal dynamic config: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s is not a YAML mapping of keys to [{value: V}] (%v)", path, err)
	}
	var out []string
	m := doc.Content[0].Content
	for i := 0; i+1 < len(m); i += 2 {
		var vals []struct {
			Value any `yaml:"value"`
		}
		if err := m[i+1].Decode(&vals); err != nil || len(vals) != 1 {
			return nil, fmt.Errorf("%s: %s must be a list of one {value: V} (%v)", path, m[i].Value, err)
		}
		v, err := json.Marshal(vals[0].Value)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, m[i].Value, err)
		}
		out = append(out, m[i].Value+"="+string(v))
	}
	return out, nil
}

// TemporalReady returns nil when the Temporal frontend at addr answers a health check
// and describes the default namespace.
func TemporalReady(ctx context.Context, addr string) error {
	return temporalProbe(ctx, addr, nil, true)
}

// Ready returns nil when the server answers a health check and describes the default
// namespace (TemporalReady, over TLS when the server serves it).
func (tp *Temporal) Ready(ctx context.Context) error {
	return temporalProbe(ctx, tp.Addr(), tp.tls, true)
}

// temporalServing returns nil when the frontend at addr answers a health check.
func temporalServing(ctx context.Context, addr string, tc *tls.Config) error {
	return temporalProbe(ctx, addr, tc, false)
}

// adminOptions are the client options of devstack's own connections to addr (TLS with
// tc when it is not nil), logging nowhere.
func adminOptions(addr string, tc *tls.Config) client.Options {
	o := client.Options{HostPort: addr, Logger: tlog.NewStructuredLogger(discardLogger())}
	o.ConnectionOptions.TLS = tc
	return o
}

func temporalProbe(ctx context.Context, addr string, tc *tls.Config, namespace bool) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("temporal at %s: %w", addr, err)
	}
	conn.Close()
	c, err := client.DialContext(ctx, adminOptions(addr, tc))
	if err != nil {
		return fmt.Errorf("temporal at %s: %w", addr, err)
	}
	defer c.Close()
	if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		return fmt.Errorf("temporal health at %s: %w", addr, err)
	}
	if !namespace {
		return nil
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
	c, err := client.Dial(adminOptions(tp.Addr(), tp.tls))
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
