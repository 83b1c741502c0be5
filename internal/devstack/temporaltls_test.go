package devstack

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/operatorservice/v1"

	"github.com/backbeat-temporal/backbeat/internal/tlsconf/tlstest"
)

// TestTemporalPostgresMutualTLS starts the server on PostgreSQL with its frontend on
// mutual TLS and the Web UI: the registrations went through (the search attribute is
// there), the Web UI reaches the frontend with its TLS setting, the script's register
// (the Temporal CLI) connects with it too, and a client in plain text is refused.
func TestTemporalPostgresMutualTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and the Temporal server")
	}
	ca, clients := tlstest.NewCA(t, "temporal CA"), tlstest.NewCA(t, "client CA")
	cert, key := ca.Issue(t, "127.0.0.1")
	files := &TemporalTLSFiles{CertFile: cert, KeyFile: key, CAFile: ca.CAFile, ClientCAFile: clients.CAFile}
	tp := StartTemporal(t, TemporalPostgres(), TemporalShards(1), TemporalTLS(*files),
		TemporalSearchAttributes(map[string]string{"DevstackTLS": "Keyword"}))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	sa, err := tp.Client().OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: "default"})
	require.NoError(t, err)
	assert.Contains(t, sa.CustomAttributes, "DevstackTLS", "registered over mutual TLS")
	require.NoError(t, httpOK(ctx, tp.UIURL()+"/api/v1/namespaces"), "the Web UI reaches the frontend over mutual TLS")
	require.NoError(t, tp.Ready(ctx))

	root, err := moduleRoot()
	require.NoError(t, err)
	reg := exec.CommandContext(ctx, "bash", filepath.Join(root, "scripts", "temporal-postgres.sh"), "register", strconv.Itoa(tp.port))
	reg.Env = append(os.Environ(), files.env()...)
	out, err := reg.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "search attributes registered on "+tp.Addr())
	sa, err = tp.Client().OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: "default"})
	require.NoError(t, err)
	assert.Contains(t, sa.CustomAttributes, "BackbeatPartition", "registered by the script over mutual TLS")

	pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
	defer pcancel()
	assert.Error(t, TemporalReady(pctx, tp.Addr()), "a client in plain text is refused")
}
