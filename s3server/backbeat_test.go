package s3server

import (
	"github.com/backbeat-temporal/backbeat/bbproto"

	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/bbproto/bbclient"
	"github.com/backbeat-temporal/backbeat/journal"
	"github.com/backbeat-temporal/backbeat/s3server/store"
)

// bbResp is a privileged route's answer.
type bbResp struct {
	Status int
	Header http.Header
	Body   []byte
}

// jsonErr decodes a JSON error answer.
func (r bbResp) jsonErr(t *testing.T) map[string]any {
	t.Helper()
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"), "errors of the privileged routes are JSON")
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &m), string(r.Body))
	return m
}

// version decodes a version answer.
func (r bbResp) version(t *testing.T) bbVersionResp {
	t.Helper()
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
	var v bbVersionResp
	require.NoError(t, json.Unmarshal(r.Body, &v), string(r.Body))
	return v
}

// bbVersionResp is the JSON of a version as the routes answer it.
type bbVersionResp struct {
	store.Version
	IsLatest *bool `json:"isLatest"`
}

// records decodes an ndjson journal answer.
func (r bbResp) records(t *testing.T) []store.Record {
	t.Helper()
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	assert.Equal(t, "application/x-ndjson", r.Header.Get("Content-Type"))
	var out []store.Record
	sc := bufio.NewScanner(bytes.NewReader(r.Body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec store.Record
		require.NoError(t, json.Unmarshal(sc.Bytes(), &rec), sc.Text())
		out = append(out, rec)
	}
	return out
}

// head returns the X-Backbeat-Journal-Head header as a number.
func (r bbResp) head(t *testing.T) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(r.Header.Get("X-Backbeat-Journal-Head"), 10, 64)
	require.NoError(t, err, "X-Backbeat-Journal-Head")
	return n
}

// bbRequest builds a request to /_/backbeat/path (path already escaped, query included)
// signed as acct with UNSIGNED-PAYLOAD, the path signed as sent (as the activities do).
func bbRequest(t *testing.T, ctx context.Context, base string, acct Account, method, path string, body []byte, hdr http.Header) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+"/_/backbeat/"+path, rd)
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header[http.CanonicalHeaderKey(k)] = v
	}
	if strings.HasPrefix(path, "replica/") && req.Header.Get("x-backbeat-source-bucket") == "" {
		// Replica writes name their source: by default a bucket of testUser on another
		// server (testUser owns the tests' target buckets: consent by ownership).
		req.Header.Set("x-backbeat-source-bucket", "remote-source")
		req.Header.Set("x-backbeat-source-journal-id", "another-server")
		req.Header.Set("x-backbeat-source-account", testUser.Name)
	}
	require.NoError(t, sign(req, acct, unsignedPayload))
	return req
}

// bb sends a privileged request as the replication identity.
func (h *harness) bb(method, path string, body []byte, hdr http.Header) bbResp {
	h.t.Helper()
	return h.bbAs(testRepl, method, path, body, hdr)
}

// bbAs sends a privileged request as acct.
func (h *harness) bbAs(acct Account, method, path string, body []byte, hdr http.Header) bbResp {
	h.t.Helper()
	return doBB(h.t, bbRequest(h.t, context.Background(), h.URL, acct, method, path, body, hdr))
}

