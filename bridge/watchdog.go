package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
)

// groupSnapshot is what the watchdog reads of the consumer group and its topic.
type groupSnapshot struct {
	// state is the group's state ("Stable", "PreparingRebalance", ...).
	state string
	// owners maps each assigned partition to its member ID.
	owners map[int32]string
	// committed maps partitions to the group's committed offset (absent: none).
	committed map[int32]int64
	// hwm maps every partition of the topic to its high-water mark.
	hwm map[int32]int64
}

// groupInspector reads the consumer group's state.
type groupInspector interface {
	inspect(ctx context.Context) (groupSnapshot, error)
}

// progress is where a partition stood when the watchdog last saw it move.
type progress struct {
	owner     string
	committed int64
	since     time.Time
}

// watchdog finds partitions claimed by no live bridge: entries wait in Kafka (the
// partition's committed offset is below its high-water mark and has not moved for
// Config.StuckAfter) while the partition's workflow has room (its owner would not keep
// it paused) and the partition is not this bridge's; or a group that stays out of the
// Stable state (rebalancing) for StuckAfter, reported only. Kafka keeps such a partition with a member that no longer consumes it
// (a coordinator bug: kfake keeps a member killed in the middle of its JoinGroup
// forever) or with nobody. The watchdog then reports it on /healthz (503) and in the
// metrics, logs an error, and for stuck partitions rejoins the group (at most once per
// StuckAfter), which forces a rebalance that completes without the dead member.
type watchdog struct {
	cfg     Config
	log     *slog.Logger
	m       *metrics
	insp    groupInspector
	backlog func(ctx context.Context, partition int32) (entries, bytes int, err error)
	// member returns this bridge's member ID ("" outside of a session).
	member func() string
	// rejoin ends the bridge's group membership so that it joins again.
	rejoin func()
	now    func() time.Time

	seen          map[int32]progress
	pendingSince  time.Time
	lastRejoin    time.Time
	problem       atomic.Pointer[string] // what /healthz reports; nil: fine
	checkInterval time.Duration
}

// verdict is one check's finding.
type verdict struct {
	stuck   []int32       // partitions claimed by no live bridge
	pending time.Duration // how long a rebalance has been pending, once over StuckAfter
}

// run checks the group every checkInterval until ctx ends.
func (w *watchdog) run(ctx context.Context) {
	t := time.NewTicker(w.checkInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		v, err := w.check(ctx)
		if err != nil {
			w.log.Debug("watchdog: cannot read the consumer group", "err", err)
			continue
		}
		w.act(v)
	}
}

// check reads the group and returns what is stuck.
func (w *watchdog) check(ctx context.Context) (verdict, error) {
	cctx, cancel := context.WithTimeout(ctx, w.checkInterval)
	defer cancel()
	snap, err := w.insp.inspect(cctx)
	if err != nil {
		return verdict{}, err
	}
	now := w.now()
	var v verdict
	if snap.state != "Stable" {
		if w.pendingSince.IsZero() {
			w.pendingSince = now
		}
		if d := now.Sub(w.pendingSince); d >= w.cfg.StuckAfter {
			v.pending = d
		}
		return v, nil
	}
	w.pendingSince = time.Time{}
	me := w.member()
	for p, hwm := range snap.hwm {
		committed, ok := snap.committed[p]
		if !ok || committed < 0 {
			committed = 0
		}
		owner := snap.owners[p]
		last, ok := w.seen[p]
		if !ok || hwm <= committed || last.owner != owner || last.committed != committed {
			w.seen[p] = progress{owner: owner, committed: committed, since: now}
			continue
		}
		if owner == me && me != "" || now.Sub(last.since) < w.cfg.StuckAfter {
			continue
		}
		// The owner may keep the partition paused: its workflow is full.
		n, bytes, err := w.backlog(cctx, p)
		if err != nil || n > w.cfg.LowWater || bytes > w.cfg.HighWaterBytes/2 {
			continue
		}
		v.stuck = append(v.stuck, p)
	}
	slices.Sort(v.stuck)
	return v, nil
}

