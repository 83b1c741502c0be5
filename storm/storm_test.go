package storm

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stormConfig is the short form (CI) unless STORM_LONG=1 (make storm SEED=N): at least
// 5000 operations and 20 kills. STORM_SEED sets the seed (default 1), STORM_OPS the
// number of operations and STORM_OUTAGE how long ZooKeeper, the broker and Temporal stay
// down (a Go duration) - to try longer outages by hand - and STORM_RATE the writer's
// pace in operations per second (long form default 8: about what the engine replicates
// on a 2-core machine, so the faults fall while it replicates).
func stormConfig(t *testing.T) Config {
	c := Config{Seed: 1}
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
// out of order, stuck, failed, duplicated or different on the target.
func TestStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("storm: starts every process of the engine, twice for ingest, bridge and worker")
	}
	r := Run(t, stormConfig(t))
	t.Logf("storm report (seed %d):\n%s", r.Seed, r.Table())
	assert.True(t, r.Result.OK(), "the storm found problems:\n%s", r.Result.Problems)
	total := 0
	for _, n := range r.Kills {
		total += n
	}
	assert.GreaterOrEqual(t, total, stormConfig(t).withDefaults().MinKills, "the storm killed as many processes as planned")
	assert.Positive(t, r.Versions)
	assert.GreaterOrEqual(t, r.Continuations, int64(10), "the partition workflows went through many continuations (ContinueAsNew on the real server)")
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
	f1, f2 := Faults(7, c, 6), Faults(7, c, 6)
	seen := map[FaultKind]bool{}
	for range 100 {
		x, y := f1(), f2()
		require.Equal(t, x, y)
		seen[x.Kind] = true
		for _, v := range x.Victims {
			assert.Less(t, v, 6)
		}
	}
	assert.Len(t, seen, 4, "kills and the three outages all occur")
}
