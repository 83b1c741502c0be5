package ingest

import (
	"context"
	"errors"
	"fmt"
	"github.com/IBM/sarama"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/bbproto/bbclient"
	"github.com/backbeat-temporal/backbeat/internal/metricsserver"
	"github.com/backbeat-temporal/backbeat/internal/tlsconf"
	"github.com/backbeat-temporal/backbeat/journal"
	"github.com/backbeat-temporal/backbeat/sweeper"
)

// Run runs ingest until ctx ends. It returns nil on a clean stop, or an error that needs
// the operator: an invalid Config, the journal truncated past the stored offset (a
// *journal.TruncatedError: backfill), or a stored offset past the journal's head (the
// journal was rolled back: fix the offset). Every other failure (s3server, Kafka or
// ZooKeeper down, a malformed record) is logged, counted and retried with backoff, never
// skipped past.
func Run(ctx context.Context, cfg Config) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	if err := cfg.Kafka.Apply(sarama.NewConfig()); err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	s3http, err := tlsconf.HTTPClient(tlsconf.Client{CAFile: cfg.S3CAFile, CAFlag: "--s3-ca-file (or AWS_CA_BUNDLE)"})
	if err != nil {
		return fmt.Errorf("ingest: s3server's CA bundle: %w", err)
	}
	bb, err := bbclient.New(bbclient.Config{Endpoint: cfg.S3Endpoint, Region: cfg.Region,
		Credentials: credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, ""), HTTP: s3http})
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	in := &ingester{cfg: cfg, log: cfg.Logger, m: newMetrics(), journal: journal.New(bb)}
	if cfg.SweepInterval >= 0 {
		in.sweeper, err = sweeper.New(sweeper.Config{Interval: cfg.SweepInterval, Threshold: cfg.SweepThreshold,
			MaxPerRound: cfg.SweepMaxPerRound, Logger: in.log.With("component", "sweeper")}, bb, sweeper.NewMetrics(in.m.reg))
		if err != nil {
			return fmt.Errorf("ingest: %w", err)
		}
	}
	_, closeMetrics, err := metricsserver.Start(cfg.MetricsListen, in.m.handler(
		metricsserver.Check{Name: "s3server", Probe: metricsserver.HTTPClientProbe(s3http, cfg.S3Endpoint)},
		metricsserver.Check{Name: "kafka", Probe: metricsserver.TCPProbe(cfg.Brokers)},
		metricsserver.Check{Name: "zookeeper", Probe: metricsserver.TCPProbe(cfg.ZooKeeper)}), in.log)
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	defer closeMetrics()
	return in.run(ctx)
}

// readSlack is how long a journal read may take beyond its long-poll wait before it is
// abandoned (a hung s3server or network).
const readSlack = 30 * time.Second

// errZKLost ends a term whose ZooKeeper session was lost.
var errZKLost = errors.New("ZooKeeper session lost (disconnected or expired): stepping down until a new session holds the lock")

// fatalError is an error that needs the operator: Run returns it instead of retrying.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }

// ingester is one ingest process.
type ingester struct {
	cfg     Config
	log     *slog.Logger
	m       *metrics
	journal *journal.Client
	sweeper *sweeper.Sweeper // nil: off; runs while this process is the leader
}

