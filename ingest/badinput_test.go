package ingest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/backbeat-temporal/backbeat/bbproto"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/internal/devstack"
	"github.com/backbeat-temporal/backbeat/journal"
	"github.com/backbeat-temporal/backbeat/s3server/s3test"
)

// fakeJournal serves the journal route as s3server does (JSON lines after ?after=, the
// ID and head headers) from a fixed list of lines: a way to put a malformed line in a
// journal, which the real s3server never writes.
type fakeJournal struct {
	id    string
	lines atomic.Pointer[[]string] // line i holds seq i+1
	reads atomic.Int64
}

func (f *fakeJournal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/_/backbeat/journal" {
		http.NotFound(w, r)
		return
	}
	f.reads.Add(1)
	after, _ := strconv.Atoi(r.URL.Query().Get("after"))
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	lines := *f.lines.Load()
	w.Header().Set("X-Backbeat-Journal-Id", f.id)
	w.Header().Set("X-Backbeat-Journal-Head", strconv.Itoa(len(lines)))
	w.Header().Set("Content-Type", "application/x-ndjson")
	if after >= len(lines) {
		// Nothing new: a short long-poll, bounded by the request's wait.
		wait, _ := time.ParseDuration(r.URL.Query().Get("wait"))
		select {
		case <-time.After(min(wait, 200*time.Millisecond)):
		case <-r.Context().Done():
		}
		return
	}
	end := len(lines)
	if limit > 0 {
		end = min(end, after+limit)
	}
	for _, l := range lines[after:end] {
		fmt.Fprintln(w, l)
	}
}

func recordLine(t testing.TB, r bbproto.Record) string {
	b, err := json.Marshal(r)
	require.NoError(t, err)
	return string(b)
}

// TestMalformedRecord: a journal line that does not parse is reported with its seq
// (log, /metrics, /healthz), the good records before it go to Kafka and the offset
// stops right before it; ingest retries the same seq and never skips past it; once the
// journal serves a good record there, ingest moves on.
func TestMalformedRecord(t *testing.T) {
	devstack.SkipShort(t, startsProcesses)
	t.Parallel()
	zkp := devstack.StartZooKeeper(t)
	kafka := devstack.StartBroker(t, devstack.BrokerPartitions(brokerAutoPartitions))
	fj := &fakeJournal{id: "fakejournal0001"}
	var good []bbproto.Record
	var lines []string
	for i := 1; i <= 5; i++ {
		r := bbproto.Record{Seq: uint64(i), Time: time.Now().UTC(), Op: bbproto.OpPut, Bucket: srcBucket, Key: fmt.Sprintf("k%d", i%2),
			VersionID: fmt.Sprintf("v%d", i), Size: 1, LastModified: time.Now().UTC(),
			Replication: &bbproto.Replication{Status: bbproto.StatusPending, Destination: "arn:aws:s3:::target"}}
		if i == 3 {
			r.Bucket, r.Replication = plainBucket, nil // not PENDING
		}
		good = append(good, r)
		lines = append(lines, recordLine(t, r))
	}
	bad := append(append([]string{}, lines...), `{"seq":6,"op":"put","bucket":"src","key":`) // cut short
	fj.lines.Store(&bad)
	srv := httptest.NewServer(fj)
	t.Cleanup(srv.Close)

	s := &stack{t: t, zk: zkp, kafka: kafka, bin: devstack.Build(t, "cmd/ingest"), s3: &s3test.Process{URL: srv.URL},
		secretFile: s3test.Replication.SecretFile(t)}
	in := s.startIngest("ingest", 100)
	s.waitOffset(t, fj.id, 5, 30*time.Second)
	pending := pendingOf(good)
	msgs, _ := s.waitDelivered(t, pending, 10*time.Second)
	assert.Zero(t, checkDelivery(t, fj.id, pending, msgs))

	// It keeps retrying seq 6 and never moves past it.
	eventually(t, 30*time.Second, "three reports of the malformed record", func() error {
		m, err := scrape(ctxT(t, 2*time.Second), in.metrics)
		if err != nil {
			return err
		}
		if n := m[`backbeat_ingest_errors_total{stage="malformed"}`]; n < 3 {
			return fmt.Errorf("%v malformed errors", n)
		}
		return nil
	})
	off, err := s.zkOffset(fj.id)
	require.NoError(t, err)
	assert.Equal(t, uint64(5), off, "the offset stops before the malformed record")
	log := in.RunLog()
	assert.Contains(t, log, `"seq":6`, "the log names the seq")
	assert.Contains(t, log, "journal record at seq 6 is malformed")
	h := in.health(t)
	assert.Equal(t, http.StatusServiceUnavailable, h.Status)
	assert.False(t, h.Healthy)
	assert.Contains(t, h.LastError, "seq 6")
	msgs, _, err = readTopic(kafka.Addr(), topic)
	require.NoError(t, err)
	assert.Len(t, msgs, len(pending), "nothing after the malformed record was produced")

	// The journal is repaired: seq 6 parses, and ingest carries on.
	r6 := good[0]
	r6.Seq, r6.Key, r6.VersionID = 6, "k6", "v6"
	fixed := append(append([]string{}, lines...), recordLine(t, r6))
	fj.lines.Store(&fixed)
	s.waitOffset(t, fj.id, 6, 30*time.Second)
	pending = append(pending, r6)
	msgs, _ = s.waitDelivered(t, pending, 10*time.Second)
	checkDelivery(t, fj.id, pending, msgs)
	in.waitHealthy(t)
}

