package starter

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/internal/testlog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/backbeat-temporal/backbeat/activities"
	"github.com/backbeat-temporal/backbeat/contract"
	"github.com/backbeat-temporal/backbeat/internal/devstack"
	"github.com/backbeat-temporal/backbeat/s3server/s3test"
	"github.com/backbeat-temporal/backbeat/worker"
)

// engine is the Temporal dev server and a worker hosting the partition workflows
// in-process, replicating from an s3server to itself (the default site).
type engine struct {
	temporal *devstack.Temporal
	s3       *s3test.Process
	c        client.Client
}

func startEngine(t *testing.T) *engine {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the Temporal dev server and s3server")
	}
	e := &engine{
		temporal: devstack.StartTemporal(t, devstack.TemporalHeadless(), devstack.TemporalSearchAttributes(contract.SearchAttributes())),
		s3:       s3test.Start(t),
	}
	e.c = e.temporal.Client()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- worker.Run(ctx, worker.Config{
			TemporalAddress: e.temporal.Addr(),
			Source: activities.Site{Endpoint: e.s3.URL, AccessKey: s3test.Replication.AccessKey,
				SecretKey: s3test.Replication.SecretKey},
			Logger: testlog.Discard(),
		})
	}()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done, "worker.Run")
	})
	return e
}

// signal sends entries to a partition workflow, starting it, as the bridge does.
func (e *engine) signal(t *testing.T, topic string, partition int32, taskQueue string, entries ...contract.Entry) {
	t.Helper()
	id := contract.WorkflowID(topic, partition)
	_, err := e.c.SignalWithStartWorkflow(context.Background(), id, contract.SignalEntries, contract.EntriesSignal{Entries: entries},
		client.StartWorkflowOptions{ID: id, TaskQueue: taskQueue}, contract.WorkflowName,
		contract.Params{Topic: topic, Partition: partition})
	require.NoError(t, err)
}

// flags are the Temporal flags of the engine.
func (e *engine) flags(extra ...string) []string {
	return append([]string{"--temporal-address", e.temporal.Addr(), "--timeout", "5s"}, extra...)
}

// partitions runs `partitions --output json` until cond holds on its answer.
func (e *engine) partitions(t *testing.T, what string, cond func(c *assert.CollectT, ps map[int32]PartitionStatus), extra ...string) map[int32]PartitionStatus {
	t.Helper()
	var last map[int32]PartitionStatus
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		r := run(t, append([]string{"partitions", "--output", "json"}, e.flags(extra...)...)...)
		if !assert.Equal(c, ExitOK, r.code, r.String()) {
			return
		}
		var list []PartitionStatus
		if !assert.NoError(c, json.Unmarshal([]byte(r.stdout), &list), r.stdout) {
			return
		}
		last = map[int32]PartitionStatus{}
		for _, p := range list {
			last[p.Partition] = p
		}
		cond(c, last)
	}, time.Minute, 100*time.Millisecond, what)
	return last
}

// pendingRecord returns the journal record of the last put of bucket/key, as ingest
// produces it to Kafka.
func pendingRecord(t *testing.T, p *s3test.Process, bucket, key string) bbproto.Record {
	t.Helper()
	resp, err := p.Backbeat(context.Background(), http.MethodGet, "journal?after=0&limit=10000", nil, nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	var found *bbproto.Record
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec bbproto.Record
		require.NoError(t, json.Unmarshal(sc.Bytes(), &rec))
		if rec.Op == bbproto.OpPut && rec.Bucket == bucket && rec.Key == key {
			found = &rec
		}
	}
	require.NoError(t, sc.Err())
	require.NotNil(t, found, "no put of %s/%s in the journal", bucket, key)
	require.True(t, found.Pending(), "%+v", found)
	return *found
}

