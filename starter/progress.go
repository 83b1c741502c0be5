package starter

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"
)

// progressEvery is the shortest time between two redraws of a progress line.
const progressEvery = 200 * time.Millisecond

// progress shows how far a long-running command (backfill, failed retry, redrive) is:
// the count done, out of the total when known, the rate per second since the start,
// and the ETA when the total is known, on one line of a terminal redrawn in place. A
// progress with no writer is silent (stderr is not a terminal, --output json); so is a
// nil *progress. It is not safe for concurrent use.
type progress struct {
	w     io.Writer // nil: silent
	now   func() time.Time
	label string // what is counted, e.g. "backfill source-bucket: versions scanned"
	total int    // 0: unknown
	done  int
	note  string // said after the count, e.g. "12 marked"
	start time.Time
	drawn time.Time // of the last redraw; zero: nothing on the line
}

// newProgress returns a progress counting label on w (nil: silent) with the clock now.
func newProgress(w io.Writer, now func() time.Time, label string) *progress {
	return &progress{w: w, now: now, label: label, start: now()}
}

// progress returns the progress of a command: drawn on the app's stderr when it is a
// terminal and the output is text, silent otherwise (scripts, --output json).
func (a *app) progress(output, label string) *progress {
	var w io.Writer
	if output != OutputJSON && isTerminal(a.stderr) {
		w = a.stderr
	}
	return newProgress(w, time.Now, label)
}

// phase starts counting something else from zero (label, total: 0 when unknown): the
// rate and ETA are the new phase's.
func (p *progress) phase(label string, total int) {
	if p == nil {
		return
	}
	p.label, p.total, p.done, p.note, p.start = label, total, 0, "", p.now()
	p.draw(true)
}

// add counts n more done, with note (kept when empty) said after the count, and
// redraws the line at most every progressEvery.
func (p *progress) add(n int, note string) {
	if p == nil {
		return
	}
	p.done += n
	if note != "" {
		p.note = note
	}
	p.draw(false)
}

// finish clears the line, so that what the command prints next starts on a clean one.
func (p *progress) finish() {
	if p == nil || p.w == nil || p.drawn.IsZero() {
		return
	}
	fmt.Fprint(p.w, "\r\033[K")
	p.drawn = time.Time{}
}

// draw redraws the line: always with force, else when progressEvery has passed.
func (p *progress) draw(force bool) {
	if p.w == nil {
		return
	}
	now := p.now()
	if !force && !p.drawn.IsZero() && now.Sub(p.drawn) < progressEvery {
		return
	}
	p.drawn = now
	fmt.Fprint(p.w, "\r"+p.line(now)+"\033[K")
}

// line is the text of the progress line at now, e.g.
// "failed retry: 120/400 versions, 3 skipped  35.2/s  ETA 8s".
func (p *progress) line(now time.Time) string {
	var b strings.Builder
	b.WriteString(p.label + ": " + fmt.Sprint(p.done))
	if p.total > 0 {
		fmt.Fprintf(&b, "/%d", p.total)
	}
	if p.note != "" {
		b.WriteString(", " + p.note)
	}
	rate := p.rate(now)
	if rate <= 0 {
		return b.String()
	}
	fmt.Fprintf(&b, "  %.1f/s", rate)
	if p.total > p.done {
		eta := time.Duration(float64(p.total-p.done) / rate * float64(time.Second))
		fmt.Fprintf(&b, "  ETA %s", eta.Round(time.Second))
	}
	return b.String()
}

// rate is the count done per second since the start of the phase (0 before any time
// has passed).
func (p *progress) rate(now time.Time) float64 {
	el := now.Sub(p.start).Seconds()
	if el <= 0 {
		return 0
	}
	return float64(p.done) / el
}

// isTerminal tells whether w is a terminal (not merely a character device such as
// /dev/null).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