func (p *ingestProc) waitHealthy(t testing.TB) {
	t.Helper()
	eventually(t, 30*time.Second, p.Name()+" healthy", func() error {
		h, err := healthz(ctxT(t, 2*time.Second), p.metrics)
		if err != nil {
			return err
		}
		if h.Status != http.StatusOK || !h.Healthy {
			return fmt.Errorf("%d %+v", h.Status, h)
		}
		return nil
	})
}

// TestS3ServerDown: s3server down when ingest starts: a clear error is logged and
// counted, /healthz says unhealthy, ingest retries and proceeds once s3server is up.
// s3server killed mid-way: same.
func TestS3ServerDown(t *testing.T) {
	devstack.SkipShort(t, startsProcesses)
	t.Parallel()
	s := newStack(t)
	s.s3.Kill()
	in := s.startIngest("ingest", 50)
	require.NoError(t, in.WaitLog(ctxT(t, 30*time.Second), "reach s3server's journal at "+s.s3.URL))
	eventually(t, 10*time.Second, "unhealthy while s3server is down", func() error {
		h, err := healthz(ctxT(t, 2*time.Second), in.metrics)
		if err != nil {
			return err
		}
		if h.Status != http.StatusServiceUnavailable || !strings.Contains(h.LastError, "connection refused") {
			return fmt.Errorf("%d %+v", h.Status, h)
		}
		return nil
	})
	assert.Positive(t, in.scrape(t)[`backbeat_ingest_errors_total{stage="journal"}`])

	s.s3.Restart()
	in.waitState(t, "leader", 30*time.Second)
	w := &writer{s3c: s.s3c, keys: 5}
	w.run(context.Background(), 0, 40, 2)
	require.Nil(t, w.err.Load())
	recs, head, id := s.readJournal(t)
	s.waitOffset(t, id, head, 30*time.Second)
	pending := pendingOf(recs)
	msgs, _ := s.waitDelivered(t, pending, 10*time.Second)
	assert.Zero(t, checkDelivery(t, id, pending, msgs))
	in.waitHealthy(t)

	// Killed while ingest tails it: ingest retries and catches up after the restart.
	s.s3.Kill()
	eventually(t, 30*time.Second, "a journal error while s3server is down", func() error {
		h, err := healthz(ctxT(t, 2*time.Second), in.metrics)
		if err != nil {
			return err
		}
		if h.Healthy {
			return errors.New("still healthy")
		}
		return nil
	})
	s.s3.Restart()
	w.run(context.Background(), 40, 40, 2)
	require.Nil(t, w.err.Load())
	recs, head, _ = s.readJournal(t)
	s.waitOffset(t, id, head, 30*time.Second)
	pending = pendingOf(recs)
	msgs, _ = s.waitDelivered(t, pending, 10*time.Second)
	assert.Zero(t, checkDelivery(t, id, pending, msgs))
}

// TestJournalTruncated: records after the stored offset were removed by s3server's
// retention while ingest was stopped: ingest refuses to skip them and exits non-zero
// with a message that tells the operator to backfill.
func TestJournalTruncated(t *testing.T) {
	devstack.SkipShort(t, startsProcesses)
	t.Parallel()
	s := newStack(t, "--journal-retention", "10")
	in := s.startIngest("ingest", 50)
	w := &writer{s3c: s.s3c, keys: 3}
	w.run(context.Background(), 0, 3, 1)
	require.Nil(t, w.err.Load())
	_, head, id := s.readJournal(t)
	s.waitOffset(t, id, head, 30*time.Second)
	require.NoError(t, in.Stop())

	w.run(context.Background(), 3, 30, 1) // well past the 10 kept records
	require.Nil(t, w.err.Load())
	eventually(t, 10*time.Second, "retention removed the records after the offset", func() error {
		_, err := s.journalClient().Read(ctxT(t, 5*time.Second), head, 1, 0)
		var te *journal.TruncatedError
		if !errors.As(err, &te) {
			return fmt.Errorf("read after %d: %v", head, err)
		}
		return nil
	})

	// Started without a readiness probe: it may exit before /healthz ever answers.
	again := devstack.StartProcess(t, devstack.Command{Name: "ingest-again", Path: s.bin, Args: s.ingestArgs(devstack.FreeAddr(t), 50)})
	err := again.Wait(ctxT(t, 30*time.Second))
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "ingest exits by itself")
	assert.Equal(t, 1, ee.ExitCode())
	log := again.RunLog()
	assert.Contains(t, log, "backfill")
	assert.Contains(t, log, fmt.Sprintf("records after seq %d were removed by retention", head))
	assert.Contains(t, log, "refusing to skip")
	off, err := s.zkOffset(id)
	require.NoError(t, err)
	assert.Equal(t, head, off, "the offset is left where it was")
}

