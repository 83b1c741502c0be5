package devstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Defaults of [Command].
const (
	// DefaultReadyTimeout is how long Start waits for Command.Ready when
	// Command.ReadyTimeout is 0. Generous: CI machines have 2 shared cores.
	DefaultReadyTimeout = 60 * time.Second
	// DefaultStopTimeout is how long Stop waits after the stop signal before it sends SIGKILL
	// when Command.StopTimeout is 0.
	DefaultStopTimeout = 10 * time.Second
	// DefaultLogTailLines is how many log lines a failed test shows per process.
	DefaultLogTailLines = 60
	// pollInterval is the pause between two readiness probes.
	pollInterval = 20 * time.Millisecond
)

// Command describes a process for [NewProcess] and [StartProcess].
type Command struct {
	// Name labels the process in errors and in the test log. Default: the base name
	// of Path.
	Name string
	// Path is the executable (a name without a slash is looked up in PATH). Required.
	Path string
	// Args are the arguments after the program name. Default none.
	Args []string
	// Env entries (KEY=VALUE) are added to the test process's environment; a later
	// entry for the same key wins. Default none.
	Env []string
	// Dir is the working directory. Default: the test's working directory.
	Dir string
	// Ready, when set, is called repeatedly (every 20 ms) after the process started
	// until it returns nil; Start fails when ReadyTimeout passes first or the process
	// exits. Each call should be quick and bounded by ctx. Default: no readiness probe
	// (Start returns as soon as the process is started).
	Ready func(ctx context.Context) error
	// ReadyTimeout bounds the wait for Ready. Default DefaultReadyTimeout (60 s).
	ReadyTimeout time.Duration
	// StopTimeout is how long Stop waits for the process to exit after StopSignal
	// before it kills it. Default DefaultStopTimeout (10 s).
	StopTimeout time.Duration
	// StopSignal is the signal Stop sends first, e.g. SIGINT for PostgreSQL's fast
	// shutdown (its SIGTERM is a smart shutdown: it waits for every client to
	// disconnect). Default SIGTERM.
	StopSignal syscall.Signal
}

// Process is a child process owned by a test: its stdout and stderr go to one log file
// under t.TempDir() (appended to across restarts, each run headed by a "--- devstack"
// line), it runs in its own process group (signals reach its children too) and gets
// SIGKILL if the test binary dies. When the test ends the process is stopped (StopSignal,
// then SIGKILL after StopTimeout) and, if the test failed, the tail of its log is
// written to the test log.
//
// The methods are safe for concurrent use; they return errors rather than failing the
// test, so they can be called from any goroutine.
type Process struct {
	cmd     Command
	logPath string

	mu     sync.Mutex
	cur    *run // the latest run; nil before the first Start
	starts int
}

// run is one execution of the command.
type run struct {
	cmd    *exec.Cmd
	offset int64         // where this run's output starts in the log file
	done   chan struct{} // closed once the process exited and was reaped
	err    error         // exit error; read after done is closed
}

// SkipShort skips t under go test -short, saying why (what the test starts): the one
// guard of every test that starts real processes.
func SkipShort(t testing.TB, why string) {
	t.Helper()
	if testing.Short() {
		t.Skip(why)
	}
}

func (r *run) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// NewProcess prepares cmd without starting it and registers its cleanup with t.
func NewProcess(t testing.TB, cmd Command) *Process {
	t.Helper()
	if cmd.Path == "" {
		t.Fatalf("devstack: Command.Path is required")
	}
	if cmd.Name == "" {
		cmd.Name = filepath.Base(cmd.Path)
	}
	if cmd.ReadyTimeout <= 0 {
		cmd.ReadyTimeout = DefaultReadyTimeout
	}
	if cmd.StopTimeout <= 0 {
		cmd.StopTimeout = DefaultStopTimeout
	}
	if cmd.StopSignal == 0 {
		cmd.StopSignal = syscall.SIGTERM
	}
	p := &Process{cmd: cmd, logPath: filepath.Join(t.TempDir(), safeName(cmd.Name)+".log")}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Logf("devstack: %s: %v", p.cmd.Name, err)
		}
		if t.Failed() {
			t.Logf("devstack: last %d lines of %s (%s):\n%s", DefaultLogTailLines, p.cmd.Name, p.logPath, p.LogTail(DefaultLogTailLines))
		}
	})
	return p
}

