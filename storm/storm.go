package storm

import (
	"github.com/backbeat-temporal/backbeat/bbproto"

	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/backbeat-temporal/backbeat/internal/devstack"
	"github.com/backbeat-temporal/backbeat/internal/enginetest"
	"github.com/backbeat-temporal/backbeat/s3server/s3test"
)

// Kinds of Temporal (Config.Temporal).
const (
	// TemporalDev is the Temporal dev server: one history shard, SQLite.
	TemporalDev = "dev"
	// TemporalPostgres is the Temporal server on PostgreSQL, as docker-compose.yml runs
	// it (devstack.TemporalPostgres).
	TemporalPostgres = "postgres"
)

// Config tunes a storm.
type Config struct {
	// Temporal is the Temporal the engine runs on: TemporalDev, the dev server, or
	// TemporalPostgres, the server on PostgreSQL with Shards history shards, whose
	// server and PostgreSQL processes the faults also kill -9 and stop. Default
	// TemporalDev; another value is an error (see Validate).
	Temporal string
	// Shards is the number of history shards of the server on PostgreSQL. Default
	// devstack.DefaultTemporalShards (4), as docker-compose.yml; always 1 on the dev
	// server.
	Shards int
	// Seed drives the writer's plan and the faults. Default 1.
	Seed int64
	// Ops is the number of writer operations. Default 300.
	Ops int
	// Rate is the writer's pace in operations per second, so that the faults fall
	// while the engine replicates rather than on a backlog. Default 0: as fast as the
	// source s3server answers.
	Rate float64
	// Buckets is the number of source buckets (each replicated to its own target
	// bucket). Default 3.
	Buckets int
	// Keys is the number of keys per bucket the writer spreads its operations over.
	// Default 30.
	Keys int
	// MultipartEvery makes one operation in MultipartEvery a multipart upload (5 MiB and
	// more). Default 150; negative: none.
	MultipartEvery int
	// MinKills is how many process kills the storm does at least: faults go on after
	// the writer finished until there were that many, until the source and the target
	// s3server were each killed at least once and, with TemporalPostgres, the Temporal
	// server and PostgreSQL too. Default 6.
	MinKills int
	// FaultGap is the mean pause between two faults (uniform in [FaultGap/2,
	// 3*FaultGap/2]). Default 3 s.
	FaultGap time.Duration
	// Outage is how long ZooKeeper, the broker or Temporal stays stopped. Keep it short:
	// the engine retries an entry for ~13 s before it marks it FAILED. Default 3 s.
	Outage time.Duration
	// Quiescence bounds the wait, after the storm, for every source version to be
	// COMPLETED or FAILED. Default 5 min.
	Quiescence time.Duration
	// Partitions of the topic. Default 4.
	Partitions int
	// ContinueAsNewAfter is the workers' --continue-as-new-after: a partition workflow
	// run continues as new after that many entries, so the storm crosses many
	// continuations with signals arriving and entries in flight. Default 5.
	ContinueAsNewAfter int
	// HeartbeatTimeout is the workers' --heartbeat-timeout: how long an entry in flight
	// on a killed worker waits before it is retried. Default 10 s (the engine's is 60 s).
	HeartbeatTimeout time.Duration
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Temporal == "" {
		c.Temporal = TemporalDev
	}
	switch {
	case c.Temporal != TemporalPostgres:
		c.Shards = 1
	case c.Shards == 0:
		c.Shards = devstack.DefaultTemporalShards
	}
	def(&c.Ops, 300)
	def(&c.Buckets, 3)
	def(&c.Keys, 30)
	def(&c.MultipartEvery, 150)
	def(&c.MinKills, 6)
	def(&c.Partitions, 4)
	def(&c.ContinueAsNewAfter, 5)
	if c.HeartbeatTimeout == 0 {
		c.HeartbeatTimeout = 10 * time.Second
	}
	if c.FaultGap <= 0 {
		c.FaultGap = 3 * time.Second
	}
	if c.Outage <= 0 {
		c.Outage = 3 * time.Second
	}
	if c.Quiescence <= 0 {
		c.Quiescence = 5 * time.Minute
	}
	return c
}

