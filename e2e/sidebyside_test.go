package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/internal/benchkit"
	"github.com/backbeat-temporal/backbeat/internal/devstack"
	"github.com/backbeat-temporal/backbeat/internal/enginetest"
	"github.com/backbeat-temporal/backbeat/s3server/s3test"
	"github.com/backbeat-temporal/backbeat/starter"
)

var (
	sbsSmallCount = flag.Int("bench.small-count", 2000, "BenchmarkSideBySide: small objects copied by (a), (b), (c); 0 skips the small workload")
	sbsSmallSize  = flag.Int("bench.small-size", 4<<10, "BenchmarkSideBySide: size of a small object in bytes")
	sbsSmallRate  = flag.Float64("bench.small-rate", 10, "BenchmarkSideBySide: (d) first put rate (objects/s) of the small workload's search")
	sbsLargeCount = flag.Int("bench.large-count", 8, "BenchmarkSideBySide: large objects copied by (a), (b), (c); 0 skips the large workload")
	sbsLargeSize  = flag.Int("bench.large-size", 64<<20, "BenchmarkSideBySide: size of a large object in bytes")
	sbsLargeRate  = flag.Float64("bench.large-rate", 0.5, "BenchmarkSideBySide: (d) first put rate (objects/s) of the large workload's search")
	sbsConc       = flag.Int("bench.copy-concurrency", 16, "BenchmarkSideBySide: (a) copy loop workers and (b) rclone --transfers")
	sbsParts      = flag.Int("bench.partitions", 4, "BenchmarkSideBySide: partitions of the replication topic")
	sbsStep       = flag.Duration("bench.step", 10*time.Second, "BenchmarkSideBySide: (d) how long each step of the rate search puts")
	sbsRefine     = flag.Int("bench.refine", 2, "BenchmarkSideBySide: (d) bisections after the first failing rate")
	sbsBound      = flag.Duration("bench.p99", 2*time.Second, "BenchmarkSideBySide: (d) the put→COMPLETED p99 a rate must stay under")
	sbsOut        = flag.String("bench.out", "", "BenchmarkSideBySide: also append the report to this file")
	sbsProfile    = flag.String("bench.profile", "", "BenchmarkSideBySide: write CPU profiles of the worker, bridge and ingest over the first -bench.profile-time of each (c) and (d) phase into this directory (go tool pprof)")
	sbsProfTime   = flag.Duration("bench.profile-time", 15*time.Second, "BenchmarkSideBySide: length of each CPU profile of -bench.profile")
)

// Buckets of the side-by-side benchmark, all on the one source s3server.
const (
	sbsSource = "sbs-source" // the objects, versioned; its replication rule is set before (c)
	sbsCopy   = "sbs-copy"   // (a) the raw copy loop writes here
	sbsRclone = "sbs-rclone" // (b) rclone copy writes here
	sbsEngine = "sbs-engine" // (c), (d): the engine's target, versioned
)

