package activities

import (
	"errors"
	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/internal/testlog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/backbeat-temporal/backbeat/contract"
	"github.com/backbeat-temporal/backbeat/s3server/s3test"
)

// fakeMetrics records the calls of Metrics.
type fakeMetrics struct {
	mu        sync.Mutex
	done      []string // site/action
	bytes     int64
	failed    []contract.ErrorKind
	statuses  []string
	latencies []time.Duration
}

func (m *fakeMetrics) Replicated(site, action string, bytes int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.done = append(m.done, site+"/"+action)
	m.bytes += bytes
}

func (m *fakeMetrics) ReplicationFailed(site string, kind contract.ErrorKind, bytes int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failed = append(m.failed, kind)
	m.bytes += bytes
}

func (m *fakeMetrics) StatusSet(status bbproto.Status, latency time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.statuses = append(m.statuses, string(status))
	m.latencies = append(m.latencies, latency)
}

func entry(rec bbproto.Record) contract.ReplicateInput {
	return contract.ReplicateInput{Entry: contract.Entry{Topic: "backbeat-replication", Partition: 0, Offset: int64(rec.Seq), Record: rec}}
}

// TestActivityResumesFromHeartbeatDetails runs ReplicateVersion in Temporal's activity
// test environment: the first attempt fails at the third part, its last heartbeat
// carries the two finished parts, and the next attempt given those details uploads only
// the rest.
func TestActivityResumesFromHeartbeatDetails(t *testing.T) {
	e := newEnv(t)
	r := e.replicator(e.sites(KindS3Server, s3test.Replication, func(s *Site) { s.MultipartThreshold, s.PartSize = 10<<20, 5<<20 }))
	m := &fakeMetrics{}
	a := NewActivities(r, m, nil)
	data := pattern(20<<20, 5)
	vid := e.put("big", data)
	rec := e.pending()
	start := time.Now()

	suite := quietSuite()
	env := suite.NewTestActivityEnvironment()
	a.Register(env)
	var mu sync.Mutex
	var last Checkpoint
	beats := 0
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, d converter.EncodedValues) {
		mu.Lock()
		defer mu.Unlock()
		beats++
		require.NoError(t, d.Get(&last))
	})
	e.transport.take()
	e.transport.failAt(3)
	_, err := env.ExecuteActivity(contract.ActivityReplicate, entry(rec))
	require.Error(t, err)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "%v", err)
	assert.Equal(t, contract.ErrTypeRetryable, appErr.Type())
	assert.False(t, appErr.NonRetryable())
	mu.Lock()
	assert.GreaterOrEqual(t, beats, 2, "the first heartbeat, and the last one sent with the failure")
	cp := last
	mu.Unlock()
	require.Len(t, cp.Parts, 2, "the last heartbeat holds the finished parts")
	assert.Equal(t, 4, cp.PartCount)
	assert.Equal(t, 2, cp.PartsDone)
	assert.NotEmpty(t, cp.UploadID)
	assert.Equal(t, 3, e.transport.take()["PUT part"])

	e.transport.failAt(0)
	env2 := suite.NewTestActivityEnvironment()
	a.Register(env2)
	env2.SetHeartbeatDetails(cp)
	val, err := env2.ExecuteActivity(contract.ActivityReplicate, entry(rec))
	require.NoError(t, err)
	var res contract.ReplicateResult
	require.NoError(t, val.Get(&res))
	assert.Equal(t, contract.ReplicateResult{Bytes: 10 << 20}, res, "two parts of 5 MiB were left")
	assert.Equal(t, 2, e.transport.take()["PUT part"])
	assert.Equal(t, md5hex(data), e.md5Of(e.dstC, dstBucket, "big", vid))

	// Again: already present.
	val, err = env2.ExecuteActivity(contract.ActivityReplicate, entry(rec))
	require.NoError(t, err)
	require.NoError(t, val.Get(&res))
	assert.Equal(t, contract.ReplicateResult{AlreadyPresent: true}, res)

	_, err = env2.ExecuteActivity(contract.ActivitySetStatus, contract.SetStatusInput{Bucket: srcBucket, Key: "big", VersionID: vid, Status: bbproto.StatusCompleted})
	require.NoError(t, err)
	head, err := e.srcC.HeadObject(e.ctx, &s3.HeadObjectInput{Bucket: aws.String(srcBucket), Key: aws.String("big"), VersionId: aws.String(vid)})
	require.NoError(t, err)
	assert.Equal(t, string(bbproto.StatusCompleted), string(head.ReplicationStatus))

	m.mu.Lock()
	defer m.mu.Unlock()
	assert.Equal(t, []contract.ErrorKind{contract.KindRetryable}, m.failed)
	assert.Equal(t, []string{"dr/" + ActionCopied, "dr/" + ActionAlreadyPresent}, m.done)
	assert.GreaterOrEqual(t, m.bytes, int64(10<<20+10<<20), "bytes of both attempts")
	assert.Equal(t, []string{string(bbproto.StatusCompleted)}, m.statuses)
	require.Len(t, m.latencies, 1)
	assert.Greater(t, m.latencies[0], time.Duration(0))
	assert.LessOrEqual(t, m.latencies[0], time.Since(start)+time.Second, "put→COMPLETED latency from the journaled change")
}