// StartProcess is NewProcess followed by Start; it fails the test when Start fails.
func StartProcess(t testing.TB, cmd Command) *Process {
	t.Helper()
	p := NewProcess(t, cmd)
	if err := p.Start(); err != nil {
		t.Fatalf("devstack: %v", err)
	}
	return p
}

// Start starts the process and waits for Command.Ready. It fails if the process is
// already running. If the process does not get ready, Start kills it and returns an
// error that carries the tail of its log.
func (p *Process) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur != nil && !p.cur.exited() {
		return fmt.Errorf("%s is already running (pid %d)", p.cmd.Name, p.cur.cmd.Process.Pid)
	}
	p.starts++
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("%s: open log: %w", p.cmd.Name, err)
	}
	fmt.Fprintf(logf, "--- devstack: start #%d at %s: %s %s\n", p.starts, time.Now().Format(time.RFC3339Nano), p.cmd.Path, strings.Join(p.cmd.Args, " "))
	offset, err := logf.Seek(0, io.SeekEnd)
	if err != nil {
		logf.Close()
		return fmt.Errorf("%s: log: %w", p.cmd.Name, err)
	}
	c := exec.Command(p.cmd.Path, p.cmd.Args...)
	c.Dir = p.cmd.Dir
	c.Env = append(os.Environ(), p.cmd.Env...)
	c.Stdout = logf
	c.Stderr = logf
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := c.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", p.cmd.Name, err)
	}
	r := &run{cmd: c, offset: offset, done: make(chan struct{})}
	p.cur = r
	go func() {
		r.err = c.Wait()
		fmt.Fprintf(logf, "--- devstack: %s pid %d exited at %s: %s\n", p.cmd.Name, c.Process.Pid, time.Now().Format(time.RFC3339Nano), c.ProcessState)
		logf.Close()
		close(r.done)
	}()
	if p.cmd.Ready == nil {
		return nil
	}
	if err := p.waitReady(r); err != nil {
		_ = signalGroup(r, syscall.SIGKILL)
		<-r.done
		return fmt.Errorf("%s: %w\n--- last %d lines of %s:\n%s", p.cmd.Name, err, DefaultLogTailLines, p.logPath, p.LogTail(DefaultLogTailLines))
	}
	return nil
}

func (p *Process) waitReady(r *run) error {
	ctx, cancel := context.WithTimeout(context.Background(), p.cmd.ReadyTimeout)
	defer cancel()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		err := p.cmd.Ready(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-r.done:
			return fmt.Errorf("exited before it was ready (%v); last probe: %w", r.err, err)
		case <-ctx.Done():
			return fmt.Errorf("not ready after %s; last probe: %w", p.cmd.ReadyTimeout, err)
		case <-tick.C:
		}
	}
}

// Stop sends Command.StopSignal (SIGTERM) to the process group and waits up to
// Command.StopTimeout for the process to exit, then sends SIGKILL. It returns nil when
// the process is not running or exited after the stop signal (whatever its exit
// status: see Wait), and an error when it had to be killed.
func (p *Process) Stop() error {
	r := p.current()
	if r == nil || r.exited() {
		return nil
	}
	if err := signalGroup(r, p.cmd.StopSignal); err != nil {
		return err
	}
	select {
	case <-r.done:
		return nil
	case <-time.After(p.cmd.StopTimeout):
	}
	p.note("%s did not exit within %s of its stop signal (%v): sending SIGKILL", p.cmd.Name, p.cmd.StopTimeout, p.cmd.StopSignal)
	_ = signalGroup(r, syscall.SIGKILL)
	<-r.done
	return fmt.Errorf("%s did not exit within %s of its stop signal (%v): killed", p.cmd.Name, p.cmd.StopTimeout, p.cmd.StopSignal)
}

// Kill sends SIGKILL to the process group (kill -9: no chance to clean up) and waits
// until the process is reaped. It does nothing when the process is not running.
func (p *Process) Kill() error {
	r := p.current()
	if r == nil || r.exited() {
		return nil
	}
	if err := signalGroup(r, syscall.SIGKILL); err != nil {
		return err
	}
	<-r.done
	return nil
}

// Restart stops the process when it runs (as Stop does) and starts it again with the
// same command, waiting for Ready.
func (p *Process) Restart() error {
	if err := p.Stop(); err != nil {
		p.note("restart: %v", err)
	}
	return p.Start()
}

// note appends a "--- devstack" line to the log file.
func (p *Process) note(format string, args ...any) {
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "--- devstack: "+format+"\n", args...)
}

