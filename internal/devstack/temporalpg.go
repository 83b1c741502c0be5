package devstack

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/backbeat-temporal/backbeat/internal/tlsconf"
)

// Defaults of the Temporal server on PostgreSQL ([TemporalPostgres]).
const (
	// DefaultTemporalShards is the number of history shards: scripts/temporal-postgres.sh's
	// default and docker-compose.yml's NUM_HISTORY_SHARDS.
	DefaultTemporalShards = 4
	// DefaultTemporalPostgresReadyTimeout bounds the server's first start (the schemas
	// are set up then) when TemporalReadyTimeout is not given.
	DefaultTemporalPostgresReadyTimeout = 3 * time.Minute
	// namespaceRetention is the retention of the namespace default it registers.
	namespaceRetention = 72 * time.Hour
)

// TemporalPostgres makes StartTemporal run the production-shaped Temporal of
// scripts/temporal-postgres.sh instead of the dev server: a private PostgreSQL cluster
// (its own process, data in a directory of os.TempDir() removed when the test ends),
// the Temporal server (frontend, history, matching and worker services in one process,
// TemporalShards history shards) with its schemas set up by the schema tool, and, unless
// TemporalHeadless, the Web UI server. StartTemporal registers the namespace default and
// the TemporalSearchAttributes. Kill and Restart act on the server; Postgres returns the
// PostgreSQL process. The script installs what is missing (PostgreSQL with apt-get, the
// server with go install: minutes the first time). Default: the dev server.
func TemporalPostgres() TemporalOption { return func(o *temporalOptions) { o.postgres = true } }

// TemporalShards sets the history shards of the server on PostgreSQL (TemporalPostgres;
// the dev server has one). Default DefaultTemporalShards (4).
func TemporalShards(n int) TemporalOption { return func(o *temporalOptions) { o.shards = n } }

// TemporalTLSFiles are the PEM files of a frontend serving TLS (TemporalTLS).
type TemporalTLSFiles struct {
	// CertFile and KeyFile are the frontend's certificate and key. Required. The
	// certificate must be valid for 127.0.0.1 and, with ClientCAFile, for client
	// authentication too: the server's system worker, the Web UI and devstack's own
	// connections present it.
	CertFile, KeyFile string
	// CAFile is the PEM bundle of the CA that signed CertFile, trusted by devstack's own
	// connections (readiness, registration, Client), the server's system worker and the
	// Web UI. Required.
	CAFile string
	// ClientCAFile is the PEM bundle of the CAs that sign client certificates; set, it
	// turns mutual TLS on (clients without such a certificate are refused; CAFile is
	// trusted for client certificates too, as CertFile is one). Default "": TLS without
	// client certificates.
	ClientCAFile string
}

// TemporalTLS serves the frontend of the server on PostgreSQL (TemporalPostgres; the
// dev server serves no TLS) over TLS, mutual TLS with f.ClientCAFile: the
// TEMPORAL_FRONTEND_TLS_* settings of scripts/temporal-postgres.sh. Temporal's internode
// traffic stays plain. StartTemporal's readiness checks, its registrations and Client
// connect with TLS. Default: plain text.
func TemporalTLS(f TemporalTLSFiles) TemporalOption { return func(o *temporalOptions) { o.tls = &f } }

// env returns the script's environment of f.
func (f *TemporalTLSFiles) env() []string {
	if f == nil {
		return nil
	}
	return []string{"TEMPORAL_FRONTEND_TLS_CERT=" + f.CertFile, "TEMPORAL_FRONTEND_TLS_KEY=" + f.KeyFile,
		"TEMPORAL_FRONTEND_TLS_CA=" + f.CAFile, "TEMPORAL_FRONTEND_TLS_CLIENT_CA=" + f.ClientCAFile}
}

// clientConfig returns the TLS setting of devstack's own connections (nil without TLS):
// they trust f.CAFile and, under mutual TLS, present the frontend's certificate.
func (f *TemporalTLSFiles) clientConfig() (*tls.Config, error) {
	if f == nil {
		return nil, nil
	}
	if f.CertFile == "" || f.KeyFile == "" || f.CAFile == "" {
		return nil, errors.New("TemporalTLS needs CertFile, KeyFile and CAFile")
	}
	c := tlsconf.Client{CAFile: f.CAFile}
	if f.ClientCAFile != "" {
		c.CertFile, c.KeyFile = f.CertFile, f.KeyFile
	}
	tc, err := c.Config()
	if err != nil {
		return nil, fmt.Errorf("TemporalTLS: %w", err)
	}
	return tc, nil
}

