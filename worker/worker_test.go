package worker

import (
	"bytes"
	"context"
	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/internal/testlog"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/backbeat-temporal/backbeat/activities"
	"github.com/backbeat-temporal/backbeat/contract"
	"github.com/backbeat-temporal/backbeat/internal/devstack"
	"github.com/backbeat-temporal/backbeat/journal"
	"github.com/backbeat-temporal/backbeat/s3server/s3test"
)

// A zero Config runs with DefaultConfig's values (the command's flag defaults), but for
// the metrics, which the library leaves off, and Source, which is required.
func TestZeroConfigTakesDefaultConfig(t *testing.T) {
	got := Config{}.withDefaults()
	want := DefaultConfig()
	want.MetricsListen = ""
	want.Source = got.Source
	want.Workflow = got.Workflow
	want.Logger = got.Logger
	assert.Equal(t, want, got)
	assert.Equal(t, contract.DefaultConfig().WithDefaults(), got.Workflow)
}

func TestRunRefusesBadConfiguration(t *testing.T) {
	ctx := context.Background()
	src := activities.Site{Endpoint: "http://127.0.0.1:1", AccessKey: "a", SecretKey: "b"}

	bad := filepath.Join(t.TempDir(), "sites.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"sites":[{"name":"x","kind":"ftp"}]}`), 0o600))
	err := Run(ctx, Config{Source: src, SitesFile: bad, Logger: testlog.Discard()})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "sites file")

	err = Run(ctx, Config{Source: src, SitesFile: filepath.Join(t.TempDir(), "missing.json"), Logger: testlog.Discard()})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "missing.json")

	err = Run(ctx, Config{Source: activities.Site{Endpoint: "http://127.0.0.1:1"}, Logger: testlog.Discard()})
	require.Error(t, err, "no credentials for the replication identity")
}

// TestWorkerReplicatesAndExportsMetrics runs the worker against a real Temporal dev
// server and s3server: an entry signaled to a partition workflow ends COMPLETED, and
// /metrics shows the replication, the put→COMPLETED latency and the SDK's metrics.
func TestWorkerReplicatesAndExportsMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Temporal and s3server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv := s3test.Start(t)
	tp := devstack.StartTemporal(t, devstack.TemporalHeadless(), devstack.TemporalSearchAttributes(contract.SearchAttributes()))
	c := srv.Client(s3test.User)
	for _, b := range []string{"src-bucket", "dst-bucket"} {
		s3test.MakeBucket(t, c, b, s3types.BucketVersioningStatusEnabled)
	}
	_, err := c.PutBucketReplication(ctx, &s3.PutBucketReplicationInput{Bucket: aws.String("src-bucket"),
		ReplicationConfiguration: &s3types.ReplicationConfiguration{Role: aws.String("arn:aws:iam::000000000000:role/r"),
			Rules: []s3types.ReplicationRule{{ID: aws.String("all"), Status: s3types.ReplicationRuleStatusEnabled, Prefix: aws.String(""),
				Destination: &s3types.Destination{Bucket: aws.String("arn:aws:s3:::dst-bucket")}}}}})
	require.NoError(t, err)
	put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("src-bucket"), Key: aws.String("k"), Body: bytes.NewReader([]byte("data"))})
	require.NoError(t, err)

	jr := journal.New(s3test.BBClientOf(srv.URL, s3test.Replication))
	batch, err := jr.Read(ctx, 0, 100, 0)
	require.NoError(t, err)
	var rec *bbproto.Record
	for i := range batch.Records {
		if batch.Records[i].Pending() {
			rec = &batch.Records[i]
		}
	}
	require.NotNil(t, rec, "the put is journaled PENDING")

	metricsAddr := devstack.FreeAddr(t)
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- Run(wctx, Config{TemporalAddress: tp.Addr(), MetricsListen: metricsAddr, Logger: testlog.Discard(),
			Source: activities.Site{Endpoint: srv.URL, AccessKey: s3test.Replication.AccessKey, SecretKey: s3test.Replication.SecretKey}})
	}()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + metricsAddr + path)
		if err != nil {
			return 0, ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	require.Eventually(t, func() bool { code, _ := get("/healthz"); return code == http.StatusOK }, time.Minute, 50*time.Millisecond)

	tc := tp.Client()
	_, err = tc.SignalWithStartWorkflow(ctx, contract.WorkflowID("backbeat-replication", 0), contract.SignalEntries,
		contract.EntriesSignal{Entries: []contract.Entry{{Topic: "backbeat-replication", Partition: 0, Offset: 0, Record: *rec}}},
		client.StartWorkflowOptions{ID: contract.WorkflowID("backbeat-replication", 0), TaskQueue: contract.TaskQueue},
		contract.WorkflowName, contract.Params{Topic: "backbeat-replication", Partition: 0})
	require.NoError(t, err)

	require.Eventually(t, func() bool {
		h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("src-bucket"), Key: aws.String("k"), VersionId: put.VersionId})
		return err == nil && h.ReplicationStatus == s3types.ReplicationStatusCompleted
	}, 2*time.Minute, 100*time.Millisecond, "the version ends COMPLETED")
	h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("dst-bucket"), Key: aws.String("k"), VersionId: put.VersionId})
	require.NoError(t, err)
	assert.Equal(t, s3types.ReplicationStatusReplica, h.ReplicationStatus)

	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		_, body := get("/metrics")
		assert.Contains(ct, body, `backbeat_worker_replications_total{action="copied",site="source"} 1`)
		assert.Contains(ct, body, `backbeat_worker_statuses_total{status="COMPLETED"} 1`)
		assert.Contains(ct, body, "backbeat_worker_put_to_completed_seconds_count 1")
		assert.Contains(ct, body, `backbeat_worker_bytes_total{site="source"} 4`)
		assert.True(ct, strings.Contains(body, "temporal_"), "the Temporal SDK's metrics are exported")
	}, 30*time.Second, 100*time.Millisecond)

	stop()
	select {
	case err := <-done:
		assert.NoError(t, err, "a clean stop")
	case <-time.After(30 * time.Second):
		t.Fatal("the worker did not stop")
	}
}
