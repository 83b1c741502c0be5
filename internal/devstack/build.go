package devstack

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// ModulePath is the import path of this module; Build builds packages under it.
const ModulePath = "github.com/backbeat-temporal/backbeat"

// buildMemo remembers, per test binary, the binaries Build made. It is the package's
// only mutable global state.
type buildMemo struct {
	mu    sync.Mutex
	dir   string                 // per-process output directory, made on first use
	byPkg map[string]*buildEntry // package → result
}

type buildEntry struct {
	once sync.Once
	path string
	err  error
}

var builds buildMemo

// Build compiles the main package pkg of this module ("cmd/devbroker", "cmd/ingest"…,
// relative to ModulePath, or a full import path) with the go command, once per test
// binary, and returns the executable's path. Binaries go to a directory under
// os.TempDir() named after the test binary's pid; directories left by test binaries
// that are gone are removed on the next first build. It fails the test when the build
// fails.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	if !strings.HasPrefix(pkg, ModulePath) {
		pkg = path.Join(ModulePath, strings.TrimPrefix(pkg, "./"))
	}
	e, dir, err := builds.entry(pkg)
	if err != nil {
		t.Fatalf("devstack: build %s: %v", pkg, err)
	}
	e.once.Do(func() {
		out := filepath.Join(dir, path.Base(pkg))
		gobin, err := goCommand()
		if err != nil {
			e.err = err
			return
		}
		cmd := exec.Command(gobin, "build", "-buildvcs=false", "-o", out, pkg)
		if b, err := cmd.CombinedOutput(); err != nil {
			e.err = fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
			return
		}
		e.path = out
	})
	if e.err != nil {
		t.Fatalf("devstack: %v", e.err)
	}
	return e.path
}

func (m *buildMemo) entry(pkg string) (*buildEntry, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dir == "" {
		sweepBuildDirs()
		dir, err := os.MkdirTemp("", "backbeat-devstack-"+strconv.Itoa(os.Getpid())+"-")
		if err != nil {
			return nil, "", fmt.Errorf("make binary directory: %w", err)
		}
		m.dir = dir
		m.byPkg = map[string]*buildEntry{}
	}
	e := m.byPkg[pkg]
	if e == nil {
		e = &buildEntry{}
		m.byPkg[pkg] = e
	}
	return e, m.dir, nil
}

// sweepBuildDirs removes the binary directories of test binaries that have exited.
func sweepBuildDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "backbeat-devstack-*-*"))
	for _, d := range dirs {
		rest := strings.TrimPrefix(filepath.Base(d), "backbeat-devstack-")
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); err == syscall.ESRCH {
			_ = os.RemoveAll(d)
		}
	}
}

// goCommand finds the go command: PATH (go test puts GOROOT/bin first), then
// $GOROOT/bin/go, then /usr/local/go/bin/go.
func goCommand() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	for _, p := range []string{filepath.Join(os.Getenv("GOROOT"), "bin", "go"), "/usr/local/go/bin/go"} {
		if filepath.IsAbs(p) && fileExists(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("the go command is not in PATH")
}
