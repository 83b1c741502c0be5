package store

import (
	"github.com/backbeat-temporal/backbeat/bbproto"

	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pendingStore opens a store with testPolicy and a fake clock.
func pendingStore(t *testing.T) (*Store, *fakeClock) {
	t.Helper()
	clk := &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 600, time.UTC)}
	opts := testOptions()
	opts.Policy = testPolicy
	opts.Now = clk.Now
	return openStore(t, t.TempDir(), opts), clk
}

func refsOf(vs []bbproto.PendingVersion) []bbproto.RedriveRef {
	out := make([]bbproto.RedriveRef, len(vs))
	for i, v := range vs {
		out[i] = bbproto.RedriveRef{Bucket: v.Bucket, Key: v.Key, VersionID: v.VersionID, StatusTime: v.StatusTime}
	}
	return out
}

func TestStatusTimesRecorded(t *testing.T) {
	ctx := context.Background()
	s, clk := pendingStore(t)
	newBucket(t, s, "b", VersioningEnabled)
	t0 := clk.Now()
	v := put(t, s, "b", "k", "x")
	require.NotNil(t, v.Replication)
	assert.Equal(t, t0, v.Replication.StatusTime)
	assert.Equal(t, t0, v.Replication.PendingSince)
	rec := lastRecord(t, s)
	require.NotNil(t, rec.Replication)
	assert.Equal(t, t0, rec.Replication.StatusTime, "the journal carries the status time")

	clk.Add(time.Minute)
	v, err := s.SetReplicationStatus(ctx, "b", "k", v.VersionID, bbproto.StatusProcessing, "")
	require.NoError(t, err)
	assert.Equal(t, t0.Add(time.Minute), v.Replication.StatusTime)
	assert.Equal(t, t0, v.Replication.PendingSince, "PENDING -> PROCESSING keeps waiting since the put")

	clk.Add(time.Minute)
	v, err = s.SetReplicationStatus(ctx, "b", "k", v.VersionID, bbproto.StatusCompleted, "")
	require.NoError(t, err)
	assert.Equal(t, t0.Add(2*time.Minute), v.Replication.StatusTime)
	assert.True(t, v.Replication.PendingSince.IsZero(), "COMPLETED waits no more")

	clk.Add(time.Minute)
	_, err = s.PutTags(ctx, "b", "k", v.VersionID, map[string]string{"a": "b"})
	require.NoError(t, err)
	got, err := s.GetVersion(ctx, "b", "k", v.VersionID)
	require.NoError(t, err)
	assert.Equal(t, bbproto.StatusPending, got.Replication.Status)
	assert.Equal(t, t0.Add(3*time.Minute), got.Replication.StatusTime)
	assert.Equal(t, t0.Add(3*time.Minute), got.Replication.PendingSince, "a tag change starts a new wait")
}

func TestListPending(t *testing.T) {
	ctx := context.Background()
	s, clk := pendingStore(t)
	newBucket(t, s, "a", VersioningEnabled)
	newBucket(t, s, "b", VersioningEnabled)
	newBucket(t, s, "c", "") // unversioned: nothing is replicated
	old1 := put(t, s, "a", "x/1", "1")
	old2 := put(t, s, "b", "y", "2")
	put(t, s, "a", "skip/no-rule", "-") // no replication info
	put(t, s, "c", "k", "-")
	done := put(t, s, "a", "x/done", "3")
	_, err := s.SetReplicationStatus(ctx, "a", "x/done", done.VersionID, bbproto.StatusCompleted, "")
	require.NoError(t, err)
	// A user metadata value that looks like a status is not a status.
	p := writeBlob(t, s, []byte("m"))
	_, err = s.PutObject(ctx, PutInput{Bucket: "a", Key: "skip/meta", Owner: "alice", Parts: []Part{p}, ETag: p.ETag, Size: p.Size,
		Meta: ObjectMeta{UserMetadata: map[string]string{"status": "PENDING"}}})
	require.NoError(t, err)
	clk.Add(20 * time.Minute)
	young := put(t, s, "a", "x/2", "4")

	page, err := s.ListPending(ctx, PendingOptions{OlderThan: 15 * time.Minute})
	require.NoError(t, err)
	assert.Empty(t, page.Next)
	var got []string
	for _, v := range page.Versions {
		got = append(got, v.Bucket+"/"+v.Key+"@"+v.VersionID)
	}
	assert.Equal(t, []string{"a/x/1@" + old1.VersionID, "b/y@" + old2.VersionID}, got)
	assert.Equal(t, map[string]int{"a": 2, "b": 1}, page.Waiting, "a/x/2 waits too, though not long")
	assert.Equal(t, old1.LastModified, page.Oldest["a"])
	assert.Equal(t, old2.LastModified, page.Oldest["b"])
	assert.Equal(t, bbproto.StatusPending, page.Versions[0].Status)
	assert.Equal(t, old1.LastModified, page.Versions[0].Since)

	// By bucket and prefix, every age.
	page, err = s.ListPending(ctx, PendingOptions{Bucket: "a", Prefix: "x/"})
	require.NoError(t, err)
	require.Len(t, page.Versions, 2)
	assert.Equal(t, young.VersionID, page.Versions[1].VersionID)
	assert.Equal(t, 2, page.Scanned, "x/1 and x/2: the index holds waiting versions only (not x/done)")

	_, err = s.ListPending(ctx, PendingOptions{Bucket: "nope"})
	assert.ErrorIs(t, err, ErrNoSuchBucket)
	_, err = s.ListPending(ctx, PendingOptions{After: "!!"})
	assert.ErrorIs(t, err, ErrInvalidCursor)
	_, err = s.ListPending(ctx, PendingOptions{Prefix: "x"})
	assert.Error(t, err, "a prefix needs a bucket")
}