// Validate returns an error when c names an unknown Temporal or a negative number of
// history shards.
func (c Config) Validate() error {
	switch c.Temporal {
	case "", TemporalDev, TemporalPostgres:
	default:
		return fmt.Errorf("storm: unknown Temporal %q: use %q (the dev server, the default) or %q (the server on PostgreSQL)",
			c.Temporal, TemporalDev, TemporalPostgres)
	}
	if c.Shards < 0 {
		return fmt.Errorf("storm: %d history shards: use a positive number (or 0 for the default, %d)", c.Shards, devstack.DefaultTemporalShards)
	}
	return nil
}

// Report is the outcome of a storm: its figures and the check of the final state.
type Report struct {
	Seed                 int64
	Temporal             string // Config.Temporal
	Shards               int    // history shards of the Temporal server
	Ops                  map[OpKind]int
	Unanswered           int            // writer operations the source did not answer (outcome unknown), done again
	Versions             int            // source versions at the end (delete markers included)
	Kills                map[string]int // per process name ("temporal-server", "postgres" for the Temporal ones)
	Outages              map[string]int // per ZooKeeper, broker, Temporal, PostgreSQL
	MaxLag               time.Duration  // oldest version seen not yet COMPLETED (sampled every second)
	StormTime, Quiescent time.Duration  // writer+faults; then until every version settled
	Continuations        int64          // partition workflow runs that continued as new
	Result               Result
}

// Table renders the report as a Markdown table.
func (r Report) Table() string {
	var b strings.Builder
	row := func(k string, v any) { fmt.Fprintf(&b, "| %s | %v |\n", k, v) }
	b.WriteString("| storm | |\n|---|---|\n")
	row("seed", r.Seed)
	row("temporal", temporalKind(r.Temporal, r.Shards))
	puts := 0
	var ops []string
	for k := OpPut; k <= OpMultipart; k++ {
		ops = append(ops, fmt.Sprintf("%s %d", k, r.Ops[k]))
		if k == OpPut || k == OpMultipart {
			puts += r.Ops[k]
		}
	}
	row("puts", puts)
	row("operations", strings.Join(ops, ", "))
	row("operations unanswered, done again", r.Unanswered)
	row("source versions", r.Versions)
	row("kills (kill -9)", counts(r.Kills))
	row("outages (stop/start)", counts(r.Outages))
	row("workflow runs continued as new", r.Continuations)
	row("max lag", r.MaxLag.Round(100*time.Millisecond))
	row("storm time", r.StormTime.Round(100*time.Millisecond))
	row("time to quiescence", r.Quiescent.Round(100*time.Millisecond))
	row("lost", r.Result.Lost)
	row("out of order", r.Result.OutOfOrder)
	row("stuck", r.Result.Stuck)
	row("failed", r.Result.Failed)
	row("duplicate / extra", r.Result.Duplicate)
	row("mismatch", r.Result.Mismatch)
	return b.String()
}

// temporalKind names the Temporal of a report.
func temporalKind(kind string, shards int) string {
	plural := "s"
	if shards == 1 {
		plural = ""
	}
	what := "dev server (SQLite)"
	if kind == TemporalPostgres {
		what = "server on PostgreSQL"
	}
	return fmt.Sprintf("%s, %d history shard%s", what, shards, plural)
}

func counts(m map[string]int) string {
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	})
	total := 0
	var parts []string
	for _, k := range keys {
		total += m[k]
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, ", "))
}

// Report names of the s3servers the faults kill -9 (Report.Kills).
const (
	// SourceS3Server is the source s3server: the writer's endpoint and the source of
	// truth of the check.
	SourceS3Server = "s3server-source"
	// TargetS3Server is the target s3server the workers replicate to.
	TargetS3Server = "s3server-target"
)

// victim is a process the faults kill -9 and start again.
type victim interface {
	Kill() error
	Start() error
	Running() bool
	Name() string
}

// s3victim is an s3server as a victim of the faults.
type s3victim struct{ *s3test.Process }

// Kill kill -9s the s3server and waits until it exited.
func (v s3victim) Kill() error {
	v.Process.Kill()
	return nil
}

// Name is the s3server's address (the report names it SourceS3Server or TargetS3Server).
func (v s3victim) Name() string { return "s3server " + v.Addr }

// storm is one run.
type storm struct {
	t        testing.TB
	ctx      context.Context
	cfg      Config
	e        *enginetest.Engine
	src, dst *s3.Client
	procs    []victim          // processes the faults kill: the engine's, the Temporal server and PostgreSQL, the s3servers
	names    map[victim]string // report names of procs that are not the engine's; each must be killed once

	mu      sync.Mutex
	report  Report
	pending []written           // versions written and not yet seen COMPLETED, oldest first
	byKey   map[string][]string // bucket/key → version ids written (not delete markers)
	acked   []Version
}

