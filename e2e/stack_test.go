// Package e2e runs the whole engine with every process separate: source and target
// s3server, ZooKeeper, the Kafka-protocol dev broker, the Temporal dev server (or the
// server on PostgreSQL: postgres_test.go, -bench.temporal), ingest, bridge and
// worker — and checks what users see: every source version ends COMPLETED, the target
// holds REPLICA versions with the same ids, data and metadata, in order.
package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/internal/devstack"
	"github.com/backbeat-temporal/backbeat/internal/enginetest"
	"github.com/backbeat-temporal/backbeat/s3server/s3test"
)

const (
	srcBucket  = "source-bucket"
	dstBucket  = "target-bucket"
	partitions = 4
)

// stack is every process of the engine, started for one test.
type stack struct {
	t                      testing.TB
	ctx                    context.Context
	src, dst               *s3test.Process
	zk                     *devstack.ZooKeeper
	kafka                  *devstack.Broker
	temporal               *devstack.Temporal
	ingest, bridge, worker *devstack.Process
	srcC, dstC             *s3.Client
	// workers are every worker process, workerMetrics their /metrics addresses.
	workers       []*devstack.Process
	workerMetrics []string
}

// stackOptions tune startStack; the zero value is what the tests use.
type stackOptions struct {
	partitions int      // of the topic (default 4)
	logLevel   string   // of ingest, bridge and worker (default debug)
	ingestArgs []string // extra flags of ingest
	bridgeArgs []string // extra flags of the bridge
	workerArgs []string // extra flags of the worker
	workers    int      // worker processes sharing the task queue (default 1)

	// temporal are extra options of the Temporal server (default: the dev server).
	temporal []devstack.TemporalOption
}

type stackOption func(*stackOptions)

func withPartitions(n int) stackOption       { return func(o *stackOptions) { o.partitions = n } }
func withLogLevel(l string) stackOption      { return func(o *stackOptions) { o.logLevel = l } }
func withIngestArgs(a ...string) stackOption { return func(o *stackOptions) { o.ingestArgs = a } }
func withBridgeArgs(a ...string) stackOption { return func(o *stackOptions) { o.bridgeArgs = a } }
func withWorkerArgs(a ...string) stackOption { return func(o *stackOptions) { o.workerArgs = a } }
func withWorkers(n int) stackOption          { return func(o *stackOptions) { o.workers = n } }

// withTemporalPostgres runs the production-shaped Temporal (server on PostgreSQL,
// scripts/temporal-postgres.sh) instead of the dev server.
func withTemporalPostgres() stackOption {
	return func(o *stackOptions) { o.temporal = append(o.temporal, devstack.TemporalPostgres()) }
}

// withTemporalTLS serves the Temporal frontend on TLS with f (with
// withTemporalPostgres: the dev server serves no TLS).
func withTemporalTLS(f devstack.TemporalTLSFiles) stackOption {
	return func(o *stackOptions) { o.temporal = append(o.temporal, devstack.TemporalTLS(f)) }
}

func startStack(t testing.TB, opts ...stackOption) *stack {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end: starts every process of the engine")
	}
	o := stackOptions{partitions: partitions, logLevel: "debug"}
	for _, opt := range opts {
		opt(&o)
	}
	s := &stack{t: t, ctx: context.Background()}
	e := enginetest.Start(t, enginetest.Options{Partitions: o.partitions, LogLevel: o.logLevel,
		IngestArgs: o.ingestArgs, BridgeArgs: o.bridgeArgs, WorkerArgs: o.workerArgs, Temporal: o.temporal, Workers: o.workers})
	s.src, s.dst, s.zk, s.kafka, s.temporal = e.Src, e.Dst, e.ZK, e.Kafka, e.Temporal
	s.ingest, s.bridge, s.worker = e.Ingest, e.Bridge, e.Worker
	s.workers, s.workerMetrics = e.Workers, e.WorkersMetrics
	s.srcC, s.dstC = s.src.Client(s3test.User), s.dst.Client(s3test.User)

	s.mkBucket(s.srcC, srcBucket)
	s.mkBucket(s.dstC, dstBucket)
	_, err := s.srcC.PutBucketReplication(s.ctx, &s3.PutBucketReplicationInput{Bucket: aws.String(srcBucket),
		ReplicationConfiguration: &s3types.ReplicationConfiguration{
			Role: aws.String("arn:aws:iam::000000000000:role/backbeat"),
			Rules: []s3types.ReplicationRule{{ID: aws.String("all"), Status: s3types.ReplicationRuleStatusEnabled,
				Prefix: aws.String(""),
				Destination: &s3types.Destination{Bucket: aws.String("arn:aws:s3:::" + dstBucket),
					StorageClass: "dr"}}}}})
	require.NoError(t, err)
	return s
}

func (s *stack) mkBucket(c *s3.Client, name string) {
	s.t.Helper()
	s3test.MakeBucket(s.t, c, name, s3types.BucketVersioningStatusEnabled)
}

// version is what the privileged version route says of one version.
type version struct{ bbproto.Version }

// status is v's replication status ("" without one).
func (v version) status() string { return string(v.ReplicationStatus()) }

// versions lists every version of bucket on p (newest first per key, keys in order),
// with its replication status read from the version route.
func (s *stack) versions(p *s3test.Process, c *s3.Client, bucket string) []version {
	s.t.Helper()
	var out []version
	in := &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)}
	for {
		res, err := c.ListObjectVersions(s.ctx, in)
		require.NoError(s.t, err)
		type item struct {
			key, id string
			dm      bool
			at      time.Time
		}
		var items []item
		for _, v := range res.Versions {
			items = append(items, item{aws.ToString(v.Key), aws.ToString(v.VersionId), false, aws.ToTime(v.LastModified)})
		}
		for _, d := range res.DeleteMarkers {
			items = append(items, item{aws.ToString(d.Key), aws.ToString(d.VersionId), true, aws.ToTime(d.LastModified)})
		}
		for _, it := range items {
			out = append(out, s.version(p, bucket, it.key, it.id))
		}
		if !aws.ToBool(res.IsTruncated) {
			break
		}
		in.KeyMarker, in.VersionIdMarker = res.NextKeyMarker, res.NextVersionIdMarker
	}
	return out
}

func (s *stack) version(p *s3test.Process, bucket, key, id string) version {
	s.t.Helper()
	v, err := p.BBClient().Version(s.ctx, bucket, key, id)
	require.NoError(s.t, err, "version %s/%s@%s", bucket, key, id)
	return version{*v}
}

// completed counts the source versions whose status is COMPLETED.
func (s *stack) completed() int {
	s.t.Helper()
	n := 0
	for _, v := range s.versions(s.src, s.srcC, srcBucket) {
		if v.status() == "COMPLETED" {
			n++
		}
	}
	return n
}

// waitSettled waits until no source version is PENDING (or PROCESSING) and returns the
// versions; it fails with the list of stuck versions at the deadline.
func (s *stack) waitSettled(timeout time.Duration, want int) []version {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		vs := s.versions(s.src, s.srcC, srcBucket)
		var stuck []string
		for _, v := range vs {
			if st := v.status(); st != "COMPLETED" && st != "FAILED" {
				stuck = append(stuck, fmt.Sprintf("%s@%s=%q", v.Key, v.VersionID, st))
			}
		}
		if len(stuck) == 0 && len(vs) >= want {
			return vs
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("after %s, %d of %d source versions are not settled: %s", timeout, len(stuck), len(vs), strings.Join(first(stuck, 20), ", "))
		}
		time.Sleep(200 * time.Millisecond) // polling interval of a condition with a deadline
	}
}

func first(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