func TestPartitionsPauseResume(t *testing.T) {
	useProfiles(t)
	e := startEngine(t)
	for p := int32(0); p < 3; p++ {
		e.signal(t, DefaultTopic, p, contract.TaskQueue)
	}
	e.signal(t, "another-topic", 0, contract.TaskQueue)

	ps := e.partitions(t, "three partition workflows answer", func(c *assert.CollectT, ps map[int32]PartitionStatus) {
		if assert.Len(c, ps, 3, "the other topic's workflow is not listed") {
			for p := int32(0); p < 3; p++ {
				assert.NotNil(c, ps[p].Status, "partition %d: %s", p, ps[p].Error)
			}
		}
	})
	for p := int32(0); p < 3; p++ {
		assert.Equal(t, contract.WorkflowID(DefaultTopic, p), ps[p].WorkflowID)
		assert.True(t, ps[p].Running)
		assert.Equal(t, 0, ps[p].Status.Backlog)
		assert.False(t, ps[p].Status.Paused)
		assert.Equal(t, p, ps[p].Status.Partition)
	}

	// Pause one partition.
	r := runOK(t, append([]string{"pause", "--partition", "1"}, e.flags()...)...)
	assert.Equal(t, "paused partition 1 (workflow backbeat-replication/backbeat-replication/1)\n", r.stdout)
	e.partitions(t, "partition 1 paused, the others not", func(c *assert.CollectT, ps map[int32]PartitionStatus) {
		for p := int32(0); p < 3; p++ {
			if assert.NotNil(c, ps[p].Status) {
				assert.Equal(c, p == 1, ps[p].Status.Paused, "partition %d", p)
			}
		}
	})

	// An entry for the paused partition waits in its backlog: a real version of the
	// s3server that the worker replicates (to the same endpoint) once resumed.
	srcC := e.s3.Client(s3test.User)
	s3flags := []string{"--source-endpoint", e.s3.URL, "--source-profile", profUser, "--replication-profile", profReplication}
	runOK(t, append([]string{"setup", "--source-bucket", "src", "--target-bucket", "dst"}, s3flags...)...)
	vid := putObject(t, srcC, "src", "k", "replicate me")
	rec := pendingRecord(t, e.s3, "src", "k")
	e.signal(t, DefaultTopic, 1, contract.TaskQueue, contract.Entry{Topic: DefaultTopic, Partition: 1, Offset: 0, Record: rec})
	e.partitions(t, "the entry waits in partition 1's backlog", func(c *assert.CollectT, ps map[int32]PartitionStatus) {
		if assert.NotNil(c, ps[1].Status) {
			assert.Equal(c, 1, ps[1].Status.Backlog)
			assert.True(c, ps[1].Status.Paused)
			assert.Zero(c, ps[1].Status.Processed)
		}
	})
	r = runOK(t, append([]string{"partitions"}, e.flags()...)...)
	assert.Regexp(t, `(?m)^PARTITION\s+BACKLOG\s+CURRENT\s+PROCESSED\s+COMPLETED\s+FAILED\s+SKIPPED\s+PAUSED\s+LAST ERROR$`, r.stdout)
	assert.Regexp(t, `(?m)^1\s+1\s+-\s+0\s+0\s+0\s+0\s+yes\s+-$`, r.stdout)
	assert.Regexp(t, `(?m)^0\s+0\s+-\s+0\s+0\s+0\s+0\s+no\s+-$`, r.stdout)
	h := run(t, append([]string{"status", "--bucket", "src", "--key", "k"}, s3flags...)...)
	assert.Regexp(t, `(?m)^`+vid+`\s+yes\s+object\s+\S+\s+PENDING\s+absent from dst`, h.stdout, h)

	// Resume all: every running partition is signaled; the entry is replicated.
	r = runOK(t, append([]string{"resume"}, e.flags()...)...)
	for p := 0; p < 3; p++ {
		assert.Contains(t, r.stdout, "resumed partition "+fmt.Sprint(p)+" (workflow backbeat-replication/backbeat-replication/")
	}
	e.partitions(t, "partition 1 resumed and replicated its entry", func(c *assert.CollectT, ps map[int32]PartitionStatus) {
		if assert.NotNil(c, ps[1].Status) {
			assert.False(c, ps[1].Status.Paused)
			assert.Equal(c, 0, ps[1].Status.Backlog)
			assert.EqualValues(c, 1, ps[1].Status.Completed)
			assert.EqualValues(c, 1, ps[1].Status.Processed)
		}
	})
	var st []VersionStatus
	runJSON(t, &st, append([]string{"status", "--bucket", "src", "--key", "k"}, s3flags...)...)
	require.Len(t, st, 1)
	assert.Equal(t, string(bbproto.StatusCompleted), st[0].SourceStatus)
	assert.Equal(t, string(bbproto.StatusReplica), st[0].Target.Status)

	// Pause all, then by --partitions N (by ID): partition 3 has no workflow.
	r = runOK(t, append([]string{"pause"}, e.flags()...)...)
	assert.Equal(t, 3, strings.Count(r.stdout, "paused partition "), r.stdout)
	var list []PartitionStatus
	runJSON(t, &list, append([]string{"partitions", "--partitions", "4"}, e.flags()...)...)
	require.Len(t, list, 4)
	assert.False(t, list[3].Running)
	assert.Nil(t, list[3].Status)
	r = runOK(t, append([]string{"partitions", "--partitions", "4"}, e.flags()...)...)
	assert.Regexp(t, `(?m)^3\s+-\s+not running`, r.stdout)
	r = runOK(t, append([]string{"resume", "--partitions", "4"}, e.flags()...)...)
	assert.Contains(t, r.stdout, "skipped partition 3: workflow backbeat-replication/backbeat-replication/3 is not running")
	assert.Equal(t, 3, strings.Count(r.stdout, "resumed partition "), r.stdout)

	// Errors: a partition without workflow, a bad partition number, Temporal down, a
	// namespace that does not exist.
	r = run(t, append([]string{"pause", "--partition", "7"}, e.flags()...)...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, "partition 7's workflow backbeat-replication/backbeat-replication/7 is not running")
	r = run(t, append([]string{"pause", "--partition", "-2"}, e.flags()...)...)
	assert.Equal(t, ExitUsage, r.code, r)
	r = run(t, append([]string{"resume", "--topic", "no-such-topic"}, e.flags()...)...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, "no running partition workflow of topic no-such-topic in namespace default")
	dead := devstack.FreeAddr(t)
	for _, cmd := range []string{"partitions", "pause", "resume"} {
		r = run(t, cmd, "--temporal-address", dead, "--timeout", "2s")
		assert.Equal(t, ExitFailed, r.code, r)
		assert.Contains(t, r.stderr, "cannot reach Temporal at "+dead, r)
		assert.Contains(t, r.stderr, "is the Temporal server running? (make demo starts it")
	}
	r = run(t, append([]string{"partitions", "--namespace", "nope"}, e.flags()...)...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, `namespace "nope" does not exist at Temporal `+e.temporal.Addr())

	// A workflow no worker serves does not answer its status query: exit 1, and why.
	e.signal(t, DefaultTopic, 5, "nobody-polls-this-queue")
	require.EventuallyWithT(t, func(c *assert.CollectT) { // until visibility lists it
		r = run(t, append([]string{"partitions"}, e.flags("--timeout", "2s")...)...)
		assert.Equal(c, ExitFailed, r.code, r.String())
	}, time.Minute, 100*time.Millisecond)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, "partition 5: the status query got no answer within 2s: is the worker running?")
	assert.Regexp(t, `(?m)^5\s+\?`, r.stdout)
}