// act reports v and rejoins the group when something is stuck.
func (w *watchdog) act(v verdict) {
	w.m.stuck.Set(float64(len(v.stuck)))
	if len(v.stuck) == 0 && v.pending == 0 {
		w.problem.Store(nil)
		return
	}
	var msg string
	if v.pending > 0 {
		msg = fmt.Sprintf("the consumer group's rebalance has been pending for %s", v.pending.Round(time.Second))
	} else {
		msg = fmt.Sprintf("partitions %v of %s have entries that no live bridge consumes for over %s", v.stuck, w.cfg.Topic, w.cfg.StuckAfter)
	}
	w.problem.Store(&msg)
	if len(v.stuck) == 0 {
		// A rejoin would restart the rebalance: report only.
		w.log.Error("consumer group stuck: "+msg+" (see every bridge's log; describe the group: kafka-consumer-groups --describe --group "+w.cfg.Group+")",
			"pending", v.pending)
		return
	}
	now := w.now()
	rejoin := w.lastRejoin.IsZero() || now.Sub(w.lastRejoin) >= w.cfg.StuckAfter
	w.log.Error("consumer group stuck: "+msg+"; rejoining the group to force a rebalance (describe the group: kafka-consumer-groups --describe --group "+w.cfg.Group+")",
		"partitions", v.stuck, "rejoin", rejoin)
	if !rejoin {
		return
	}
	w.lastRejoin = now
	for _, p := range v.stuck {
		st := w.seen[p]
		st.since = now // another StuckAfter before the next report
		w.seen[p] = st
	}
	w.m.rejoins.Inc()
	w.rejoin()
}

// healthy is the watchdog's /healthz check.
func (w *watchdog) healthy(context.Context) error {
	if p := w.problem.Load(); p != nil {
		return errors.New(*p)
	}
	return nil
}

// saramaInspector reads the group with a Kafka admin client per inspection.
type saramaInspector struct {
	brokers []string
	group   string
	topic   string
	config  func() *sarama.Config
}

func (s *saramaInspector) inspect(context.Context) (groupSnapshot, error) {
	c := s.config()
	c.ClientID = "backbeat-bridge-watchdog"
	c.Net.ReadTimeout = 10 * time.Second
	client, err := sarama.NewClient(s.brokers, c)
	if err != nil {
		return groupSnapshot{}, err
	}
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		client.Close()
		return groupSnapshot{}, err
	}
	defer admin.Close() // closes client
	parts, err := client.Partitions(s.topic)
	if err != nil {
		return groupSnapshot{}, fmt.Errorf("partitions of %s: %w", s.topic, err)
	}
	snap := groupSnapshot{owners: map[int32]string{}, committed: map[int32]int64{}, hwm: map[int32]int64{}}
	for _, p := range parts {
		if snap.hwm[p], err = client.GetOffset(s.topic, p, sarama.OffsetNewest); err != nil {
			return groupSnapshot{}, fmt.Errorf("high-water mark of %s/%d: %w", s.topic, p, err)
		}
	}
	ds, err := admin.DescribeConsumerGroups([]string{s.group})
	if err != nil || len(ds) != 1 {
		return groupSnapshot{}, fmt.Errorf("describe group %s: %w (%d groups)", s.group, err, len(ds))
	}
	snap.state = ds[0].State
	for id, m := range ds[0].Members {
		a, err := m.GetMemberAssignment()
		if err != nil {
			return groupSnapshot{}, fmt.Errorf("assignment of member %s: %w", id, err)
		}
		if a == nil {
			continue
		}
		for _, p := range a.Topics[s.topic] {
			snap.owners[p] = id
		}
	}
	offs, err := admin.ListConsumerGroupOffsets(s.group, map[string][]int32{s.topic: parts})
	if err != nil {
		return groupSnapshot{}, fmt.Errorf("offsets of group %s: %w", s.group, err)
	}
	for _, p := range parts {
		if b := offs.GetBlock(s.topic, p); b != nil && b.Offset >= 0 {
			snap.committed[p] = b.Offset
		}
	}
	return snap, nil
}