func doBB(t *testing.T, req *http.Request) bbResp {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return bbResp{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// replicated makes a versioned bucket whose every key is replicated (new versions are
// PENDING).
func (h *harness) replicated(name string) {
	h.t.Helper()
	h.mkBucket(name, true)
	h.ensureBucket("target", true)
	_, err := h.client(testUser).PutBucketReplication(context.Background(), &s3.PutBucketReplicationInput{Bucket: aws.String(name),
		ReplicationConfiguration: &s3types.ReplicationConfiguration{Role: aws.String("arn:aws:iam::000000000000:role/backbeat"),
			Rules: []s3types.ReplicationRule{{ID: aws.String("all"), Status: s3types.ReplicationRuleStatusEnabled, Prefix: aws.String(""),
				Destination: &s3types.Destination{Bucket: aws.String("arn:aws:s3:::target")}}}}})
	require.NoError(h.t, err)
}

// seedMeta writes a version with metadata straight into the store (the source side of a
// replication; it does not depend on the object handlers).
func seedMeta(t *testing.T, h *harness, bucket, key, body string, meta store.ObjectMeta) *store.Version {
	t.Helper()
	w, err := h.srv.store.NewBlob()
	require.NoError(t, err)
	_, err = w.Write([]byte(body))
	require.NoError(t, err)
	id, size, err := w.Commit()
	require.NoError(t, err)
	etag := bodyETag(body)
	v, err := h.srv.store.PutObject(context.Background(), store.PutInput{
		Bucket: bucket, Key: key, Owner: testUser.Name, Meta: meta,
		Parts: []store.Part{{Blob: id, Size: size, ETag: etag}}, ETag: etag, Size: size,
	})
	require.NoError(t, err)
	return v
}

// data reads the data of bucket/key versionID from the store.
func storedData(t *testing.T, h *harness, bucket, key, versionID string) (*store.Version, string) {
	t.Helper()
	v, err := h.srv.store.GetVersion(context.Background(), bucket, key, versionID)
	require.NoError(t, err)
	var buf bytes.Buffer
	for _, p := range v.Parts {
		r, err := h.srv.store.OpenBlob(p.Blob)
		require.NoError(t, err)
		_, err = io.Copy(&buf, r)
		r.Close()
		require.NoError(t, err)
	}
	return v, buf.String()
}

// versionsOf lists the versions of key in bucket, newest first.
func versionsOf(t *testing.T, h *harness, bucket, key string) []*store.Version {
	t.Helper()
	var out []*store.Version
	require.NoError(t, h.srv.store.WalkVersions(context.Background(), bucket, store.WalkOptions{Prefix: key}, func(v *store.Version) bool {
		if v.Key == key {
			out = append(out, v)
		}
		return true
	}))
	return out
}

// replicaHeader returns the x-backbeat-* headers that replicate src.
func replicaHeader(src *store.Version) http.Header {
	hdr := http.Header{}
	hdr.Set("x-backbeat-version-id", src.VersionID)
	hdr.Set("x-backbeat-last-modified", src.LastModified.Format(time.RFC3339Nano))
	return hdr
}

func TestBackbeatJournalOrderAndGapFree(t *testing.T) {
	h := newHarness(t)
	h.replicated("src")
	h.mkBucket("plain", false)
	base := h.srv.store.Head()
	const n = 25
	var want []string
	for i := 0; i < n; i++ {
		b := "src"
		if i%3 == 0 {
			b = "plain"
		}
		k := fmt.Sprintf("k%02d", i)
		seedVersion(t, h, b, k, "data"+k)
		want = append(want, b+"/"+k)
	}

	r := h.bb("GET", fmt.Sprintf("journal?after=%d", base), nil, nil)
	recs := r.records(t)
	assert.Equal(t, h.srv.store.JournalID(), r.Header.Get("X-Backbeat-Journal-Id"))
	require.NotEmpty(t, r.Header.Get("X-Backbeat-Journal-Id"))
	assert.Equal(t, base+n, r.head(t))
	require.Len(t, recs, n)
	var got []string
	for i, rec := range recs {
		assert.Equal(t, base+uint64(i)+1, rec.Seq, "gap-free, ascending")
		assert.Equal(t, bbproto.OpPut, rec.Op)
		assert.NotEmpty(t, rec.VersionID)
		assert.Equal(t, bodyETag("data"+rec.Key), rec.ETag)
		got = append(got, rec.Bucket+"/"+rec.Key)
		if rec.Bucket == "src" {
			require.NotNil(t, rec.Replication)
			assert.Equal(t, bbproto.StatusPending, rec.Replication.Status)
			assert.Equal(t, "arn:aws:s3:::target", rec.Replication.Destination)
		} else {
			assert.Nil(t, rec.Replication)
		}
	}
	assert.Equal(t, want, got, "records in write order")

	// after= starts after that seq; the whole journal from 0 is gap-free from 1.
	all := h.bb("GET", "journal", nil, nil).records(t)
	require.Len(t, all, int(base)+n)
	for i, rec := range all {
		assert.Equal(t, uint64(i+1), rec.Seq)
	}
	mid := h.bb("GET", fmt.Sprintf("journal?after=%d", base+10), nil, nil).records(t)
	require.Len(t, mid, n-10)
	assert.Equal(t, base+11, mid[0].Seq)

	// limit.
	r = h.bb("GET", fmt.Sprintf("journal?after=%d&limit=4", base), nil, nil)
	lim := r.records(t)
	require.Len(t, lim, 4)
	assert.Equal(t, base+1, lim[0].Seq)
	assert.Equal(t, base+4, lim[3].Seq)
	assert.Equal(t, base+n, r.head(t), "the head is the journal's, not the batch's")
	assert.Len(t, h.bb("GET", "journal?limit=1000000", nil, nil).records(t), int(base)+n, "a big limit is capped, not refused")

	// Reading at (or past) the head: empty, no wait by default.
	r = h.bb("GET", fmt.Sprintf("journal?after=%d", base+n), nil, nil)
	assert.Empty(t, r.records(t))
	assert.Empty(t, r.Body)
	assert.Equal(t, base+n, r.head(t))
}

func TestBackbeatJournalLongPollWakesOnPut(t *testing.T) {
	h := newHarness(t)
	h.replicated("src")
	head := h.srv.store.Head()

	// A second listener on the same Server tells when the poll has reached the server,
	// so that the put happens while the request is being served.
	arrived := make(chan struct{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/_/backbeat/journal") {
			close(arrived)
		}
		h.srv.Handler().ServeHTTP(w, r)
	})}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })

	type result struct {
		r   bbResp
		dur time.Duration
	}
	done := make(chan result, 1)
	req := bbRequest(t, context.Background(), "http://"+ln.Addr().String(), testRepl, "GET", fmt.Sprintf("journal?after=%d&wait=10s", head), nil, nil)
	start := time.Now()
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{r: bbResp{Status: -1, Body: []byte(err.Error())}}
			return
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		done <- result{r: bbResp{Status: resp.StatusCode, Header: resp.Header, Body: data}, dur: time.Since(start)}
	}()
	select {
	case <-arrived:
	case res := <-done:
		t.Fatalf("the poll answered before anything was written: %d %s", res.r.Status, res.r.Body)
	case <-time.After(10 * time.Second):
		t.Fatal("the poll never reached the server")
	}
	v := seedVersion(t, h, "src", "late", "y")
	select {
	case res := <-done:
		recs := res.r.records(t)
		require.Len(t, recs, 1)
		assert.Equal(t, "late", recs[0].Key)
		assert.Equal(t, v.VersionID, recs[0].VersionID)
		assert.Equal(t, head+1, recs[0].Seq)
		assert.Equal(t, head+1, res.r.head(t))
		assert.Less(t, res.dur, 5*time.Second, "the put wakes the poll well before its 10s wait")
	case <-time.After(15 * time.Second):
		t.Fatal("the long-poll was not woken by the put")
	}
}

func TestBackbeatJournalWaitTimesOutEmpty(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxJournalWait = 500 * time.Millisecond })
	h.mkBucket("bkt", false)
	head := h.srv.store.Head()

	start := time.Now()
	r := h.bb("GET", fmt.Sprintf("journal?after=%d&wait=200ms", head), nil, nil)
	el := time.Since(start)
	assert.Empty(t, r.records(t))
	assert.Equal(t, head, r.head(t))
	assert.Equal(t, h.srv.store.JournalID(), r.Header.Get("X-Backbeat-Journal-Id"))
	assert.GreaterOrEqual(t, el, 200*time.Millisecond, "it waited")

	// wait is capped by Config.MaxJournalWait.
	start = time.Now()
	r = h.bb("GET", fmt.Sprintf("journal?after=%d&wait=1h", head), nil, nil)
	el = time.Since(start)
	assert.Empty(t, r.records(t))
	assert.GreaterOrEqual(t, el, 500*time.Millisecond)
	assert.Less(t, el, 10*time.Second, "capped at MaxJournalWait")

	// Records already there are answered at once, whatever the wait.
	seedVersion(t, h, "bkt", "k", "x")
	start = time.Now()
	recs := h.bb("GET", fmt.Sprintf("journal?after=%d&wait=1h", head), nil, nil).records(t)
	require.Len(t, recs, 1)
	assert.Less(t, time.Since(start), 400*time.Millisecond, "no wait when records are there")
}

