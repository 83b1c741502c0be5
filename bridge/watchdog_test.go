package bridge

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeInspector answers the scripted snapshot.
type fakeInspector struct {
	snap groupSnapshot
	err  error
}

func (f *fakeInspector) inspect(context.Context) (groupSnapshot, error) { return f.snap, f.err }

// watchdogRig is a watchdog on a fake group and a fake clock.
type watchdogRig struct {
	w       *watchdog
	insp    *fakeInspector
	clock   time.Time
	backlog map[int32]int
	rejoins int
}

func newWatchdogRig(t *testing.T) *watchdogRig {
	t.Helper()
	cfg, err := Config{StuckAfter: time.Minute, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}.withDefaults()
	require.NoError(t, err)
	r := &watchdogRig{insp: &fakeInspector{}, clock: time.Unix(1000, 0), backlog: map[int32]int{}}
	r.w = &watchdog{cfg: cfg, log: cfg.Logger, m: newMetrics(), insp: r.insp,
		backlog: func(_ context.Context, p int32) (int, int, error) {
			if n, ok := r.backlog[p]; ok && n < 0 {
				return 0, 0, errors.New("no worker answers the query")
			}
			return r.backlog[p], 0, nil
		},
		member: func() string { return "me" },
		rejoin: func() { r.rejoins++ },
		now:    func() time.Time { return r.clock },
		seen:   map[int32]progress{}, checkInterval: 10 * time.Second}
	return r
}

// step advances the clock by d, checks and acts.
func (r *watchdogRig) step(t *testing.T, d time.Duration) verdict {
	t.Helper()
	r.clock = r.clock.Add(d)
	v, err := r.w.check(context.Background())
	require.NoError(t, err)
	r.w.act(v)
	return v
}

func stable(owners map[int32]string, committed, hwm map[int32]int64) groupSnapshot {
	return groupSnapshot{state: "Stable", owners: owners, committed: committed, hwm: hwm}
}

// A partition held by a member that does not consume it (entries wait, the committed
// offset does not move, the workflow has room) is reported after StuckAfter, on
// /healthz too, and the bridge rejoins the group once per StuckAfter; once it moves
// again, the report clears.
func TestWatchdogFindsPartitionWithDeadOwner(t *testing.T) {
	r := newWatchdogRig(t)
	r.insp.snap = stable(map[int32]string{0: "ghost", 1: "me"}, map[int32]int64{0: 5, 1: 7}, map[int32]int64{0: 9, 1: 9})
	assert.Empty(t, r.step(t, 0).stuck)
	assert.Empty(t, r.step(t, 59*time.Second).stuck, "not before StuckAfter")
	assert.NoError(t, r.w.healthy(context.Background()))

	v := r.step(t, time.Second)
	assert.Equal(t, []int32{0}, v.stuck, "the ghost's partition; never this bridge's own")
	assert.Equal(t, 1, r.rejoins)
	err := r.w.healthy(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "partitions [0]")

	assert.Empty(t, r.step(t, 10*time.Second).stuck, "another StuckAfter after a rejoin")
	assert.Equal(t, []int32{0}, r.step(t, 50*time.Second).stuck)
	assert.Equal(t, 2, r.rejoins)

	r.insp.snap = stable(map[int32]string{0: "me", 1: "other"}, map[int32]int64{0: 9, 1: 7}, map[int32]int64{0: 9, 1: 9})
	assert.Empty(t, r.step(t, 10*time.Second).stuck)
	assert.NoError(t, r.w.healthy(context.Background()), "the report clears")
}

// Not stuck: a partition without entries waiting, one whose owner keeps it paused (the
// workflow is full or does not answer), one whose offset moves.
func TestWatchdogIgnoresHealthyPartitions(t *testing.T) {
	r := newWatchdogRig(t)
	r.backlog = map[int32]int{1: 1000, 2: -1}
	committed := map[int32]int64{0: 9, 1: 3, 2: 3, 3: 1}
	r.insp.snap = stable(map[int32]string{0: "a", 1: "a", 2: "b", 3: "b"}, committed, map[int32]int64{0: 9, 1: 9, 2: 9, 3: 9})
	for i := 0; i < 10; i++ {
		committed[3]++
		assert.Empty(t, r.step(t, 30*time.Second).stuck)
	}
	assert.Zero(t, r.rejoins)
}

// A partition assigned to nobody with entries waiting is stuck, even while this bridge
// is between sessions.
func TestWatchdogFindsUnassignedPartition(t *testing.T) {
	r := newWatchdogRig(t)
	r.w.member = func() string { return "" }
	r.insp.snap = stable(map[int32]string{}, map[int32]int64{}, map[int32]int64{0: 0, 1: 4})
	r.step(t, 0)
	assert.Equal(t, []int32{1}, r.step(t, time.Minute).stuck, "the empty partition is not stuck")
}

// A rebalance pending for StuckAfter is reported, without a rejoin (it would restart
// the rebalance); the report clears once the group is stable.
func TestWatchdogReportsPendingRebalance(t *testing.T) {
	r := newWatchdogRig(t)
	r.insp.snap = groupSnapshot{state: "PreparingRebalance"}
	assert.Zero(t, r.step(t, 0).pending)
	assert.Equal(t, time.Minute, r.step(t, time.Minute).pending)
	assert.Error(t, r.w.healthy(context.Background()))
	assert.Zero(t, r.rejoins)
	r.insp.snap = stable(nil, nil, map[int32]int64{0: 0})
	assert.Zero(t, r.step(t, time.Second).pending)
	assert.NoError(t, r.w.healthy(context.Background()))
}

// cutAll closes the tracked connections (a blocked read returns at once) and refuses
// new ones.
func TestConnTrackerCutAll(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	tr := newConnTracker(time.Second, 0)
	c, err := tr.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	read := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		read <- err
	}()
	tr.cutAll()
	select {
	case err := <-read:
		assert.Error(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("a read on a cut connection did not return")
	}
	_, err = tr.Dial("tcp", ln.Addr().String())
	assert.ErrorIs(t, err, errConnsCut)
}
