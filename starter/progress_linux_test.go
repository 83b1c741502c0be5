package starter

import (
	"fmt"
	"os"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal and returns its terminal side (closed at the end of
// the test); it skips the test where the system has none.
func openPTY(t *testing.T) *os.File {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	require.NoError(t, unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0), "unlock the pty")
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	require.NoError(t, err)
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("cannot open the pty's terminal side: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// On a terminal, progress is drawn, except with --output json.
func TestProgressOnATerminal(t *testing.T) {
	tty := openPTY(t)
	a := &app{stderr: tty}
	assert.Equal(t, tty, a.progress(OutputText, "x").w, "a terminal gets the progress")
	assert.Nil(t, a.progress(OutputJSON, "x").w, "--output json stays quiet")
}
