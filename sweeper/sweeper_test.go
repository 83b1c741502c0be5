package sweeper

import (
	"context"
	"errors"
	"fmt"
	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/internal/testlog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/bbproto/bbclient"
)

// fakeSource serves pages of fixed versions (pageSize per page) and records re-drives.
type fakeSource struct {
	versions  []bbproto.PendingVersion // all waiting, older than the threshold
	young     map[string]time.Time     // bucket -> oldest since of waiting versions not yet stale
	pageSize  int
	redriven  [][]bbproto.RedriveRef
	listErr   error
	changedOf map[string]bool // keys answered "changed"
}

func (f *fakeSource) Pending(_ context.Context, q bbclient.PendingQuery) (*bbproto.PendingPage, error) {
	if f.listErr != nil {
		return nil, f.listErr
	}
	start := 0
	if q.After != "" {
		fmt.Sscan(q.After, &start)
	}
	end := min(start+f.pageSize, len(f.versions))
	p := &bbproto.PendingPage{Versions: f.versions[start:end], Oldest: map[string]time.Time{}, Waiting: map[string]int{}, Scanned: end - start}
	for _, v := range p.Versions {
		p.Waiting[v.Bucket]++
		if o, ok := p.Oldest[v.Bucket]; !ok || v.Since.Before(o) {
			p.Oldest[v.Bucket] = v.Since
		}
	}
	if start == 0 {
		for b, t := range f.young {
			p.Waiting[b]++
			if o, ok := p.Oldest[b]; !ok || t.Before(o) {
				p.Oldest[b] = t
			}
		}
	}
	if end < len(f.versions) {
		p.Next = fmt.Sprint(end)
	}
	return p, nil
}

func (f *fakeSource) Redrive(_ context.Context, vs []bbproto.RedriveRef) ([]bbproto.RedriveResult, error) {
	f.redriven = append(f.redriven, append([]bbproto.RedriveRef(nil), vs...))
	out := make([]bbproto.RedriveResult, len(vs))
	for i, v := range vs {
		out[i] = bbproto.RedriveResult{Bucket: v.Bucket, Key: v.Key, VersionID: v.VersionID, Outcome: bbproto.RedriveDone}
		if f.changedOf[v.Key] {
			out[i].Outcome = bbproto.RedriveChanged
		}
	}
	return out, nil
}

func TestRoundRedrivesOldestFirstWithinBudget(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	src := &fakeSource{pageSize: 3, changedOf: map[string]bool{"k3": true}, young: map[string]time.Time{"c": now.Add(-time.Minute)}}
	for i := range 7 {
		b := "a"
		if i%2 == 1 {
			b = "b"
		}
		// k6 waits longest, k0 least.
		src.versions = append(src.versions, bbproto.PendingVersion{Bucket: b, Key: fmt.Sprintf("k%d", i), VersionID: "v",
			Status: "PENDING", Since: now.Add(-time.Duration(20+i) * time.Minute)})
	}
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	s, err := New(Config{MaxPerRound: 5, Logger: testlog.Discard()}, src, m)
	require.NoError(t, err)
	s.now = func() time.Time { return now }

	rep, err := s.Round(context.Background())
	require.NoError(t, err)
	assert.Equal(t, Report{Scanned: 7, Waiting: 8, Stale: 7, Redriven: 4, Changed: 1}, rep)
	require.Len(t, src.redriven, 1, "5 versions fit one call")
	var keys []string
	for _, v := range src.redriven[0] {
		keys = append(keys, v.Key)
	}
	assert.Equal(t, []string{"k6", "k5", "k4", "k3", "k2"}, keys, "the longest-waiting first, MaxPerRound of them")

	assert.Equal(t, float64(26*60), testutil.ToFloat64(m.oldest.WithLabelValues("a")), "k6 waits for 26 min")
	assert.Equal(t, float64(25*60), testutil.ToFloat64(m.oldest.WithLabelValues("b")))
	assert.Equal(t, float64(60), testutil.ToFloat64(m.oldest.WithLabelValues("c")), "young versions count for the age")
	assert.Equal(t, float64(4), testutil.ToFloat64(m.waiting.WithLabelValues("a")))
	assert.Equal(t, float64(4), testutil.ToFloat64(m.redriven))

	// Everything settles: the buckets read 0.
	src.versions, src.young = nil, nil
	_, err = s.Round(context.Background())
	require.NoError(t, err)
	assert.Equal(t, float64(0), testutil.ToFloat64(m.oldest.WithLabelValues("a")))
	assert.Equal(t, float64(2), testutil.ToFloat64(m.rounds.WithLabelValues("ok")))

	// A failed listing is an error round and re-drives nothing.
	src.listErr = errors.New("s3server down")
	_, err = s.Round(context.Background())
	assert.ErrorContains(t, err, "s3server down")
	assert.Equal(t, float64(1), testutil.ToFloat64(m.rounds.WithLabelValues("error")))
}

func TestRunStopsAndRemovesItsSeries(t *testing.T) {
	src := &fakeSource{pageSize: 10, versions: []bbproto.PendingVersion{{Bucket: "a", Key: "k", Since: time.Now().Add(-time.Hour)}}}
	reg := prometheus.NewRegistry()
	s, err := New(Config{Interval: time.Hour, Logger: testlog.Discard()}, src, NewMetrics(reg))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	require.Eventually(t, func() bool {
		n, err := testutil.GatherAndCount(reg, "backbeat_sweeper_oldest_pending_seconds")
		return err == nil && n == 1
	}, 10*time.Second, 10*time.Millisecond, "the first round runs at once")
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return when its context ended")
	}
	n, err := testutil.GatherAndCount(reg, "backbeat_sweeper_oldest_pending_seconds")
	require.NoError(t, err)
	assert.Zero(t, n, "no stale series once the sweeper stopped")
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP backbeat_sweeper_redriven_total Versions the sweeper journaled PENDING again.
# TYPE backbeat_sweeper_redriven_total counter
backbeat_sweeper_redriven_total 1
`), "backbeat_sweeper_redriven_total"))
}

func TestConfigDefaults(t *testing.T) {
	s, err := New(Config{}, &fakeSource{}, nil)
	require.NoError(t, err)
	assert.Equal(t, DefaultInterval, s.cfg.Interval)
	assert.Equal(t, DefaultThreshold, s.cfg.Threshold)
	assert.Equal(t, DefaultMaxPerRound, s.cfg.MaxPerRound)
	_, err = New(Config{Threshold: -time.Second}, &fakeSource{}, nil)
	assert.Error(t, err)
}
