package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/backbeat-temporal/backbeat/contract"
	"github.com/backbeat-temporal/backbeat/internal/devstack"
	"github.com/backbeat-temporal/backbeat/s3server/s3test"
)

// sweepThreshold is ingest's --sweep-threshold in TestTerminatedPartitionLosesNothing:
// long enough that the sweeper leaves alone what `starter redrive` re-drives in phase 1,
// short enough for phase 2 to wait for it.
const sweepThreshold = 40 * time.Second

// TestTerminatedPartitionLosesNothing: the only partition workflow is paused with
// entries queued and then TERMINATED, so its queue is lost while the Kafka offsets are
// committed. (1) `starter redrive` re-journals the versions: the bridge's next signal
// re-creates the workflow and they end COMPLETED. (2) Again, without the CLI: the ingest
// leader's sweeper re-drives them once they have waited longer than its threshold, and
// its oldest-PENDING gauge goes up, then back to 0.
func TestTerminatedPartitionLosesNothing(t *testing.T) {
	metrics := devstack.FreeAddr(t)
	s := startStack(t, withPartitions(1), withLogLevel("info"),
		withIngestArgs("--sweep-interval", "1s", "--sweep-threshold", sweepThreshold.String(), "--metrics-listen", metrics))
	tc, err := client.Dial(client.Options{HostPort: s.temporal.Addr()})
	require.NoError(t, err)
	defer tc.Close()
	wfID := contract.WorkflowID(contract.DefaultTopic, 0)
	var w written
	w.put(s, "warm-up", []byte("creates the workflow"), nil)
	s.waitSettled(2*time.Minute, 1)

	// loseQueue pauses the partition, puts n versions under prefix, waits until the
	// workflow holds them all, terminates it and returns the terminated run id.
	loseQueue := func(prefix string, n int) string {
		t.Helper()
		require.NoError(t, tc.SignalWorkflow(s.ctx, wfID, "", contract.SignalPause, nil))
		before := queryStatus(t, tc, wfID).Backlog
		for i := range n {
			w.put(s, fmt.Sprintf("%s/%d", prefix, i), []byte(fmt.Sprintf("%s %d", prefix, i)), nil)
		}
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			st := queryStatus(t, tc, wfID)
			assert.True(c, st.Paused)
			assert.GreaterOrEqual(c, st.Backlog, before+n, "the paused workflow holds the new versions")
		}, time.Minute, 100*time.Millisecond)
		d, err := tc.DescribeWorkflowExecution(s.ctx, wfID, "")
		require.NoError(t, err)
		run := d.WorkflowExecutionInfo.Execution.RunId
		require.NoError(t, tc.TerminateWorkflow(s.ctx, wfID, run, "test: a partition workflow ends with entries queued"))
		for _, v := range s.versions(s.src, s.srcC, srcBucket) {
			if strings.HasPrefix(v.Key, prefix+"/") {
				require.Equal(t, "PENDING", v.status(), "%s: nothing holds it any more", v.Key)
			}
		}
		return run
	}
	newRun := func(old string) {
		t.Helper()
		d, err := tc.DescribeWorkflowExecution(s.ctx, wfID, "")
		require.NoError(t, err)
		assert.NotEqual(t, old, d.WorkflowExecutionInfo.Execution.RunId, "the bridge's signal re-created the workflow")
	}

	// 1. starter redrive.
	run := loseQueue("cli", 5)
	starter := devstack.Build(t, "cmd/starter")
	cmd := exec.Command(starter, "redrive", "--bucket", srcBucket, "--prefix", "cli/", "--output", "json", "--source-endpoint", s.src.URL)
	cmd.Env = append(os.Environ(), "BACKBEAT_REPLICATION_ACCESS_KEY="+s3test.Replication.AccessKey,
		"BACKBEAT_REPLICATION_SECRET_KEY="+s3test.Replication.SecretKey)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "starter redrive: %s", stderr.String())
	var rep struct{ Redriven, Waiting int }
	require.NoError(t, json.Unmarshal(out, &rep), string(out))
	assert.Equal(t, 5, rep.Redriven, string(out))
	s.waitSettled(sweepThreshold-5*time.Second, 6) // before the sweeper could have acted
	newRun(run)

	// 2. The sweeper.
	run = loseQueue("swept", 5)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Greater(c, scrape(t, metrics, `backbeat_sweeper_oldest_pending_seconds{bucket="source-bucket"}`), 0.0)
	}, time.Minute, 200*time.Millisecond, "the gauge shows the waiting versions")
	src := s.waitSettled(sweepThreshold+2*time.Minute, 11)
	newRun(run)
	s.checkTarget(src, &w)
	assert.GreaterOrEqual(t, scrape(t, metrics, "backbeat_sweeper_redriven_total"), 5.0)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Zero(c, scrape(t, metrics, `backbeat_sweeper_oldest_pending_seconds{bucket="source-bucket"}`))
	}, time.Minute, 200*time.Millisecond, "nothing waits any more")
}

func queryStatus(t *testing.T, tc client.Client, wfID string) contract.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := tc.QueryWorkflow(ctx, wfID, "", contract.QueryStatus)
	require.NoError(t, err)
	var st contract.Status
	require.NoError(t, v.Get(&st))
	return st
}

// scrape reads one series of a /metrics page (-1 when absent).
func scrape(t *testing.T, addr, series string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		return -1
	}
	f, err := strconv.ParseFloat(string(m[1]), 64)
	require.NoError(t, err)
	return f
}