// BenchmarkSideBySide is `make bench`: on one engine (every process separate, as the
// e2e tests and the demo run it) it measures, in one run, for small (4 KiB) and large
// (64 MiB) objects:
//
//	(a) a raw copy loop (aws-sdk-go-v2, GET + streamed PUT, -bench.copy-concurrency
//	    workers) between two buckets of the source s3server: the reference;
//	(b) `rclone copy` of the same objects between two buckets of the same s3server;
//	(c) the engine's backfill of the same objects: `starter backfill` run, until every
//	    version is COMPLETED (read from the source's journal);
//	(d) the engine's steady state: the highest put rate whose put→COMPLETED p99 stays
//	    under -bench.p99 (a stepped search: double from -bench.{small,large}-rate until
//	    a step fails, then bisect), and the idle put→COMPLETED latency (-bench.idle
//	    objects put one at a time);
//
// The engine replicates to a bucket of the same s3server (the demo's shape), so all
// four copy between two buckets of one endpoint. It prints a table of absolute figures
// and ratios to (a), the steps of each search, and where the engine's time went in (c)
// and (d): the CPU used by each process and the worker's Temporal SDK timers
// (schedule-to-start and execution of workflow and activity tasks). With
// -bench.temporal=dev,postgres it measures on both Temporal servers, one engine each.
//
//	go test ./e2e/ -run '^$' -bench SideBySide -benchtime 1x -timeout 60m
//	go test ./e2e/ -run '^$' -bench SideBySide -benchtime 1x -timeout 60m -args -bench.small-count 200 -bench.large-count 2
func BenchmarkSideBySide(b *testing.B) {
	kinds := temporalKinds(b)
	var report bytes.Buffer
	var rows []benchkit.Row
	for _, kind := range kinds {
		b.Run("temporal="+kind, func(b *testing.B) {
			r := newSideBySide(b, kind, &report)
			rows = append(rows, r.run()...)
		})
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "\n=== side by side: %s, %d CPUs, load average %s, -bench.temporal=%s\n\n", time.Now().Format(time.RFC3339), runtime.NumCPU(), loadAverage(), *benchTemp)
	require.NoError(b, benchkit.WriteTable(&out, rows))
	fmt.Fprintf(&out, "\n%s", report.String())
	os.Stdout.Write(out.Bytes())
	if *sbsOut != "" {
		f, err := os.OpenFile(*sbsOut, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		require.NoError(b, err, "-bench.out")
		_, err = f.Write(out.Bytes())
		require.NoError(b, err, "-bench.out")
		require.NoError(b, f.Close(), "-bench.out")
	}
}

// workload is one object size of the side-by-side benchmark.
type workload struct {
	name      string // "4 KiB"
	prefix    string // of its keys in sbs-source
	size      int64
	count     int
	rate      float64 // first rate of the (d) search
	fillConc  int
	putConc   int // (d) puts in flight at most
	keys      []string
	groupName string
}

// sideBySide is one engine and what BenchmarkSideBySide measures on it.
type sideBySide struct {
	b        *testing.B
	kind     string
	ctx      context.Context
	e        *enginetest.Engine
	c        *s3.Client
	tail     *statusTail
	meter    *benchkit.CPUMeter
	metrics  string // the worker's /metrics address
	report   io.Writer
	starter  string
	workload []*workload
}

func newSideBySide(b *testing.B, kind string, report io.Writer) *sideBySide {
	if testing.Short() {
		b.Skip("end-to-end: starts every process of the engine")
	}
	s := &sideBySide{b: b, kind: kind, ctx: context.Background(), metrics: devstack.FreeAddr(b), report: report}
	o := enginetest.Options{Partitions: *sbsParts, LogLevel: "info",
		WorkerArgs: append(strings.Fields(*benchWorker), "--metrics-listen", s.metrics),
		BridgeArgs: strings.Fields(*benchBridge)}
	if kind == "postgres" {
		o.Temporal = []devstack.TemporalOption{devstack.TemporalPostgres()}
	}
	s.starter = devstack.Build(b, "cmd/starter")
	s.e = enginetest.Start(b, o)
	s.c = benchkit.NewClient(s.e.Src.URL, s3test.User.AccessKey, s3test.User.SecretKey)
	s.tail = newStatusTail(b, s.e.Src.URL, sbsSource)
	pids := map[string]int{"s3server": s.e.Src.Pid(), "zookeeper": s.e.ZK.Process().Pid(), "broker": s.e.Kafka.Process().Pid(),
		"temporal": s.e.Temporal.Process().Pid(), "ingest": s.e.Ingest.Pid(), "bridge": s.e.Bridge.Pid(), "worker": s.e.Worker.Pid(),
		"bench": os.Getpid()}
	if pg := s.e.Temporal.Postgres(); pg != nil {
		pids["postgres"] = pg.Pid()
	}
	s.meter = benchkit.NewCPUMeter(pids)
	if *sbsSmallCount > 0 {
		s.workload = append(s.workload, &workload{name: sizeName(int64(*sbsSmallSize)), prefix: "small/", size: int64(*sbsSmallSize),
			count: *sbsSmallCount, rate: *sbsSmallRate, fillConc: 16, putConc: 64})
	}
	if *sbsLargeCount > 0 {
		s.workload = append(s.workload, &workload{name: sizeName(int64(*sbsLargeSize)), prefix: "large/", size: int64(*sbsLargeSize),
			count: *sbsLargeCount, rate: *sbsLargeRate, fillConc: 4, putConc: 8})
	}
	for _, w := range s.workload {
		w.groupName = fmt.Sprintf("%s ×%d [%s]", w.name, w.count, kind)
	}
	return s
}

// run measures (a)-(d) for every workload and returns the rows.
func (s *sideBySide) run() []benchkit.Row {
	b := s.b
	for _, bk := range []string{sbsSource, sbsCopy, sbsRclone, sbsEngine} {
		require.NoError(b, benchkit.MakeBucket(s.ctx, s.c, bk, bk == sbsSource || bk == sbsEngine))
	}
	// Every workload's objects first, before any replication rule: (c) backfills them.
	for _, w := range s.workload {
		keys, err := benchkit.Fill(s.ctx, s.c, sbsSource, w.prefix, w.count, w.size, w.fillConc)
		require.NoError(b, err)
		w.keys = keys
	}
	rows := map[*workload][]benchkit.Row{}
	rclone, rcloneErr := exec.LookPath("rclone")
	for _, w := range s.workload {
		tp, err := benchkit.CopyLoop(s.ctx, s.c, sbsSource, sbsCopy, w.keys, *sbsConc)
		require.NoError(b, err)
		rows[w] = append(rows[w], benchkit.Row{Group: w.groupName, Name: fmt.Sprintf("(a) raw copy loop, %d workers", *sbsConc),
			Reference: true, ObjectsPerSec: tp.ObjectsPerSec(), MBPerSec: tp.MBPerSec(), Note: "aws-sdk-go-v2 GET + PUT"})
		if rcloneErr != nil {
			rows[w] = append(rows[w], benchkit.Row{Group: w.groupName, Name: "(b) rclone copy", Note: "not measured: rclone is not installed (scripts/deps.sh rclone)"})
			continue
		}
		rc := benchkit.Rclone{Bin: rclone, Endpoint: s.e.Src.URL, AccessKey: s3test.User.AccessKey, SecretKey: s3test.User.SecretKey, Transfers: *sbsConc}
		took, err := rc.Copy(s.ctx, sbsSource+"/"+strings.TrimSuffix(w.prefix, "/"), sbsRclone+"/"+strings.TrimSuffix(w.prefix, "/"))
		require.NoError(b, err)
		tp = benchkit.Throughput{Objects: w.count, Bytes: int64(w.count) * w.size, Elapsed: took}
		rows[w] = append(rows[w], benchkit.Row{Group: w.groupName, Name: fmt.Sprintf("(b) rclone copy, %d transfers", *sbsConc),
			ObjectsPerSec: tp.ObjectsPerSec(), MBPerSec: tp.MBPerSec(), Note: "process start included"})
	}

	_, err := s.c.PutBucketReplication(s.ctx, &s3.PutBucketReplicationInput{Bucket: aws.String(sbsSource),
		ReplicationConfiguration: &s3types.ReplicationConfiguration{Role: aws.String("arn:aws:iam::000000000000:role/backbeat"),
			Rules: []s3types.ReplicationRule{{ID: aws.String("bench"), Status: s3types.ReplicationRuleStatusEnabled, Prefix: aws.String(""),
				Destination: &s3types.Destination{Bucket: aws.String("arn:aws:s3:::" + sbsEngine)}}}}})
	require.NoError(b, err)
	for _, w := range s.workload {
		rows[w] = append(rows[w], s.backfill(w))
	}
	for _, w := range s.workload {
		rows[w] = append(rows[w], s.steady(w)...)
	}
	var out []benchkit.Row
	for _, w := range s.workload {
		out = append(out, rows[w]...)
	}
	return out
}

// backfill is (c): `starter backfill` of the workload's objects, timed from its start
// to the last COMPLETED status committed on the source.
func (s *sideBySide) backfill(w *workload) benchkit.Row {
	b := s.b
	ids := s.versionIDs(w.prefix)
	require.Len(b, ids, w.count, "versions under %s", w.prefix)
	phase := s.startPhase()
	start := time.Now()
	cmd := exec.CommandContext(s.ctx, s.starter, "backfill", "--bucket", sbsSource, "--prefix", w.prefix)
	cmd.Env = append(os.Environ(), "AWS_PROFILE=", "AWS_ACCESS_KEY_ID="+s3test.User.AccessKey, "AWS_SECRET_ACCESS_KEY="+s3test.User.SecretKey,
		"AWS_REGION=us-east-1", starter.EnvSourceEndpoint+"="+s.e.Src.URL,
		starter.EnvReplicationAccessKey+"="+s3test.Replication.AccessKey, starter.EnvReplicationSecretKey+"="+s3test.Replication.SecretKey)
	out, err := cmd.CombinedOutput()
	require.NoError(b, err, "starter backfill: %s", out)
	marked := time.Since(start)
	p := puts{}
	for _, id := range ids {
		p[id] = start
	}
	lat := s.tail.wait(p, max(10*time.Minute, time.Duration(w.count)*time.Second/5))
	last := slices.Max(lat)
	tp := benchkit.Throughput{Objects: w.count, Bytes: int64(w.count) * w.size, Elapsed: last}
	s.endPhase(phase, fmt.Sprintf("%s (c) backfill", w.groupName))
	return benchkit.Row{Group: w.groupName, Name: "(c) engine backfill", ObjectsPerSec: tp.ObjectsPerSec(), MBPerSec: tp.MBPerSec(),
		Note: fmt.Sprintf("starter backfill marked all in %s; last COMPLETED at %s", marked.Round(10*time.Millisecond), last.Round(10*time.Millisecond))}
}

// steady is (d): idle latency, then the rate search.
func (s *sideBySide) steady(w *workload) []benchkit.Row {
	b := s.b
	body := make([]byte, w.size)
	rand.Read(body)
	phase := s.startPhase()
	var idle []time.Duration
	for i := range *benchIdle {
		p, _ := s.paced(w, body, fmt.Sprintf("idle/%s%02d/", w.prefix, i), 1, 1)
		idle = append(idle, s.tail.wait(p, 2*time.Minute)...)
	}
	step := 0
	best, steps, err := benchkit.SearchRate(s.ctx, benchkit.Search{Start: w.rate, Refine: *sbsRefine, Bound: *sbsBound},
		func(ctx context.Context, rate float64) (benchkit.Step, error) {
			step++
			n := max(1, int(rate*sbsStep.Seconds()+0.5))
			p, took := s.paced(w, body, fmt.Sprintf("steady/%s%02d/", w.prefix, step), rate, n)
			// Every version of the step COMPLETED before the next: a failing step's
			// backlog does not spill into the next one.
			lat := s.tail.wait(p, max(10*time.Minute, time.Duration(n)*time.Second))
			// Achieved: the offered rate unless the puts fell behind it (n over the time
			// they took, at most the rate: the last put's own duration is not a lag).
			st := benchkit.Step{Rate: rate, Achieved: min(rate, float64(n)/took.Seconds()), Put: n, Done: len(lat),
				P50: benchkit.Percentile(lat, 50), P99: benchkit.Percentile(lat, 99)}
			b.Logf("%s (d) step %d: %s", w.groupName, step, st)
			return st, nil
		})
	require.NoError(b, err)
	s.endPhase(phase, fmt.Sprintf("%s (d) steady state", w.groupName))
	var trail []string
	for _, st := range steps {
		mark := "✗"
		if st.Pass(*sbsBound) {
			mark = "✓"
		}
		trail = append(trail, fmt.Sprintf("%.3g%s", st.Rate, mark))
	}
	rowD := benchkit.Row{Group: w.groupName, Name: fmt.Sprintf("(d) engine steady, p99 < %s", *sbsBound),
		ObjectsPerSec: best.Achieved, MBPerSec: best.Achieved * float64(w.size) / 1e6, P50: best.P50, P99: best.P99,
		Note: fmt.Sprintf("steps of %s: %s", *sbsStep, strings.Join(trail, " "))}
	if best.Put == 0 {
		rowD.Note = fmt.Sprintf("no rate held p99 < %s; steps: %s", *sbsBound, strings.Join(trail, " "))
	}
	for _, st := range steps {
		fmt.Fprintf(s.report, "%s (d) %s\n", w.groupName, st)
	}
	return []benchkit.Row{rowD, {Group: w.groupName, Name: "(d) engine idle put→COMPLETED", P50: benchkit.Percentile(idle, 50),
		P99: benchkit.Percentile(idle, 99), Note: fmt.Sprintf("%d objects put one at a time", len(idle))}}
}

// paced puts n objects of body under prefix at rate per second and returns their
// versions with the time each put returned, and how long the puts took.
func (s *sideBySide) paced(w *workload, body []byte, prefix string, rate float64, n int) (puts, time.Duration) {
	p := puts{}
	var mu sync.Mutex
	took, err := benchkit.Paced(s.ctx, rate, n, w.putConc, func(ctx context.Context, i int) error {
		res, err := s.c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(sbsSource), Key: aws.String(benchkit.Key(prefix, i)),
			Body: bytes.NewReader(body), ContentType: aws.String("application/octet-stream")})
		if err != nil {
			return fmt.Errorf("put %s: %w", benchkit.Key(prefix, i), err)
		}
		mu.Lock()
		p[aws.ToString(res.VersionId)] = time.Now()
		mu.Unlock()
		return nil
	})
	require.NoError(s.b, err)
	return p, took
}

