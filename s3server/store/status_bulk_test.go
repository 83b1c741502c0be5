package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/bbproto"
)

func TestSetReplicationStatuses(t *testing.T) {
	ctx := context.Background()
	s, clk := pendingStore(t)
	newBucket(t, s, "b", VersioningEnabled)
	t0 := clk.Now()
	v1 := put(t, s, "b", "k1", "1")
	v2 := put(t, s, "b", "k2", "2")
	v3 := put(t, s, "b", "k3", "3")
	clk.Add(time.Minute)
	head := s.Head()

	res, err := s.SetReplicationStatuses(ctx, []StatusUpdate{
		{Bucket: "b", Key: "k1", VersionID: v1.VersionID, Status: bbproto.StatusCompleted, Reason: "dropped"},
		{Bucket: "b", Key: "k2", VersionID: v2.VersionID, Status: bbproto.StatusFailed, Reason: "AccessDenied: no"},
		{Bucket: "b", Key: "k3", VersionID: v3.VersionID, Status: bbproto.StatusProcessing},
		{Bucket: "b", Key: "k1", VersionID: "nope", Status: bbproto.StatusCompleted},
		{Bucket: "gone", Key: "k1", VersionID: v1.VersionID, Status: bbproto.StatusCompleted},
		{Bucket: "b", Key: "k1", VersionID: v1.VersionID, Status: "DONE"},
		{Bucket: "b", Key: "", VersionID: v1.VersionID, Status: bbproto.StatusCompleted},
	})
	require.NoError(t, err)
	require.Len(t, res, 7)
	for i := range 3 {
		require.NoError(t, res[i].Err, "update %d", i)
		require.NotNil(t, res[i].Version)
	}
	assert.ErrorIs(t, res[3].Err, ErrNoSuchVersion)
	assert.ErrorIs(t, res[4].Err, ErrNoSuchBucket)
	assert.ErrorContains(t, res[5].Err, "invalid replication status")
	assert.ErrorIs(t, res[6].Err, ErrInvalidKey)

	// The same code path as SetReplicationStatus: times and reasons.
	got, err := s.GetVersion(ctx, "b", "k1", v1.VersionID)
	require.NoError(t, err)
	assert.Equal(t, bbproto.StatusCompleted, got.Replication.Status)
	assert.Empty(t, got.Replication.Reason, "a reason is kept for FAILED only")
	assert.Equal(t, t0.Add(time.Minute), got.Replication.StatusTime)
	assert.True(t, got.Replication.PendingSince.IsZero())
	got, err = s.GetVersion(ctx, "b", "k2", v2.VersionID)
	require.NoError(t, err)
	assert.Equal(t, bbproto.StatusFailed, got.Replication.Status)
	assert.Equal(t, "AccessDenied: no", got.Replication.Reason)
	got, err = s.GetVersion(ctx, "b", "k3", v3.VersionID)
	require.NoError(t, err)
	assert.Equal(t, t0, got.Replication.PendingSince, "PROCESSING still waits since the put")

	// Journaled: one status record per written version, in order.
	recs, _, err := s.ReadJournal(ctx, head, 10)
	require.NoError(t, err)
	require.Len(t, recs, 3)
	for i, want := range []bbproto.Status{bbproto.StatusCompleted, bbproto.StatusFailed, bbproto.StatusProcessing} {
		assert.Equal(t, bbproto.OpStatus, recs[i].Op)
		require.NotNil(t, recs[i].Replication)
		assert.Equal(t, want, recs[i].Replication.Status)
	}

	_, err = s.SetReplicationStatuses(ctx, make([]StatusUpdate, MaxStatusUpdates+1))
	assert.Error(t, err)
}

// TestSetReplicationStatusesIfUnset: backfill's conditional PENDING writes only what has
// no status and what a rule selects; the rest is reported, not written.
func TestSetReplicationStatusesIfUnset(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	before := openStore(t, dir, testOptions()) // no replication set up yet: no status
	newBucket(t, before, "b", VersioningEnabled)
	v1 := put(t, before, "b", "k1", "1")
	v2 := put(t, before, "b", "skip/k2", "2")
	v3 := put(t, before, "b", "k3", "3")
	require.Nil(t, v1.Replication)
	require.NoError(t, before.Close())

	opts := testOptions()
	opts.Policy = testPolicy
	s := openStore(t, dir, opts)
	_, err := s.SetReplicationStatus(ctx, "b", "k3", v3.VersionID, bbproto.StatusCompleted, "")
	require.NoError(t, err)
	head := s.Head()

	pending := func(key, id string) StatusUpdate {
		return StatusUpdate{Bucket: "b", Key: key, VersionID: id, Status: bbproto.StatusPending, IfUnset: true}
	}
	res, err := s.SetReplicationStatuses(ctx, []StatusUpdate{pending("k1", v1.VersionID), pending("skip/k2", v2.VersionID),
		pending("k3", v3.VersionID), pending("k1", v1.VersionID), pending("k1", "nope")})
	require.NoError(t, err)
	require.Len(t, res, 5)
	require.NoError(t, res[0].Err)
	assert.Equal(t, bbproto.StatusPending, res[0].Version.Replication.Status)
	assert.Equal(t, "arn:aws:s3:::target", res[0].Version.Replication.Destination, "the bucket's rule was applied")
	assert.ErrorIs(t, res[1].Err, ErrNoMatchingRule)
	var already *StatusAlreadySetError
	if assert.ErrorAs(t, res[2].Err, &already) {
		assert.Equal(t, bbproto.StatusCompleted, already.Current)
	}
	if assert.ErrorAs(t, res[3].Err, &already, "marked by the first item of the same call") {
		assert.Equal(t, bbproto.StatusPending, already.Current)
	}
	assert.ErrorIs(t, res[4].Err, ErrNoSuchVersion)

	for key, id := range map[string]string{"skip/k2": v2.VersionID} {
		got, err := s.GetVersion(ctx, "b", key, id)
		require.NoError(t, err)
		assert.Nil(t, got.Replication, "%s: nothing written", key)
	}
	got, err := s.GetVersion(ctx, "b", "k3", v3.VersionID)
	require.NoError(t, err)
	assert.Equal(t, bbproto.StatusCompleted, got.Replication.Status, "a status is never replaced")
	assert.Equal(t, head+1, s.Head(), "one journal record: the one version written")
}
