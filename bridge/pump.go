package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/IBM/sarama"

	"github.com/backbeat-temporal/backbeat/contract"
)

// sink is where a partition's entries go: its workflow. The Temporal implementation is
// temporalSink; tests may use their own.
type sink interface {
	// Send delivers contiguous entries of one partition (ascending offsets); nil means
	// the workflow accepted them.
	Send(ctx context.Context, topic string, partition int32, entries []contract.Entry) error
	// Backlog returns the entries queued in the partition's workflow and their encoded
	// size in bytes.
	Backlog(ctx context.Context, topic string, partition int32) (entries, bytes int, err error)
}

// pump moves one claimed partition's messages into its workflow.
type pump struct {
	cfg       Config
	sink      sink
	log       *slog.Logger
	m         *metrics
	topic     string
	partition int32
	// pause stops (true) or restarts (false) fetching the partition.
	pause func(bool)
	// mark records msg's offset for commit (the commit happens later, periodically).
	mark func(msg *sarama.ConsumerMessage)
	// hwm returns the partition's high-water mark offset (for the lag gauge); may be nil.
	hwm func() int64
	// now returns the current time. Default time.Now.
	now func() time.Time

	batch     []contract.Entry
	bytes     int
	last      *sarama.ConsumerMessage // newest message taken, marked once its batch is sent
	sentSince int                     // entries sent since the last backlog check
	lastCheck time.Time
	lastSent  time.Time // when the last signal left (pacing, see run)
}

// run pumps msgs until the channel closes or ctx (the claim's session) ends, then sends
// what it holds with a bounded drain (parent is the process's context) and returns.
// An error means entries were not accepted: their offsets are not marked.
func (p *pump) run(parent, ctx context.Context, msgs <-chan *sarama.ConsumerMessage) error {
	if p.now == nil {
		p.now = time.Now
	}
	p.lastCheck = p.now()
	var linger <-chan time.Time
	var timer *time.Timer
	stopTimer := func() {
		if timer != nil {
			timer.Stop()
			timer, linger = nil, nil
		}
	}
	defer stopTimer()
	for {
		select {
		case msg, ok := <-msgs:
			if !ok {
				return p.drain(parent)
			}
			closed, err := p.accept(ctx, msg, msgs)
			if err != nil {
				return p.interrupted(parent, err)
			}
			if closed {
				return p.drain(parent)
			}
			if len(p.batch) == 0 && p.last == nil {
				stopTimer() // all sent
			} else if timer == nil {
				// Pacing: a batch goes at once when the partition's previous signal
				// left at least BatchLinger ago (an entry after a quiet spell waits for
				// nothing), else BatchLinger after it (under load, one signal per
				// BatchLinger carries what arrived meanwhile).
				if wait := p.lastSent.Add(p.cfg.BatchLinger).Sub(p.now()); wait > 0 {
					timer = time.NewTimer(wait)
					linger = timer.C
				} else if err := p.flush(ctx); err != nil {
					return p.interrupted(parent, err)
				}
			}
		case <-linger:
			timer, linger = nil, nil
			if err := p.flush(ctx); err != nil {
				return p.interrupted(parent, err)
			}
		case <-ctx.Done():
			return p.drain(parent)
		}
		if err := p.backpressure(ctx); err != nil {
			return p.drain(parent)
		}
	}
}

// accept takes msg and then the messages already waiting in msgs (a burst goes in one
// signal) until a batch is full (BatchEntries, BatchBytes): that batch is sent and
// accept returns, so that the backpressure check runs after every signal. closed
// reports that msgs was closed meanwhile.
func (p *pump) accept(ctx context.Context, msg *sarama.ConsumerMessage, msgs <-chan *sarama.ConsumerMessage) (closed bool, err error) {
	for {
		p.m.messages.WithLabelValues(p.label()).Inc()
		if p.hwm != nil {
			p.m.lag.WithLabelValues(p.label()).Set(float64(max(p.hwm()-msg.Offset-1, 0)))
		}
		size := len(msg.Value) + 128
		sent := false
		if len(p.batch) > 0 && p.bytes+size > p.cfg.BatchBytes {
			if err := p.flush(ctx); err != nil {
				return false, err
			}
			sent = true
		}
		p.take(msg, size)
		if len(p.batch) >= p.cfg.BatchEntries {
			if err := p.flush(ctx); err != nil {
				return false, err
			}
			sent = true
		}
		if sent {
			return false, nil
		}
		select {
		case next, ok := <-msgs:
			if !ok {
				return true, nil
			}
			msg = next
		default:
			return false, nil
		}
	}
}

// take adds msg to the batch. A message that does not decode is logged and counted, and
// its offset is marked with the batch: it can never be replicated, and blocking the
// partition on it would stop every later entry.
func (p *pump) take(msg *sarama.ConsumerMessage, size int) {
	e := contract.Entry{Topic: msg.Topic, Partition: msg.Partition, Offset: msg.Offset}
	e.JournalID, e.Seq = journalPosition(msg.Headers)
	if err := json.Unmarshal(msg.Value, &e.Record); err != nil || e.Record.Bucket == "" {
		if err == nil {
			err = errors.New("no bucket")
		}
		p.m.malformed.Inc()
		p.log.Error("Kafka message is not a journal record: it is not replicated (check what produces to the topic)",
			"topic", msg.Topic, "partition", msg.Partition, "offset", msg.Offset, "key", string(msg.Key), "err", err)
		p.last = msg
		return
	}
	p.batch = append(p.batch, e)
	p.bytes += size
	p.last = msg
}