func TestBackbeatJournalBadParams(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct{ query, param string }{
		{"after=-1", "after"},
		{"after=x", "after"},
		{"after=1.5", "after"},
		{"limit=0", "limit"},
		{"limit=-3", "limit"},
		{"limit=ten", "limit"},
		{"wait=10", "wait"},
		{"wait=-1s", "wait"},
		{"wait=soon", "wait"},
	} {
		r := h.bb("GET", "journal?"+tc.query, nil, nil)
		assert.Equal(t, http.StatusBadRequest, r.Status, tc.query)
		e := r.jsonErr(t)
		assert.Equal(t, "InvalidArgument", e["code"], tc.query)
		assert.Contains(t, e["message"], tc.param, tc.query)
	}
}

func TestBackbeatJournalTruncated(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.JournalRetention = 5 })
	h.mkBucket("bkt", false)
	for i := 0; i < 20; i++ {
		seedVersion(t, h, "bkt", fmt.Sprintf("k%d", i), "x")
	}
	head := h.srv.store.Head()
	oldest := head - 5 + 1

	r := h.bb("GET", "journal?after=1", nil, nil)
	require.Equal(t, http.StatusGone, r.Status, string(r.Body))
	e := r.jsonErr(t)
	assert.Equal(t, "JournalTruncated", e["code"])
	assert.Contains(t, e["message"], "backfill")
	assert.EqualValues(t, oldest, e["oldest"])
	assert.EqualValues(t, 1, e["after"])
	assert.Equal(t, h.srv.store.JournalID(), e["journalId"])

	// Reading right before the oldest kept record works.
	recs := h.bb("GET", fmt.Sprintf("journal?after=%d", oldest-1), nil, nil).records(t)
	require.Len(t, recs, 5)
	assert.Equal(t, oldest, recs[0].Seq)
	assert.Equal(t, head, recs[4].Seq)
	// One before that is truncated.
	assert.Equal(t, http.StatusGone, h.bb("GET", fmt.Sprintf("journal?after=%d", oldest-2), nil, nil).Status)

	// The journal client turns it into its typed error.
	jc := journalOf(h.URL, testRepl)
	_, err := jc.Read(context.Background(), 1, 0, 0)
	var te *journal.TruncatedError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, oldest, te.Oldest)
	assert.Equal(t, h.srv.store.JournalID(), te.JournalID)
	assert.Contains(t, te.Message, "backfill")
}

func TestBackbeatAccessAndRouting(t *testing.T) {
	h := newHarness(t)
	h.mkBucket("bkt", true)
	seedVersion(t, h, "bkt", "k", "x")

	// Only the replication identity: others get the router's S3 AccessDenied.
	for _, acct := range []Account{testUser, testOther} {
		for _, p := range []string{"journal", "version/bkt/k", "status/bkt/k?versionId=x", "status", "replica/bkt/k", "nope"} {
			r := h.bbAs(acct, "GET", p, nil, nil)
			assert.Equal(t, http.StatusForbidden, r.Status, p)
			assert.Contains(t, string(r.Body), "<Code>AccessDenied</Code>", p)
		}
	}
	req, err := http.NewRequest("GET", h.URL+"/_/backbeat/journal", nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusForbidden, doBB(t, req).Status, "anonymous")

	// Unknown routes: 404 JSON.
	for _, p := range []string{"nope", "journal/x", "", "versions/b/k"} {
		r := h.bb("GET", p, nil, nil)
		assert.Equal(t, http.StatusNotFound, r.Status, p)
		assert.Equal(t, "NotFound", r.jsonErr(t)["code"], p)
	}
	// Wrong methods: 405 JSON with Allow.
	for _, tc := range []struct{ method, path, allow string }{
		{"POST", "journal", "GET"},
		{"DELETE", "journal", "GET"},
		{"GET", "status/bkt/k?versionId=x", "PUT"},
		{"POST", "status", "PUT"},
		{"PUT", "version/bkt/k", "GET, HEAD"},
		{"GET", "replica/bkt/k", "PUT"},
		{"PUT", "replica/bkt/k?uploads", "POST"},
		{"HEAD", "replica/bkt/k?uploadId=x", "PUT, GET, POST, DELETE"},
	} {
		r := h.bb(tc.method, tc.path, nil, nil)
		assert.Equal(t, http.StatusMethodNotAllowed, r.Status, tc.method+" "+tc.path)
		assert.Equal(t, tc.allow, r.Header.Get("Allow"), tc.method+" "+tc.path)
		if tc.method != "HEAD" {
			assert.Equal(t, "MethodNotAllowed", r.jsonErr(t)["code"], tc.method+" "+tc.path)
		}
	}
	// A route without bucket or key: 400.
	for _, p := range []string{"version/bkt", "version/bkt/", "status//k", "replica/bkt"} {
		r := h.bb("GET", p, nil, nil)
		if strings.HasPrefix(p, "status") || strings.HasPrefix(p, "replica") {
			r = h.bb("PUT", p, nil, nil)
		}
		assert.Equal(t, http.StatusBadRequest, r.Status, p)
		assert.Equal(t, "InvalidArgument", r.jsonErr(t)["code"], p)
	}
}

