package worker

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/contract"
)

// A version's bytes are counted once, when it is replicated; the bytes of failed
// attempts go to a counter of their own.
func TestBytesCountedOnceOnSuccess(t *testing.T) {
	m := newMetrics()
	m.ReplicationFailed("dr", contract.KindRetryable, 300)
	m.ReplicationFailed("dr", contract.KindAccessDenied, 100)
	m.Replicated("dr", "copied", 1000)
	assert.Equal(t, 1000.0, value(t, m.bytes.WithLabelValues("dr")))
	assert.Equal(t, 400.0, value(t, m.failedBytes.WithLabelValues("dr")))
	assert.Equal(t, 1.0, value(t, m.failures.WithLabelValues("dr", "retryable")))
}

// value reads a counter.
func value(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, c.Write(&m))
	return m.GetCounter().GetValue()
}
