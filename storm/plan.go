package storm

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// OpKind is what one writer operation does.
type OpKind int

// Writer operations.
const (
	// OpPut puts a new version (a small object with user metadata, sometimes tags).
	OpPut OpKind = iota
	// OpTag replaces the tags of an existing (not deleted) version of the key.
	OpTag
	// OpUntag removes the tags of an existing version of the key.
	OpUntag
	// OpDelete adds a delete marker on the key.
	OpDelete
	// OpMultipart completes a two-part multipart upload (a 5 MiB part and a small one).
	OpMultipart
)

func (k OpKind) String() string {
	return [...]string{"put", "tag", "untag", "delete", "multipart"}[k]
}

// Op is one operation of the seeded writer.
type Op struct {
	Kind   OpKind
	Bucket int // index of the source bucket
	Key    string
	Size   int    // of the data (OpPut) or of the last part (OpMultipart)
	Pick   uint64 // chooses the version OpTag and OpUntag change, among the key's versions
	Tags   map[string]string
}

// Plan returns the writer's operations for seed: mostly puts over Keys keys of Buckets
// buckets (so keys are overwritten), then tag changes, delete markers and, one op in
// MultipartEvery, a multipart upload. The same seed gives the same plan.
func Plan(seed int64, c Config) []Op {
	c = c.withDefaults()
	r := rand.New(rand.NewPCG(uint64(seed), 0x5707))
	ops := make([]Op, 0, c.Ops)
	for range c.Ops {
		op := Op{Bucket: r.IntN(c.Buckets), Key: fmt.Sprintf("k%03d", r.IntN(c.Keys)), Pick: r.Uint64()}
		switch n := r.IntN(100); {
		case c.MultipartEvery > 0 && r.IntN(c.MultipartEvery) == 0:
			op.Kind, op.Size = OpMultipart, 1+r.IntN(64<<10)
		case n < 70:
			op.Kind, op.Size = OpPut, r.IntN(4<<10)
			if r.IntN(4) == 0 {
				op.Tags = map[string]string{"put": fmt.Sprint(r.IntN(100))}
			}
		case n < 82:
			op.Kind, op.Tags = OpTag, map[string]string{"team": fmt.Sprintf("t%d", r.IntN(10)), "n": fmt.Sprint(r.IntN(1000))}
		case n < 88:
			op.Kind = OpUntag
		default:
			op.Kind = OpDelete
		}
		ops = append(ops, op)
	}
	return ops
}

// FaultKind is what one fault does.
type FaultKind int

// Faults.
const (
	// FaultKill kill -9s one to three processes (the engine's, the source and target
	// s3servers, with TemporalPostgres the Temporal server and PostgreSQL) and restarts
	// each after a delay.
	FaultKill FaultKind = iota
	// FaultZooKeeper stops ZooKeeper (SIGTERM) for Config.Outage.
	FaultZooKeeper
	// FaultBroker stops the Kafka-protocol broker (SIGTERM) for Config.Outage.
	FaultBroker
	// FaultTemporal stops the Temporal server (SIGTERM) for Config.Outage: the dev
	// server, or the server on PostgreSQL.
	FaultTemporal
	// FaultPostgres stops PostgreSQL (SIGTERM) for Config.Outage; only with
	// Config.Temporal TemporalPostgres.
	FaultPostgres
)

func (k FaultKind) String() string {
	return [...]string{"kill", "zookeeper", "broker", "temporal", "postgres"}[k]
}

// Fault is one event of the storm.
type Fault struct {
	Kind FaultKind
	// Wait is the pause before the fault, after the previous one ended.
	Wait time.Duration
	// Victims are indexes into the processes the storm kills (FaultKill), distinct:
	// the engine's, then with TemporalPostgres the Temporal server and PostgreSQL, then
	// the source and the target s3server.
	Victims []int
	// Down is how long each victim stays down before its restart (FaultKill).
	Down []time.Duration
}

// Faults returns an endless source of faults for seed over n processes the storm may
// kill: mostly kills (one process, sometimes two or three at once), and one fault in
// five an outage of ZooKeeper, the broker or Temporal, or with TemporalPostgres also of
// PostgreSQL. The same seed, Config.Temporal and n give the same sequence. (The storm's
// n grew by two when it began to kill the s3servers: a seed's sequence of kills is not
// the one of the tables taken before.)
func Faults(seed int64, c Config, n int) func() Fault {
	c = c.withDefaults()
	outages := int(FaultTemporal)
	if c.Temporal == TemporalPostgres {
		outages = int(FaultPostgres)
	}
	r := rand.New(rand.NewPCG(uint64(seed), 0xfa17))
	return func() Fault {
		f := Fault{Wait: c.FaultGap/2 + time.Duration(r.Int64N(int64(c.FaultGap)))}
		if r.IntN(5) == 0 {
			f.Kind = FaultKind(1 + r.IntN(outages))
			return f
		}
		victims := 1
		switch x := r.IntN(10); {
		case x == 0:
			victims = 3
		case x < 3:
			victims = 2
		}
		f.Victims = r.Perm(n)[:min(victims, n)]
		for range f.Victims {
			f.Down = append(f.Down, time.Duration(r.Int64N(int64(2*time.Second))))
		}
		return f
	}
}