// journalPosition reads the journal position that ingest puts in a message's headers
// (contract.HeaderJournalID, contract.HeaderSeq); "" when a header is missing or the
// seq is not a number, and the workflow then dedupes the entry by offset.
func journalPosition(headers []*sarama.RecordHeader) (journalID string, seq uint64) {
	var rawSeq string
	for _, h := range headers {
		switch string(h.Key) {
		case contract.HeaderJournalID:
			journalID = string(h.Value)
		case contract.HeaderSeq:
			rawSeq = string(h.Value)
		}
	}
	seq, err := strconv.ParseUint(rawSeq, 10, 64)
	if journalID == "" || err != nil {
		return "", 0
	}
	return journalID, seq
}

// flush sends the batch, retrying with backoff until Temporal accepts it or ctx ends,
// then marks the newest offset.
func (p *pump) flush(ctx context.Context) error {
	if p.last == nil {
		return nil
	}
	if len(p.batch) > 0 {
		backoff := p.cfg.MinBackoff
		for {
			start := time.Now()
			err := p.sink.Send(ctx, p.topic, p.partition, p.batch)
			if err == nil {
				p.lastSent = p.now()
				p.m.signals.WithLabelValues(p.label()).Inc()
				p.m.entries.WithLabelValues(p.label()).Add(float64(len(p.batch)))
				p.m.signalSeconds.Observe(time.Since(start).Seconds())
				break
			}
			p.m.signalErrors.WithLabelValues(p.label()).Inc()
			if ctx.Err() != nil {
				return fmt.Errorf("signal partition %d workflow: %w", p.partition, err)
			}
			p.log.Warn("Temporal did not accept the entries; retrying", "partition", p.partition,
				"entries", len(p.batch), "firstOffset", p.batch[0].Offset, "err", err, "retryIn", backoff)
			select {
			case <-ctx.Done():
				return fmt.Errorf("signal partition %d workflow: %w", p.partition, err)
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, p.cfg.MaxBackoff)
		}
		p.sentSince += len(p.batch)
		p.log.Debug("entries signaled", "partition", p.partition, "entries", len(p.batch),
			"firstOffset", p.batch[0].Offset, "lastOffset", p.batch[len(p.batch)-1].Offset)
	}
	p.mark(p.last)
	p.m.committed.WithLabelValues(p.label()).Set(float64(p.last.Offset))
	p.batch, p.bytes, p.last = p.batch[:0], 0, nil
	return nil
}

// drain sends what the pump holds with a bounded context detached from the ended
// session, so that a rebalance or a clean stop does not leave a batch for the next owner
// to send again.
func (p *pump) drain(parent context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), p.cfg.DrainTimeout)
	defer cancel()
	return p.flush(ctx)
}

func (p *pump) interrupted(parent context.Context, err error) error {
	if derr := p.drain(parent); derr != nil {
		return errors.Join(err, derr)
	}
	return nil
}

// backpressure checks the workflow's backlog now and then; at or above the high-water
// mark it pauses fetching the partition and polls until the backlog is at or below the
// low-water mark. A workflow that cannot be queried (no worker) counts as full: entries
// would only pile up in its state. It returns ctx's error when the claim ends.
func (p *pump) backpressure(ctx context.Context) error {
	due := p.sentSince >= max(p.cfg.HighWater/4, 1) || (p.sentSince > 0 && p.now().Sub(p.lastCheck) >= p.cfg.BacklogCheck)
	if !due {
		return nil
	}
	paused := false
	defer func() {
		if paused {
			p.pause(false)
			p.m.paused.WithLabelValues(p.label()).Set(0)
			p.log.Info("partition resumed", "partition", p.partition)
		}
	}()
	for {
		backlog, bytes, err := p.queryBacklog(ctx)
		p.lastCheck, p.sentSince = p.now(), 0
		full := backlog >= p.cfg.HighWater || bytes >= p.cfg.HighWaterBytes
		switch {
		case err == nil && !paused && !full:
			return nil
		case err == nil && paused && backlog <= p.cfg.LowWater && bytes <= p.cfg.HighWaterBytes/2:
			return nil
		case !paused:
			paused = true
			p.pause(true)
			p.m.paused.WithLabelValues(p.label()).Set(1)
			if err != nil {
				p.log.Warn("partition paused: its workflow does not answer the status query (is a worker running?)", "partition", p.partition, "err", err)
			} else {
				p.log.Info("partition paused: workflow backlog at the high-water mark", "partition", p.partition,
					"backlog", backlog, "backlogBytes", bytes, "highWater", p.cfg.HighWater, "highWaterBytes", p.cfg.HighWaterBytes)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(p.cfg.BacklogCheck):
		}
	}
}

func (p *pump) queryBacklog(ctx context.Context) (int, int, error) {
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	n, bytes, err := p.sink.Backlog(qctx, p.topic, p.partition)
	if err == nil {
		p.m.backlog.WithLabelValues(p.label()).Set(float64(n))
	}
	return n, bytes, err
}

func (p *pump) label() string { return fmt.Sprint(p.partition) }