// versionIDs lists the version ids under prefix in sbs-source.
func (s *sideBySide) versionIDs(prefix string) []string {
	var ids []string
	in := &s3.ListObjectVersionsInput{Bucket: aws.String(sbsSource), Prefix: aws.String(prefix)}
	for {
		res, err := s.c.ListObjectVersions(s.ctx, in)
		require.NoError(s.b, err)
		for _, v := range res.Versions {
			ids = append(ids, aws.ToString(v.VersionId))
		}
		if !aws.ToBool(res.IsTruncated) {
			return ids
		}
		in.KeyMarker, in.VersionIdMarker = res.NextKeyMarker, res.NextVersionIdMarker
	}
}

// phase is the start of a measured phase of the engine.
type phase struct {
	timers timers
	// profiles are the CPU profiles being taken (-bench.profile), by process.
	profiles map[string]<-chan []byte
}

func (s *sideBySide) startPhase() phase {
	s.meter.Reset()
	p := phase{timers: scrapeTimers(s.b, s.metrics)}
	if *sbsProfile != "" {
		p.profiles = map[string]<-chan []byte{}
		for name, addr := range map[string]string{"worker": s.metrics, "bridge": s.e.BridgeMetrics, "ingest": s.e.IngestMetrics} {
			ch := make(chan []byte, 1)
			p.profiles[name] = ch
			go func() {
				url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, int(sbsProfTime.Seconds()))
				var data []byte
				if res, err := http.Get(url); err == nil {
					data, _ = io.ReadAll(res.Body)
					res.Body.Close()
				}
				ch <- data
			}()
		}
	}
	return p
}