// Wait waits until the current run of the process exits and returns its exit error
// (nil for exit status 0; an *exec.ExitError otherwise, also after Stop or Kill), or
// ctx's error first. It returns an error when the process was never started.
func (p *Process) Wait(ctx context.Context) error {
	r := p.current()
	if r == nil {
		return fmt.Errorf("%s was never started", p.cmd.Name)
	}
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return fmt.Errorf("wait for %s to exit: %w", p.cmd.Name, ctx.Err())
	}
}

// Running reports whether the process has been started and has not exited.
func (p *Process) Running() bool {
	r := p.current()
	return r != nil && !r.exited()
}

// Pid returns the process ID of the current (or last) run, 0 before the first Start.
func (p *Process) Pid() int {
	r := p.current()
	if r == nil {
		return 0
	}
	return r.cmd.Process.Pid
}

// Name returns Command.Name.
func (p *Process) Name() string { return p.cmd.Name }

// LogPath returns the file holding the process's stdout and stderr.
func (p *Process) LogPath() string { return p.logPath }

// Log returns the whole log file (every run), empty when it cannot be read.
func (p *Process) Log() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

// LogTail returns the last n lines of the log file.
func (p *Process) LogTail(n int) string {
	b, _ := os.ReadFile(p.logPath)
	b = bytes.TrimRight(b, "\n")
	i := len(b)
	for ; n > 0 && i > 0; n-- {
		i = bytes.LastIndexByte(b[:i], '\n')
		if i < 0 {
			i = 0
		}
	}
	return strings.TrimLeft(string(b[i:]), "\n")
}

// RunLog returns the output of the current (or last) run: the log from its start,
// without the "--- devstack: start" header.
func (p *Process) RunLog() string {
	r := p.current()
	b, _ := os.ReadFile(p.logPath)
	if r != nil && r.offset <= int64(len(b)) {
		b = b[r.offset:]
	}
	return string(b)
}

// WaitLog polls the output of the current run (see RunLog) until it contains substr,
// the run exits, or ctx is done.
func (p *Process) WaitLog(ctx context.Context, substr string) error {
	r := p.current()
	if r == nil {
		return fmt.Errorf("%s was never started", p.cmd.Name)
	}
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		if strings.Contains(p.RunLog(), substr) {
			return nil
		}
		select {
		case <-r.done:
			if strings.Contains(p.RunLog(), substr) {
				return nil
			}
			return fmt.Errorf("%s exited (%v) without logging %q", p.cmd.Name, r.err, substr)
		case <-ctx.Done():
			return fmt.Errorf("%s did not log %q: %w", p.cmd.Name, substr, ctx.Err())
		case <-tick.C:
		}
	}
}

func (p *Process) current() *run {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur
}

// signalGroup signals the process group of r (its pid, as Start sets Setpgid).
func signalGroup(r *run, sig syscall.Signal) error {
	err := syscall.Kill(-r.cmd.Process.Pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil // already gone
	}
	if err != nil {
		return fmt.Errorf("signal %v to process group %d: %w", sig, r.cmd.Process.Pid, err)
	}
	return nil
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == os.PathSeparator || r == ' ' {
			return '_'
		}
		return r
	}, s)
}

// Ports that FreePort hands out: below the kernel's ephemeral range (32768-60999 on
// Linux), where outgoing connections and listeners on port 0 take theirs, and below
// 32768 for servers that keep ports in a signed 16-bit column (Temporal's membership in
// PostgreSQL).
const (
	portBase  = 20000
	portRange = 12768
)

// handedOut holds the ports FreePort returned in this test binary: a port is a
// process-wide resource, so this is the package's one piece of shared state. Without
// it, two calls may get the same port before either is bound (seen: a bridge and a
// worker given one metrics port).
var handedOut sync.Map

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago and that no other
// FreePort call of this test binary returned. Another process may take it before you
// bind it; the window is small. It fails the test when no port can be had.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 500 {
		port := portBase + rand.IntN(portRange)
		if _, taken := handedOut.LoadOrStore(port, true); taken {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue // in use: stays in handedOut, never tried again
		}
		l.Close()
		return port
	}
	t.Fatalf("devstack: no free port in %d-%d after 500 tries", portBase, portBase+portRange-1)
	return 0
}

// FreeAddr returns "127.0.0.1:PORT" for a FreePort.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
}