func TestBackbeatStatus(t *testing.T) {
	h := newHarness(t)
	h.replicated("src")
	key := "dir/sub dir/a+b%c.txt"
	v := seedVersion(t, h, "src", key, "data")
	require.NotNil(t, v.Replication)
	require.Equal(t, bbproto.StatusPending, v.Replication.Status)
	path := "status/src/" + bbproto.EscapeKey(key) + "?versionId=" + v.VersionID

	head := h.srv.store.Head()
	r := h.bb("PUT", path, []byte(`{"status":"PROCESSING"}`), nil)
	got := r.version(t)
	assert.Equal(t, v.VersionID, got.VersionID)
	assert.Equal(t, key, got.Key)
	assert.Equal(t, bbproto.StatusProcessing, got.Replication.Status)
	assert.Equal(t, "arn:aws:s3:::target", got.Replication.Destination, "the replication info is kept")
	require.NotNil(t, got.IsLatest)
	assert.True(t, *got.IsLatest)
	assert.Equal(t, v.VersionID, r.Header.Get("x-amz-version-id"))

	r = h.bb("PUT", path, []byte(`{"status":"FAILED","reason":"target said AccessDenied"}`), nil)
	got = r.version(t)
	assert.Equal(t, bbproto.StatusFailed, got.Replication.Status)
	assert.Equal(t, "target said AccessDenied", got.Replication.Reason)

	got = h.bb("PUT", path, []byte(`{"status":"COMPLETED"}`), nil).version(t)
	assert.Equal(t, bbproto.StatusCompleted, got.Replication.Status)
	assert.Empty(t, got.Replication.Reason)
	stored, err := h.srv.store.GetVersion(context.Background(), "src", key, v.VersionID)
	require.NoError(t, err)
	assert.Equal(t, bbproto.StatusCompleted, stored.Replication.Status)

	// Each change is journaled, op "status".
	recs := h.bb("GET", fmt.Sprintf("journal?after=%d", head), nil, nil).records(t)
	require.Len(t, recs, 3)
	for i, st := range []bbproto.Status{bbproto.StatusProcessing, bbproto.StatusFailed, bbproto.StatusCompleted} {
		assert.Equal(t, bbproto.OpStatus, recs[i].Op)
		assert.Equal(t, key, recs[i].Key)
		assert.Equal(t, v.VersionID, recs[i].VersionID)
		assert.Equal(t, st, recs[i].Replication.Status)
	}
	assert.Equal(t, "target said AccessDenied", recs[1].Replication.Reason)

	// PENDING again (failed retry / backfill), the key's slash sent as %2F.
	got = h.bb("PUT", "status/src/dir%2Fsub%20dir/a%2Bb%25c.txt?versionId="+v.VersionID, []byte(`{"status":"PENDING"}`), nil).version(t)
	assert.Equal(t, bbproto.StatusPending, got.Replication.Status)
	assert.Equal(t, key, got.Key)

	// Errors.
	for _, tc := range []struct {
		path, body, code string
		status           int
	}{
		{path, `{"status":"REPLICA"}`, "InvalidArgument", 400},
		{path, `{"status":"done"}`, "InvalidArgument", 400},
		{path, `{}`, "InvalidArgument", 400},
		{path, `{"status":`, "MalformedJSON", 400},
		{"status/src/" + bbproto.EscapeKey(key), `{"status":"COMPLETED"}`, "InvalidArgument", 400},
		{"status/src/" + bbproto.EscapeKey(key) + "?versionId=" + strings.Repeat("0", 32), `{"status":"COMPLETED"}`, "NoSuchVersion", 404},
		{"status/src/nokey?versionId=" + v.VersionID, `{"status":"COMPLETED"}`, "NoSuchVersion", 404},
		{"status/nobucket/k?versionId=" + v.VersionID, `{"status":"COMPLETED"}`, "NoSuchBucket", 404},
	} {
		r := h.bb("PUT", tc.path, []byte(tc.body), nil)
		assert.Equal(t, tc.status, r.Status, tc.path+" "+tc.body)
		assert.Equal(t, tc.code, r.jsonErr(t)["code"], tc.path+" "+tc.body)
	}
	assert.Equal(t, head+4, h.srv.store.Head(), "refused changes are not journaled")
}

func TestBackbeatVersion(t *testing.T) {
	h := newHarness(t)
	h.replicated("src")
	v1 := seedMeta(t, h, "src", "a/k", "one", store.ObjectMeta{ContentType: "text/plain", UserMetadata: map[string]string{"color": "red"}, Tags: map[string]string{"t": "1"}})
	v2 := seedVersion(t, h, "src", "a/k", "two")

	got := h.bb("GET", "version/src/a/k?versionId="+v1.VersionID, nil, nil).version(t)
	assert.Equal(t, v1.VersionID, got.VersionID)
	assert.Equal(t, bodyETag("one"), got.ETag)
	assert.EqualValues(t, 3, got.Size)
	assert.True(t, v1.LastModified.Equal(got.LastModified))
	assert.Equal(t, "text/plain", got.Meta.ContentType)
	assert.Equal(t, map[string]string{"color": "red"}, got.Meta.UserMetadata)
	assert.Equal(t, map[string]string{"t": "1"}, got.Meta.Tags)
	assert.Equal(t, bbproto.StatusPending, got.Replication.Status)
	require.NotNil(t, got.IsLatest)
	assert.False(t, *got.IsLatest)

	got = h.bb("GET", "version/src/a/k", nil, nil).version(t)
	assert.Equal(t, v2.VersionID, got.VersionID, "no versionId: the latest")
	assert.True(t, *got.IsLatest)

	r := h.bb("HEAD", "version/src/a/k?versionId="+v2.VersionID, nil, nil)
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Empty(t, r.Body)
	assert.Equal(t, v2.VersionID, r.Header.Get("x-amz-version-id"))

	// A delete marker is a version too.
	dm, err := h.srv.store.DeleteObject(context.Background(), "src", "a/k", "")
	require.NoError(t, err)
	require.True(t, dm.DeleteMarker)
	for _, q := range []string{"", "?versionId=" + dm.VersionID} {
		got = h.bb("GET", "version/src/a/k"+q, nil, nil).version(t)
		assert.True(t, got.IsDeleteMarker, q)
		assert.Equal(t, dm.VersionID, got.VersionID, q)
		assert.True(t, *got.IsLatest, q)
	}

	for _, tc := range []struct {
		path, code string
		status     int
	}{
		{"version/src/a/k?versionId=" + strings.Repeat("f", 32), "NoSuchVersion", 404},
		{"version/src/nokey", "NoSuchKey", 404},
		{"version/nobucket/k", "NoSuchBucket", 404},
	} {
		r := h.bb("GET", tc.path, nil, nil)
		assert.Equal(t, tc.status, r.Status, tc.path)
		assert.Equal(t, tc.code, r.jsonErr(t)["code"], tc.path)
		r = h.bb("HEAD", tc.path, nil, nil)
		assert.Equal(t, tc.status, r.Status, "HEAD "+tc.path)
		assert.Empty(t, r.Body)
	}
}

