package storm

import (
	"github.com/backbeat-temporal/backbeat/bbproto"

	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// healthy is a settled snapshot: two objects with several versions (one a delete
// marker), the target an exact REPLICA copy.
func healthy() Snapshot {
	v := func(key, id string, dm bool, body string) Version {
		out := Version{Bucket: "b", Key: key, VersionID: id, DeleteMarker: dm, Status: bbproto.StatusCompleted}
		if !dm {
			out.ETag, out.Size, out.BodySHA256 = "etag-"+body, int64(len(body)), "sha-"+body
			out.UserMetadata, out.Tags = map[string]string{"i": id}, map[string]string{"t": body}
		}
		return out
	}
	src := []Version{ // newest first per object
		v("k1", "v4", true, ""), v("k1", "v3", false, "c"), v("k1", "v2", false, "b"), v("k1", "v1", false, "a"),
		v("k2", "w2", false, "y"), v("k2", "w1", false, "x"),
	}
	var dst []Version
	for _, s := range src {
		d := s
		d.Status = bbproto.StatusReplica
		d.UserMetadata, d.Tags = clone(s.UserMetadata), clone(s.Tags)
		dst = append(dst, d)
	}
	return Snapshot{Source: src, Target: dst, Acked: slices.Clone(src)}
}

func clone(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestCheckHealthySnapshotIsOK(t *testing.T) {
	r := Check(healthy())
	assert.True(t, r.OK(), "%+v", r)
	assert.Empty(t, r.Problems)
	// nil and empty maps are equal
	s := healthy()
	s.Target[1].Tags = nil
	s.Source[1].Tags = map[string]string{}
	assert.True(t, Check(s).OK())
}

// TestCheckDetectsInjectedFaults is the self-test of the harness: each fault injected on
// purpose into an otherwise healthy snapshot is counted, and only where it belongs.
func TestCheckDetectsInjectedFaults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		inject func(s *Snapshot)
		want   Result
	}{
		{"lost version on the target", func(s *Snapshot) {
			s.Target = slices.Delete(s.Target, 2, 3) // k1@v2
		}, Result{Lost: 1}},
		{"lost acknowledged write on the source", func(s *Snapshot) {
			s.Source = slices.Delete(s.Source, 4, 5) // k2@w2 gone from source (and target)
			s.Target = slices.Delete(s.Target, 4, 5)
		}, Result{Lost: 1}},
		{"reordered versions", func(s *Snapshot) {
			s.Target[1], s.Target[2] = s.Target[2], s.Target[1] // k1: v2 listed newer than v3
		}, Result{OutOfOrder: 1}},
		{"oldest version moved to the top", func(s *Snapshot) {
			v1 := s.Target[3]
			s.Target = slices.Insert(slices.Delete(s.Target, 3, 4), 0, v1)
		}, Result{OutOfOrder: 1}},
		{"duplicate version", func(s *Snapshot) {
			s.Target = slices.Insert(s.Target, 5, s.Target[4]) // k2@w2 twice
		}, Result{Duplicate: 1}},
		{"extra version", func(s *Snapshot) {
			x := s.Target[4]
			x.VersionID = "w9"
			s.Target = append(s.Target, x)
		}, Result{Duplicate: 1}},
		{"stuck version", func(s *Snapshot) { s.Source[0].Status = "PENDING" }, Result{Stuck: 1}},
		{"failed version", func(s *Snapshot) { s.Source[5].Status, s.Source[5].Reason = bbproto.StatusFailed, "target down" }, Result{Failed: 1}},
		{"different data", func(s *Snapshot) { s.Target[1].BodySHA256 = "sha-other" }, Result{Mismatch: 1}},
		{"different tags", func(s *Snapshot) { s.Target[2].Tags["t"] = "old" }, Result{Mismatch: 1}},
		{"missing user metadata", func(s *Snapshot) { s.Target[3].UserMetadata = nil }, Result{Mismatch: 1}},
		{"not a replica", func(s *Snapshot) { s.Target[4].Status = bbproto.StatusCompleted }, Result{Mismatch: 1}},
		{"delete marker replaced by an object", func(s *Snapshot) { s.Target[0].DeleteMarker = false }, Result{Mismatch: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := healthy()
			tc.inject(&s)
			r := Check(s)
			require.False(t, r.OK(), "the fault must be found")
			assert.Len(t, r.Problems, 1, "one problem line: %q", r.Problems)
			r.Problems = nil
			assert.Equal(t, tc.want, r)
		})
	}
}

func TestLongestIncreasing(t *testing.T) {
	for _, tc := range []struct {
		in   []int
		want int
	}{{nil, 0}, {[]int{0, 1, 2}, 3}, {[]int{1, 0, 2}, 2}, {[]int{3, 0, 1, 2}, 3}, {[]int{2, 1, 0}, 1}} {
		assert.Equal(t, tc.want, longestIncreasing(tc.in), "%v", tc.in)
	}
}

func TestResultKeepsAtMostMaxProblems(t *testing.T) {
	s := healthy()
	for i := range s.Source {
		s.Source[i].Status = "PENDING"
	}
	for range MaxProblems {
		s.Source = append(s.Source, Version{Bucket: "b", Key: "z", VersionID: "x", Status: "PENDING"})
	}
	r := Check(s)
	assert.Len(t, r.Problems, MaxProblems)
	assert.Equal(t, len(s.Source), r.Stuck)
}

// TestCheckTrustsTheSource: an operation whose outcome the writer does not know (the
// source s3server was killed before it answered) is not acknowledged. Applied, its
// version is on the source and must be replicated like any other; not applied, nothing
// is missing. Either way the check is clean when the target matches the source.
func TestCheckTrustsTheSource(t *testing.T) {
	s := healthy()
	s.Acked = slices.DeleteFunc(s.Acked, func(v Version) bool { return v.VersionID == "v2" }) // applied, unanswered
	r := Check(s)
	assert.True(t, r.OK(), "%+v", r)

	// The unanswered version applied on the source but never replicated is lost.
	s.Target = slices.DeleteFunc(s.Target, func(v Version) bool { return v.VersionID == "v2" })
	r = Check(s)
	assert.Equal(t, 1, r.Lost, "%v", r.Problems)
	assert.Equal(t, 1, len(r.Problems))
}
