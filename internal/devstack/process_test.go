package devstack

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A shell that reports its start, serves nothing, and exits 0 on SIGTERM. The sleep
// child checks that signals reach the whole process group.
const shellServer = `echo "started $$"; trap 'echo "got TERM"; exit 0' TERM; while :; do sleep 0.05; done`

// startsProcesses is why the tests that start real processes skip under -short.
const startsProcesses = "starts ZooKeeper or the dev broker"

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestProcessLifecycle(t *testing.T) {
	t.Parallel()
	marker := filepath.Join(t.TempDir(), "ready")
	p := StartProcess(t, Command{
		Name: "shell",
		Path: "/bin/sh",
		Args: []string{"-c", "touch " + marker + "; " + shellServer},
		Ready: func(context.Context) error {
			_, err := os.Stat(marker)
			return err
		},
	})
	require.True(t, p.Running())
	pid := p.Pid()
	require.NoError(t, p.WaitLog(ctxTimeout(t, 10*time.Second), "started "+strconv.Itoa(pid)))

	require.NoError(t, p.Stop())
	assert.False(t, p.Running())
	assert.NoError(t, p.Wait(ctxTimeout(t, time.Second)), "the trap exits 0")
	assert.Contains(t, p.Log(), "got TERM")
	require.NoError(t, p.Stop(), "Stop of a stopped process is a no-op")

	require.NoError(t, p.Restart())
	require.True(t, p.Running())
	assert.NotEqual(t, pid, p.Pid())
	require.NoError(t, p.WaitLog(ctxTimeout(t, 10*time.Second), "started "+strconv.Itoa(p.Pid())))
	assert.Error(t, p.Start(), "Start of a running process fails")

	require.NoError(t, p.Kill())
	assert.False(t, p.Running())
	var exitErr *exec.ExitError
	require.ErrorAs(t, p.Wait(ctxTimeout(t, time.Second)), &exitErr)
	assert.Equal(t, "signal: killed", exitErr.Error())
	assert.Equal(t, 2, strings.Count(p.Log(), "--- devstack: start #"), "one log across restarts")
	assert.Contains(t, p.LogTail(1), "exited", "the reaper notes the exit")
}

func TestProcessStopEscalatesToKill(t *testing.T) {
	t.Parallel()
	p := StartProcess(t, Command{
		Path:        "/bin/sh",
		Args:        []string{"-c", `trap '' TERM; echo up; while :; do sleep 0.05; done`},
		StopTimeout: 300 * time.Millisecond,
	})
	require.NoError(t, p.WaitLog(ctxTimeout(t, 10*time.Second), "up"))
	err := p.Stop()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "killed")
	assert.False(t, p.Running())
}

func TestProcessStopSignal(t *testing.T) {
	t.Parallel()
	p := StartProcess(t, Command{
		Path:        "/bin/sh",
		Args:        []string{"-c", `trap '' TERM; trap 'echo "got INT"; exit 0' INT; echo up; while :; do sleep 0.05; done`},
		StopSignal:  syscall.SIGINT,
		StopTimeout: 5 * time.Second,
	})
	require.NoError(t, p.WaitLog(ctxTimeout(t, 10*time.Second), "up"))
	require.NoError(t, p.Stop(), "it exits on SIGINT, not killed")
	assert.Contains(t, p.Log(), "got INT")
}

func TestProcessExitsBeforeReady(t *testing.T) {
	t.Parallel()
	p := NewProcess(t, Command{
		Name:  "doomed",
		Path:  "/bin/sh",
		Args:  []string{"-c", "echo 'fatal: no config' >&2; exit 3"},
		Ready: func(context.Context) error { return errors.New("never ready") },
	})
	err := p.Start()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "exited before it was ready")
	assert.Contains(t, err.Error(), "fatal: no config", "the error carries the log tail")
	assert.False(t, p.Running())
}

func TestProcessReadyTimeoutKills(t *testing.T) {
	t.Parallel()
	p := NewProcess(t, Command{
		Path:         "/bin/sh",
		Args:         []string{"-c", shellServer},
		Ready:        func(context.Context) error { return errors.New("still warming up") },
		ReadyTimeout: 200 * time.Millisecond,
	})
	err := p.Start()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not ready after 200ms")
	assert.Contains(t, err.Error(), "still warming up")
	assert.False(t, p.Running(), "a process that never got ready is killed")
}

func TestProcessWaitAndEnv(t *testing.T) {
	t.Parallel()
	p := StartProcess(t, Command{Path: "/bin/sh", Args: []string{"-c", `echo "v=$DEVSTACK_V"; exit 7`}, Env: []string{"DEVSTACK_V=42"}})
	var exitErr *exec.ExitError
	require.ErrorAs(t, p.Wait(ctxTimeout(t, 10*time.Second)), &exitErr)
	assert.Equal(t, 7, exitErr.ExitCode())
	assert.Contains(t, p.Log(), "v=42")

	never := NewProcess(t, Command{Path: "/bin/true"})
	assert.Error(t, never.Wait(context.Background()))
	assert.Zero(t, never.Pid())
}

func TestLogTail(t *testing.T) {
	t.Parallel()
	p := NewProcess(t, Command{Path: "/bin/true"})
	require.NoError(t, os.WriteFile(p.LogPath(), []byte("a\nb\nc\n"), 0o644))
	assert.Equal(t, "b\nc", p.LogTail(2))
	assert.Equal(t, "a\nb\nc", p.LogTail(10))
	assert.Equal(t, "", p.LogTail(0))
}

func TestFreePort(t *testing.T) {
	t.Parallel()
	port := FreePort(t)
	assert.Greater(t, port, 0)
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	require.NoError(t, err, "the port is bindable")
	l.Close()
	addr := FreeAddr(t)
	assert.True(t, strings.HasPrefix(addr, "127.0.0.1:"))
}
