package bridge_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/internal/metricsserver"
)

// healthBody is the body of /healthz.
type healthBody struct {
	code    int
	Healthy bool                                 `json:"healthy"`
	Checks  map[string]metricsserver.CheckResult `json:"checks"`
}

func getHealth(ctx context.Context, addr string) (healthBody, error) {
	var h healthBody
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/healthz", nil)
	if err != nil {
		return h, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return h, err
	}
	defer resp.Body.Close()
	h.code = resp.StatusCode
	return h, json.NewDecoder(resp.Body).Decode(&h)
}

// The bridge's /healthz reports Kafka's and Temporal's reachability: 200 while it
// consumes, 503 naming Temporal once Temporal is unreachable, 200 again once it is back.
func TestIntegrationHealthzReportsTemporal(t *testing.T) {
	r := newRig(t, false)
	cfg := r.bridgeConfig()
	cfg.StatusPoll = 200 * time.Millisecond
	r.runBridge(cfg)
	r.produce(4, 4)
	r.waitProcessed(60 * time.Second)
	require.Eventually(t, func() bool {
		m := mustScrape(t, cfg.MetricsListen)
		var completed float64
		for _, v := range filterSeries(m, `backbeat_workflow_counter{counter="completed",`) {
			completed += v
		}
		return completed == 4 &&
			len(filterSeries(m, `backbeat_workflow_counter{counter="duplicates",`)) > 0 &&
			len(filterSeries(m, `backbeat_workflow_counter{counter="status_errors",`)) > 0 &&
			len(filterSeries(m, `backbeat_workflow_in_flight_seconds{`)) > 0
	}, 30*time.Second, 100*time.Millisecond, "the workflows' counters are exported, current while no entries flow")

	h, err := getHealth(context.Background(), cfg.MetricsListen)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, h.code)
	assert.True(t, h.Healthy)
	for _, c := range []string{"kafka", "temporal", "consuming"} {
		assert.True(t, h.Checks[c].OK, "%s: %+v", c, h.Checks)
	}

	require.NoError(t, r.temporal.Process().Stop())
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		h, err := getHealth(context.Background(), cfg.MetricsListen)
		require.NoError(ct, err)
		assert.Equal(ct, http.StatusServiceUnavailable, h.code)
		assert.False(ct, h.Healthy)
		assert.False(ct, h.Checks["temporal"].OK)
		assert.Contains(ct, h.Checks["temporal"].Error, r.temporal.Addr())
		assert.True(ct, h.Checks["kafka"].OK, "Kafka is still up")
	}, 30*time.Second, 100*time.Millisecond, "Temporal down: /healthz is 503 and names Temporal")

	require.NoError(t, r.temporal.Process().Restart())
	require.Eventually(t, func() bool { return healthy(context.Background(), cfg.MetricsListen) == nil },
		60*time.Second, 100*time.Millisecond, "Temporal back: /healthz is 200 again")
}

// filterSeries returns the series whose name and labels start with prefix.
func filterSeries(m map[string]float64, prefix string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		if strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out
}
