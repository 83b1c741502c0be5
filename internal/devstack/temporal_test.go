package devstack

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/operatorservice/v1"
)

func TestTemporalStartsWithSearchAttributesAndRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the Temporal dev server")
	}
	tp := StartTemporal(t, TemporalSearchAttributes(map[string]string{"DevstackProbe": "Int"}))
	c := tp.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sa, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: "default"})
	require.NoError(t, err)
	assert.Contains(t, sa.CustomAttributes, "DevstackProbe", "registered at start")

	require.NotEmpty(t, tp.UIURL())
	require.Eventually(t, func() bool {
		resp, err := http.Get(tp.UIURL() + "/api/v1/namespaces")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 100*time.Millisecond, "the Web UI's API answers")

	tp.Kill()
	assert.Error(t, TemporalReady(ctx, tp.Addr()), "down after kill -9")
	tp.Restart()
	require.NoError(t, TemporalReady(ctx, tp.Addr()))
	// The old client reconnects (gRPC backoff) and sees the same namespace data.
	require.EventuallyWithT(t, func(c2 *assert.CollectT) {
		sa, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: "default"})
		if assert.NoError(c2, err) {
			assert.Contains(c2, sa.CustomAttributes, "DevstackProbe", "kept across a restart (same SQLite file)")
		}
	}, 30*time.Second, 100*time.Millisecond)
}
