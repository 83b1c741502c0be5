// Package sweeper makes sure nothing stays PENDING forever. Every Interval it lists, through
// s3server's privileged pending route, the versions of every bucket whose replication
// status is PENDING or PROCESSING and was written more than Threshold ago, and re-drives
// them through the normal path: the redrive route journals PENDING again (a new journal
// seq), so ingest produces them to Kafka again, the bridge signals (and re-creates, if it
// ended) their partition workflow, and the workflow, which dedupes by journal position,
// replicates them again. Replication is idempotent (a target that already holds the
// version is not written again), so re-driving a version that a partition still holds
// costs a check, never a wrong result: the sweeper does not ask the partitions what they
// hold, it relies on the threshold (longer than an entry normally waits) and on that
// idempotence. A re-drive resets the version's status time, so a version is re-driven at
// most once per Threshold; the redrive route leaves alone a version whose status changed
// since it was listed.
//
// Work per round is bounded: at most MaxPerRound versions are re-driven (the oldest
// listed first, the rest in later rounds), in calls of at most bbproto.MaxRedrive. The
// scan reads every version of every bucket (s3server keeps no index of waiting versions),
// page by page.
//
// It also exports backbeat_sweeper_oldest_pending_seconds{bucket}: how long the
// longest-waiting PENDING or PROCESSING version of each bucket has been waiting (since it
// became PENDING, re-drives included), as of the last complete scan (0 for a bucket
// whose versions all settled; no series while the process is not sweeping), and
// backbeat_sweeper_pending_versions{bucket}, backbeat_sweeper_redriven_total,
// backbeat_sweeper_rounds_total{result}.
//
// One sweeper runs per journal: ingest runs it while it holds the journal's ZooKeeper
// lock (the leader), so there is exactly one, and it moves with the leadership.
package sweeper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/bbproto/bbclient"
)

// Source is what the sweeper needs of s3server (a *bbclient.Client).
type Source interface {
	Pending(ctx context.Context, q bbclient.PendingQuery) (*bbproto.PendingPage, error)
	Redrive(ctx context.Context, refs []bbproto.RedriveRef) ([]bbproto.RedriveResult, error)
}

// Config configures a Sweeper. Zero values take the documented defaults.
type Config struct {
	// Interval between the starts of two rounds. Default 1m.
	Interval time.Duration
	// Threshold is how long a version's status must have been left unchanged before it
	// is re-driven. Default 15m.
	Threshold time.Duration
	// MaxPerRound bounds the versions re-driven per round. Default 10000.
	MaxPerRound int
	// Logger receives structured logs. Default slog.Default().
	Logger *slog.Logger
}

// Defaults of Config.
const (
	DefaultInterval    = time.Minute
	DefaultThreshold   = 15 * time.Minute
	DefaultMaxPerRound = 10000
)

func (c Config) withDefaults() (Config, error) {
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Threshold == 0 {
		c.Threshold = DefaultThreshold
	}
	if c.MaxPerRound == 0 {
		c.MaxPerRound = DefaultMaxPerRound
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Interval < 0 || c.Threshold < 0 || c.MaxPerRound < 0 {
		return c, errors.New("sweeper: the interval, the threshold and the versions per round must be positive")
	}
	return c, nil
}

// Metrics are the sweeper's Prometheus series. Make them once per process
// (NewMetrics) and share them by every Sweeper of the process.
type Metrics struct {
	oldest   *prometheus.GaugeVec
	waiting  *prometheus.GaugeVec
	redriven prometheus.Counter
	rounds   *prometheus.CounterVec
}

// NewMetrics registers the sweeper's series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		oldest: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "backbeat_sweeper_oldest_pending_seconds",
			Help: "Seconds the longest-waiting PENDING or PROCESSING version of the bucket has waited (since it became PENDING), as of the sweeper's last complete scan; 0 when none waits."}, []string{"bucket"}),
		waiting: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "backbeat_sweeper_pending_versions",
			Help: "PENDING or PROCESSING versions of the bucket, as of the last complete scan."}, []string{"bucket"}),
		redriven: prometheus.NewCounter(prometheus.CounterOpts{Name: "backbeat_sweeper_redriven_total",
			Help: "Versions the sweeper journaled PENDING again."}),
		rounds: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "backbeat_sweeper_rounds_total",
			Help: "Sweeper rounds by result: ok, error."}, []string{"result"}),
	}
	reg.MustRegister(m.oldest, m.waiting, m.redriven, m.rounds)
	m.rounds.WithLabelValues("ok")
	m.rounds.WithLabelValues("error")
	return m
}

// Sweeper re-drives versions left waiting. Run it in one process per journal.
type Sweeper struct {
	cfg Config
	src Source
	m   *Metrics
	now func() time.Time
	// seen holds the buckets exported since Run started.
	seen map[string]bool
}

