package storm

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/internal/devstack"
)

// stormConfig is the short form (CI) unless STORM_LONG=1 (make storm SEED=N): at least
// 5000 operations and 20 kills. STORM_TEMPORAL sets the Temporal (dev, the default, or
// postgres: the server on PostgreSQL; make storm TEMPORAL=postgres) and STORM_SHARDS its
// history shards (default 4). STORM_SEED sets the seed (default 1), STORM_OPS the
// number of operations and STORM_OUTAGE how long ZooKeeper, the broker and Temporal stay
// down (a Go duration) - to try longer outages by hand - and STORM_RATE the writer's
// pace in operations per second (long form default 8: about what the engine replicates
// on a 2-core machine, so the faults fall while it replicates).
func stormConfig(t *testing.T) Config {
	c := Config{Seed: 1, Temporal: os.Getenv("STORM_TEMPORAL")}
	if v := os.Getenv("STORM_SHARDS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "STORM_SHARDS must be an integer")
		c.Shards = n
	}
	require.NoError(t, c.Validate(), "STORM_TEMPORAL and STORM_SHARDS")
	if v := os.Getenv("STORM_SEED"); v != "" {
		seed, err := strconv.ParseInt(v, 10, 64)
		require.NoError(t, err, "STORM_SEED must be an integer")
		c.Seed = seed
	}
	if os.Getenv("STORM_LONG") == "1" {
		c.Ops, c.Keys, c.MinKills, c.FaultGap, c.Quiescence, c.Rate = 5000, 100, 20, 4*time.Second, 30*time.Minute, 8
	}
	if v := os.Getenv("STORM_RATE"); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		require.NoError(t, err, "STORM_RATE must be a number of operations per second")
		c.Rate = r
	}
	if v := os.Getenv("STORM_OPS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "STORM_OPS must be an integer")
		c.Ops = n
	}
	if v := os.Getenv("STORM_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		require.NoError(t, err, "STORM_OUTAGE must be a Go duration (30s, 2m)")
		c.Outage = d
	}
	return c
}

// TestStorm runs a seeded storm (see Run) and requires a perfect result: nothing lost,
// out of order, stuck, failed, duplicated or different on the target, though the source
// and the target s3server were each killed -9 at least once.
func TestStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("storm: starts every process of the engine, twice for ingest, bridge and worker")
	}
	c := stormConfig(t)
	requirePerfect(t, c, Run(t, c))
}

// TestStormPostgresShort is the short form on the production-shaped Temporal (the
// server on PostgreSQL, 4 history shards, as docker-compose.yml): besides the engine's
// processes it kills -9 the Temporal server and PostgreSQL at least once each, and
// requires a perfect result.
func TestStormPostgresShort(t *testing.T) {
	if testing.Short() {
		t.Skip("storm: starts PostgreSQL, the Temporal server and every process of the engine")
	}
	c := Config{Seed: 1, Temporal: TemporalPostgres}
	r := Run(t, c)
	requirePerfect(t, c, r)
	assert.Equal(t, devstack.DefaultTemporalShards, r.Shards)
	assert.Positive(t, r.Kills["temporal-server"], "the Temporal server was killed -9")
	assert.Positive(t, r.Kills["postgres"], "PostgreSQL was killed -9")
}

// requirePerfect logs r's table and requires a perfect result of the storm of c.
func requirePerfect(t *testing.T, c Config, r Report) {
	t.Helper()
	t.Logf("storm report (seed %d):\n%s", r.Seed, r.Table())
	assert.True(t, r.Result.OK(), "the storm found problems:\n%s", r.Result.Problems)
	total := 0
	for _, n := range r.Kills {
		total += n
	}
	assert.GreaterOrEqual(t, total, c.withDefaults().MinKills, "the storm killed as many processes as planned")
	assert.Positive(t, r.Versions)
	assert.Positive(t, r.Kills[SourceS3Server], "the source s3server was killed -9 (the writer's endpoint)")
	assert.Positive(t, r.Kills[TargetS3Server], "the target s3server was killed -9 (the workers' endpoint)")
	assert.GreaterOrEqual(t, r.Continuations, int64(10), "the partition workflows went through many continuations (ContinueAsNew on the real server)")
}