func (in *ingester) run(ctx context.Context) error {
	backoff := in.cfg.MinBackoff
	for {
		progressed, err := in.term(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var te *journal.TruncatedError
		var fe *fatalError
		if errors.As(err, &te) || errors.As(err, &fe) { // counted by term
			return fmt.Errorf("ingest: %w", err)
		}
		if progressed {
			backoff = in.cfg.MinBackoff
		}
		if err == nil { // a term never ends without an error unless ctx is done
			err = errors.New("term ended")
		}
		in.log.Error("ingest interrupted; retrying", "err", err, "retryIn", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, in.cfg.MaxBackoff)
	}
}

// term is one leadership term: lead (find the journal, take the lock, load the offset,
// open the producer), then publish until an error or the end of ctx. progressed tells
// whether any batch went through.
func (in *ingester) term(ctx context.Context) (progressed bool, err error) {
	lt, err := in.lead(ctx)
	if err != nil {
		return false, err
	}
	defer lt.close()
	in.m.setState("leader")
	defer in.m.setState("standby")
	in.log.Info("ingest is the active populator", "journalId", lt.journalID, "offset", lt.offset, "topic", in.cfg.Topic)
	tctx, end := in.startTerm(ctx, lt.zt)
	defer end()
	return in.publish(ctx, tctx, lt)
}

// leaderTerm is what a term holds while it leads: the journal it publishes, the ZooKeeper
// session with its lock, the stored offset and its znode version, the Kafka producer.
type leaderTerm struct {
	journalID string
	zt        *zkTerm
	prod      *kafkaProducer
	offset    uint64
	version   int32
}

// close closes the producer, then the ZooKeeper session (which releases the lock).
func (lt *leaderTerm) close() {
	lt.prod.Close()
	lt.zt.Close()
}

// lead finds the journal, waits for its ingest lock in ZooKeeper (standby), loads the stored
// offset and opens the Kafka producer. On error nothing stays open.
func (in *ingester) lead(ctx context.Context) (*leaderTerm, error) {
	in.m.setState("starting")
	journalID, err := in.journalID(ctx)
	if err != nil {
		in.failUnlessStopping(ctx, stageJournal, err)
		return nil, err
	}
	zt, err := dialZK(ctx, in.cfg.ZooKeeper, in.cfg.ZKSessionTimeout, in.cfg.ZKChroot, in.log)
	if err != nil {
		in.failUnlessStopping(ctx, stageZooKeeper, err)
		return nil, err
	}
	in.m.setState("standby")
	in.log.Info("standby: waiting for the ingest lock (another ingest may hold it)", "journalId", journalID, "lock", zt.lockPath(journalID))
	if err := zt.lock(ctx, journalID); err != nil {
		zt.Close()
		in.failUnlessStopping(ctx, stageZooKeeper, err)
		return nil, err
	}
	offset, version, err := zt.loadOffset(journalID, 0)
	if err != nil {
		zt.Close()
		in.m.fail(stageZooKeeper, err)
		return nil, err
	}
	prod, err := newKafkaProducer(in.cfg.Brokers, in.cfg.Kafka, in.cfg.Topic, in.cfg.Partitions)
	if err != nil {
		zt.Close()
		in.m.fail(stageKafka, err)
		return nil, err
	}
	return &leaderTerm{journalID: journalID, zt: zt, prod: prod, offset: offset, version: version}, nil
}

// startTerm returns the term's context, which ends when ctx does or the ZooKeeper session
// is lost, and starts the leader's sweeper on it (one sweeper per journal). end cancels the
// term's context and waits for the sweeper.
func (in *ingester) startTerm(ctx context.Context, zt *zkTerm) (tctx context.Context, end func()) {
	tctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-zt.lost:
			cancel()
		case <-tctx.Done():
		}
	}()
	if in.sweeper == nil {
		return tctx, cancel
	}
	swept := make(chan struct{})
	go func() { in.sweeper.Run(tctx); close(swept) }()
	return tctx, func() { cancel(); <-swept }
}