func TestActivityErrorTypes(t *testing.T) {
	e := newEnv(t)
	vid := e.put("k", []byte("data"))
	rec := e.pending()
	suite := quietSuite()

	// Wrong target credentials: fail fast, with the reason.
	a := NewActivities(e.replicator(e.sites(KindS3Server, s3test.Account{AccessKey: "AKWRONG", SecretKey: "x"})), nil, nil)
	env := suite.NewTestActivityEnvironment()
	a.Register(env)
	_, err := env.ExecuteActivity(contract.ActivityReplicate, entry(rec))
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "%v", err)
	assert.Equal(t, contract.KindAccessDenied.ErrorType(), appErr.Type())
	assert.True(t, appErr.NonRetryable())
	assert.Contains(t, appErr.Message(), `refused the credentials (InvalidAccessKeyId): fix accessKey/secretKey/profile of site "dr" in the sites file`)

	// Missing target bucket.
	bad := rec
	bad.Replication = &bbproto.Replication{Status: bbproto.StatusPending, Destination: "arn:aws:s3:::nowhere"}
	a = NewActivities(e.replicator(e.sites(KindS3Server, s3test.Replication)), nil, nil)
	env = suite.NewTestActivityEnvironment()
	a.Register(env)
	_, err = env.ExecuteActivity(contract.ActivityReplicate, entry(bad))
	require.True(t, errors.As(err, &appErr), "%v", err)
	assert.Equal(t, contract.KindNoSuchBucket.ErrorType(), appErr.Type())
	assert.True(t, appErr.NonRetryable())

	// Status of a version that is gone: typed NoSuchVersion, and left to the retry
	// policy (which lists it as non-retryable); the workflow's policy also decides for
	// AccessDenied, retried for status writes.
	_, err = e.srcC.DeleteObject(e.ctx, &s3.DeleteObjectInput{Bucket: aws.String(srcBucket), Key: aws.String("k"), VersionId: aws.String(vid)})
	require.NoError(t, err)
	_, err = env.ExecuteActivity(contract.ActivitySetStatus, contract.SetStatusInput{Bucket: srcBucket, Key: "k", VersionID: vid, Status: bbproto.StatusCompleted})
	require.True(t, errors.As(err, &appErr), "%v", err)
	assert.Equal(t, contract.KindSourceGone.ErrorType(), appErr.Type())
	assert.False(t, appErr.NonRetryable())
	assert.Contains(t, contract.SetStatusNonRetryableErrorTypes(), appErr.Type())

	// The replication of a version that is gone: NoSuchVersion (the workflow skips it).
	_, err = env.ExecuteActivity(contract.ActivityReplicate, entry(rec))
	require.True(t, errors.As(err, &appErr), "%v", err)
	assert.Equal(t, contract.KindSourceGone.ErrorType(), appErr.Type())
}

// quietSuite is a test suite whose logs are dropped.
func quietSuite() *testsuite.WorkflowTestSuite {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(tlog.NewStructuredLogger(testlog.Discard()))
	return &s
}

// TestActivityStopsAStalledCopy: a target that accepts the connection and never
// answers makes no progress; the attempt is cancelled after the stall limit (the
// activity's HeartbeatTimeout) with a retryable error that says so.
func TestActivityStopsAStalledCopy(t *testing.T) {
	e := newEnv(t)
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hung.Close()
	r := e.replicator(&Sites{Sites: []Site{{Name: "dr", Endpoint: hung.URL, AccessKey: "a", SecretKey: "b"}}})
	a := NewActivities(r, nil, nil)
	a.stallTimeout = 300 * time.Millisecond
	e.put("k", []byte("data"))
	rec := e.pending()
	env := quietSuite().NewTestActivityEnvironment()
	a.Register(env)
	errc := make(chan error, 1)
	go func() {
		_, err := env.ExecuteActivity(contract.ActivityReplicate, entry(rec))
		errc <- err
	}()
	var err error
	select {
	case err = <-errc:
	case <-time.After(30 * time.Second):
		t.Fatal("the stalled attempt was not stopped")
	}
	require.Error(t, err)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "%v", err)
	assert.Equal(t, contract.ErrTypeRetryable, appErr.Type())
	assert.Contains(t, appErr.Message(), "the copy made no progress for")
	assert.Contains(t, appErr.Message(), "the next one resumes")
}
