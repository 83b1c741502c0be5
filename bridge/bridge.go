package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/backbeat-temporal/backbeat/contract"
	"github.com/backbeat-temporal/backbeat/internal/metricsserver"
	"github.com/backbeat-temporal/backbeat/internal/tclient"
)

// Run runs the bridge until ctx ends. Kafka and Temporal being down is logged and retried
// with backoff; Run returns nil on a clean stop, or an error for a bad configuration.
func Run(ctx context.Context, cfg Config) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	if err := cfg.Kafka.Apply(sarama.NewConfig()); err != nil {
		return fmt.Errorf("bridge: %w", err)
	}
	m := newMetrics()
	b := &bridge{cfg: cfg, log: cfg.Logger, m: m}
	w := b.newWatchdog()
	temporal := &tclient.Probe{Address: cfg.TemporalAddress}
	_, closeMetrics, err := metricsserver.Start(cfg.MetricsListen, m.handler(
		metricsserver.Check{Name: "kafka", Probe: metricsserver.TCPProbe(cfg.Brokers)},
		metricsserver.Check{Name: "temporal", Probe: temporal.Check},
		metricsserver.Check{Name: "partitions", Probe: w.healthy}), cfg.Logger)
	if err != nil {
		return fmt.Errorf("bridge: %w", err)
	}
	defer closeMetrics()
	tc, err := tclient.Dial(ctx, tclient.Options{Address: cfg.TemporalAddress, Namespace: cfg.Namespace, TLS: cfg.TemporalTLS,
		Logger: cfg.Logger, MinBackoff: cfg.MinBackoff, MaxBackoff: cfg.MaxBackoff})
	if err != nil {
		if ctx.Err() != nil {
			return nil // ctx ended while waiting
		}
		return fmt.Errorf("bridge: %w", err)
	}
	defer tc.Close()
	temporal.Set(tc)
	b.sink = &temporalSink{c: tc, cfg: cfg, m: m}
	wctx, stopWatchdog := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { w.run(wctx) })
	defer func() {
		stopWatchdog()
		wg.Wait()
	}()
	return b.consume(ctx)
}

// newWatchdog makes the watchdog of b's consumer group (see watchdog); it uses b.sink,
// set before it runs.
func (b *bridge) newWatchdog() *watchdog {
	return &watchdog{
		cfg: b.cfg, log: b.log, m: b.m,
		insp: &saramaInspector{brokers: b.cfg.Brokers, group: b.cfg.Group, topic: b.cfg.Topic, config: b.saramaConfig},
		backlog: func(ctx context.Context, p int32) (int, int, error) {
			n, bytes, err := b.sink.Backlog(ctx, b.cfg.Topic, p)
			if _, ok := errors.AsType[*serviceerror.NotFound](err); ok {
				return 0, 0, nil // no workflow yet: nothing holds the partition paused
			}
			return n, bytes, err
		},
		member: func() string {
			if m := b.member.Load(); m != nil {
				return *m
			}
			return ""
		},
		rejoin: func() {
			if f := b.rejoin.Load(); f != nil {
				(*f)(errRejoin)
			}
		},
		now:           time.Now,
		seen:          map[int32]progress{},
		checkInterval: max(b.cfg.StuckAfter/6, time.Second),
	}
}

// bridge is one bridge process: a member of the consumer group.
type bridge struct {
	cfg  Config
	log  *slog.Logger
	m    *metrics
	sink sink
	// member is the bridge's member ID while it is in a group session.
	member atomic.Pointer[string]
	// rejoin ends the current group (its cause: errRejoin), nil between groups.
	rejoin atomic.Pointer[context.CancelCauseFunc]
}

// Consumer group timing. The rebalance timeout is kept under the session timeout: a
// member waiting in JoinGroup sends no heartbeat, and a coordinator that (wrongly) lets
// its session expire meanwhile (kfake does) would otherwise drop it from the group without
// an answer; a rebalance that waits for a member that never rejoins (a dead one) then
// completes without that member before the live ones' sessions expire.
const (
	sessionTimeout    = 12 * time.Second
	heartbeatInterval = 3 * time.Second
	rebalanceTimeout  = 6 * time.Second
	// joinGroupMargin is how much longer than the rebalance timeout a JoinGroup answer
	// is awaited.
	joinGroupMargin = 10 * time.Second
	// stopMargin bounds each step of leaving the group once the pumps drained: the
	// last commit, the end of Consume after its connections are closed, LeaveGroup.
	stopMargin = 3 * time.Second
)