// saveProfiles writes the phase's CPU profiles into -bench.profile.
func (s *sideBySide) saveProfiles(p phase, name string) {
	if len(p.profiles) == 0 {
		return
	}
	require.NoError(s.b, os.MkdirAll(*sbsProfile, 0o755))
	base := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(name))
	for proc, ch := range p.profiles {
		data := <-ch
		if len(data) == 0 {
			fmt.Fprintf(s.report, "%s — no CPU profile of the %s\n", name, proc)
			continue
		}
		path := filepath.Join(*sbsProfile, base+"-"+proc+".pprof")
		require.NoError(s.b, os.WriteFile(path, data, 0o644))
	}
}

// endPhase writes where the phase's time went: CPU by process, and the worker's SDK
// timers (means over the phase).
func (s *sideBySide) endPhase(p phase, name string) {
	cpu := s.meter.Since()
	after := scrapeTimers(s.b, s.metrics)
	fmt.Fprintf(s.report, "%s — CPU: %s\n", name, cpu)
	var sdk []string
	for _, m := range []struct{ what, series string }{
		{"workflow task wait", "temporal_workflow_task_schedule_to_start_latency"},
		{"workflow task run", "temporal_workflow_task_execution_latency"},
		{"activity wait", "temporal_activity_schedule_to_start_latency"},
	} {
		if mean, ok := after.meanSince(p.timers, m.series); ok {
			sdk = append(sdk, fmt.Sprintf("%s %.1f ms", m.what, mean*1000))
		}
	}
	for _, series := range []string{"temporal_activity_execution_latency", "temporal_local_activity_execution_latency"} {
		for act, mean := range after.meansByActivity(p.timers, series) {
			sdk = append(sdk, fmt.Sprintf("%s run %.1f ms", act, mean*1000))
		}
	}
	slices.Sort(sdk[min(len(sdk), 3):])
	fmt.Fprintf(s.report, "%s — worker SDK means: %s\n", name, strings.Join(sdk, ", "))
	s.saveProfiles(p, name)
}

// meansByActivity is the mean in seconds, by activity_type label, of the observations
// of series made since prev (series is the name without the _seconds unit).
func (t timers) meansByActivity(prev timers, series string) map[string]float64 {
	sum, count := map[string]float64{}, map[string]float64{}
	for k, c := range t.count {
		n, labels, _ := strings.Cut(k, "{")
		if strings.TrimSuffix(n, "_seconds") != series {
			continue
		}
		_, v, ok := strings.Cut(labels, `activity_type="`)
		if !ok {
			continue
		}
		act, _, _ := strings.Cut(v, `"`)
		sum[act] += t.sum[k] - prev.sum[k]
		count[act] += c - prev.count[k]
	}
	out := map[string]float64{}
	for act, c := range count {
		if c > 0 {
			out[act] = sum[act] / c
		}
	}
	return out
}

func sizeName(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	default:
		return fmt.Sprintf("%d B", n)
	}
}

func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