func TestConfigValidate(t *testing.T) {
	for _, kind := range []string{"", TemporalDev, TemporalPostgres} {
		assert.NoError(t, Config{Temporal: kind}.Validate(), "Temporal %q", kind)
	}
	err := Config{Temporal: "sqlite"}.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown Temporal "sqlite"`)
	assert.Contains(t, err.Error(), `"postgres"`, "the error says what to use")
	assert.Error(t, Config{Temporal: TemporalPostgres, Shards: -1}.Validate())

	dev, pg := Config{}.withDefaults(), Config{Temporal: TemporalPostgres}.withDefaults()
	assert.Equal(t, TemporalDev, dev.Temporal, "the dev server by default")
	assert.Equal(t, 1, dev.Shards, "the dev server has one history shard")
	assert.Equal(t, devstack.DefaultTemporalShards, pg.Shards, "as docker-compose.yml")
	assert.Equal(t, "server on PostgreSQL, 4 history shards", temporalKind(pg.Temporal, pg.Shards))
	assert.Equal(t, "dev server (SQLite), 1 history shard", temporalKind(dev.Temporal, dev.Shards))
}

func TestPlanAndFaultsAreSeeded(t *testing.T) {
	c := Config{Ops: 500}
	a, b := Plan(7, c), Plan(7, c)
	require.Equal(t, a, b, "same seed, same plan")
	require.NotEqual(t, a, Plan(8, c), "another seed, another plan")
	kinds := map[OpKind]int{}
	for _, op := range a {
		kinds[op.Kind]++
	}
	for k := OpPut; k <= OpMultipart; k++ {
		assert.Positive(t, kinds[k], "the plan has %s operations", k)
	}
	// On the dev server the storm kills eight processes: the engine's six and the two
	// s3servers.
	f1, f2 := Faults(7, c, 8), Faults(7, c, 8)
	seen := map[FaultKind]bool{}
	for range 100 {
		x, y := f1(), f2()
		require.Equal(t, x, y)
		seen[x.Kind] = true
		for _, v := range x.Victims {
			assert.Less(t, v, 8)
		}
	}
	assert.Len(t, seen, 4, "kills and the three outages all occur")
	assert.False(t, seen[FaultPostgres], "no PostgreSQL on the dev server")

	// On PostgreSQL the storm kills two more processes (the Temporal server and
	// PostgreSQL: indexes 6 and 7, the s3servers 8 and 9) and also stops PostgreSQL.
	pc := Config{Ops: 500, Temporal: TemporalPostgres}
	p1, p2, d := Faults(7, pc, 10), Faults(7, pc, 10), Faults(7, c, 10)
	seen = map[FaultKind]bool{}
	victims := map[int]int{}
	differs := false
	for range 200 {
		x, y := p1(), p2()
		require.Equal(t, x, y, "same seed and Temporal, same faults")
		differs = differs || !assert.ObjectsAreEqual(x, d())
		seen[x.Kind] = true
		for _, v := range x.Victims {
			victims[v]++
		}
	}
	assert.Len(t, seen, 5, "kills and the four outages all occur")
	assert.Len(t, victims, 10, "every process is killed, the Temporal server, PostgreSQL and the s3servers too")
	assert.True(t, differs, "another Temporal, other faults")
}

// TestWriterRetriesUnansweredCalls: a call the source did not answer (a connection
// error: its s3server was killed) is done again until the source answers; an answered
// error ends the operation at once; neither fails silently.
func TestWriterRetriesUnansweredCalls(t *testing.T) {
	s := &storm{report: Report{Ops: map[OpKind]int{}}}
	calls := 0
	err := s.retry(func() error {
		calls++
		if calls < 3 {
			return &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 3, calls, "done again until the source answered")
	assert.Equal(t, 1, s.report.Unanswered, "one operation went unanswered")

	calls = 0
	answered := &smithy.GenericAPIError{Code: "NoSuchBucket", Message: "no bucket"}
	err = s.retry(func() error { calls++; return fmt.Errorf("put: %w", answered) })
	require.ErrorIs(t, err, answered, "an error the source answered is the writer's error")
	assert.Equal(t, 1, calls, "an answered error is not retried")
	assert.Equal(t, 1, s.report.Unanswered)
}