type written struct {
	bucket, key, id string
	at              time.Time
}

func srcBucket(i int) string { return fmt.Sprintf("storm-%d", i) }
func dstBucket(i int) string { return fmt.Sprintf("storm-%d-replica", i) }

// Run starts the engine (ingest ×2, bridge ×2, worker ×2, every process separate), runs
// the storm of c and returns its report once every source version settled or
// c.Quiescence passed. It fails the test only when the harness itself cannot work (the
// source answers a writer's S3 call with an error, or does not answer for a minute; a
// process cannot be restarted); the caller checks the report.
func Run(t testing.TB, c Config) Report {
	t.Helper()
	if err := c.Validate(); err != nil {
		t.Fatalf("%v", err)
	}
	c = c.withDefaults()
	var temporal []devstack.TemporalOption
	if c.Temporal == TemporalPostgres {
		temporal = []devstack.TemporalOption{devstack.TemporalPostgres(), devstack.TemporalShards(c.Shards)}
	}
	e := enginetest.Start(t, enginetest.Options{Partitions: c.Partitions, LogLevel: "info", Temporal: temporal,
		Ingests: 2, Bridges: 2, Workers: 2, WorkerArgs: []string{"--continue-as-new-after", fmt.Sprint(c.ContinueAsNewAfter),
			"--heartbeat-timeout", c.HeartbeatTimeout.String()}})
	s := &storm{t: t, ctx: context.Background(), cfg: c, e: e,
		src: e.Src.Client(s3test.User), dst: e.Dst.Client(s3test.User), byKey: map[string][]string{},
		names: map[victim]string{},
		report: Report{Seed: c.Seed, Temporal: c.Temporal, Shards: c.Shards, Ops: map[OpKind]int{}, Kills: map[string]int{},
			Outages: map[string]int{}}}
	for _, p := range slices.Concat(e.Ingests, e.Bridges, e.Workers) {
		s.procs = append(s.procs, p)
	}
	if c.Temporal == TemporalPostgres {
		s.names[e.Temporal.Process()], s.names[e.Temporal.Postgres()] = "temporal-server", "postgres"
		s.procs = append(s.procs, e.Temporal.Process(), e.Temporal.Postgres())
	}
	src, dst := s3victim{e.Src}, s3victim{e.Dst}
	s.names[src], s.names[dst] = SourceS3Server, TargetS3Server
	s.procs = append(s.procs, src, dst)
	for i := range c.Buckets {
		s.setup(i)
	}

	start := time.Now()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.sampleLag(stop) }()
	writerDone := make(chan error, 1)
	go func() { writerDone <- s.write(Plan(c.Seed, c)) }()
	faultErr := s.faults(writerDone)
	s.report.StormTime = time.Since(start)
	if faultErr != nil {
		close(stop)
		wg.Wait()
		t.Fatalf("storm: %v", faultErr)
	}
	if err := s.allUp(); err != nil {
		t.Fatalf("storm: %v", err)
	}
	settled := time.Now()
	s.quiesce(time.Now().Add(c.Quiescence))
	s.report.Quiescent = time.Since(settled)
	close(stop)
	wg.Wait()

	snap := s.snapshot()
	s.report.Versions = len(snap.Source)
	s.report.Result = Check(snap)
	s.report.Continuations = s.continuations()
	return s.report
}

func (s *storm) setup(i int) {
	s.t.Helper()
	for _, b := range []struct {
		c    *s3.Client
		name string
	}{{s.src, srcBucket(i)}, {s.dst, dstBucket(i)}} {
		_, err := b.c.CreateBucket(s.ctx, &s3.CreateBucketInput{Bucket: aws.String(b.name)})
		must(s.t, err, "create bucket %s", b.name)
		_, err = b.c.PutBucketVersioning(s.ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(b.name),
			VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}})
		must(s.t, err, "enable versioning on %s", b.name)
	}
	_, err := s.src.PutBucketReplication(s.ctx, &s3.PutBucketReplicationInput{Bucket: aws.String(srcBucket(i)),
		ReplicationConfiguration: &s3types.ReplicationConfiguration{
			Role: aws.String("arn:aws:iam::000000000000:role/backbeat"),
			Rules: []s3types.ReplicationRule{{ID: aws.String("all"), Status: s3types.ReplicationRuleStatusEnabled,
				Prefix: aws.String(""),
				// "dr" is enginetest's site of the target s3server.
				Destination: &s3types.Destination{Bucket: aws.String("arn:aws:s3:::" + dstBucket(i)), StorageClass: "dr"}}}}})
	must(s.t, err, "set replication on %s", srcBucket(i))
}