// pgServer is what a Temporal on PostgreSQL has beside the server process.
type pgServer struct {
	pg, ui *Process
	addr   string // PostgreSQL's 127.0.0.1:PORT
}

// Postgres returns the PostgreSQL process of a Temporal started with TemporalPostgres
// (nil for the dev server): Kill it (kill -9) and Restart it on the same port and data.
func (tp *Temporal) Postgres() *Process {
	if tp.pgs == nil {
		return nil
	}
	return tp.pgs.pg
}

// PostgresAddr returns PostgreSQL's "127.0.0.1:PORT" ("" for the dev server): user
// temporal, trust authentication, databases temporal and temporal_visibility.
func (tp *Temporal) PostgresAddr() string {
	if tp.pgs == nil {
		return ""
	}
	return tp.pgs.addr
}

// startTemporalPostgres is StartTemporal with TemporalPostgres.
func startTemporalPostgres(t testing.TB, o temporalOptions) *Temporal {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatalf("devstack: %v", err)
	}
	script := filepath.Join(root, "scripts", "temporal-postgres.sh")
	if out, err := exec.Command("bash", script, "install").CombinedOutput(); err != nil {
		t.Fatalf("devstack: install the Temporal server on PostgreSQL (scripts/temporal-postgres.sh install): %v\n%s", err, out)
	}
	if o.shards == 0 {
		o.shards = DefaultTemporalShards
	}
	if o.readyTimeout == 0 {
		o.readyTimeout = DefaultTemporalPostgresReadyTimeout
	}
	if o.port == 0 {
		o.port = FreePort(t)
	}
	if o.uiPort == 0 && !o.headless {
		o.uiPort = FreePort(t)
	}
	tc, err := o.tls.clientConfig()
	if err != nil {
		t.Fatalf("devstack: %v", err)
	}
	data := pgDataDir(t)
	pgPort := FreePort(t)
	env := []string{
		"TEMPORAL_PG_PORT=" + strconv.Itoa(pgPort),
		"TEMPORAL_SHARDS=" + strconv.Itoa(o.shards),
		"TEMPORAL_HISTORY_PORT=" + strconv.Itoa(FreePort(t)),
		"TEMPORAL_MATCHING_PORT=" + strconv.Itoa(FreePort(t)),
		"TEMPORAL_WORKER_PORT=" + strconv.Itoa(FreePort(t)),
		"TEMPORAL_HTTP_PORT=" + strconv.Itoa(FreePort(t)),
		"TEMPORAL_METRICS_PORT=" + strconv.Itoa(FreePort(t)),
		fmt.Sprintf("TEMPORAL_MEMBERSHIP_PORTS=%d %d %d %d", FreePort(t), FreePort(t), FreePort(t), FreePort(t)),
		"TEMPORAL_PG_WAIT=" + strconv.Itoa(int(o.readyTimeout/time.Second)),
	}
	env = append(env, o.tls.env()...)
	pgAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(pgPort))
	tp := &Temporal{t: t, port: o.port, uiPort: o.uiPort, dbFile: data, pgs: &pgServer{addr: pgAddr}, tls: tc}
	addr := tp.Addr()
	tp.pgs.pg = StartProcess(t, Command{
		Name:         "postgres-" + strconv.Itoa(pgPort),
		Path:         "bash",
		Args:         []string{script, "postgres", data},
		Env:          env,
		Ready:        func(ctx context.Context) error { return PostgresReady(ctx, pgAddr) },
		ReadyTimeout: o.readyTimeout,
		// Fast shutdown (pg_ctl stop's default): SIGTERM is PostgreSQL's smart shutdown,
		// which waits for the Temporal server's pooled connections to close.
		StopSignal: syscall.SIGINT,
	})
	// Ready: serving; once the namespace is registered (first start), also the namespace.
	var registered atomic.Bool
	tp.proc = StartProcess(t, Command{
		Name: "temporal-server-" + strconv.Itoa(o.port),
		Path: "bash",
		Args: []string{script, "server", data, strconv.Itoa(o.port)},
		Env:  env,
		Ready: func(ctx context.Context) error {
			if registered.Load() {
				return tp.Ready(ctx)
			}
			return temporalServing(ctx, addr, tc)
		},
		ReadyTimeout: o.readyTimeout,
	})
	ctx, cancel := context.WithTimeout(context.Background(), o.readyTimeout)
	defer cancel()
	if err := registerDefault(ctx, addr, tc, o.attrs); err != nil {
		t.Fatalf("devstack: %v\n--- last %d lines of %s:\n%s", err, DefaultLogTailLines, tp.proc.LogPath(), tp.proc.LogTail(DefaultLogTailLines))
	}
	registered.Store(true)
	if !o.headless {
		ui := tp.UIURL()
		tp.pgs.ui = StartProcess(t, Command{
			Name:         "temporal-ui-" + strconv.Itoa(o.uiPort),
			Path:         "bash",
			Args:         []string{script, "ui", data, strconv.Itoa(o.port), strconv.Itoa(o.uiPort)},
			Env:          o.tls.env(),
			Ready:        func(ctx context.Context) error { return httpOK(ctx, ui+"/api/v1/namespaces") },
			ReadyTimeout: o.readyTimeout,
		})
	}
	return tp
}