// publish reads the journal from lt's offset and publishes each batch's pending records
// to Kafka, saving the offset after each, until an error, the end of ctx (a stop: rerr is
// returned as is) or the end of tctx (the ZooKeeper session was lost). progressed tells
// whether any batch went through.
func (in *ingester) publish(ctx, tctx context.Context, lt *leaderTerm) (progressed bool, err error) {
	for {
		rctx, rcancel := context.WithTimeout(tctx, in.cfg.PollWait+readSlack)
		batch, rerr := in.journal.Read(rctx, lt.offset, in.cfg.BatchSize, in.cfg.PollWait)
		rcancel()
		if batch == nil {
			switch {
			case ctx.Err() != nil:
				return progressed, rerr // stopping: not an error
			case tctx.Err() != nil:
				in.m.fail(stageZooKeeper, errZKLost)
				return progressed, errZKLost
			}
			in.m.fail(stageJournal, rerr)
			return progressed, rerr
		}
		if err := in.checkBatch(lt, batch); err != nil {
			in.m.fail(stageJournal, err)
			return progressed, err
		}
		if tctx.Err() != nil { // the session went while reading: not the leader any more
			in.m.fail(stageZooKeeper, errZKLost)
			return progressed, errZKLost
		}
		if len(batch.Records) > 0 {
			if err := in.publishBatch(lt, batch); err != nil {
				return progressed, err
			}
			progressed = true
		}
		in.m.ok(lt.offset, batch.Head)
		if rerr != nil { // malformed record: the good ones before it are in; stop at it
			var me *journal.MalformedError
			if errors.As(rerr, &me) {
				in.m.fail(stageMalformed, rerr)
				in.log.Error("malformed journal record: ingest stops at it and retries; fix s3server's journal", "seq", me.Seq, "err", rerr)
			} else {
				in.m.fail(stageJournal, rerr)
			}
			return progressed, rerr
		}
	}
}

// checkBatch refuses a batch of another journal (s3server's data directory was replaced)
// or whose head is behind the stored offset (the journal was rolled back: fatal).
func (in *ingester) checkBatch(lt *leaderTerm, batch *journal.Batch) error {
	if batch.JournalID != lt.journalID {
		return fmt.Errorf("the journal ID changed from %s to %s (s3server's data directory was replaced): restarting on the new journal", lt.journalID, batch.JournalID)
	}
	if batch.Head < lt.offset {
		// Reading on would silently skip the records that will take seqs
		// head+1..offset: only the operator can tell what happened.
		return &fatalError{fmt.Errorf("journal %s: the stored offset %d (znode %s) is past the journal head %d: s3server's journal was rolled back (data directory restored from a backup?); refusing to skip records: stop every ingest, set the znode to the seq to resume after (or backfill) and restart", lt.journalID, lt.offset, lt.zt.offsetPath(lt.journalID), batch.Head)}
	}
	return nil
}

// publishBatch produces the batch's pending records to Kafka, then saves the batch's last
// seq as lt's offset in ZooKeeper, and counts the batch.
func (in *ingester) publishBatch(lt *leaderTerm, batch *journal.Batch) error {
	pending := make([]bbproto.Record, 0, len(batch.Records))
	for _, r := range batch.Records {
		if r.Pending() {
			pending = append(pending, r)
		}
	}
	n, err := lt.prod.Produce(lt.journalID, pending)
	if err != nil {
		in.m.fail(stageKafka, err)
		return err
	}
	last := batch.Records[len(batch.Records)-1].Seq
	version, err := lt.zt.saveOffset(lt.journalID, last, lt.version)
	if err != nil {
		in.m.fail(stageZooKeeper, err)
		return err
	}
	lt.offset, lt.version = last, version
	in.m.records.Add(float64(len(batch.Records)))
	in.m.messages.Add(float64(len(pending)))
	in.m.bytes.Add(float64(n))
	in.log.Debug("batch published", "records", len(batch.Records), "pending", len(pending), "offset", lt.offset, "head", batch.Head)
	return nil
}

// failUnlessStopping counts and records err unless ctx is done (a stop is no error).
func (in *ingester) failUnlessStopping(ctx context.Context, st stage, err error) {
	if ctx.Err() == nil {
		in.m.fail(st, err)
	}
}

// journalID asks the journal route for its ID (a zero-wait read of one record).
func (in *ingester) journalID(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, readSlack)
	defer cancel()
	b, err := in.journal.Read(ctx, 0, 1, 0)
	var te *journal.TruncatedError
	switch {
	case errors.As(err, &te) && te.JournalID != "":
		return te.JournalID, nil
	case b != nil && b.JournalID != "":
		return b.JournalID, nil
	case err != nil:
		return "", fmt.Errorf("reach s3server's journal at %s: %w", in.cfg.S3Endpoint, err)
	}
	return "", fmt.Errorf("s3server at %s sent no journal ID", in.cfg.S3Endpoint)
}
