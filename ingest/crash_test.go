package ingest_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/internal/devstack"
)

// crashBatch is ingest's batch size in the crash tests: small, so that a stream of
// puts spans many batches and a crash lands between a produce and its offset write.
const crashBatch = 20

// progress waits until ingest moved the stored offset past from (the journal's seq
// at the call) — that is, batches flow — and the writer did at least ops more
// operations.
func (s *stack) progress(t *testing.T, w *writer, journalID string, ops int64, timeout time.Duration) {
	t.Helper()
	_, head, _ := s.readJournal(t)
	w.waitOps(t, w.n.Load()+ops, timeout)
	eventually(t, timeout, fmt.Sprintf("offset past %d", head), func() error {
		off, err := s.zkOffset(journalID)
		if err != nil {
			return err
		}
		if off <= head {
			return fmt.Errorf("offset %d", off)
		}
		return nil
	})
}

// finish stops the writer, waits until ingest caught up with the journal and checks
// the delivery: every PENDING record at least once, order per key, at most maxDups
// duplicates. It returns the topic's partition count.
func (s *stack) finish(t *testing.T, stop func(), journalID string, maxDups int) int {
	t.Helper()
	stop()
	recs, head, id := s.readJournal(t)
	require.Equal(t, journalID, id)
	pending := pendingOf(recs)
	s.waitOffset(t, journalID, head, 60*time.Second)
	msgs, parts := s.waitDelivered(t, pending, 10*time.Second)
	dups := checkDelivery(t, journalID, pending, msgs)
	t.Logf("journal head %d, %d PENDING, %d messages, %d duplicates (bound %d)", head, len(pending), len(msgs), dups, maxDups)
	assert.LessOrEqual(t, dups, maxDups, "duplicates bounded by one batch per failure")
	return parts
}

func (s *stack) journalID(t *testing.T) string {
	_, _, id := s.readJournal(t)
	return id
}

// TestCrashIngest: kill -9 of ingest twice in the middle of a stream of puts; each
// restart resumes from the stored offset. Also: the topic ingest creates has the
// default 8 partitions.
func TestCrashIngest(t *testing.T) {
	devstack.SkipShort(t, startsProcesses)
	t.Parallel()
	s := newStack(t)
	id := s.journalID(t)
	in := s.startIngest("ingest", crashBatch)
	w := &writer{s3c: s.s3c, keys: 13}
	stop := w.stream(t, 0, 3)
	const kills = 2
	for range kills {
		s.progress(t, w, id, 100, 60*time.Second)
		require.NoError(t, in.Kill())
		w.waitOps(t, w.n.Load()+50, 30*time.Second) // the journal grows while ingest is dead
		require.NoError(t, in.Start())
	}
	s.progress(t, w, id, 50, 60*time.Second)
	parts := s.finish(t, stop, id, kills*crashBatch)
	assert.Equal(t, 8, parts, "topic created with the default 8 partitions")
}

// TestCrashZooKeeper: ZooKeeper killed (kill -9) and restarted mid-stream: ingest loses
// its session, steps down, and once ZooKeeper is back takes the lock again (after the
// old session expires) and resumes from the stored offset.
func TestCrashZooKeeper(t *testing.T) {
	devstack.SkipShort(t, startsProcesses)
	t.Parallel()
	s := newStack(t)
	id := s.journalID(t)
	in := s.startIngest("ingest", crashBatch)
	w := &writer{s3c: s.s3c, keys: 13}
	stop := w.stream(t, 0, 3)
	s.progress(t, w, id, 100, 60*time.Second)
	s.zk.Kill()
	eventually(t, 30*time.Second, "ingest notices ZooKeeper is gone", func() error {
		h := in.health(t)
		if h.State == "leader" && h.Healthy {
			return fmt.Errorf("still a healthy leader")
		}
		return nil
	})
	w.waitOps(t, w.n.Load()+50, 30*time.Second)
	s.zk.Restart()
	in.waitState(t, "leader", 60*time.Second)
	s.progress(t, w, id, 50, 60*time.Second)
	s.finish(t, stop, id, crashBatch)
	assert.Contains(t, in.RunLog(), "ZooKeeper", "the session loss is logged")
}

// TestCrashBroker: the broker killed (kill -9) and restarted on its data directory
// mid-stream: produces fail, ingest retries with backoff and resumes once the broker is
// back, from the stored offset.
func TestCrashBroker(t *testing.T) {
	devstack.SkipShort(t, startsProcesses)
	t.Parallel()
	s := newStack(t)
	id := s.journalID(t)
	in := s.startIngest("ingest", crashBatch)
	w := &writer{s3c: s.s3c, keys: 13}
	stop := w.stream(t, 0, 3)
	s.progress(t, w, id, 100, 60*time.Second)
	s.kafka.Kill()
	eventually(t, 30*time.Second, "ingest reports Kafka errors", func() error {
		m, err := scrape(ctxT(t, 2*time.Second), in.metrics)
		if err != nil {
			return err
		}
		if m[`backbeat_ingest_errors_total{stage="kafka"}`] == 0 {
			return fmt.Errorf("no kafka error counted")
		}
		return nil
	})
	w.waitOps(t, w.n.Load()+50, 30*time.Second)
	s.kafka.Restart()
	s.progress(t, w, id, 50, 60*time.Second)
	s.finish(t, stop, id, crashBatch)
}

// TestTwoIngests: two ingest processes on one journal: one leads, the other stands by
// (its /healthz and /metrics say so, it produces nothing); kill -9 the leader mid-stream
// and the standby takes over with no gap.
func TestTwoIngests(t *testing.T) {
	devstack.SkipShort(t, startsProcesses)
	t.Parallel()
	s := newStack(t)
	id := s.journalID(t)
	a := s.startIngest("ingest-a", crashBatch)
	a.waitState(t, "leader", 30*time.Second)
	b := s.startIngest("ingest-b", crashBatch)
	b.waitState(t, "standby", 30*time.Second)
	w := &writer{s3c: s.s3c, keys: 13}
	stop := w.stream(t, 0, 3)
	s.progress(t, w, id, 100, 60*time.Second)

	h := b.health(t)
	assert.Equal(t, 200, h.Status, "a standby is healthy")
	assert.Equal(t, "standby", h.State)
	mb := b.scrape(t)
	assert.Zero(t, mb["backbeat_ingest_leader"])
	assert.Zero(t, mb["backbeat_ingest_messages_produced_total"], "the standby publishes nothing")
	assert.Positive(t, a.scrape(t)["backbeat_ingest_messages_produced_total"])
	require.NoError(t, b.WaitLog(ctxT(t, 5*time.Second), "standby"))

	require.NoError(t, a.Kill())
	b.waitState(t, "leader", 30*time.Second)
	s.progress(t, w, id, 50, 60*time.Second)
	s.finish(t, stop, id, crashBatch)
	assert.Positive(t, b.scrape(t)["backbeat_ingest_messages_produced_total"], "the standby took over")
}
