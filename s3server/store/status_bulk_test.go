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
