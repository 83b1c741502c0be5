package starter

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeClock is a clock the test moves.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// lastLine is the last progress line drawn on out (each starts with \r).
func lastLine(out string) string {
	i := strings.LastIndex(out, "\r")
	return strings.TrimSuffix(out[i+1:], "\033[K")
}

func TestProgressRateAndETA(t *testing.T) {
	clk := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	var out bytes.Buffer
	p := newProgress(&out, clk.now, "failed retry: versions done")
	p.phase("failed retry: versions done", 100)
	assert.Equal(t, "failed retry: versions done: 0/100", lastLine(out.String()), "no rate before any time passed")

	clk.advance(2 * time.Second)
	p.add(10, "10 re-queued")
	// 10 in 2 s: 5/s, 90 left: 18 s.
	assert.Equal(t, "failed retry: versions done: 10/100, 10 re-queued  5.0/s  ETA 18s", lastLine(out.String()))

	clk.advance(2 * time.Second)
	p.add(30, "")
	// 40 in 4 s: 10/s, 60 left: 6 s; the note is kept.
	assert.Equal(t, "failed retry: versions done: 40/100, 10 re-queued  10.0/s  ETA 6s", lastLine(out.String()))

	clk.advance(6 * time.Second)
	p.add(60, "100 re-queued")
	assert.Equal(t, "failed retry: versions done: 100/100, 100 re-queued  10.0/s", lastLine(out.String()), "no ETA once done")
}

func TestProgressUnknownTotalHasNoETA(t *testing.T) {
	clk := &fakeClock{t: time.Unix(0, 0)}
	var out bytes.Buffer
	p := newProgress(&out, clk.now, "backfill b: versions scanned")
	clk.advance(4 * time.Second)
	p.add(10, "3 marked PENDING")
	assert.Equal(t, "backfill b: versions scanned: 10, 3 marked PENDING  2.5/s", lastLine(out.String()))
}

func TestProgressRedrawsAtMostEveryInterval(t *testing.T) {
	clk := &fakeClock{t: time.Unix(0, 0)}
	var out bytes.Buffer
	p := newProgress(&out, clk.now, "x")
	clk.advance(time.Second)
	p.add(1, "")
	require.Equal(t, 1, strings.Count(out.String(), "\r"), "the first count is drawn")
	for range 5 {
		clk.advance(progressEvery / 10)
		p.add(1, "")
	}
	assert.Equal(t, 1, strings.Count(out.String(), "\r"), "not redrawn within %s", progressEvery)
	clk.advance(progressEvery)
	p.add(1, "")
	assert.Equal(t, 2, strings.Count(out.String(), "\r"))
	assert.Equal(t, "x: 7  5.4/s", lastLine(out.String()), "7 in 1.3 s")

	// A new phase restarts the count and the rate, and is drawn at once.
	p.phase("y", 4)
	clk.advance(time.Second)
	p.add(1, "")
	assert.Equal(t, "y: 1/4  1.0/s  ETA 3s", lastLine(out.String()))

	p.finish()
	assert.True(t, strings.HasSuffix(out.String(), "\r\033[K"), "finish clears the line")
	n := out.Len()
	p.finish()
	assert.Equal(t, n, out.Len(), "nothing to clear twice")
}

func TestProgressSilent(t *testing.T) {
	var nilProgress *progress
	assert.NotPanics(t, func() {
		nilProgress.phase("x", 1)
		nilProgress.add(1, "n")
		nilProgress.finish()
	}, "a nil progress does nothing")

	var buf bytes.Buffer
	a := &app{stderr: &buf}
	p := a.progress(OutputText, "x")
	p.add(1, "")
	p.finish()
	assert.Nil(t, p.w, "a buffer is no terminal")

	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	require.NoError(t, err)
	defer devNull.Close()
	a.stderr = devNull
	assert.Nil(t, a.progress(OutputText, "x").w, "/dev/null is a character device, not a terminal")

	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	defer w.Close()
	a.stderr = w
	assert.Nil(t, a.progress(OutputText, "x").w, "a pipe (a script) gets no progress")
	assert.Empty(t, buf.String())
}