func TestBackbeatReplicaPut(t *testing.T) {
	h := newHarness(t)
	h.replicated("src")
	h.mkBucket("dst", true)
	meta := store.ObjectMeta{ContentType: "text/plain", CacheControl: "max-age=60", UserMetadata: map[string]string{"color": "red"}, Tags: map[string]string{"team": "a b", "x": "1"}}
	src := seedMeta(t, h, "src", "dir/k", "hello replica", meta)
	head := h.srv.store.Head()

	hdr := replicaHeader(src)
	hdr.Set("Content-Type", "text/plain")
	hdr.Set("Cache-Control", "max-age=60")
	hdr.Set("x-amz-meta-color", "red")
	hdr.Set("x-amz-tagging", "team=a%20b&x=1")
	srcRepl, err := json.Marshal(src.Replication)
	require.NoError(t, err)
	hdr.Set("x-backbeat-source-replication", string(srcRepl))
	r := h.bb("PUT", "replica/dst/dir/k", []byte("hello replica"), hdr)
	got := r.version(t)
	assert.Equal(t, src.VersionID, got.VersionID, "the source version id is kept")
	assert.True(t, src.LastModified.Equal(got.LastModified), "the source last-modified is kept: %v vs %v", src.LastModified, got.LastModified)
	assert.Equal(t, src.ETag, got.ETag)
	assert.EqualValues(t, len("hello replica"), got.Size)
	require.NotNil(t, got.Replication)
	assert.Equal(t, bbproto.StatusReplica, got.Replication.Status)
	assert.Equal(t, "arn:aws:iam::000000000000:role/backbeat", got.Replication.Role, "the source's replication info is carried")
	assert.Equal(t, testUser.Name, got.Owner, "the target bucket's owner owns the replica")
	assert.Equal(t, src.VersionID, r.Header.Get("x-amz-version-id"))

	stored, data := storedData(t, h, "dst", "dir/k", src.VersionID)
	assert.Equal(t, "hello replica", data)
	assert.Equal(t, meta, stored.Meta, "content headers, user metadata and tags carried")
	assert.Equal(t, bbproto.StatusReplica, stored.Replication.Status)
	assert.True(t, src.LastModified.Equal(stored.LastModified))

	// Journaled as a put with status REPLICA (ingest skips it: not PENDING).
	recs := h.bb("GET", fmt.Sprintf("journal?after=%d", head), nil, nil).records(t)
	require.Len(t, recs, 1)
	assert.Equal(t, bbproto.OpPut, recs[0].Op)
	assert.Equal(t, "dst", recs[0].Bucket)
	assert.Equal(t, bbproto.StatusReplica, recs[0].Replication.Status)

	// Idempotent: the same replica again is fine and leaves one version.
	r = h.bb("PUT", "replica/dst/dir/k", []byte("hello replica"), hdr)
	got = r.version(t)
	assert.Equal(t, src.VersionID, got.VersionID)
	vs := versionsOf(t, h, "dst", "dir/k")
	require.Len(t, vs, 1)
	assert.Equal(t, src.VersionID, vs[0].VersionID)
	_, data = storedData(t, h, "dst", "dir/k", src.VersionID)
	assert.Equal(t, "hello replica", data)

	// An empty object.
	empty := seedVersion(t, h, "src", "empty", "")
	got = h.bb("PUT", "replica/dst/empty", []byte{}, replicaHeader(empty)).version(t)
	assert.EqualValues(t, 0, got.Size)
	assert.Equal(t, bodyETag(""), got.ETag)
}

func TestBackbeatReplicaOrder(t *testing.T) {
	h := newHarness(t)
	h.replicated("src")
	h.mkBucket("dst", true)
	v1 := seedVersion(t, h, "src", "k", "one")
	v2 := seedVersion(t, h, "src", "k", "two")
	v3 := seedVersion(t, h, "src", "k", "three")

	// Newest first, then the older ones arrive late.
	for _, v := range []*store.Version{v3, v1, v2} {
		_, body := storedData(t, h, "src", "k", v.VersionID)
		h.bb("PUT", "replica/dst/k", []byte(body), replicaHeader(v)).version(t)
	}
	vs := versionsOf(t, h, "dst", "k")
	require.Len(t, vs, 3)
	assert.Equal(t, []string{v3.VersionID, v2.VersionID, v1.VersionID}, []string{vs[0].VersionID, vs[1].VersionID, vs[2].VersionID}, "source order, newest first")
	assert.True(t, vs[0].IsLatest)
	latest, data := storedData(t, h, "dst", "k", "")
	assert.Equal(t, v3.VersionID, latest.VersionID)
	assert.Equal(t, "three", data)
	got := h.bb("GET", "version/dst/k", nil, nil).version(t)
	assert.Equal(t, v3.VersionID, got.VersionID, "the version route agrees")

	// Replica version ids the store did not generate (another S3) are ordered by their
	// last-modified time.
	t0 := time.Date(2024, 5, 1, 10, 0, 0, 123456789, time.UTC)
	for _, rv := range []struct {
		id string
		at time.Time
	}{{"foreign-new", t0.Add(time.Minute)}, {"foreign-old", t0}} {
		hdr := http.Header{}
		hdr.Set("x-backbeat-version-id", rv.id)
		hdr.Set("x-backbeat-last-modified", rv.at.Format(time.RFC3339Nano))
		got := h.bb("PUT", "replica/dst/foreign", []byte(rv.id), hdr).version(t)
		assert.True(t, rv.at.Equal(got.LastModified))
	}
	vs = versionsOf(t, h, "dst", "foreign")
	require.Len(t, vs, 2)
	assert.Equal(t, "foreign-new", vs[0].VersionID)
	assert.Equal(t, "foreign-old", vs[1].VersionID)
}

