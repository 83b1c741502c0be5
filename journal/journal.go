// Package journal is the engine's side of s3server's metadata journal: the record format
// (DESIGN.md) and a client that tails the journal route
// GET /_/backbeat/journal?after=SEQ&limit=N&wait=DURATION, long-polling when nothing is
// new. It talks to any s3server over HTTP, signed (SigV4) as the replication identity.
package journal

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/backbeat-temporal/backbeat/bbproto"
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

// StatusError is an unexpected HTTP answer from a privileged route.
type StatusError struct {
	Status int
	Body   string
	// Route is the route's name; "" means "journal".
	Route string
}

func (e *StatusError) Error() string {
	route := e.Route
	if route == "" {
		route = "journal"
	}
	switch e.Status {
	case http.StatusForbidden:
		return fmt.Sprintf("%s route refused the credentials (403): use the account marked \"replication\" in s3server's accounts file: %s", route, e.Body)
	}
	return fmt.Sprintf("%s route answered %d: %s", route, e.Status, e.Body)
}

// Client reads a journal.
type Client struct {
	// Endpoint is the s3server base URL, e.g. "http://127.0.0.1:8000". Required.
	Endpoint string
	// AccessKey and SecretKey of the replication identity. Required.
	AccessKey, SecretKey string
	// Region of the signature. Default "us-east-1".
	Region string
	// HTTP is the client used. Default: a client with no overall timeout (long-polls),
	// whose requests end with their context.
	HTTP *http.Client
}

// Batch is what one Read returns.
type Batch struct {
	Records   []bbproto.Record
	Head      uint64 // the last seq written to the journal
	JournalID string
}

// Read returns records with seq > after (at most limit; 0 lets the server choose),
// waiting up to wait for one when none is there yet (0: do not wait). Errors:
// *TruncatedError, *MalformedError (with the good records before it in the Batch),
// *StatusError, or a transport error.
func (c *Client) Read(ctx context.Context, after uint64, limit int, wait time.Duration) (*Batch, error) {
	q := url.Values{"after": {strconv.FormatUint(after, 10)}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if wait > 0 {
		q.Set("wait", wait.String())
	}
	u := strings.TrimRight(c.Endpoint, "/") + "/_/backbeat/journal?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("journal request: %w", err)
	}
	if err := c.sign(ctx, req); err != nil {
		return nil, err
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read journal from %s: %w", c.Endpoint, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusGone {
		return nil, truncated(resp, after)
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, &StatusError{Status: resp.StatusCode, Body: strings.TrimSpace(string(body))}
	}
	b := &Batch{JournalID: resp.Header.Get("X-Backbeat-Journal-Id")}
	if b.Head, err = strconv.ParseUint(resp.Header.Get("X-Backbeat-Journal-Head"), 10, 64); err != nil {
		return nil, fmt.Errorf("journal route sent no valid X-Backbeat-Journal-Head header: %w", err)
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

func (c *Client) sign(ctx context.Context, req *http.Request) error {
	const unsigned = "UNSIGNED-PAYLOAD"
	region := c.Region
	if region == "" {
		region = "us-east-1"
	}
	req.Header.Set("X-Amz-Content-Sha256", unsigned)
	creds := aws.Credentials{AccessKeyID: c.AccessKey, SecretAccessKey: c.SecretKey}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, unsigned, "s3", region, time.Now()); err != nil {
		return fmt.Errorf("sign journal request: %w", err)
	}
	return nil
}

func truncated(resp *http.Response, after uint64) error {
	var body struct {
		Oldest    uint64 `json:"oldest"`
		JournalID string `json:"journalId"`
		Message   string `json:"message"`
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err := json.Unmarshal(data, &body); err != nil {
		return errors.Join(&TruncatedError{After: after}, fmt.Errorf("unreadable 410 body %q: %w", data, err))
	}
	return &TruncatedError{After: after, Oldest: body.Oldest, JournalID: body.JournalID, Message: body.Message}
}

func cut(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	return string(b)
}
