package devstack

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
)

// TestTemporalPostgresKeepsDataAcrossKills starts the server on PostgreSQL with the Web
// UI, starts a workflow, then kills -9 PostgreSQL, stops it (while the server is
// connected) and kills -9 the server in turn: after each restart the namespace, the
// search attribute and the workflow are still there.
func TestTemporalPostgresKeepsDataAcrossKills(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and the Temporal server")
	}
	tp := StartTemporal(t, TemporalPostgres(), TemporalShards(2),
		TemporalSearchAttributes(map[string]string{"DevstackProbe": "Int", "DevstackTag": "Keyword"}))
	require.NotNil(t, tp.Postgres())
	c := tp.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	sa, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: "default"})
	require.NoError(t, err)
	assert.Contains(t, sa.CustomAttributes, "DevstackProbe", "registered at start")
	assert.Contains(t, sa.CustomAttributes, "DevstackTag", "registered at start")
	require.NoError(t, httpOK(ctx, tp.UIURL()+"/api/v1/namespaces"), "the Web UI's API answers")

	// A workflow no worker runs: it stays open in the store.
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "devstack-probe", TaskQueue: "devstack-none"}, "Probe")
	require.NoError(t, err)
	kept := func(what string) {
		t.Helper()
		require.EventuallyWithT(t, func(ct *assert.CollectT) {
			d, err := c.DescribeWorkflowExecution(ctx, "devstack-probe", run.GetRunID())
			if assert.NoError(ct, err) {
				assert.Equal(ct, run.GetRunID(), d.WorkflowExecutionInfo.Execution.RunId)
			}
			sa, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: "default"})
			if assert.NoError(ct, err) {
				assert.Contains(ct, sa.CustomAttributes, "DevstackProbe")
			}
		}, 2*time.Minute, 200*time.Millisecond, "the workflow and search attributes are kept after %s", what)
	}

	require.NoError(t, tp.Postgres().Kill())
	assert.Error(t, PostgresReady(ctx, tp.PostgresAddr()), "PostgreSQL down after kill -9")
	require.NoError(t, tp.Postgres().Restart())
	kept("kill -9 of PostgreSQL")

	// An outage: PostgreSQL stopped while the server holds connections to it (fast
	// shutdown: a smart one would wait for them to close).
	require.NoError(t, tp.Postgres().Stop(), "PostgreSQL exits on its stop signal, not killed")
	require.NoError(t, tp.Postgres().Start())
	kept("a stop and start of PostgreSQL")

	tp.Kill()
	assert.Error(t, TemporalReady(ctx, tp.Addr()), "server down after kill -9")
	tp.Restart()
	require.NoError(t, TemporalReady(ctx, tp.Addr()))
	kept("kill -9 of the Temporal server")
}