func TestBackbeatReplicaDeleteMarker(t *testing.T) {
	h := newHarness(t)
	h.replicated("src")
	h.mkBucket("dst", true)
	v := seedVersion(t, h, "src", "k", "data")
	h.bb("PUT", "replica/dst/k", []byte("data"), replicaHeader(v)).version(t)
	dm, err := h.srv.store.DeleteObject(context.Background(), "src", "k", "")
	require.NoError(t, err)
	dmv := h.bb("GET", "version/src/k?versionId="+dm.VersionID, nil, nil).version(t)
	require.True(t, dmv.IsDeleteMarker)

	head := h.srv.store.Head()
	hdr := replicaHeader(&dmv.Version)
	hdr.Set("x-backbeat-delete-marker", "true")
	got := h.bb("PUT", "replica/dst/k", nil, hdr).version(t)
	assert.True(t, got.IsDeleteMarker)
	assert.Equal(t, dm.VersionID, got.VersionID)
	assert.Equal(t, bbproto.StatusReplica, got.Replication.Status)

	_, err = h.srv.store.GetVersion(context.Background(), "dst", "k", "")
	var dme *store.DeleteMarkerError
	require.ErrorAs(t, err, &dme, "the latest target version is the marker")
	assert.Equal(t, dm.VersionID, dme.VersionID)
	vs := versionsOf(t, h, "dst", "k")
	require.Len(t, vs, 2)
	assert.True(t, vs[0].IsDeleteMarker)
	assert.Equal(t, v.VersionID, vs[1].VersionID)
	recs := h.bb("GET", fmt.Sprintf("journal?after=%d", head), nil, nil).records(t)
	require.Len(t, recs, 1)
	assert.Equal(t, bbproto.OpDeleteMarker, recs[0].Op)
	assert.True(t, recs[0].IsDeleteMarker)

	// A delete marker has no body.
	hdr.Set("x-backbeat-version-id", "other-marker")
	r := h.bb("PUT", "replica/dst/k", []byte("x"), hdr)
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Equal(t, "InvalidArgument", r.jsonErr(t)["code"])
}

func TestBackbeatReplicaMetadataOnly(t *testing.T) {
	h := newHarness(t)
	h.replicated("src")
	h.mkBucket("dst", true)
	v := seedVersion(t, h, "src", "k", "payload")
	hdr := replicaHeader(v)
	hdr.Set("x-amz-tagging", "a=1")
	first := h.bb("PUT", "replica/dst/k", []byte("payload"), hdr).version(t)
	head := h.srv.store.Head()

	hdr = replicaHeader(v)
	hdr.Set("x-backbeat-metadata-only", "true")
	hdr.Set("x-amz-tagging", "a=2&b=3")
	hdr.Set("x-amz-meta-note", "updated")
	hdr.Set("Content-Type", "application/json")
	got := h.bb("PUT", "replica/dst/k", nil, hdr).version(t)
	assert.Equal(t, map[string]string{"a": "2", "b": "3"}, got.Meta.Tags)
	assert.Equal(t, first.ETag, got.ETag, "data and ETag unchanged")
	assert.Equal(t, first.Parts, got.Parts)
	stored, data := storedData(t, h, "dst", "k", v.VersionID)
	assert.Equal(t, "payload", data)
	assert.Equal(t, map[string]string{"a": "2", "b": "3"}, stored.Meta.Tags)
	assert.Equal(t, map[string]string{"note": "updated"}, stored.Meta.UserMetadata)
	assert.Equal(t, "application/json", stored.Meta.ContentType)
	assert.Len(t, versionsOf(t, h, "dst", "k"), 1)
	recs := h.bb("GET", fmt.Sprintf("journal?after=%d", head), nil, nil).records(t)
	require.Len(t, recs, 1)
	assert.Equal(t, bbproto.OpMetadata, recs[0].Op)

	// The version must exist.
	hdr.Set("x-backbeat-version-id", strings.Repeat("1", 32))
	r := h.bb("PUT", "replica/dst/k", nil, hdr)
	assert.Equal(t, http.StatusNotFound, r.Status)
	assert.Equal(t, "NoSuchVersion", r.jsonErr(t)["code"])
	r = h.bb("PUT", "replica/dst/absent", nil, replicaHeaderMetaOnly(v))
	assert.Equal(t, http.StatusNotFound, r.Status)
	assert.Equal(t, "NoSuchVersion", r.jsonErr(t)["code"])
}

func replicaHeaderMetaOnly(v *store.Version) http.Header {
	hdr := replicaHeader(v)
	hdr.Set("x-backbeat-metadata-only", "true")
	return hdr
}

