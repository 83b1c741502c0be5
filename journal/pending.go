package journal

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// PendingQuery selects the versions Pending lists (s3server's pending route).
type PendingQuery struct {
	// Bucket to list; "" lists every bucket.
	Bucket string
	// Prefix of the keys (needs Bucket). Default "": every key.
	Prefix string
	// OlderThan keeps the versions whose status was written at least that long ago.
	// Default 0: every PENDING or PROCESSING version.
	OlderThan time.Duration
	// After is the Next of the previous page. Default "": from the start.
	After string
	// Limit bounds the versions of the page. Default 0: the server's (1000).
	Limit int
}

// PendingVersion is a version whose replication waits (PENDING or PROCESSING).
type PendingVersion struct {
	Bucket         string    `json:"bucket"`
	Key            string    `json:"key"`
	VersionID      string    `json:"versionId"`
	IsDeleteMarker bool      `json:"isDeleteMarker,omitempty"`
	LastModified   time.Time `json:"lastModified"`
	Status         string    `json:"status"`
	// StatusTime is when the status was written (zero: not recorded); Redrive sends it
	// back so that a version changed since is left alone.
	StatusTime time.Time `json:"statusTime,omitzero"`
	// Since is when the version started waiting (re-drives do not reset it).
	Since time.Time `json:"since"`
}

// PendingPage is one page of the pending route.
type PendingPage struct {
	Versions []PendingVersion `json:"versions"`
	// Oldest is, per bucket, the Since of the longest-waiting version the page
	// examined (whatever OlderThan); Waiting counts them.
	Oldest  map[string]time.Time `json:"oldest"`
	Waiting map[string]int       `json:"waiting"`
	// Scanned counts the versions the page examined.
	Scanned int `json:"scanned"`
	// Next continues the listing; "" when done.
	Next string `json:"next,omitempty"`
}

// Outcomes of a re-drive (RedriveResult.Outcome).
const (
	RedriveDone    = "redriven" // journaled PENDING again
	RedriveChanged = "changed"  // no longer waiting, or its status was written since it was listed
	RedriveGone    = "gone"     // the bucket, key or version is gone
)

// MaxRedrive is the most versions one Redrive call may name (s3server's limit).
const MaxRedrive = 1000

// RedriveResult is what the redrive route did to one version.
type RedriveResult struct {
	Bucket    string `json:"bucket"`
	Key       string `json:"key"`
	VersionID string `json:"versionId"`
	Outcome   string `json:"outcome"`
}

// CountOutcomes adds the outcomes of results to the counts of re-driven, changed and
// gone versions, and returns them.
func CountOutcomes(results []RedriveResult, redriven, changed, gone int) (int, int, int) {
	for _, r := range results {
		switch r.Outcome {
		case RedriveDone:
			redriven++
		case RedriveChanged:
			changed++
		default:
			gone++
		}
	}
	return redriven, changed, gone
}

// Pending lists one page of the versions whose replication waits (GET
// /_/backbeat/pending).
func (c *Client) Pending(ctx context.Context, q PendingQuery) (*PendingPage, error) {
	v := url.Values{}
	for k, s := range map[string]string{"bucket": q.Bucket, "prefix": q.Prefix, "after": q.After} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.OlderThan > 0 {
		v.Set("olderThan", q.OlderThan.String())
	}
	if q.Limit > 0 {
		v.Set("limit", fmt.Sprint(q.Limit))
	}
	var page PendingPage
	if err := c.call(ctx, http.MethodGet, "pending?"+v.Encode(), nil, &page); err != nil {
		return nil, err
	}
	return &page, nil
}

// Redrive journals PENDING again on the versions that still wait with the status time
// they were listed with (POST /_/backbeat/redrive), at most MaxRedrive per call: ingest
// then carries them through the engine again. The results are in the order of vs.
func (c *Client) Redrive(ctx context.Context, vs []PendingVersion) ([]RedriveResult, error) {
	type ref struct {
		Bucket     string    `json:"bucket"`
		Key        string    `json:"key"`
		VersionID  string    `json:"versionId"`
		StatusTime time.Time `json:"statusTime,omitzero"`
	}
	refs := make([]ref, len(vs))
	for i, v := range vs {
		refs[i] = ref{v.Bucket, v.Key, v.VersionID, v.StatusTime}
	}
	body, err := json.Marshal(map[string]any{"versions": refs})
	if err != nil {
		return nil, fmt.Errorf("encode the versions to re-drive: %w", err)
	}
	var out struct {
		Results []RedriveResult `json:"results"`
	}
	if err := c.call(ctx, http.MethodPost, "redrive", body, &out); err != nil {
		return nil, err
	}
	if len(out.Results) != len(vs) {
		return nil, fmt.Errorf("redrive route answered %d results for %d versions", len(out.Results), len(vs))
	}
	return out.Results, nil
}

// call sends a signed request to /_/backbeat/route and decodes the JSON answer into out.
func (c *Client) call(ctx context.Context, method, route string, body []byte, out any) error {
	u := strings.TrimRight(c.Endpoint, "/") + "/_/backbeat/" + route
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s request: %w", route, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if err := c.sign(ctx, req); err != nil {
		return err
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s at %s: %w", method, route, c.Endpoint, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("read the answer of %s %s: %w", method, route, err)
	}
	if resp.StatusCode != http.StatusOK {
		name, _, _ := strings.Cut(route, "?")
		return &StatusError{Status: resp.StatusCode, Body: strings.TrimSpace(cut(data)), Route: name}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode the answer of %s %s: %w", method, route, err)
	}
	return nil
}
