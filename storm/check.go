// Package storm is the fault-storm harness of the engine: a seeded writer puts,
// overwrites, tags, deletes and multipart-uploads objects on a source s3server while the
// harness, from the same seed, kill -9s and restarts the engine's processes (ingest ×2,
// bridge ×2, worker ×2) and the source and target s3servers, and stops and starts ZooKeeper, the Kafka-protocol broker and
// Temporal — the dev server, or with Config.Temporal the server on PostgreSQL, whose
// server and PostgreSQL processes it also kill -9s and stops; then it waits for
// quiescence and checks the target against the source of truth (see [Check]). The
// short forms run in `make test`; the long form is `make storm SEED=N [TEMPORAL=postgres]`
// (see docs/RELIABILITY.md).
package storm

import (
	"github.com/backbeat-temporal/backbeat/bbproto"

	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
)

// Version is what the checker compares of one object version or delete marker.
type Version struct {
	Bucket, Key, VersionID string
	DeleteMarker           bool
	ETag                   string
	Size                   int64
	// BodySHA256 is the hex SHA-256 of the data ("" for a delete marker).
	BodySHA256 string
	// UserMetadata and Tags as stored on the version (nil and empty are equal).
	UserMetadata, Tags map[string]string
	// Status is the replication status (COMPLETED, FAILED, PENDING, REPLICA, ...).
	Status bbproto.Status
	// Reason of a FAILED status.
	Reason string
}

func (v Version) id() string { return v.Bucket + "/" + v.Key + "@" + v.VersionID }

// Snapshot is the state the checker compares: every version of the source buckets and
// of their target buckets, per object newest first (the order of ListObjectVersions),
// and the versions the writer was told were written (acknowledged PUTs, deletes and
// multipart completions), in any order. Target versions carry the source bucket's name
// in Bucket, so that a version is identified the same way on both sides.
type Snapshot struct {
	Source, Target []Version
	Acked          []Version
}

// Result is what [Check] found; every count must be 0.
type Result struct {
	// Lost counts acknowledged versions missing on the source, and source versions
	// missing on the target.
	Lost int
	// OutOfOrder counts target versions that are not in the source's order for their
	// object: the versions outside a longest common ordering.
	OutOfOrder int
	// Stuck counts source versions neither COMPLETED nor FAILED (PENDING, PROCESSING).
	Stuck int
	// Failed counts FAILED source versions.
	Failed int
	// Duplicate counts target versions present more than once, or absent from the source.
	Duplicate int
	// Mismatch counts target versions that differ from their source version (kind,
	// ETag, size, data, user metadata, tags) or are not marked REPLICA.
	Mismatch int
	// Problems describes each finding, one line each (the first ones when many).
	Problems []string
}

// MaxProblems is how many problem lines a Result keeps.
const MaxProblems = 50

// OK reports whether nothing was found.
func (r Result) OK() bool {
	return r.Lost+r.OutOfOrder+r.Stuck+r.Failed+r.Duplicate+r.Mismatch == 0
}

func (r *Result) problem(format string, args ...any) {
	if len(r.Problems) < MaxProblems {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	}
}