func must(t testing.TB, err error, format string, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("storm: "+format+": %v", append(args, err)...)
	}
}

// sourceAnswerWithin bounds how long the writer waits for a source s3server that does
// not answer (killed, restarting) before it gives up: far longer than a kill's 0–2 s
// plus the s3server's start.
const sourceAnswerWithin = time.Minute

// write runs the plan against the source. An operation the source does not answer (its
// s3server was killed, or is starting again) may or may not have been applied: the
// writer does it again once the source answers (see retry), and only what the source
// acknowledged counts as written. It stops at the first error the source answers, or
// when the source does not answer for sourceAnswerWithin.
func (s *storm) write(ops []Op) error {
	data := rand.New(rand.NewPCG(uint64(s.cfg.Seed), 0xda7a))
	var pace <-chan time.Time
	if s.cfg.Rate > 0 {
		tick := time.NewTicker(time.Duration(float64(time.Second) / s.cfg.Rate))
		defer tick.Stop()
		pace = tick.C
	}
	for i, op := range ops {
		if pace != nil {
			<-pace // the writer's pace, not a synchronisation
		}
		s.mu.Lock()
		s.report.Ops[op.Kind]++
		s.mu.Unlock()
		bodies := op.bodies(data)
		if err := s.retry(func() error { return s.do(i, op, bodies) }); err != nil {
			return fmt.Errorf("writer op %d (%s %s/%s): %w", i, op.Kind, srcBucket(op.Bucket), op.Key, err)
		}
	}
	return nil
}

// bodies returns the data of op from r: one body for a put, the two parts of a
// multipart upload, none otherwise. They are drawn once, so that a retried op sends the
// same bytes.
func (op Op) bodies(r *rand.Rand) [][]byte {
	switch op.Kind {
	case OpPut:
		return [][]byte{fill(r, op.Size)}
	case OpMultipart:
		return [][]byte{fill(r, 5<<20), fill(r, op.Size)}
	}
	return nil
}

// retry runs call until the source answers it. A call that fails with no answer from
// the source (connection refused, reset or cut: the s3server was killed) may or may not
// have been applied; it is done again from the start, which is safe for the storm: a
// put or a delete done twice adds one more source version (the source is the truth the
// check reads, and the writer acknowledged neither the unknown one nor counted it), a
// tag change done twice is the same change, a multipart upload starts a new upload. It
// returns nil, the source's answered error, or an error once the source did not answer
// for sourceAnswerWithin. Report.Unanswered counts the operations done again.
func (s *storm) retry(call func() error) error {
	var since time.Time
	for {
		err := call()
		var answered smithy.APIError
		if err == nil || errors.As(err, &answered) {
			return err
		}
		if since.IsZero() {
			since = time.Now()
			s.mu.Lock()
			s.report.Unanswered++
			s.mu.Unlock()
		}
		if time.Since(since) > sourceAnswerWithin {
			return fmt.Errorf("the source s3server did not answer for %s (was it restarted after its kill -9?): %w", sourceAnswerWithin, err)
		}
		time.Sleep(100 * time.Millisecond) // polling interval of a condition with a deadline
	}
}

