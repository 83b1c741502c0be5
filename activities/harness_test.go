package activities

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/internal/testlog"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/journal"
	"github.com/backbeat-temporal/backbeat/s3server/s3test"
)

const (
	srcBucket = "source-bucket"
	dstBucket = "target-bucket"
	dstARN    = "arn:aws:s3:::" + dstBucket
)

// env is a source and a target s3server, the source bucket replicating to the target
// bucket, and a reader of the source journal.
type env struct {
	t         *testing.T
	ctx       context.Context
	src, dst  *s3test.Process
	srcC      *s3.Client // user account
	dstC      *s3.Client // user account
	jr        *journal.Client
	seq       uint64
	transport *countingTransport // of the target clients
}

func newEnv(t *testing.T) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("starts two s3server processes")
	}
	e := &env{t: t, ctx: context.Background(), src: s3test.Start(t), dst: s3test.Start(t)}
	e.srcC, e.dstC = e.src.Client(s3test.User), e.dst.Client(s3test.User)
	e.jr = journal.New(s3test.BBClientOf(e.src.URL, s3test.Replication))
	e.transport = &countingTransport{base: http.DefaultTransport}
	e.mkBucket(e.srcC, srcBucket)
	e.mkBucket(e.dstC, dstBucket)
	_, err := e.srcC.PutBucketReplication(e.ctx, &s3.PutBucketReplicationInput{Bucket: aws.String(srcBucket),
		ReplicationConfiguration: &s3types.ReplicationConfiguration{
			Role: aws.String("arn:aws:iam::000000000000:role/backbeat"),
			Rules: []s3types.ReplicationRule{{
				ID: aws.String("all"), Status: s3types.ReplicationRuleStatusEnabled, Prefix: aws.String(""),
				Destination: &s3types.Destination{Bucket: aws.String(dstARN),
					StorageClass: "dr"},
			}},
		}})
	require.NoError(t, err)
	e.drain()
	return e
}

func (e *env) mkBucket(c *s3.Client, name string) {
	e.t.Helper()
	s3test.MakeBucket(e.t, c, name, s3types.BucketVersioningStatusEnabled)
}

// drain reads the journal up to its head and returns the pending records.
func (e *env) drain() []bbproto.Record {
	e.t.Helper()
	var out []bbproto.Record
	for {
		b, err := e.jr.Read(e.ctx, e.seq, 1000, 0)
		require.NoError(e.t, err)
		for _, r := range b.Records {
			e.seq = r.Seq
			if r.Pending() {
				out = append(out, r)
			}
		}
		if e.seq >= b.Head {
			return out
		}
	}
}

// pending returns the one pending record written since the last call.
func (e *env) pending() bbproto.Record {
	e.t.Helper()
	recs := e.drain()
	require.Len(e.t, recs, 1, "pending journal records")
	return recs[0]
}

// sites is a sites file with the target as site "dr" (kind) and the given credentials.
//
// Its parts go one after another (PartConcurrency 1), so that transport.failAt(n) names
// part n; TestReplicateConcurrentParts copies parts concurrently.
func (e *env) sites(kind string, acct s3test.Account, mod ...func(*Site)) *Sites {
	st := Site{Name: "dr", Endpoint: e.dst.URL, AccessKey: acct.AccessKey, SecretKey: acct.SecretKey, Kind: kind, PartConcurrency: 1}
	for _, m := range mod {
		m(&st)
	}
	return &Sites{Sites: []Site{st}, Default: "dr"}
}

// replicator is a Replicator from the source to sites, its target requests counted
// (and failed) by e.transport.
func (e *env) replicator(sites *Sites) *Replicator {
	e.t.Helper()
	r, err := New(e.ctx, Config{
		Source:           Site{Endpoint: e.src.URL, AccessKey: s3test.Replication.AccessKey, SecretKey: s3test.Replication.SecretKey},
		Sites:            sites,
		TargetHTTPClient: &http.Client{Transport: e.transport},
		MaxAttempts:      1,
		Logger:           testlog.Discard(),
	})
	require.NoError(e.t, err)
	return r
}

// put writes an object on the source and returns its version id.
func (e *env) put(key string, data []byte, mod ...func(*s3.PutObjectInput)) string {
	e.t.Helper()
	in := &s3.PutObjectInput{Bucket: aws.String(srcBucket), Key: aws.String(key), Body: bytes.NewReader(data)}
	for _, m := range mod {
		m(in)
	}
	out, err := e.srcC.PutObject(e.ctx, in)
	require.NoError(e.t, err)
	return aws.ToString(out.VersionId)
}