// saramaConfig is the consumer group's configuration.
func saramaConfig() *sarama.Config {
	c := sarama.NewConfig()
	c.ClientID = "backbeat-bridge"
	c.Version = sarama.V2_8_0_0
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	c.Consumer.Offsets.AutoCommit.Enable = true
	c.Consumer.Offsets.AutoCommit.Interval = time.Second
	c.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategySticky()}
	c.Consumer.Group.Session.Timeout = sessionTimeout
	c.Consumer.Group.Heartbeat.Interval = heartbeatInterval
	c.Consumer.Group.Rebalance.Timeout = rebalanceTimeout
	c.Consumer.Return.Errors = true
	c.Net.DialTimeout = 5 * time.Second
	// A JoinGroup request is answered only when the rebalance completes, which the
	// coordinator may hold for up to the rebalance timeout while it waits for the other
	// members (killed ones included). sarama reads that answer with Net.ReadTimeout: with
	// the defaults (30 s read, 60 s rebalance) a member gave up, rejoined as a new member,
	// and after a few kill -9s of bridges the group never formed again (found by the
	// storm, seed 2; IBM/sarama#2820). Kafka's Java client waits rebalance + 5 s.
	c.Net.ReadTimeout = c.Consumer.Group.Rebalance.Timeout + joinGroupMargin
	c.Metadata.Retry.Max = 2
	return c
}

// saramaConfig is the consumer group's configuration with the Kafka security of the
// Config (checked by Run).
func (b *bridge) saramaConfig() *sarama.Config {
	c := saramaConfig()
	b.cfg.Kafka.Apply(c) // checked in Run
	return c
}

// errRejoin is the cause of a group's end asked by the watchdog.
var errRejoin = errors.New("rejoin asked by the watchdog")

// consume joins the consumer group and consumes until ctx ends, reconnecting with backoff.
func (b *bridge) consume(ctx context.Context) error {
	backoff := b.cfg.MinBackoff
	for ctx.Err() == nil {
		group, conns, err := b.newGroup()
		if err != nil {
			err = b.cfg.Kafka.Explain(err, b.cfg.Brokers)
			b.log.Error("cannot join the Kafka consumer group; retrying (is Kafka up? check --kafka-brokers)",
				"brokers", strings.Join(b.cfg.Brokers, ","), "group", b.cfg.Group, "err", err, "retryIn", backoff)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, b.cfg.MaxBackoff)
			continue
		}
		backoff = b.cfg.MinBackoff
		err = b.runGroup(ctx, group, conns)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, errRejoin) {
			b.log.Warn("left the consumer group to force a rebalance; joining again as a new member", "err", err)
			continue
		}
		b.log.Error("consumer group stopped; rejoining", "err", err, "retryIn", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, b.cfg.MaxBackoff)
	}
	return nil
}

// newGroup makes a consumer group client whose connections the bridge can close.
func (b *bridge) newGroup() (sarama.ConsumerGroup, *connTracker, error) {
	c := b.saramaConfig()
	conns := newConnTracker(c.Net.DialTimeout, c.Net.KeepAlive)
	c.Net.Proxy.Enable, c.Net.Proxy.Dialer = true, conns
	group, err := sarama.NewConsumerGroup(b.cfg.Brokers, b.cfg.Group, c)
	if err != nil {
		conns.cutAll()
		return nil, nil, err
	}
	return group, conns, nil
}

// runGroup consumes with group until ctx ends, the group fails or the watchdog asks for
// a rejoin (errRejoin), then leaves the group. Once ctx ends it returns within
// DrainTimeout plus a few seconds (stopMargin), even inside a pending rebalance: a
// session gets DrainTimeout to drain its pumps and commit; a member still waiting in
// JoinGroup has nothing to drain and its connections are closed at once.
func (b *bridge) runGroup(ctx context.Context, group sarama.ConsumerGroup, conns *connTracker) error {
	gctx, rejoin := context.WithCancelCause(ctx)
	defer rejoin(nil)
	b.rejoin.Store(&rejoin)
	defer b.rejoin.Store(nil)
	done := make(chan error, 1)
	go func() { done <- b.session(gctx, group) }()
	var err error
	select {
	case err = <-done:
	case <-gctx.Done():
		err = b.stopSession(done, conns)
	}
	b.closeGroup(group, conns)
	if ctx.Err() == nil && gctx.Err() != nil {
		return context.Cause(gctx)
	}
	return err
}

// stopSession waits for the session (done) to end after its context ended: up to
// DrainTimeout plus stopMargin inside a session, then (or at once outside of one, e.g.
// in JoinGroup) it closes the group's connections so that sarama returns.
func (b *bridge) stopSession(done <-chan error, conns *connTracker) error {
	if b.m.ready.Load() {
		select {
		case err := <-done:
			return err
		case <-time.After(b.cfg.DrainTimeout + stopMargin):
			b.log.Warn("the consumer group session did not end within the drain timeout; closing its Kafka connections",
				"drainTimeout", b.cfg.DrainTimeout)
		}
	}
	conns.cutAll()
	select {
	case err := <-done:
		return err
	case <-time.After(stopMargin):
		b.log.Error("the consumer group did not stop after its Kafka connections were closed; abandoning it")
		return errors.New("consumer group did not stop")
	}
}