// pgDataDir makes the data directory of a Temporal on PostgreSQL: under os.TempDir(),
// not t.TempDir(), whose parents only root may enter (as root the script runs
// PostgreSQL as the postgres user). It is removed when the test ends, after the
// processes stopped (cleanups run last-registered first).
func pgDataDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "backbeat-temporal-pg-")
	if err != nil {
		t.Fatalf("devstack: make the data directory of Temporal on PostgreSQL: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("devstack: %v", err)
	}
	return dir
}

// PostgresReady returns nil when PostgreSQL at addr (127.0.0.1:PORT) accepts
// connections (pg_isready: started and out of crash recovery).
func PostgresReady(ctx context.Context, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("postgres address %q: %w", addr, err)
	}
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_isready")
	if len(bins) == 0 {
		return errors.New("pg_isready not found under /usr/lib/postgresql/*/bin: run scripts/deps.sh postgresql")
	}
	sort.Strings(bins)
	out, err := exec.CommandContext(ctx, bins[len(bins)-1], "-h", host, "-p", port, "-U", "temporal", "-d", "postgres", "-t", "2").CombinedOutput()
	if err != nil {
		return fmt.Errorf("postgres at %s: %w: %s", addr, err, out)
	}
	return nil
}

// registerDefault registers the namespace default (when absent) and the search
// attributes (name → type: Int, Keyword, Bool...) at addr, as scripts/temporal-postgres.sh
// register does with the CLI (over TLS with tc when it is not nil), retrying until ctx is
// done while the server settles.
func registerDefault(ctx context.Context, addr string, tc *tls.Config, attrs map[string]string) error {
	sas := map[string]enumspb.IndexedValueType{}
	for name, typ := range attrs {
		v, err := enumspb.IndexedValueTypeFromString(typ)
		if err != nil {
			return fmt.Errorf("search attribute %s: type %q: %w", name, typ, err)
		}
		sas[name] = v
	}
	c, err := client.DialContext(ctx, adminOptions(addr, tc))
	if err != nil {
		return fmt.Errorf("temporal at %s: %w", addr, err)
	}
	defer c.Close()
	step := func() error {
		_, err := c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
			Namespace: "default", WorkflowExecutionRetentionPeriod: durationpb.New(namespaceRetention)})
		var exists *serviceerror.NamespaceAlreadyExists
		if err != nil && !errors.As(err, &exists) {
			return fmt.Errorf("register namespace default: %w", err)
		}
		if _, err := c.WorkflowService().DescribeNamespace(ctx, describeDefault()); err != nil {
			return fmt.Errorf("describe namespace default: %w", err)
		}
		if len(sas) == 0 {
			return nil
		}
		// Idempotent on SQL visibility: attributes already there are skipped.
		if _, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
			Namespace: "default", SearchAttributes: sas}); err != nil {
			return fmt.Errorf("add search attributes: %w", err)
		}
		return nil
	}
	tick := time.NewTicker(10 * pollInterval)
	defer tick.Stop()
	for {
		err := step()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("temporal at %s: namespace default and search attributes: %w", addr, err)
		case <-tick.C:
		}
	}
}

// httpOK returns nil when GET url answers 200.
func httpOK(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}
