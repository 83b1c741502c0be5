package devstack

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ZooKeeper launch settings, shared with scripts/zookeeper.sh (keep both in sync).
//
// Debian's zookeeper.jar carries a manifest Class-Path that lists every dependency by
// its absolute /usr/share/java path, so the classpath is only: the configuration
// directory (where Debian keeps log4j/logback settings), the jar, and slf4j-simple.jar
// from the same directory when present (Debian ships no SLF4J binding with ZooKeeper:
// without one it logs nothing; with it, it logs to stderr).
const (
	// DefaultZooKeeperJar is ZooKeeper's jar from Debian's libzookeeper-java. The
	// environment variable BACKBEAT_ZOOKEEPER_JAR overrides it.
	DefaultZooKeeperJar = "/usr/share/java/zookeeper.jar"
	// ZooKeeperMainClass is the class that runs a server from a zoo.cfg (standalone
	// when the file lists no quorum).
	ZooKeeperMainClass = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
)

// ZooKeeperJVMOptions are the java options of a dev ZooKeeper: a small heap, the serial
// collector and C1 only (start in well under a second and stay light on 2 shared cores),
// no perf-data files in /tmp.
var ZooKeeperJVMOptions = []string{"-Xms16m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData"}

// ZooKeeperClasspath returns the java classpath that runs ZooKeeper from jar with its
// configuration in confDir: "confDir:jar[:DIR/slf4j-simple.jar]" (see
// DefaultZooKeeperJar).
func ZooKeeperClasspath(confDir, jar string) string {
	cp := []string{confDir, jar}
	if binding := filepath.Join(filepath.Dir(jar), "slf4j-simple.jar"); fileExists(binding) {
		cp = append(cp, binding)
	}
	return strings.Join(cp, string(os.PathListSeparator))
}

// ZooKeeperConfig returns a standalone zoo.cfg serving on 127.0.0.1:port with its
// data in dataDir: the admin HTTP server off, the four-letter words ruok and srvr
// allowed.
func ZooKeeperConfig(dataDir string, port int) string {
	return fmt.Sprintf(`# written by devstack
tickTime=2000
initLimit=10
syncLimit=5
dataDir=%s
clientPort=%d
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr
`, dataDir, port)
}

// zooKeeperBinaries finds java (JAVA_HOME/bin/java, then PATH) and the jar.
func zooKeeperBinaries() (java, jar string, err error) {
	jar = DefaultZooKeeperJar
	if v := os.Getenv("BACKBEAT_ZOOKEEPER_JAR"); v != "" {
		jar = v
	}
	var missing []string
	if !fileExists(jar) {
		missing = append(missing, "ZooKeeper jar "+jar)
	}
	if home := os.Getenv("JAVA_HOME"); home != "" && fileExists(filepath.Join(home, "bin", "java")) {
		java = filepath.Join(home, "bin", "java")
	} else if java, err = exec.LookPath("java"); err != nil {
		missing = append(missing, "java")
	}
	if len(missing) > 0 {
		return "", "", fmt.Errorf("%s not found (install with scripts/deps.sh: Debian packages zookeeper and a JRE)", strings.Join(missing, " and "))
	}
	return java, jar, nil
}

// FourLetterWord sends a ZooKeeper four-letter command (ruok, srvr…) to addr and
// returns the whole answer. The command must be in 4lw.commands.whitelist.
func FourLetterWord(ctx context.Context, addr, cmd string) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("%s to %s: %w", cmd, addr, err)
	}
	defer conn.Close()
	deadline := time.Now().Add(2 * time.Second)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetDeadline(deadline)
	if _, err := io.WriteString(conn, cmd); err != nil {
		return "", fmt.Errorf("%s to %s: %w", cmd, addr, err)
	}
	b, err := io.ReadAll(conn)
	if err != nil {
		return string(b), fmt.Errorf("%s to %s: read answer: %w", cmd, addr, err)
	}
	return string(b), nil
}

// zooKeeperReady is ZooKeeper's readiness probe: ruok answers imok as soon as the
// port is open, srvr shows "Mode:" once the server actually serves requests.
func zooKeeperReady(ctx context.Context, addr string) error {
	ans, err := FourLetterWord(ctx, addr, "ruok")
	if err != nil {
		return err
	}
	if ans != "imok" {
		return fmt.Errorf("ruok to %s answered %q, want imok", addr, ans)
	}
	if ans, err = FourLetterWord(ctx, addr, "srvr"); err != nil {
		return err
	}
	if !strings.Contains(ans, "Mode:") {
		return fmt.Errorf("srvr to %s: not serving yet: %q", addr, strings.TrimSpace(ans))
	}
	return nil
}