// do runs op (the i-th of the plan, with its bodies) once and records what the source
// acknowledged.
func (s *storm) do(i int, op Op, bodies [][]byte) error {
	bucket, key := srcBucket(op.Bucket), op.Key
	bk := bucket + "/" + key
	meta := map[string]string{"op": fmt.Sprint(i), "seed": fmt.Sprint(s.cfg.Seed)}
	s.mu.Lock()
	ids := s.byKey[bk]
	s.mu.Unlock()
	var (
		id string
		dm bool
	)
	switch op.Kind {
	case OpPut:
		in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(bodies[0]),
			Metadata: meta}
		if op.Tags != nil {
			in.Tagging = aws.String(url.Values{"put": {op.Tags["put"]}}.Encode())
		}
		out, err := s.src.PutObject(s.ctx, in)
		if err != nil {
			return err
		}
		id = aws.ToString(out.VersionId)
	case OpMultipart:
		up, err := s.src.CreateMultipartUpload(s.ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key), Metadata: meta})
		if err != nil {
			return err
		}
		var parts []s3types.CompletedPart
		for n, body := range bodies {
			p, err := s.src.UploadPart(s.ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId,
				PartNumber: aws.Int32(int32(n + 1)), Body: bytes.NewReader(body)})
			if err != nil {
				return err
			}
			parts = append(parts, s3types.CompletedPart{ETag: p.ETag, PartNumber: aws.Int32(int32(n + 1))})
		}
		out, err := s.src.CompleteMultipartUpload(s.ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key),
			UploadId: up.UploadId, MultipartUpload: &s3types.CompletedMultipartUpload{Parts: parts}})
		if err != nil {
			return err
		}
		id = aws.ToString(out.VersionId)
	case OpDelete:
		out, err := s.src.DeleteObject(s.ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			return err
		}
		id, dm = aws.ToString(out.VersionId), true
	case OpTag, OpUntag:
		if len(ids) == 0 {
			return nil // nothing to tag yet: a no-op, as planned
		}
		v := aws.String(ids[op.Pick%uint64(len(ids))])
		var err error
		if op.Kind == OpTag {
			var tags []s3types.Tag
			for _, k := range slices.Sorted(mapKeys(op.Tags)) {
				tags = append(tags, s3types.Tag{Key: aws.String(k), Value: aws.String(op.Tags[k])})
			}
			_, err = s.src.PutObjectTagging(s.ctx, &s3.PutObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(key),
				VersionId: v, Tagging: &s3types.Tagging{TagSet: tags}})
		} else {
			_, err = s.src.DeleteObjectTagging(s.ctx, &s3.DeleteObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: v})
		}
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !dm {
		s.byKey[bk] = append(s.byKey[bk], id)
	}
	s.pending = append(s.pending, written{bucket, key, id, time.Now()})
	s.acked = append(s.acked, Version{Bucket: bucket, Key: key, VersionID: id, DeleteMarker: dm})
	return nil
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// fill returns n bytes from r.
func fill(r *rand.Rand, n int) []byte {
	b := make([]byte, n+8)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b[:n]
}

// faults runs faults until the writer is done and MinKills kills were made (and, on
// PostgreSQL, the Temporal server and PostgreSQL were each killed); it returns the
// writer's error, or the first restart that failed.
func (s *storm) faults(writerDone <-chan error) error {
	next := Faults(s.cfg.Seed, s.cfg, len(s.procs))
	kills, finished := 0, false
	var werr error
	var restarts sync.WaitGroup
	var rmu sync.Mutex
	var restartErr error
	restarting := map[victim]chan struct{}{} // closed once the process restarted
	pending := func(p victim) chan struct{} {
		rmu.Lock()
		defer rmu.Unlock()
		return restarting[p]
	}
	for !finished || kills < s.cfg.MinKills || !s.killedEach() {
		f := next()
		timer := time.NewTimer(f.Wait) // the storm's pace, not a synchronisation
		select {
		case werr = <-writerDone:
			finished = true
			timer.Stop()
			if werr != nil {
				restarts.Wait()
				return werr
			}
			continue
		case <-timer.C:
		}
		switch f.Kind {
		case FaultKill:
			for i, v := range f.Victims {
				p := s.procs[v]
				if !p.Running() || pending(p) != nil {
					continue // still down, or starting, from an earlier kill
				}
				if err := p.Kill(); err != nil {
					return fmt.Errorf("kill -9 %s: %w", p.Name(), err)
				}
				kills++
				s.mu.Lock()
				s.report.Kills[s.name(p)]++
				s.mu.Unlock()
				done := make(chan struct{})
				rmu.Lock()
				restarting[p] = done
				rmu.Unlock()
				restarts.Add(1)
				go func(down time.Duration) {
					defer restarts.Done()
					time.Sleep(down) // the victim stays down that long, on purpose
					err := s.startSupervised(p)
					rmu.Lock()
					defer rmu.Unlock()
					if err != nil && restartErr == nil {
						restartErr = fmt.Errorf("restart %s after kill -9: %w", p.Name(), err)
					}
					delete(restarting, p)
					close(done)
				}(f.Down[i])
			}
		default:
			p := map[FaultKind]*devstack.Process{FaultZooKeeper: s.e.ZK.Process(), FaultBroker: s.e.Kafka.Process(),
				FaultTemporal: s.e.Temporal.Process(), FaultPostgres: s.e.Temporal.Postgres()}[f.Kind]
			if done := pending(p); done != nil {
				<-done // the outage starts once a kill's restart of the same process is over
			}
			if err := p.Stop(); err != nil {
				s.t.Logf("storm: stop %s: %v", f.Kind, err)
			}
			s.mu.Lock()
			s.report.Outages[f.Kind.String()]++
			s.mu.Unlock()
			time.Sleep(s.cfg.Outage) // the outage, on purpose
			if err := s.startSupervised(p); err != nil {
				return fmt.Errorf("start %s after its outage: %w", f.Kind, err)
			}
		}
	}
	restarts.Wait()
	rmu.Lock()
	defer rmu.Unlock()
	return restartErr
}

