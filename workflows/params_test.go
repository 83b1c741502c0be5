package workflows

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/backbeat-temporal/backbeat/contract"
)

func TestInvalidParams(t *testing.T) {
	env := newEnv(t, &fakes{})
	env.ExecuteWorkflow(contract.WorkflowName, contract.Params{Partition: 1})
	require.True(t, env.IsWorkflowCompleted())
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(env.GetWorkflowError(), &appErr))
	assert.Equal(t, contract.KindInvalidConfig.ErrorType(), appErr.Type())
}

func TestNames(t *testing.T) {
	assert.Equal(t, "backbeat-replication/backbeat-replication/7", contract.WorkflowID("backbeat-replication", 7))
	assert.Equal(t, map[string]string{"BackbeatPartition": "Int", "BackbeatTopic": "Keyword", "BackbeatBacklog": "Int",
		"BackbeatPaused": "Bool", "BackbeatProcessed": "Int"}, contract.SearchAttributes())
}

func TestConfigDefaults(t *testing.T) {
	d := contract.DefaultConfig()
	assert.Equal(t, contract.RetryConfig{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute, MaxRetries: 3}, d.Retry)
	assert.Equal(t, int32(4), d.Retry.MaximumAttempts())
	assert.Equal(t, int32(5), d.StatusRetry.MaximumAttempts(), "a status write burst; the workflow retries it without end")
	assert.Equal(t, 24*time.Hour, d.RetryBudget)
	assert.Equal(t, 5, d.BreakerThreshold)
	assert.Equal(t, 1000, d.ContinueAsNewAfter)
	assert.Equal(t, 5000, d.MaxSignalsPerRun)
	assert.Equal(t, time.Hour, d.ActivityTimeout)
	assert.Equal(t, 60*time.Second, d.HeartbeatTimeout)
	assert.Equal(t, 30*time.Second, d.StatusTimeout)
	assert.Equal(t, 1<<20, d.MaxCarryBytes)
	assert.Equal(t, 8, d.MaxConcurrent)
	assert.Equal(t, 8, contract.Config{MaxConcurrent: -1}.WithDefaults().MaxConcurrent)
	assert.Equal(t, 1, contract.Config{MaxConcurrent: 1}.WithDefaults().MaxConcurrent)
	assert.Equal(t, int32(1), contract.RetryConfig{MaxRetries: contract.NoRetries}.MaximumAttempts())

	c := contract.Config{Retry: contract.RetryConfig{InitialInterval: 10 * time.Second, MaximumInterval: time.Second, BackoffCoefficient: 0.5}}.WithDefaults()
	assert.Equal(t, contract.RetryConfig{InitialInterval: 10 * time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Second, MaxRetries: 3}, c.Retry)
	p := retryPolicy(contract.DefaultConfig().Retry, contract.ReplicateNonRetryableErrorTypes())
	assert.Contains(t, p.NonRetryableErrorTypes, contract.KindAccessDenied.ErrorType())
	assert.Equal(t, int32(4), p.MaximumAttempts)
}

// TestSignalPayloadBound checks the documented bound: a full signal of the largest
// records stays well below Temporal's 2 MB payload limit.
func TestSignalPayloadBound(t *testing.T) {
	big := entry(1 << 40)
	big.Record.Key = strings.Repeat("k", 1024)
	big.Record.UserMetadata = map[string]string{"x-amz-meta-big": strings.Repeat("m", 2000)}
	big.Record.Tags = map[string]string{}
	for i := range 10 {
		big.Record.Tags[fmt.Sprintf("%0128d", i)] = strings.Repeat("v", 256)
	}
	sig := contract.EntriesSignal{}
	for range contract.MaxEntriesPerSignal {
		sig.Entries = append(sig.Entries, big)
	}
	pl, err := converter.GetDefaultDataConverter().ToPayload(sig)
	require.NoError(t, err)
	assert.Less(t, len(pl.Data), 1<<20)
	assert.Less(t, entrySize(big), 8<<10)
}

func TestReason(t *testing.T) {
	rc := contract.DefaultRetry()
	nr := contract.ReplicateNonRetryableErrorTypes()
	assert.Equal(t, "timed out (Heartbeat) (gave up after 4 attempts)",
		reason(temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_HEARTBEAT, nil), rc, nr))
	assert.Equal(t, "InvalidEntry: no key (not retried)", reason(temporal.NewApplicationError("no key", contract.KindInvalidEntry.ErrorType()), rc, nr))
	assert.Equal(t, "slow down (gave up after 4 attempts)", reason(temporal.NewApplicationError("slow down", "SlowDown"), rc, nr))
	assert.Equal(t, "cancelled", reason(temporal.NewCanceledError(), rc, nr))
	assert.Equal(t, "boom", reason(errors.New("boom"), contract.RetryConfig{MaxRetries: contract.RetryForever}, nr))
	long := reason(errors.New(strings.Repeat("é", 1000)), contract.RetryConfig{MaxRetries: contract.RetryForever}, nr)
	assert.LessOrEqual(t, len(long), maxReasonLen+len("…"))
	assert.True(t, strings.HasSuffix(long, "é…"), "cut on a rune boundary")
}
