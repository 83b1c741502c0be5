package s3server

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"
)

// idleBody is a request body with an idle timeout: the connection's read deadline is
// set when the request arrives and pushed back as bytes come in, so a body that stalls
// for longer than the timeout fails with errRequestTimeout (and, if the handler never
// reads it, net/http's post-handler drain gives up at the same deadline). At EOF the
// deadline is lifted: a handler may then legitimately keep the request open without
// reading (net/http's background read of the connection must not time out).
type idleBody struct {
	rc       io.ReadCloser
	ctl      *http.ResponseController
	timeout  time.Duration
	deadline time.Time // zero once lifted
}

// newIdleBody wraps rc, the body of the request answered by w.
func newIdleBody(w http.ResponseWriter, rc io.ReadCloser, timeout time.Duration) *idleBody {
	b := &idleBody{rc: rc, ctl: http.NewResponseController(w), timeout: timeout}
	b.extend(time.Now())
	return b
}

// extend moves the deadline to now+timeout, unless it was moved recently (a deadline
// per read of a large body would be wasted work).
func (b *idleBody) extend(now time.Time) {
	if !b.deadline.IsZero() && b.deadline.Sub(now) > b.timeout*3/4 {
		return
	}
	b.deadline = now.Add(b.timeout)
	// Not supported only by writers that are not net/http's (tests' recorders): then
	// there is no connection to time out.
	_ = b.ctl.SetReadDeadline(b.deadline)
}

// Read reads the body; a stall longer than the timeout is errRequestTimeout.
func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	switch {
	case err == nil:
		b.extend(time.Now())
	case errors.Is(err, io.EOF):
		b.lift()
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = errRequestTimeout
	}
	return n, err
}

// lift removes the deadline once the body is read.
func (b *idleBody) lift() {
	if !b.deadline.IsZero() {
		b.deadline = time.Time{}
		_ = b.ctl.SetReadDeadline(time.Time{})
	}
}

// Close closes the body.
func (b *idleBody) Close() error { return b.rc.Close() }
