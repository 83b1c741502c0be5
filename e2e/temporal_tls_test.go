package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/internal/devstack"
	"github.com/backbeat-temporal/backbeat/internal/tlsconf/tlstest"
	"github.com/backbeat-temporal/backbeat/s3server/s3test"
	"github.com/backbeat-temporal/backbeat/starter"
)

// TestTemporalTLS runs the engine against the Temporal server on PostgreSQL with its
// frontend on TLS, then on mutual TLS (one server each): the bridge and the worker,
// given the CA bundle (and a client certificate), replicate every version, and the
// starter's partitions reads the partition workflows' status. Without the CA (TLS), or
// without the client certificate (mutual TLS), the bridge and the worker log, and the
// starter prints, what to configure.
func TestTemporalTLS(t *testing.T) {
	for _, mutual := range []bool{false, true} {
		t.Run(map[bool]string{false: "TLS", true: "mutualTLS"}[mutual], func(t *testing.T) {
			ca := tlstest.NewCA(t, "temporal CA")
			cert, key := ca.Issue(t, "127.0.0.1")
			files := devstack.TemporalTLSFiles{CertFile: cert, KeyFile: key, CAFile: ca.CAFile}
			good := []string{"--temporal-tls-ca", ca.CAFile}
			// bad misses what the server needs; want is the start of what it is told.
			bad := []string{"--temporal-tls-server-name", "127.0.0.1"}
			want := "its certificate is not signed by a CA of the system's CA roots: give the bundle of the CA that signed it with --temporal-tls-ca"
			if mutual {
				clients := tlstest.NewCA(t, "client CA")
				files.ClientCAFile = clients.CAFile
				ccert, ckey := clients.Issue(t, "backbeat")
				bad = good
				good = append(good, "--temporal-tls-cert", ccert, "--temporal-tls-key", ckey)
				want = "the server requires a client certificate (mutual TLS) and none was given: give one signed by a CA the server trusts with --temporal-tls-cert"
			}
			s := startStack(t, withTemporalPostgres(), withTemporalTLS(files), withLogLevel("info"),
				withBridgeArgs(good...), withWorkerArgs(good...))

			var w written
			const n = 8
			for i := range n {
				w.put(s, fmt.Sprintf("tls-%d", i), []byte(fmt.Sprintf("object %d over TLS", i)), nil)
			}
			src := s.waitSettled(3*time.Minute, n)
			w.mu.Lock()
			s.checkTarget(src, &w)
			w.mu.Unlock()

			addr := s.temporal.Addr()
			partitions := func(tls ...string) (int, string, string) {
				var out, errOut bytes.Buffer
				args := append([]string{"partitions", "--temporal-address", addr, "--timeout", "10s", "--output", "json"}, tls...)
				code := starter.Execute(context.Background(), args, &out, &errOut)
				return code, out.String(), errOut.String()
			}
			code, out, errOut := partitions(good...)
			require.Equal(t, starter.ExitOK, code, "%s", errOut)
			var list []starter.PartitionStatus
			require.NoError(t, json.Unmarshal([]byte(out), &list), out)
			require.NotEmpty(t, list, "the partition workflows are listed")
			processed := 0
			for _, p := range list {
				require.NotNil(t, p.Status, "partition %d answers its status query over TLS: %s", p.Partition, p.Error)
				processed += int(p.Status.Processed)
			}
			assert.GreaterOrEqual(t, processed, n, "the workflows processed every entry")

			code, _, errOut = partitions(bad...)
			assert.Equal(t, starter.ExitFailed, code)
			assert.Contains(t, errOut, "TLS to Temporal at "+addr+": "+want, "the starter says what to configure")

			// A bridge and a worker missing the same setting log it at their first attempt.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			bridge := devstack.StartProcess(t, devstack.Command{Name: "bridge-bad-tls", Path: devstack.Build(t, "cmd/bridge"),
				Args: append([]string{"--kafka-brokers", s.kafka.Addr(), "--temporal-address", addr, "--metrics-listen", devstack.FreeAddr(t)}, bad...)})
			worker := devstack.StartProcess(t, devstack.Command{Name: "worker-bad-tls", Path: devstack.Build(t, "cmd/worker"),
				Args: append([]string{"--temporal-address", addr, "--s3-endpoint", s.src.URL, "--access-key", s3test.Replication.AccessKey,
					"--secret-key-file", s3test.Replication.SecretFile(t), "--metrics-listen", devstack.FreeAddr(t)}, bad...)})
			require.NoError(t, bridge.WaitLog(ctx, want), "the bridge says what to configure")
			require.NoError(t, worker.WaitLog(ctx, want), "the worker says what to configure")
		})
	}
}