func TestBackbeatReplicaErrors(t *testing.T) {
	h := newHarness(t)
	h.replicated("src")
	h.mkBucket("dst", true)
	h.mkBucket("unversioned", false)
	v := seedVersion(t, h, "src", "k", "data")
	head := h.srv.store.Head()
	with := func(f func(http.Header)) http.Header {
		hdr := replicaHeader(v)
		f(hdr)
		return hdr
	}
	for _, tc := range []struct {
		name   string
		path   string
		hdr    http.Header
		body   string
		code   string
		status int
	}{
		{"no version id", "replica/dst/k", with(func(h http.Header) { h.Del("x-backbeat-version-id") }), "data", "InvalidArgument", 400},
		{"no last-modified", "replica/dst/k", with(func(h http.Header) { h.Del("x-backbeat-last-modified") }), "data", "InvalidArgument", 400},
		{"bad last-modified", "replica/dst/k", with(func(h http.Header) { h.Set("x-backbeat-last-modified", "yesterday") }), "data", "InvalidArgument", 400},
		{"bad delete-marker", "replica/dst/k", with(func(h http.Header) { h.Set("x-backbeat-delete-marker", "maybe") }), "", "InvalidArgument", 400},
		{"both kinds", "replica/dst/k", with(func(h http.Header) {
			h.Set("x-backbeat-delete-marker", "true")
			h.Set("x-backbeat-metadata-only", "true")
		}), "", "InvalidArgument", 400},
		{"bad source replication", "replica/dst/k", with(func(h http.Header) { h.Set("x-backbeat-source-replication", "{") }), "data", "InvalidArgument", 400},
		{"bad tagging", "replica/dst/k", with(func(h http.Header) { h.Set("x-amz-tagging", "a=1&a=2") }), "data", "InvalidArgument", 400},
		{"unversioned target", "replica/unversioned/k", replicaHeader(v), "data", "InvalidRequest", 400},
		{"missing bucket", "replica/nobucket/k", replicaHeader(v), "data", "NoSuchBucket", 404},
		{"part without upload", "replica/dst/k?partNumber=1", replicaHeader(v), "data", "InvalidArgument", 400},
	} {
		r := h.bb("PUT", tc.path, []byte(tc.body), tc.hdr)
		assert.Equal(t, tc.status, r.Status, tc.name+": "+string(r.Body))
		assert.Equal(t, tc.code, r.jsonErr(t)["code"], tc.name)
	}
	assert.Equal(t, head, h.srv.store.Head(), "nothing journaled")
	assert.Empty(t, versionsOf(t, h, "dst", "k"))
	assert.Empty(t, versionsOf(t, h, "unversioned", "k"))
}