// New returns a Sweeper of src reporting to m.
func New(cfg Config, src Source, m *Metrics) (*Sweeper, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Sweeper{cfg: cfg, src: src, m: m, now: time.Now, seen: map[string]bool{}}, nil
}

// Run sweeps at once, then every Interval, until ctx ends; a failed round is logged and
// the next one runs at its time. It returns when ctx ends, removing its gauges' series.
// Run one Run at a time per Sweeper.
func (s *Sweeper) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	defer s.unexport()
	for {
		rep, err := s.Round(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			s.cfg.Logger.Error("sweeper round failed; the next round retries", "err", err, "nextIn", s.cfg.Interval)
		case rep.Redriven > 0 || rep.Changed > 0:
			s.cfg.Logger.Info("sweeper re-drove versions left waiting", "redriven", rep.Redriven, "changed", rep.Changed,
				"gone", rep.Gone, "waiting", rep.Waiting, "scanned", rep.Scanned, "threshold", s.cfg.Threshold)
		default:
			s.cfg.Logger.Debug("sweeper round", "waiting", rep.Waiting, "scanned", rep.Scanned)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Report counts what a round did.
type Report struct {
	Scanned  int // versions examined
	Waiting  int // PENDING or PROCESSING versions seen, of any age
	Stale    int // waiting versions older than the threshold
	Redriven int // journaled PENDING again
	Changed  int // changed since listed: left alone
	Gone     int // removed since listed
}

// Round scans every bucket once, re-drives up to MaxPerRound of the versions waiting
// longer than Threshold (the longest-waiting first) and updates the metrics.
func (s *Sweeper) Round(ctx context.Context) (Report, error) {
	rep, err := s.round(ctx)
	result := "ok"
	if err != nil {
		result = "error"
	}
	if s.m != nil {
		s.m.rounds.WithLabelValues(result).Inc()
	}
	return rep, err
}

func (s *Sweeper) round(ctx context.Context) (Report, error) {
	var (
		rep     Report
		stale   []bbproto.PendingVersion
		oldest  = map[string]time.Time{}
		waiting = map[string]int{}
	)
	q := bbclient.PendingQuery{OlderThan: s.cfg.Threshold}
	for {
		page, err := s.src.Pending(ctx, q)
		if err != nil {
			return rep, fmt.Errorf("sweeper: list the waiting versions: %w", err)
		}
		rep.Scanned += page.Scanned
		for b, n := range page.Waiting {
			waiting[b] += n
			rep.Waiting += n
		}
		for b, t := range page.Oldest {
			if o, ok := oldest[b]; !ok || t.Before(o) {
				oldest[b] = t
			}
		}
		rep.Stale += len(page.Versions)
		stale = append(stale, page.Versions...)
		if len(stale) > s.cfg.MaxPerRound { // keep the longest-waiting
			sortBySince(stale)
			stale = stale[:s.cfg.MaxPerRound]
		}
		if page.Next == "" {
			break
		}
		q.After = page.Next
	}
	s.export(oldest, waiting)
	sortBySince(stale)
	for len(stale) > 0 {
		n := min(len(stale), bbproto.MaxRedrive)
		refs := make([]bbproto.RedriveRef, n)
		for i, v := range stale[:n] {
			refs[i] = v.Ref()
		}
		res, err := s.src.Redrive(ctx, refs)
		if err != nil {
			return rep, fmt.Errorf("sweeper: re-drive %d versions: %w", n, err)
		}
		rep.Redriven, rep.Changed, rep.Gone = bbproto.CountOutcomes(res, rep.Redriven, rep.Changed, rep.Gone)
		stale = stale[n:]
	}
	if s.m != nil {
		s.m.redriven.Add(float64(rep.Redriven))
	}
	return rep, nil
}

// export sets the gauges from a complete scan; a bucket seen waiting before and not any
// more reads 0.
func (s *Sweeper) export(oldest map[string]time.Time, waiting map[string]int) {
	if s.m == nil {
		return
	}
	now := s.now()
	for b := range s.seen {
		if _, ok := oldest[b]; !ok {
			s.m.oldest.WithLabelValues(b).Set(0)
			s.m.waiting.WithLabelValues(b).Set(0)
		}
	}
	for b, t := range oldest {
		s.seen[b] = true
		s.m.oldest.WithLabelValues(b).Set(max(0, now.Sub(t).Seconds()))
		s.m.waiting.WithLabelValues(b).Set(float64(waiting[b]))
	}
}

// unexport removes the gauges' series: a process that stops sweeping (ingest losing the
// leadership) reports nothing rather than stale ages.
func (s *Sweeper) unexport() {
	if s.m == nil {
		return
	}
	s.m.oldest.Reset()
	s.m.waiting.Reset()
	clear(s.seen)
}

func sortBySince(vs []bbproto.PendingVersion) {
	slices.SortStableFunc(vs, func(a, b bbproto.PendingVersion) int { return a.Since.Compare(b.Since) })
}