// name is the report's name of p: the engine's process names, "temporal-server" and
// "postgres" for the Temporal ones, SourceS3Server and TargetS3Server.
func (s *storm) name(p victim) string {
	if n, ok := s.names[p]; ok {
		return n
	}
	return p.Name()
}

// killedEach reports whether the source and target s3servers and every process of the
// Temporal on PostgreSQL were killed at least once (the dev server's process the storm
// only stops).
func (s *storm) killedEach() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.names {
		if s.report.Kills[n] == 0 {
			return false
		}
	}
	return true
}

// allUp starts any engine process that is not running (it should not happen: each
// killed process was restarted).
func (s *storm) allUp() error {
	for _, p := range s.procs {
		if !p.Running() {
			s.t.Logf("storm: %s is not running after the storm; starting it", p.Name())
			if err := p.Start(); err != nil {
				return fmt.Errorf("start %s: %w", p.Name(), err)
			}
		}
	}
	return nil
}

// sampleLag checks, every second, the oldest written versions not yet seen COMPLETED
// (at most 50 per round) and records the age of the oldest still waiting as the lag.
func (s *storm) sampleLag(stop <-chan struct{}) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		s.mu.Lock()
		batch := slices.Clone(s.pending[:min(50, len(s.pending))])
		s.mu.Unlock()
		done := map[written]bool{}
		for _, w := range batch {
			v, err := s.version(s.e.Src, w.bucket, w.key, w.id)
			if err == nil && (v.Status == bbproto.StatusCompleted || v.Status == bbproto.StatusFailed) {
				done[w] = true
			}
		}
		now := time.Now()
		s.mu.Lock()
		s.pending = slices.DeleteFunc(s.pending, func(w written) bool { return done[w] })
		if len(s.pending) > 0 {
			s.report.MaxLag = max(s.report.MaxLag, now.Sub(s.pending[0].at))
		}
		s.mu.Unlock()
	}
}

// quiesce waits until no source version is PENDING or PROCESSING, or the deadline.
func (s *storm) quiesce(deadline time.Time) {
	for {
		open := 0
		for i := range s.cfg.Buckets {
			for _, v := range s.list(s.e.Src, s.src, srcBucket(i), srcBucket(i), false) {
				if v.Status != bbproto.StatusCompleted && v.Status != bbproto.StatusFailed {
					open++
				}
			}
		}
		if open == 0 || time.Now().After(deadline) {
			if open > 0 {
				s.t.Logf("storm: %d source versions not settled at the quiescence deadline (%s)", open, s.cfg.Quiescence)
			}
			return
		}
		time.Sleep(2 * time.Second) // polling interval of a condition with a deadline
	}
}

// snapshot reads every version of the source and target buckets, with data hashes.
func (s *storm) snapshot() Snapshot {
	var snap Snapshot
	for i := range s.cfg.Buckets {
		snap.Source = append(snap.Source, s.list(s.e.Src, s.src, srcBucket(i), srcBucket(i), true)...)
		snap.Target = append(snap.Target, s.list(s.e.Dst, s.dst, dstBucket(i), srcBucket(i), true)...)
	}
	s.mu.Lock()
	snap.Acked = slices.Clone(s.acked)
	s.mu.Unlock()
	return snap
}