// closeGroup leaves the group (LeaveGroup, so that the others rebalance at once), within
// stopMargin, then closes its connections.
func (b *bridge) closeGroup(group sarama.ConsumerGroup, conns *connTracker) {
	closed := make(chan struct{})
	go func() {
		group.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(stopMargin):
		b.log.Warn("leaving the consumer group takes too long; closing its Kafka connections")
		conns.cutAll()
		select {
		case <-closed:
		case <-time.After(stopMargin):
			b.log.Error("the consumer group did not close; abandoning it")
		}
	}
	conns.cutAll()
}

// session runs Consume in a loop (one call per generation of the group) until ctx ends
// or the group fails.
func (b *bridge) session(ctx context.Context, group sarama.ConsumerGroup) error {
	// The errors channel closes when the caller closes the group.
	go func() {
		for err := range group.Errors() {
			b.log.Warn("Kafka consumer error", "err", err)
		}
	}()
	h := &groupHandler{b: b, parent: ctx, group: group}
	for {
		err := group.Consume(ctx, []string{b.cfg.Topic}, h)
		b.m.ready.Store(false)
		b.member.Store(nil)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if errors.Is(err, sarama.ErrClosedConsumerGroup) {
				return err
			}
			return fmt.Errorf("consume %s: %w", b.cfg.Topic, err)
		}
	}
}

// groupHandler runs one pump per claimed partition.
type groupHandler struct {
	b      *bridge
	parent context.Context
	group  sarama.ConsumerGroup
}

// Setup logs the claims of a new generation.
func (h *groupHandler) Setup(sess sarama.ConsumerGroupSession) error {
	claims := sess.Claims()[h.b.cfg.Topic]
	h.b.m.claimed.Set(float64(len(claims)))
	h.b.m.ready.Store(true)
	member := sess.MemberID()
	h.b.member.Store(&member)
	h.b.log.Info("partitions claimed", "topic", h.b.cfg.Topic, "partitions", claims, "generation", sess.GenerationID(), "member", sess.MemberID())
	return nil
}

// Cleanup commits the marked offsets before the partitions move.
func (h *groupHandler) Cleanup(sess sarama.ConsumerGroupSession) error {
	sess.Commit()
	return nil
}

// ConsumeClaim pumps one partition until the claim ends.
func (h *groupHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	topic, part := claim.Topic(), claim.Partition()
	p := &pump{
		cfg: h.b.cfg, sink: h.b.sink, log: h.b.log.With("topic", topic, "partition", part), m: h.b.m,
		topic: topic, partition: part,
		pause: func(on bool) {
			parts := map[string][]int32{topic: {part}}
			if on {
				h.group.Pause(parts)
			} else {
				h.group.Resume(parts)
			}
		},
		mark: func(msg *sarama.ConsumerMessage) { sess.MarkMessage(msg, "") },
		hwm:  claim.HighWaterMarkOffset,
	}
	p.log.Info("consuming partition", "from", claim.InitialOffset())
	h.b.m.claim(part)
	stopPoll := pollStatus(sess.Context(), p)
	defer stopPoll()
	err := p.run(h.parent, sess.Context(), claim.Messages())
	if err != nil {
		p.log.Error("partition stopped with entries Temporal did not accept; the next owner resends them", "err", err)
	}
	return nil
}

// temporalSink sends entries to partition workflows with SignalWithStartWorkflow.
type temporalSink struct {
	c   client.Client
	cfg Config
	m   *metrics // exports each status answer (workflowStatus); nil: not exported
}

// Send signals the partition's workflow, starting it when it is not running.
func (s *temporalSink) Send(ctx context.Context, topic string, partition int32, entries []contract.Entry) error {
	id := contract.WorkflowID(topic, partition)
	opts := client.StartWorkflowOptions{ID: id, TaskQueue: s.cfg.TaskQueue}
	params := contract.Params{Topic: topic, Partition: partition, Config: s.cfg.Workflow}
	_, err := s.c.SignalWithStartWorkflow(ctx, id, contract.SignalEntries, contract.EntriesSignal{Entries: entries}, opts, contract.WorkflowName, params)
	return err
}

// Backlog asks the partition's workflow for its queue length.
func (s *temporalSink) Backlog(ctx context.Context, topic string, partition int32) (int, int, error) {
	v, err := s.c.QueryWorkflow(ctx, contract.WorkflowID(topic, partition), "", contract.QueryStatus)
	if err != nil {
		return 0, 0, err
	}
	var st contract.Status
	if err := v.Get(&st); err != nil {
		return 0, 0, fmt.Errorf("decode status: %w", err)
	}
	if s.m != nil {
		s.m.workflowStatus(partition, st, time.Now())
	}
	return st.Backlog, st.BacklogBytes, nil
}
