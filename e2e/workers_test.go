package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/contract"
	"github.com/backbeat-temporal/backbeat/internal/metricsserver"
)

// TestTwoWorkersShareTheTaskQueue runs two worker processes polling one task queue,
// with small batches (--batch-max-entries 2, so many batch activities): versions of
// keys spread over the partitions all end COMPLETED on the source and REPLICA on the
// target, more than one partition workflow ran, and both workers replicated versions
// (each one's backbeat_worker_replications_total).
func TestTwoWorkersShareTheTaskQueue(t *testing.T) {
	s := startStack(t, withWorkers(2), withLogLevel("info"), withWorkerArgs("--batch-max-entries", "2"))
	require.Len(t, s.workerMetrics, 2)
	var w written
	const keys, rounds = 24, 3
	for round := range rounds {
		for k := range keys {
			w.put(s, fmt.Sprintf("obj-%02d", k), []byte(fmt.Sprintf("object %d round %d", k, round)), nil)
		}
	}
	src := s.waitSettled(4*time.Minute, keys*rounds)
	s.checkTarget(src, &w)

	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	tc := s.temporal.Client()
	ran := 0
	for p := range int32(partitions) {
		if _, err := tc.DescribeWorkflowExecution(ctx, contract.WorkflowID(contract.DefaultTopic, p), ""); err == nil {
			ran++
		}
	}
	assert.GreaterOrEqual(t, ran, 2, "the keys spread over several partitions")

	var total float64
	for i, addr := range s.workerMetrics {
		n := sumSeries(t, ctx, addr, "backbeat_worker_replications_total")
		t.Logf("worker %d replicated %v versions", i+1, n)
		assert.Positive(t, n, "worker %d (%s) replicated versions", i+1, addr)
		total += n
	}
	assert.GreaterOrEqual(t, total, float64(keys*rounds), "every version replicated by one of the workers")
}

// sumSeries sums every series of metric name (all its label sets) on a /metrics page.
func sumSeries(t *testing.T, ctx context.Context, addr, name string) float64 {
	t.Helper()
	samples, err := metricsserver.Scrape(ctx, addr)
	require.NoError(t, err)
	var sum float64
	for series, v := range samples {
		if metricsserver.SeriesName(series) == name {
			sum += v
		}
	}
	return sum
}