func TestListPendingPages(t *testing.T) {
	ctx := context.Background()
	s, _ := pendingStore(t)
	want := map[string]bool{}
	for _, b := range []string{"a", "b", "c"} {
		newBucket(t, s, b, VersioningEnabled)
		for i := range 7 {
			v := put(t, s, b, fmt.Sprintf("k%d", i%3), "x") // several versions per key
			want[b+"/"+v.Key+"@"+v.VersionID] = true
		}
	}
	for _, o := range []PendingOptions{{Limit: 1}, {Limit: 4}, {MaxScan: 1}, {MaxScan: 5, Limit: 2}, {Bucket: "b", Limit: 2}} {
		t.Run(fmt.Sprintf("%+v", o), func(t *testing.T) {
			seen := map[string]bool{}
			calls := 0
			for {
				page, err := s.ListPending(ctx, o)
				require.NoError(t, err)
				calls++
				require.LessOrEqual(t, calls, 100, "the listing ends")
				for _, v := range page.Versions {
					ref := v.Bucket + "/" + v.Key + "@" + v.VersionID
					assert.False(t, seen[ref], "listed once: %s", ref)
					seen[ref] = true
				}
				if page.Next == "" {
					break
				}
				o.After = page.Next
			}
			expect := want
			if o.Bucket != "" {
				expect = map[string]bool{}
				for ref := range want {
					if ref[0] == 'b' {
						expect[ref] = true
					}
				}
			}
			assert.Equal(t, expect, seen)
		})
	}
}

func TestRedrive(t *testing.T) {
	ctx := context.Background()
	s, clk := pendingStore(t)
	newBucket(t, s, "b", VersioningEnabled)
	t0 := clk.Now()
	v1 := put(t, s, "b", "k1", "1")
	v2 := put(t, s, "b", "k2", "2")
	v3 := put(t, s, "b", "k3", "3")
	clk.Add(time.Hour)
	page, err := s.ListPending(ctx, PendingOptions{Bucket: "b", OlderThan: 30 * time.Minute})
	require.NoError(t, err)
	require.Len(t, page.Versions, 3)
	// Meanwhile k2 completes: its listed status time is stale.
	_, err = s.SetReplicationStatus(ctx, "b", "k2", v2.VersionID, bbproto.StatusCompleted, "")
	require.NoError(t, err)
	head := s.Head()

	refs := append(refsOf(page.Versions), bbproto.RedriveRef{Bucket: "b", Key: "k1", VersionID: "nope"},
		bbproto.RedriveRef{Bucket: "gone", Key: "k", VersionID: v1.VersionID})
	res, err := s.Redrive(ctx, refs)
	require.NoError(t, err)
	outcomes := map[string]string{}
	for _, r := range res {
		outcomes[r.Bucket+"/"+r.Key+"@"+r.VersionID] = r.Outcome
	}
	assert.Equal(t, map[string]string{
		"b/k1@" + v1.VersionID: bbproto.RedriveDone, "b/k2@" + v2.VersionID: bbproto.RedriveChanged, "b/k3@" + v3.VersionID: bbproto.RedriveDone,
		"b/k1@nope": bbproto.RedriveGone, "gone/k@" + v1.VersionID: bbproto.RedriveGone}, outcomes)

	recs, _, err := s.ReadJournal(ctx, head, 10)
	require.NoError(t, err)
	require.Len(t, recs, 2, "one status record per re-driven version")
	for _, rec := range recs {
		assert.Equal(t, bbproto.OpStatus, rec.Op)
		require.NotNil(t, rec.Replication)
		assert.Equal(t, bbproto.StatusPending, rec.Replication.Status)
		assert.Equal(t, "arn:aws:s3:::target", rec.Replication.Destination, "the rule's info is kept")
	}
	got, err := s.GetVersion(ctx, "b", "k1", v1.VersionID)
	require.NoError(t, err)
	assert.Equal(t, t0.Add(time.Hour), got.Replication.StatusTime, "the threshold counts again from the re-drive")
	assert.Equal(t, t0, got.Replication.PendingSince, "the wait still counts from the put")

	// Re-driven versions are young again; the listing's oldest still says since when.
	page, err = s.ListPending(ctx, PendingOptions{Bucket: "b", OlderThan: 30 * time.Minute})
	require.NoError(t, err)
	assert.Empty(t, page.Versions)
	assert.Equal(t, t0, page.Oldest["b"])
	// A second re-drive with the old status times changes nothing.
	res, err = s.Redrive(ctx, refs[:1])
	require.NoError(t, err)
	assert.Equal(t, bbproto.RedriveChanged, res[0].Outcome)

	_, err = s.Redrive(ctx, make([]bbproto.RedriveRef, bbproto.MaxRedrive+1))
	assert.Error(t, err)
}
