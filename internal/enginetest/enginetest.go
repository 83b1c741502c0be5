// Package enginetest starts the whole replication engine for tests, every process
// separate and real, on 127.0.0.1: a source and a target s3server, ZooKeeper, the
// Kafka-protocol dev broker, the Temporal dev server or, with Options.Temporal, the
// server on PostgreSQL (with the partition workflows' search attributes), and the
// ingest, bridge and worker commands wired together. The worker has two sites: "dr",
// the target s3server (rules with StorageClass "dr"), and "source", the source s3server
// itself and the default site (rules naming no site: a destination bucket on the source
// s3server, as s3server takes them).
package enginetest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/backbeat-temporal/backbeat/contract"
	"github.com/backbeat-temporal/backbeat/internal/devstack"
	"github.com/backbeat-temporal/backbeat/s3server/s3test"
)

// Options tune Start.
type Options struct {
	// Partitions of the topic backbeat-replication, created at the broker's start (so no
	// consumer can auto-create it with another count) and passed to ingest. Default 4.
	Partitions int
	// LogLevel of ingest, bridge and worker. Default: the commands' default (info).
	LogLevel string
	// IngestArgs, BridgeArgs and WorkerArgs are extra flags of ingest, the bridge and the
	// worker (a flag given twice: the last wins). Default none.
	IngestArgs, BridgeArgs, WorkerArgs []string
	// Temporal are extra options of devstack.StartTemporal, e.g.
	// devstack.TemporalPostgres() for the production-shaped server on PostgreSQL.
	// Default none: the dev server, headless, with the search attributes.
	Temporal []devstack.TemporalOption
	// Ingests, Bridges and Workers are how many processes of each command run (ingest:
	// one leader and standbys sharing the ZooKeeper lock; bridge: members of one Kafka
	// consumer group; worker: pollers of one task queue). Default 1 each.
	Ingests, Bridges, Workers int
}

// Engine is every process of a started engine.
type Engine struct {
	Src, Dst *s3test.Process
	ZK       *devstack.ZooKeeper
	Kafka    *devstack.Broker
	Temporal *devstack.Temporal
	// Ingest, Bridge and Worker are the first process of each command (Ingests[0],
	// Bridges[0], Workers[0]).
	Ingest, Bridge, Worker *devstack.Process
	// Ingests, Bridges and Workers are every process of each command, named
	// "ingest-1", "ingest-2", ... when there are several.
	Ingests, Bridges, Workers []*devstack.Process
	// IngestMetrics, BridgeMetrics and WorkerMetrics are the first process's /metrics
	// and /healthz addresses (host:port), unless BridgeArgs or WorkerArgs give another.
	IngestMetrics, BridgeMetrics, WorkerMetrics string
	// WorkersMetrics are every worker's /metrics and /healthz addresses, in the order of
	// Workers (unless WorkerArgs give another).
	WorkersMetrics []string
}

// Start starts the engine; everything is stopped when the test ends. Replication rules
// of the source buckets pointing at target buckets are the test's to set.
func Start(t testing.TB, o Options) *Engine {
	t.Helper()
	if o.Partitions == 0 {
		o.Partitions = 4
	}
	o.Ingests, o.Bridges, o.Workers = max(o.Ingests, 1), max(o.Bridges, 1), max(o.Workers, 1)
	e := &Engine{Src: s3test.Start(t), Dst: s3test.Start(t)}
	e.ZK = devstack.StartZooKeeper(t)
	e.Kafka = devstack.StartBroker(t, devstack.BrokerTopics(fmt.Sprintf("backbeat-replication:%d", o.Partitions)))
	e.Temporal = devstack.StartTemporal(t, append([]devstack.TemporalOption{devstack.TemporalHeadless(),
		devstack.TemporalSearchAttributes(contract.SearchAttributes())}, o.Temporal...)...)

	sites := filepath.Join(t.TempDir(), "sites.json")
	site := func(name, endpoint string) map[string]any {
		return map[string]any{"name": name, "endpoint": endpoint, "kind": "s3server",
			"accessKey": s3test.Replication.AccessKey, "secretKey": s3test.Replication.SecretKey}
	}
	data, err := json.Marshal(map[string]any{"default": "source", "sites": []map[string]any{site("dr", e.Dst.URL), site("source", e.Src.URL)}})
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
	creds := []string{"--access-key", s3test.Replication.AccessKey, "--secret-key-file", s3test.Replication.SecretFile(t)}
	args := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	// metricsAddr returns a free address, kept in *first when it is the first of its
	// command.
	metricsAddr := func(first *string) string {
		addr := devstack.FreeAddr(t)
		if *first == "" {
			*first = addr
		}
		return addr
	}
	ingest, bridge, worker := devstack.Build(t, "cmd/ingest"), devstack.Build(t, "cmd/bridge"), devstack.Build(t, "cmd/worker")
	for i := range o.Ingests {
		e.Ingests = append(e.Ingests, devstack.StartProcess(t, devstack.Command{Name: name("ingest", i, o.Ingests), Path: ingest,
			Args: args([]string{"--s3-endpoint", e.Src.URL, "--kafka-brokers", e.Kafka.Addr(), "--zookeeper", e.ZK.Addr(),
				"--partitions", fmt.Sprint(o.Partitions), "--poll-wait", "2s", "--metrics-listen", metricsAddr(&e.IngestMetrics)}, creds, common, o.IngestArgs)}))
	}
	for i := range o.Bridges {
		e.Bridges = append(e.Bridges, devstack.StartProcess(t, devstack.Command{Name: name("bridge", i, o.Bridges), Path: bridge,
			Args: args([]string{"--kafka-brokers", e.Kafka.Addr(), "--temporal-address", e.Temporal.Addr(),
				"--metrics-listen", metricsAddr(&e.BridgeMetrics)}, common, o.BridgeArgs)}))
	}
	for i := range o.Workers {
		addr := metricsAddr(&e.WorkerMetrics)
		e.WorkersMetrics = append(e.WorkersMetrics, addr)
		e.Workers = append(e.Workers, devstack.StartProcess(t, devstack.Command{Name: name("worker", i, o.Workers), Path: worker,
			Args: args([]string{"--temporal-address", e.Temporal.Addr(), "--s3-endpoint", e.Src.URL, "--sites", sites,
				"--retry-initial", "200ms", "--retry-max-interval", "2s", "--metrics-listen", addr}, creds, common, o.WorkerArgs)}))
	}
	e.Ingest, e.Bridge, e.Worker = e.Ingests[0], e.Bridges[0], e.Workers[0]
	return e
}

// name is cmd alone when it runs once, else cmd-1, cmd-2, ...
func name(cmd string, i, n int) string {
	if n == 1 {
		return cmd
	}
	return fmt.Sprintf("%s-%d", cmd, i+1)
}
