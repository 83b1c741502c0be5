// Package journal is the engine's reader of s3server's metadata journal: it tails the
// journal route GET /_/backbeat/journal?after=SEQ&limit=N&wait=DURATION, long-polling
// when nothing is new, and checks the records (bbproto.Record) come in seq order. It
// speaks through bbclient, the one signed client of the privileged routes.
package journal

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/bbproto/bbclient"
)

// TruncatedError says that records the reader needs were removed by the journal's
// retention: the reader must stop and have the operator backfill, never skip.
type TruncatedError struct {
	After     uint64 // the seq read after
	Oldest    uint64 // the oldest seq still kept
	JournalID string
	Message   string
}

func (e *TruncatedError) Error() string {
	return fmt.Sprintf("journal %s: records after seq %d were removed by retention (oldest kept: %d): backfill the buckets (starter backfill) and reset the offset; refusing to skip", e.JournalID, e.After, e.Oldest)
}

// MalformedError is a journal line that does not parse. The records before it were
// returned; the reader must not move past Seq.
type MalformedError struct {
	Seq  uint64 // the seq the line should have had (previous + 1)
	Line string // the line, cut to 200 bytes
	Err  error
}

func (e *MalformedError) Error() string {
	return fmt.Sprintf("journal record at seq %d is malformed (%v): %q", e.Seq, e.Err, e.Line)
}

func (e *MalformedError) Unwrap() error { return e.Err }

// Client reads a journal through the one signed client of the privileged routes.
type Client struct {
	bb *bbclient.Client
}

// New returns a reader of the journal of the s3server bb speaks to (bb signs as its
// replication identity).
func New(bb *bbclient.Client) *Client { return &Client{bb: bb} }

// Batch is what one Read returns.
type Batch struct {
	Records   []bbproto.Record
	Head      uint64 // the last seq written to the journal
	JournalID string
}

// Read returns records with seq > after (at most limit; 0 lets the server choose),
// waiting up to wait for one when none is there yet (0: do not wait). Errors:
// *TruncatedError, *MalformedError (with the good records before it in the Batch),
// *bbproto.Error (another error answer), or a transport error.
func (c *Client) Read(ctx context.Context, after uint64, limit int, wait time.Duration) (*Batch, error) {
	q := url.Values{"after": {strconv.FormatUint(after, 10)}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if wait > 0 {
		q.Set("wait", wait.String())
	}
	resp, err := c.bb.Do(ctx, bbclient.Request{Method: http.MethodGet, Route: bbproto.RouteJournal, Query: q})
	var be *bbproto.Error
	if errors.As(err, &be) && be.Status == http.StatusGone {
		return nil, &TruncatedError{After: after, Oldest: be.Oldest, JournalID: be.JournalID, Message: be.Message}
	}
	if err != nil {
		return nil, fmt.Errorf("read the journal after seq %d: %w", after, err)
	}
	defer resp.Body.Close()
	b := &Batch{JournalID: resp.Header.Get(bbproto.HeaderJournalID)}
	if b.Head, err = strconv.ParseUint(resp.Header.Get(bbproto.HeaderJournalHead), 10, 64); err != nil {
		return nil, fmt.Errorf("journal route sent no valid %s header: %w", bbproto.HeaderJournalHead, err)
	}
	next := after + 1
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var r bbproto.Record
		if err := json.Unmarshal(line, &r); err != nil {
			return b, &MalformedError{Seq: next, Line: cut(line), Err: err}
		}
		if r.Seq != next {
			return b, &MalformedError{Seq: next, Line: cut(line), Err: fmt.Errorf("seq %d out of order (want %d)", r.Seq, next)}
		}
		b.Records = append(b.Records, r)
		next++
	}
	if err := sc.Err(); err != nil {
		return b, fmt.Errorf("read journal body after seq %d: %w", next-1, err)
	}
	return b, nil
}

func cut(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	return string(b)
}