// Check compares a snapshot: every acknowledged version is on the source; every source
// version is COMPLETED (a FAILED one counts in Failed, anything else in Stuck); the
// target holds exactly the source's versions, each once, equal in kind, ETag, size,
// data, user metadata and tags, marked REPLICA, and per object in the source's order.
func Check(s Snapshot) Result {
	var r Result
	src := map[string]Version{}
	for _, v := range s.Source {
		src[v.id()] = v
		switch v.Status {
		case bbproto.StatusCompleted:
		case bbproto.StatusFailed:
			r.Failed++
			r.problem("failed: %s: %s", v.id(), v.Reason)
		default:
			r.Stuck++
			r.problem("stuck: %s is %q", v.id(), v.Status)
		}
	}
	for _, v := range s.Acked {
		if _, ok := src[v.id()]; !ok {
			r.Lost++
			r.problem("lost on the source: %s was acknowledged to the writer", v.id())
		}
	}
	dst := map[string]Version{}
	for _, v := range s.Target {
		id := v.id()
		if _, seen := dst[id]; seen {
			r.Duplicate++
			r.problem("duplicate: %s is on the target more than once", id)
			continue
		}
		dst[id] = v
		sv, ok := src[id]
		if !ok {
			r.Duplicate++
			r.problem("extra: %s is on the target, not on the source", id)
			continue
		}
		if d := diff(sv, v); d != "" {
			r.Mismatch++
			r.problem("mismatch: %s: %s", id, d)
		}
	}
	for _, v := range s.Source {
		if _, ok := dst[v.id()]; !ok {
			r.Lost++
			r.problem("lost: %s (%s) is not on the target", v.id(), v.Status)
		}
	}
	r.OutOfOrder = outOfOrder(s.Source, s.Target, &r)
	return r
}

// diff says how a target version differs from its source version ("" when equal).
func diff(s, t Version) string {
	var d []string
	if s.DeleteMarker != t.DeleteMarker {
		d = append(d, fmt.Sprintf("delete marker %v, target %v", s.DeleteMarker, t.DeleteMarker))
	}
	if s.ETag != t.ETag {
		d = append(d, fmt.Sprintf("ETag %q, target %q", s.ETag, t.ETag))
	}
	if s.Size != t.Size {
		d = append(d, fmt.Sprintf("size %d, target %d", s.Size, t.Size))
	}
	if s.BodySHA256 != t.BodySHA256 {
		d = append(d, "data differs")
	}
	if !maps.Equal(s.UserMetadata, t.UserMetadata) {
		d = append(d, fmt.Sprintf("user metadata %v, target %v", s.UserMetadata, t.UserMetadata))
	}
	if !maps.Equal(s.Tags, t.Tags) {
		d = append(d, fmt.Sprintf("tags %v, target %v", s.Tags, t.Tags))
	}
	if t.Status != bbproto.StatusReplica {
		d = append(d, fmt.Sprintf("target status %q, want %s", t.Status, bbproto.StatusReplica))
	}
	return strings.Join(d, "; ")
}

// outOfOrder counts, per object, the target versions outside a longest subsequence
// that keeps the source's order (versions on one side only are ignored: they count as
// lost or extra).
func outOfOrder(source, target []Version, r *Result) int {
	type object struct{ bucket, key string }
	rank := map[string]int{} // version id → position among its object's source versions
	next := map[object]int{}
	for _, v := range source {
		o := object{v.Bucket, v.Key}
		rank[v.id()] = next[o]
		next[o]++
	}
	seq := map[object][]int{}
	seen := map[string]bool{}
	var objects []object
	for _, v := range target {
		i, ok := rank[v.id()]
		if !ok || seen[v.id()] {
			continue
		}
		seen[v.id()] = true
		o := object{v.Bucket, v.Key}
		if _, ok := seq[o]; !ok {
			objects = append(objects, o)
		}
		seq[o] = append(seq[o], i)
	}
	n := 0
	for _, o := range objects {
		if bad := len(seq[o]) - longestIncreasing(seq[o]); bad > 0 {
			n += bad
			r.problem("out of order: %s/%s: target order of the source positions %v", o.bucket, o.key, first(seq[o], 20))
		}
	}
	return n
}

// longestIncreasing is the length of a longest strictly increasing subsequence of a.
func longestIncreasing(a []int) int {
	var tails []int
	for _, x := range a {
		i := sort.SearchInts(tails, x)
		if i == len(tails) {
			tails = append(tails, x)
		} else {
			tails[i] = x
		}
	}
	return len(tails)
}

func first[T any](s []T, n int) []T { return slices.Clone(s[:min(n, len(s))]) }