func TestBackbeatReplicaMultipart(t *testing.T) {
	h := newHarness(t)
	h.replicated("src")
	h.mkBucket("dst", true)
	v := seedVersion(t, h, "src", "big/obj", "placeholder")
	part1 := bytes.Repeat([]byte("a"), store.MinPartSize)
	part2 := []byte("the tail")

	r := h.bb("POST", "replica/dst/big/obj?uploads", nil, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	var cu struct {
		UploadID string `json:"uploadId"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &cu))
	require.NotEmpty(t, cu.UploadID)
	up := "replica/dst/big/obj?uploadId=" + cu.UploadID

	type partResp struct {
		Number int    `json:"number"`
		ETag   string `json:"etag"`
		Size   int64  `json:"size"`
	}
	listParts := func() []partResp {
		r := h.bb("GET", up, nil, nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var lp struct {
			UploadID string     `json:"uploadId"`
			Parts    []partResp `json:"parts"`
		}
		require.NoError(t, json.Unmarshal(r.Body, &lp))
		assert.Equal(t, cu.UploadID, lp.UploadID)
		require.NotNil(t, lp.Parts, "an empty list, not null")
		return lp.Parts
	}
	assert.Empty(t, listParts())

	var etags []string
	for i, p := range [][]byte{part1, part2} {
		r := h.bb("PUT", fmt.Sprintf("%s&partNumber=%d", up, i+1), p, nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var pr partResp
		require.NoError(t, json.Unmarshal(r.Body, &pr))
		sum := md5.Sum(p)
		assert.Equal(t, hex.EncodeToString(sum[:]), pr.ETag)
		assert.Equal(t, i+1, pr.Number)
		assert.EqualValues(t, len(p), pr.Size)
		etags = append(etags, pr.ETag)
	}
	// A resumed activity sees which parts are done.
	parts := listParts()
	require.Len(t, parts, 2)
	assert.Equal(t, partResp{1, etags[0], int64(len(part1))}, parts[0])
	assert.Equal(t, partResp{2, etags[1], int64(len(part2))}, parts[1])

	for _, pn := range []string{"0", "10001", "x"} {
		r := h.bb("PUT", up+"&partNumber="+pn, []byte("x"), nil)
		assert.Equal(t, http.StatusBadRequest, r.Status, pn)
		assert.Equal(t, "InvalidArgument", r.jsonErr(t)["code"], pn)
	}
	r = h.bb("PUT", "replica/dst/big/obj?uploadId=nope&partNumber=1", []byte("x"), nil)
	assert.Equal(t, http.StatusNotFound, r.Status)
	assert.Equal(t, "NoSuchUpload", r.jsonErr(t)["code"])

	// Complete: a wrong ETag is refused, then the right list makes the replica.
	hdr := replicaHeader(v)
	hdr.Set("Content-Type", "application/octet-stream")
	hdr.Set("x-amz-meta-origin", "mpu")
	r = h.bb("POST", up, []byte(`{"parts":[{"number":1,"etag":"`+etags[0]+`"},{"number":2,"etag":"00000000000000000000000000000000"}]}`), hdr)
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Equal(t, "InvalidPart", r.jsonErr(t)["code"])
	r = h.bb("POST", up, []byte(`{"parts":[]}`), hdr)
	assert.Equal(t, http.StatusBadRequest, r.Status)
	r = h.bb("POST", up, []byte(`{"parts":[{"number":1,"etag":"`+etags[0]+`"}]}`), nil)
	assert.Equal(t, http.StatusBadRequest, r.Status, "the x-backbeat-* headers are required")

	body := fmt.Sprintf(`{"parts":[{"number":1,"etag":"%s"},{"number":2,"etag":"\"%s\""}]}`, etags[0], etags[1])
	got := h.bb("POST", up, []byte(body), hdr).version(t)
	assert.Equal(t, v.VersionID, got.VersionID)
	assert.True(t, v.LastModified.Equal(got.LastModified))
	assert.Equal(t, bbproto.StatusReplica, got.Replication.Status)
	assert.True(t, strings.HasSuffix(got.ETag, "-2"), got.ETag)
	assert.EqualValues(t, len(part1)+len(part2), got.Size)
	stored, data := storedData(t, h, "dst", "big/obj", v.VersionID)
	assert.Equal(t, string(part1)+string(part2), data)
	assert.Equal(t, map[string]string{"origin": "mpu"}, stored.Meta.UserMetadata)
	assert.Equal(t, "application/octet-stream", stored.Meta.ContentType)
	r = h.bb("GET", up, nil, nil)
	assert.Equal(t, http.StatusNotFound, r.Status, "the upload is gone once completed")
	assert.Equal(t, "NoSuchUpload", r.jsonErr(t)["code"])

	// A single-PUT source copied by parts keeps its ETag (the object's MD5) with
	// X-Backbeat-Etag; the replica then shows no parts, as its source.
	v2 := seedVersion(t, h, "src", "big/single", "placeholder too")
	r = h.bb("POST", "replica/dst/big/single?uploads", nil, nil)
	require.NoError(t, json.Unmarshal(r.Body, &cu))
	up = "replica/dst/big/single?uploadId=" + cu.UploadID
	require.Equal(t, http.StatusOK, h.bb("PUT", up+"&partNumber=1", part1, nil).Status)
	require.Equal(t, http.StatusOK, h.bb("PUT", up+"&partNumber=2", part2, nil).Status)
	whole := md5.Sum(append(append([]byte{}, part1...), part2...))
	hdr = replicaHeader(v2)
	hdr.Set(bbproto.HeaderETag, "not-an-md5")
	r = h.bb("POST", up, []byte(body), hdr)
	assert.Equal(t, http.StatusBadRequest, r.Status, "an ETag that is not an MD5 is refused")
	assert.Equal(t, "InvalidArgument", r.jsonErr(t)["code"])
	hdr.Set(bbproto.HeaderETag, strings.ToUpper(hex.EncodeToString(whole[:])))
	got = h.bb("POST", up, []byte(body), hdr).version(t)
	assert.Equal(t, hex.EncodeToString(whole[:]), got.ETag, "the source's ETag, kept")
	_, data = storedData(t, h, "dst", "big/single", v2.VersionID)
	assert.Equal(t, string(part1)+string(part2), data)
	attrs, err := h.client(testUser).GetObjectAttributes(context.Background(), &s3.GetObjectAttributesInput{Bucket: aws.String("dst"),
		Key: aws.String("big/single"), VersionId: aws.String(v2.VersionID), ObjectAttributes: []s3types.ObjectAttributes{s3types.ObjectAttributesObjectParts}})
	require.NoError(t, err)
	assert.Nil(t, attrs.ObjectParts, "no parts shown, as on the source")

	// Abort.
	r = h.bb("POST", "replica/dst/other?uploads", nil, nil)
	require.NoError(t, json.Unmarshal(r.Body, &cu))
	up = "replica/dst/other?uploadId=" + cu.UploadID
	require.Equal(t, http.StatusOK, h.bb("PUT", up+"&partNumber=1", []byte("p"), nil).Status)
	r = h.bb("DELETE", up, nil, nil)
	assert.Equal(t, http.StatusNoContent, r.Status, string(r.Body))
	r = h.bb("GET", up, nil, nil)
	assert.Equal(t, http.StatusNotFound, r.Status)
	r = h.bb("DELETE", up, nil, nil)
	assert.Equal(t, http.StatusNotFound, r.Status)
	assert.Equal(t, "NoSuchUpload", r.jsonErr(t)["code"])
	assert.Empty(t, versionsOf(t, h, "dst", "other"))
}

// TestBackbeatJournalClient reads the route with the engine's journal client: the route
// and the client agree on headers, record format and long-poll.
func TestBackbeatJournalClient(t *testing.T) {
	h := newHarness(t)
	h.replicated("src")
	h.mkBucket("plain", true)
	for i := 0; i < 3; i++ {
		seedVersion(t, h, "src", fmt.Sprintf("k%d", i), "x")
		seedVersion(t, h, "plain", fmt.Sprintf("k%d", i), "x")
	}
	ctx := context.Background()
	jc := journalOf(h.URL, testRepl)
	b, err := jc.Read(ctx, 0, 0, 0)
	require.NoError(t, err)
	assert.Equal(t, h.srv.store.JournalID(), b.JournalID)
	assert.Equal(t, h.srv.store.Head(), b.Head)
	require.NotEmpty(t, b.Records)
	assert.Equal(t, b.Head, b.Records[len(b.Records)-1].Seq)
	var pending []string
	for i, r := range b.Records {
		assert.Equal(t, uint64(i+1), r.Seq)
		if r.Pending() {
			pending = append(pending, r.Bucket+"/"+r.Key)
		}
	}
	assert.Equal(t, []string{"src/k0", "src/k1", "src/k2"}, pending)

	b2, err := jc.Read(ctx, 2, 3, 0)
	require.NoError(t, err)
	require.Len(t, b2.Records, 3)
	assert.Equal(t, uint64(3), b2.Records[0].Seq)

	// A status change back to PENDING is work for ingest; COMPLETED is not.
	v, err := h.srv.store.GetVersion(ctx, "src", "k1", "")
	require.NoError(t, err)
	h.bb("PUT", "status/src/k1?versionId="+v.VersionID, []byte(`{"status":"COMPLETED"}`), nil).version(t)
	h.bb("PUT", "status/src/k1?versionId="+v.VersionID, []byte(`{"status":"PENDING"}`), nil).version(t)
	b3, err := jc.Read(ctx, b.Head, 0, 5*time.Second)
	require.NoError(t, err)
	require.Len(t, b3.Records, 2)
	assert.False(t, b3.Records[0].Pending())
	assert.True(t, b3.Records[1].Pending())
	assert.Equal(t, bbproto.OpStatus, b3.Records[1].Op)

	// Waiting with nothing new: an empty batch, with the head.
	b4, err := jc.Read(ctx, b3.Head, 0, 100*time.Millisecond)
	require.NoError(t, err)
	assert.Empty(t, b4.Records)
	assert.Equal(t, b3.Head, b4.Head)

	// The ordinary user is refused.
	_, err = journalOf(h.URL, testUser).Read(ctx, 0, 0, 0)
	var se *bbproto.Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, http.StatusForbidden, se.Status)
}

// journalOf is the engine's journal reader of the server at url, signed as acct.
func journalOf(url string, acct Account) *journal.Client {
	bb, err := bbclient.New(bbclient.Config{Endpoint: url,
		Credentials: credentials.NewStaticCredentialsProvider(acct.AccessKey, acct.SecretKey, "")})
	if err != nil {
		panic(err) // only an empty url fails: a bug of the test
	}
	return journal.New(bb)
}