// ZooKeeperOption configures StartZooKeeper.
type ZooKeeperOption func(*zkOptions)

type zkOptions struct {
	port    int
	dataDir string
}

// ZooKeeperPort serves on 127.0.0.1:port. Default: a FreePort.
func ZooKeeperPort(port int) ZooKeeperOption { return func(o *zkOptions) { o.port = port } }

// ZooKeeperDataDir keeps the snapshots and transaction logs in dir (created if
// missing). Default: a new directory under t.TempDir().
func ZooKeeperDataDir(dir string) ZooKeeperOption {
	return func(o *zkOptions) { o.dataDir = dir }
}

// ZooKeeper is a standalone ZooKeeper server started by StartZooKeeper.
type ZooKeeper struct {
	t       testing.TB
	proc    *Process
	port    int
	dataDir string
	confDir string
}

// StartZooKeeper runs a standalone ZooKeeper (Debian's package, see
// DefaultZooKeeperJar) on 127.0.0.1 with its own zoo.cfg and data directory, and
// returns once it serves (ruok → imok, then srvr shows a mode), waiting
// DefaultReadyTimeout at most. It is stopped when the test ends. When java or the jar
// is missing, the test is skipped under -short and fails otherwise.
func StartZooKeeper(t testing.TB, opts ...ZooKeeperOption) *ZooKeeper {
	t.Helper()
	java, jar, err := zooKeeperBinaries()
	if err != nil {
		if testing.Short() {
			t.Skipf("devstack: ZooKeeper unavailable, skipped in -short mode: %v", err)
		}
		t.Fatalf("devstack: %v; run scripts/deps.sh", err)
	}
	var o zkOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.port == 0 {
		o.port = FreePort(t)
	}
	base := t.TempDir()
	if o.dataDir == "" {
		o.dataDir = filepath.Join(base, "data")
	}
	z := &ZooKeeper{t: t, port: o.port, dataDir: o.dataDir, confDir: filepath.Join(base, "conf")}
	for _, dir := range []string{z.dataDir, z.confDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatalf("devstack: %v", err)
		}
	}
	cfgPath := filepath.Join(z.confDir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(ZooKeeperConfig(z.dataDir, z.port)), 0o644); err != nil {
		t.Fatalf("devstack: write zoo.cfg: %v", err)
	}
	args := append(append([]string{}, ZooKeeperJVMOptions...),
		"-cp", ZooKeeperClasspath(z.confDir, jar), ZooKeeperMainClass, cfgPath)
	addr := z.Addr()
	z.proc = StartProcess(t, Command{
		Name:         "zookeeper-" + strconv.Itoa(z.port),
		Path:         java,
		Args:         args,
		Ready:        func(ctx context.Context) error { return zooKeeperReady(ctx, addr) },
		ReadyTimeout: DefaultReadyTimeout,
	})
	return z
}

// Addr returns "127.0.0.1:PORT", the connect string (without chroot).
func (z *ZooKeeper) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(z.port)) }

// Port returns the client port.
func (z *ZooKeeper) Port() int { return z.port }

// DataDir returns the directory of the snapshots and transaction logs.
func (z *ZooKeeper) DataDir() string { return z.dataDir }

// Process returns the underlying process (log, pid, error-returning controls).
func (z *ZooKeeper) Process() *Process { return z.proc }

// Stop stops ZooKeeper with SIGTERM (SIGKILL after DefaultStopTimeout) and fails the
// test if it had to be killed.
func (z *ZooKeeper) Stop() {
	z.t.Helper()
	if err := z.proc.Stop(); err != nil {
		z.t.Fatalf("devstack: %v", err)
	}
}

// Kill kills ZooKeeper with SIGKILL (kill -9) and waits until it is gone.
func (z *ZooKeeper) Kill() {
	z.t.Helper()
	if err := z.proc.Kill(); err != nil {
		z.t.Fatalf("devstack: %v", err)
	}
}

// Restart stops ZooKeeper if it runs, starts it again on the same port with the same
// data and waits until it serves; it fails the test on error.
func (z *ZooKeeper) Restart() {
	z.t.Helper()
	if err := z.proc.Restart(); err != nil {
		z.t.Fatalf("devstack: restart ZooKeeper: %v", err)
	}
}

func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir()
}