// TestCredentials: no credentials: ingest exits 1 at once and says which flags are
// needed; credentials of an ordinary account: the journal route refuses them (403), and
// ingest says to use the replication identity, stays unhealthy and retries.
func TestCredentials(t *testing.T) {
	devstack.SkipShort(t, startsProcesses)
	t.Parallel()
	bin := devstack.Build(t, "cmd/ingest")
	p := devstack.StartProcess(t, devstack.Command{Name: "ingest-nocreds", Path: bin,
		Args: []string{"--metrics-listen", devstack.FreeAddr(t)},
		Env:  []string{"BACKBEAT_ACCESS_KEY=", "BACKBEAT_SECRET_KEY=", "BACKBEAT_SECRET_KEY_FILE="}})
	err := p.Wait(ctxT(t, 30*time.Second))
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, 1, ee.ExitCode())
	assert.Contains(t, p.RunLog(), "access key and secret key are required (--access-key; the secret key in BACKBEAT_SECRET_KEY or --secret-key-file)")

	// Wrong identity: the ordinary user.
	s3p := s3test.Start(t)
	addr := devstack.FreeAddr(t)
	in := startIngestArgs(t, bin, "ingest-user", addr, []string{
		"--s3-endpoint", s3p.URL, "--access-key", s3test.User.AccessKey, "--secret-key-file", s3test.User.SecretFile(t),
		"--metrics-listen", addr, "--min-backoff", "100ms", "--max-backoff", "200ms",
		"--kafka-brokers", devstack.FreeAddr(t), "--zookeeper", devstack.FreeAddr(t),
	})
	require.NoError(t, in.WaitLog(ctxT(t, 30*time.Second), `journal route refused the credentials (403 AccessDenied): use the account marked \"replication\"`))
	eventually(t, 10*time.Second, "unhealthy", func() error {
		h, err := healthz(ctxT(t, 2*time.Second), in.metrics)
		if err != nil {
			return err
		}
		if h.Status != http.StatusServiceUnavailable || !strings.Contains(h.LastError, "403") {
			return fmt.Errorf("%d %+v", h.Status, h)
		}
		return nil
	})
	assert.True(t, in.Running(), "a refused identity is retried (the accounts file may be fixed)")
}

// TestEnvFallback: every setting can come from BACKBEAT_* variables instead of flags
// (the demo passes the credentials that way).
func TestEnvFallback(t *testing.T) {
	devstack.SkipShort(t, startsProcesses)
	t.Parallel()
	s := newStack(t)
	args := s.ingestArgs(devstack.FreeAddr(t), 50)
	var env []string
	for i := 0; i < len(args); i += 2 {
		name := strings.ToUpper(strings.ReplaceAll(strings.TrimPrefix(args[i], "--"), "-", "_"))
		env = append(env, "BACKBEAT_"+name+"="+args[i+1])
	}
	env = append(env, "BACKBEAT_PARTITIONS=5")
	addr := args[len(args)-3] // --metrics-listen's value
	require.Equal(t, "--metrics-listen", args[len(args)-4])
	p := devstack.StartProcess(t, devstack.Command{Name: "ingest-env", Path: s.bin, Env: env,
		Ready: func(ctx context.Context) error { _, err := healthz(ctx, "http://"+addr); return err }})
	in := &ingestProc{Process: p, metrics: "http://" + addr}
	in.waitState(t, "leader", 30*time.Second)
	w := &writer{s3c: s.s3c, keys: 3}
	w.run(context.Background(), 0, 10, 1)
	require.Nil(t, w.err.Load())
	recs, head, id := s.readJournal(t)
	s.waitOffset(t, id, head, 30*time.Second)
	msgs, parts := s.waitDelivered(t, pendingOf(recs), 10*time.Second)
	assert.Equal(t, 5, parts, "BACKBEAT_PARTITIONS")
	assert.Zero(t, checkDelivery(t, id, pendingOf(recs), msgs))
}
