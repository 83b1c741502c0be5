package worker

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
)

func TestSDKMetricsNameClashIsDropped(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newSDKMetrics(reg)
	h.Counter("x").Inc(1)
	h.Counter("x").Inc(2)
	// "x_total" is taken by the counter: a gauge of that name cannot register.
	assert.NotPanics(t, func() { h.Gauge("x_total").Update(1); h.Gauge("x_total").Update(2) })
	mfs, err := reg.Gather()
	assert.NoError(t, err)
	var got float64
	for _, mf := range mfs {
		if mf.GetName() == "x_total" {
			got = mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	assert.Equal(t, 3.0, got)
}
