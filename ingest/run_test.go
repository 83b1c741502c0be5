package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/internal/testlog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/ingest"
	"github.com/backbeat-temporal/backbeat/internal/devstack"
	"github.com/backbeat-temporal/backbeat/journal"
)

// TestConfigErrors: Run refuses an incomplete or invalid configuration at once, saying
// what to fix.
func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  ingest.Config
		want string
	}{
		{ingest.Config{}, "access key and secret key are required (--access-key; the secret key in BACKBEAT_SECRET_KEY or --secret-key-file)"},
		{ingest.Config{AccessKey: "a"}, "access key and secret key are required"},
		{ingest.Config{AccessKey: "a", SecretKey: "b", Partitions: -1}, "partitions must be at least 1"},
		{ingest.Config{AccessKey: "a", SecretKey: "b", BatchSize: 10001}, "batch size must be between 1 and 10000"},
		{ingest.Config{AccessKey: "a", SecretKey: "b", MinBackoff: time.Minute, MaxBackoff: time.Second}, "backoff"},
	} {
		err := ingest.Run(context.Background(), tc.cfg)
		require.Error(t, err, "%+v", tc.cfg)
		assert.Contains(t, err.Error(), tc.want)
	}
}

// truncatingJournal serves records 1..n, then answers 410 (retention) for any read
// after n, as s3server does when records the reader needs were pruned.
func truncatingJournal(t *testing.T, id string, recs []bbproto.Record) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var after int
		fmt.Sscan(r.URL.Query().Get("after"), &after)
		w.Header().Set("X-Backbeat-Journal-Id", id)
		if after > 0 && after >= len(recs) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusGone)
			fmt.Fprintf(w, `{"code":"JournalTruncated","message":"pruned","oldest":%d,"journalId":%q}`, len(recs)+10, id)
			return
		}
		w.Header().Set("X-Backbeat-Journal-Head", fmt.Sprint(len(recs)+10))
		for _, rec := range recs[after:] {
			fmt.Fprintln(w, recordLine(t, rec))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestRunInProcess runs the library (under -race when the tests are) against real
// ZooKeeper and the broker: it publishes, stores the offset, returns a
// *journal.TruncatedError when the journal was pruned past its offset, and returns nil
// promptly when its context ends while it waits for the lock.
func TestRunInProcess(t *testing.T) {
	devstack.SkipShort(t, startsProcesses)
	t.Parallel()
	zkp := devstack.StartZooKeeper(t)
	kafka := devstack.StartBroker(t, devstack.BrokerPartitions(brokerAutoPartitions))
	var recs []bbproto.Record
	for i := 1; i <= 7; i++ {
		recs = append(recs, bbproto.Record{Seq: uint64(i), Op: bbproto.OpPut, Bucket: srcBucket, Key: fmt.Sprintf("k%d", i%3),
			VersionID: fmt.Sprint(i), Replication: &bbproto.Replication{Status: bbproto.StatusPending}})
	}
	srv := truncatingJournal(t, "inprocess01", recs)
	cfg := ingest.Config{S3Endpoint: srv.URL, AccessKey: "a", SecretKey: "b", Brokers: []string{kafka.Addr()},
		ZooKeeper: []string{zkp.Addr()}, ZKSessionTimeout: sessionTimeout, BatchSize: 3, Partitions: 2,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
		Logger: testlog.Discard()}
	err := ingest.Run(ctxT(t, 60*time.Second), cfg)
	var te *journal.TruncatedError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, uint64(7), te.After)
	assert.Equal(t, uint64(17), te.Oldest)
	assert.Contains(t, err.Error(), "backfill")

	s := &stack{t: t, zk: zkp, kafka: kafka}
	off, err := s.zkOffset("inprocess01")
	require.NoError(t, err)
	assert.Equal(t, uint64(7), off)
	msgs, parts, err := readTopic(kafka.Addr(), topic)
	require.NoError(t, err)
	assert.Equal(t, 2, parts)
	assert.Zero(t, checkDelivery(t, "inprocess01", recs, msgs))

	// A stored offset past the journal's head (a journal rolled back): Run refuses to
	// read on, since the records that will take those seqs would be skipped.
	zkCreate(t, zkp.Addr(), offsetPath("rolledback01"), "100")
	fj := &fakeJournal{id: "rolledback01"}
	var lines []string
	for _, r := range recs {
		lines = append(lines, recordLine(t, r))
	}
	fj.lines.Store(&lines)
	rolled := httptest.NewServer(fj)
	t.Cleanup(rolled.Close)
	cfg.S3Endpoint = rolled.URL
	err = ingest.Run(ctxT(t, 60*time.Second), cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the stored offset 100 (znode /backbeat/queue-populator/logState/rolledback01/logOffset) is past the journal head 7")
	assert.Contains(t, err.Error(), "refusing to skip")
	cfg.S3Endpoint = srv.URL

	// A second Run while another session holds the lock: standby until ctx ends, then
	// a clean nil.
	zkLock(t, zkp.Addr(), chroot+"/queue-populator/leader/inprocess01")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	cfg.MetricsListen = devstack.FreeAddr(t)
	go func() { done <- ingest.Run(ctx, cfg) }()
	base := "http://" + cfg.MetricsListen
	eventually(t, 30*time.Second, "standby", func() error {
		h, err := healthz(ctxT(t, 2*time.Second), base)
		if err != nil {
			return err
		}
		if h.State != "standby" || h.Status != http.StatusOK {
			return fmt.Errorf("%d %+v", h.Status, h)
		}
		return nil
	})
	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

// zkLock takes the lock at path with a session of its own, held until the test ends.
func zkLock(t *testing.T, addr, path string) {
	t.Helper()
	conn, events, err := zk.Connect([]string{addr}, sessionTimeout, zk.WithLogger(quietLogger{}))
	require.NoError(t, err)
	t.Cleanup(conn.Close)
	go func() {
		for range events {
		}
	}()
	require.NoError(t, zk.NewLock(conn, path, zk.WorldACL(zk.PermAll)).Lock())
}

// zkCreate creates the znode at path (and its parents) holding data.
func zkCreate(t *testing.T, addr, path, data string) {
	t.Helper()
	conn, events, err := zk.Connect([]string{addr}, sessionTimeout, zk.WithLogger(quietLogger{}))
	require.NoError(t, err)
	defer conn.Close()
	go func() {
		for range events {
		}
	}()
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for i := range parts {
		p := "/" + strings.Join(parts[:i+1], "/")
		var d []byte
		if i == len(parts)-1 {
			d = []byte(data)
		}
		_, err := conn.Create(p, d, 0, zk.WorldACL(zk.PermAll))
		if !errors.Is(err, zk.ErrNodeExists) {
			require.NoError(t, err)
		}
	}
}