// list returns the versions of bucket on p, per key newest first, read from the version
// route (status, metadata, tags) and, when withData, the data's SHA-256; Bucket is set
// to as (the source bucket's name, so that both sides compare).
func (s *storm) list(p *s3test.Process, c *s3.Client, bucket, as string, withData bool) []Version {
	type item struct {
		key, id string
		at      time.Time
	}
	var items []item
	in := &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)}
	for {
		res, err := c.ListObjectVersions(s.ctx, in)
		must(s.t, err, "list versions of %s", bucket)
		for _, v := range res.Versions {
			items = append(items, item{aws.ToString(v.Key), aws.ToString(v.VersionId), aws.ToTime(v.LastModified)})
		}
		for _, d := range res.DeleteMarkers {
			items = append(items, item{aws.ToString(d.Key), aws.ToString(d.VersionId), aws.ToTime(d.LastModified)})
		}
		if !aws.ToBool(res.IsTruncated) {
			break
		}
		in.KeyMarker, in.VersionIdMarker = res.NextKeyMarker, res.NextVersionIdMarker
	}
	// The SDK splits versions from delete markers; put them back in the listing order:
	// by key, then newest first (last-modified, then version id, the store's order key).
	slices.SortStableFunc(items, func(a, b item) int {
		if a.key != b.key {
			return strings.Compare(a.key, b.key)
		}
		if !a.at.Equal(b.at) {
			return b.at.Compare(a.at)
		}
		return strings.Compare(a.id, b.id)
	})
	out := make([]Version, 0, len(items))
	for _, it := range items {
		v, err := s.version(p, bucket, it.key, it.id)
		must(s.t, err, "read version %s/%s@%s", bucket, it.key, it.id)
		v.Bucket = as
		if withData && !v.DeleteMarker {
			got, err := c.GetObject(s.ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(it.key), VersionId: aws.String(it.id)})
			must(s.t, err, "get %s/%s@%s", bucket, it.key, it.id)
			h := sha256.New()
			_, err = io.Copy(h, got.Body)
			got.Body.Close()
			must(s.t, err, "read %s/%s@%s", bucket, it.key, it.id)
			v.BodySHA256 = hex.EncodeToString(h.Sum(nil))
		}
		out = append(out, v)
	}
	return out
}

// version reads one version from the privileged version route.
func (s *storm) version(p *s3test.Process, bucket, key, id string) (Version, error) {
	v, err := p.BBClient().Version(s.ctx, bucket, key, id)
	if err != nil {
		return Version{}, fmt.Errorf("version route: %w", err)
	}
	out := Version{Bucket: bucket, Key: v.Key, VersionID: v.VersionID, DeleteMarker: v.IsDeleteMarker, ETag: v.ETag,
		Size: v.Size, UserMetadata: v.Meta.UserMetadata, Tags: v.Meta.Tags, Status: v.ReplicationStatus()}
	if v.Replication != nil {
		out.Reason = v.Replication.Reason
	}
	return out, nil
}

// continuations counts the partition workflow runs closed as ContinuedAsNew (-1 when
// Temporal's visibility cannot say within a minute). It retries: a Temporal server on
// PostgreSQL just restarted by the storm answers NamespaceNotFound for a while.
func (s *storm) continuations() int64 {
	ctx, cancel := context.WithTimeout(s.ctx, time.Minute)
	defer cancel()
	c := s.e.Temporal.Client()
	for {
		res, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
			Namespace: "default", Query: "ExecutionStatus = 'ContinuedAsNew'"})
		if err == nil {
			return res.GetCount()
		}
		s.t.Logf("storm: count the runs continued as new: %v", err)
		select {
		case <-ctx.Done():
			return -1
		case <-time.After(2 * time.Second): // polling interval of a condition with a deadline
		}
	}
}

// supervisorPatience is how long startSupervised keeps trying.
const supervisorPatience = 2 * time.Minute

// startSupervised starts a killed or stopped process again as systemd or Kubernetes
// would: a start that fails - the Temporal server exits at once when PostgreSQL, killed
// at the same moment, is still starting up - is tried again after a pause (1 s, doubling
// up to 10 s), for up to supervisorPatience.
func (s *storm) startSupervised(p interface {
	Start() error
	Name() string
}) error {
	deadline := time.Now().Add(supervisorPatience)
	for delay := time.Second; ; delay = min(2*delay, 10*time.Second) {
		err := p.Start()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		s.t.Logf("storm: %s did not start (%v); the supervisor tries again in %s", p.Name(), err, delay)
		time.Sleep(delay) // a supervisor's restart delay, not a synchronisation
	}
}