// version reads a version through a server's version route (nil when absent).
func (e *env) version(p *s3test.Process, bucket, key, versionID string) *bbproto.Version {
	e.t.Helper()
	v, err := p.BBClient().Version(e.ctx, bucket, key, versionID)
	if s3Code(err) == "NoSuchVersion" || s3Code(err) == "NoSuchKey" {
		return nil
	}
	require.NoError(e.t, err)
	return v
}

// md5Of returns the hex MD5 of a version's data, read from c, streamed.
func (e *env) md5Of(c *s3.Client, bucket, key, versionID string) string {
	e.t.Helper()
	out, err := c.GetObject(e.ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: optString(versionID)})
	require.NoError(e.t, err)
	defer out.Body.Close()
	h := md5.New()
	_, err = io.Copy(h, out.Body)
	require.NoError(e.t, err)
	return hex.EncodeToString(h.Sum(nil))
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// pattern is n deterministic, incompressible-looking bytes.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// countingTransport counts the requests to the target by kind and can fail part
// uploads mid-body.
type countingTransport struct {
	base http.RoundTripper

	mu     sync.Mutex
	counts map[string]int
	// failPart, when > 0, makes the failPart-th part upload (counted from the call of
	// failPartsFrom) fail after 1 MiB of its body.
	failPart int
	parts    int
	// partsInFlight counts part uploads under way, maxParts the most at once.
	partsInFlight, maxParts int
}

var errInjected = errors.New("injected failure")

// kind names a request: "PUT part", "PUT replica", "GET version", "HEAD object"...
func requestKind(r *http.Request) string {
	q := r.URL.Query()
	switch {
	case q.Has("partNumber"):
		return r.Method + " part"
	case q.Has("uploads"):
		return r.Method + " uploads"
	case q.Has("uploadId"):
		return r.Method + " upload"
	case q.Has("tagging"):
		return r.Method + " tagging"
	case strings.HasPrefix(r.URL.Path, "/_/backbeat/"):
		route, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/_/backbeat/"), "/")
		return r.Method + " " + route
	}
	return r.Method + " object"
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	k := requestKind(r)
	c.mu.Lock()
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	c.counts[k]++
	fail := false
	if k == "PUT part" {
		c.parts++
		fail = c.failPart > 0 && c.parts == c.failPart
		c.partsInFlight++
		c.maxParts = max(c.maxParts, c.partsInFlight)
		defer func() {
			c.mu.Lock()
			c.partsInFlight--
			c.mu.Unlock()
		}()
	}
	c.mu.Unlock()
	if fail && r.Body != nil {
		r.Body = &failingBody{rc: r.Body, left: 1 << 20}
	}
	return c.base.RoundTrip(r)
}

// maxPartsAtOnce returns the most part uploads that were under way at once.
func (c *countingTransport) maxPartsAtOnce() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.maxParts
}

// failAt makes the n-th part upload from now fail (0: none).
func (c *countingTransport) failAt(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.parts, c.failPart = 0, n
}

// take returns the counts so far and resets them.
func (c *countingTransport) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.counts
	c.counts = nil
	if out == nil {
		out = map[string]int{}
	}
	return out
}

// failingBody fails after left bytes.
type failingBody struct {
	rc   io.ReadCloser
	left int
}

func (f *failingBody) Read(p []byte) (int, error) {
	if f.left <= 0 {
		return 0, errInjected
	}
	if len(p) > f.left {
		p = p[:f.left]
	}
	n, err := f.rc.Read(p)
	f.left -= n
	return n, err
}

func (f *failingBody) Close() error { return f.rc.Close() }

// recorder is a Progress that records what it is given and resumes from resume.
type recorder struct {
	resume *Checkpoint

	mu     sync.Mutex
	saved  []Checkpoint
	alives int
}

func (p *recorder) Resume() *Checkpoint { return p.resume }

func (p *recorder) Save(cp Checkpoint) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cp.Parts = append([]PartDone(nil), cp.Parts...)
	p.saved = append(p.saved, cp)
}

func (p *recorder) Alive(int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.alives++
}

func (p *recorder) last() *Checkpoint {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.saved) == 0 {
		return nil
	}
	cp := p.saved[len(p.saved)-1]
	return &cp
}

func (p *recorder) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Sprintf("%d saves, %d alives", len(p.saved), p.alives)
}
