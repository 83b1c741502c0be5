// Package enginetest starts the whole replication engine for tests, every process
// separate and real, on 127.0.0.1: a source and a target s3server, ZooKeeper, the
// Kafka-protocol dev broker, the Temporal dev server (with the partition workflows'
// search attributes), and the ingest, bridge and worker commands wired together. The
// worker's only site is the target s3server, named "dr".
package enginetest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/backbeat-temporal/backbeat/internal/devstack"
	"github.com/backbeat-temporal/backbeat/s3server/s3test"
	"github.com/backbeat-temporal/backbeat/workflows"
)

// Options tune Start.
type Options struct {
	// Partitions of the topic backbeat-replication, created at the broker's start (so no
	// consumer can auto-create it with another count) and passed to ingest. Default 4.
	Partitions int
	// LogLevel of ingest, bridge and worker. Default: the commands' default (info).
	LogLevel string
	// BridgeArgs and WorkerArgs are extra flags of the bridge and the worker. Default none.
	BridgeArgs, WorkerArgs []string
}

// Engine is every process of a started engine.
type Engine struct {
	Src, Dst               *s3test.Process
	ZK                     *devstack.ZooKeeper
	Kafka                  *devstack.Broker
	Temporal               *devstack.Temporal
	Ingest, Bridge, Worker *devstack.Process
	// IngestMetrics, BridgeMetrics and WorkerMetrics are the processes' /metrics and
	// /healthz addresses (host:port), unless BridgeArgs or WorkerArgs give another.
	IngestMetrics, BridgeMetrics, WorkerMetrics string
}

// Start starts the engine; everything is stopped when the test ends. Replication rules
// of the source buckets pointing at target buckets are the test's to set.
func Start(t testing.TB, o Options) *Engine {
	t.Helper()
	if o.Partitions == 0 {
		o.Partitions = 4
	}
	e := &Engine{Src: s3test.Start(t), Dst: s3test.Start(t)}
	e.ZK = devstack.StartZooKeeper(t)
	e.Kafka = devstack.StartBroker(t, devstack.BrokerTopics(fmt.Sprintf("backbeat-replication:%d", o.Partitions)))
	e.Temporal = devstack.StartTemporal(t, devstack.TemporalHeadless(),
		devstack.TemporalSearchAttributes(workflows.SearchAttributes()))

	sites := filepath.Join(t.TempDir(), "sites.json")
	data, err := json.Marshal(map[string]any{"default": "dr", "sites": []map[string]any{{
		"name": "dr", "endpoint": e.Dst.URL, "kind": "s3server",
		"accessKey": s3test.Replication.AccessKey, "secretKey": s3test.Replication.SecretKey}}})
	if err != nil {
		t.Fatalf("enginetest: %v", err)
	}
	if err := os.WriteFile(sites, data, 0o600); err != nil {
		t.Fatalf("enginetest: write sites file: %v", err)
	}
	var common []string
	if o.LogLevel != "" {
		common = append(common, "--log-level", o.LogLevel)
	}
	creds := []string{"--access-key", s3test.Replication.AccessKey, "--secret-key", s3test.Replication.SecretKey}
	args := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	e.IngestMetrics, e.BridgeMetrics, e.WorkerMetrics = devstack.FreeAddr(t), devstack.FreeAddr(t), devstack.FreeAddr(t)
	e.Ingest = devstack.StartProcess(t, devstack.Command{Name: "ingest", Path: devstack.Build(t, "cmd/ingest"),
		Args: args([]string{"--s3-endpoint", e.Src.URL, "--kafka-brokers", e.Kafka.Addr(), "--zookeeper", e.ZK.Addr(),
			"--partitions", fmt.Sprint(o.Partitions), "--poll-wait", "2s", "--metrics-listen", e.IngestMetrics}, creds, common)})
	e.Bridge = devstack.StartProcess(t, devstack.Command{Name: "bridge", Path: devstack.Build(t, "cmd/bridge"),
		Args: args([]string{"--kafka-brokers", e.Kafka.Addr(), "--temporal-address", e.Temporal.Addr(),
			"--retry-initial", "200ms", "--retry-max-interval", "2s", "--metrics-listen", e.BridgeMetrics}, common, o.BridgeArgs)})
	e.Worker = devstack.StartProcess(t, devstack.Command{Name: "worker", Path: devstack.Build(t, "cmd/worker"),
		Args: args([]string{"--temporal-address", e.Temporal.Addr(), "--s3-endpoint", e.Src.URL, "--sites", sites,
			"--metrics-listen", e.WorkerMetrics}, creds, common, o.WorkerArgs)})
	return e
}
