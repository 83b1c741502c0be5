package store

import (
	"github.com/backbeat-temporal/backbeat/bbproto"

	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUnversionedPutReplacesNullVersion(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	newBucket(t, s, "b", "")

	v1 := put(t, s, "b", "k", "one")
	require.Equal(t, NullVersionID, v1.VersionID)
	v2 := put(t, s, "b", "k", "two")
	require.Equal(t, NullVersionID, v2.VersionID)
	assert.False(t, blobExists(s, v1.Parts[0].Blob), "the replaced null version's blob is removed")
	assert.True(t, blobExists(s, v2.Parts[0].Blob))

	got, err := s.GetVersion(ctx, "b", "k", "")
	require.NoError(t, err)
	assert.Equal(t, "two", readData(t, s, got))
	assert.True(t, got.IsLatest)
	assert.Equal(t, "text/plain", got.Meta.ContentType)
	got, err = s.GetVersion(ctx, "b", "k", NullVersionID)
	require.NoError(t, err)
	assert.Equal(t, "two", readData(t, s, got))
	assert.Equal(t, []listed{{"k", "null", false, true}}, walk(t, s, "b", WalkOptions{}))

	// Unversioned delete removes the null version; a second delete is a no-op.
	res, err := s.DeleteObject(ctx, "b", "k", "")
	require.NoError(t, err)
	assert.Equal(t, DeleteResult{VersionID: NullVersionID}, res)
	assert.False(t, blobExists(s, v2.Parts[0].Blob))
	rec := lastRecord(t, s)
	assert.Equal(t, bbproto.OpDeleteVersion, rec.Op)
	head := rec.Seq
	res, err = s.DeleteObject(ctx, "b", "k", "")
	require.NoError(t, err)
	assert.Zero(t, res)
	assert.Equal(t, head, lastRecord(t, s).Seq, "a delete of nothing is not journaled")

	_, err = s.GetVersion(ctx, "b", "k", "")
	assert.ErrorIs(t, err, ErrNoSuchKey)
	assert.Empty(t, walk(t, s, "b", WalkOptions{}))
}

func TestEnabledVersioning(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	newBucket(t, s, "b", VersioningEnabled)

	var ids []string
	for _, d := range []string{"a", "b", "c"} {
		v := put(t, s, "b", "k", d)
		require.NotEqual(t, NullVersionID, v.VersionID)
		ids = append(ids, v.VersionID)
	}
	assert.Greater(t, ids[0], ids[1], "newer version ids sort first")
	assert.Greater(t, ids[1], ids[2])

	got, err := s.GetVersion(ctx, "b", "k", "")
	require.NoError(t, err)
	assert.Equal(t, ids[2], got.VersionID)
	assert.Equal(t, "c", readData(t, s, got))
	got, err = s.GetVersion(ctx, "b", "k", ids[0])
	require.NoError(t, err)
	assert.Equal(t, "a", readData(t, s, got))
	assert.False(t, got.IsLatest)

	_, err = s.GetVersion(ctx, "b", "k", "ffffffffffffffffffffffffffffffff")
	assert.ErrorIs(t, err, ErrNoSuchVersion)
	_, err = s.GetVersion(ctx, "b", "k", "not-an-id")
	assert.ErrorIs(t, err, ErrNoSuchVersion)
	_, err = s.GetVersion(ctx, "b", "k", NullVersionID)
	assert.ErrorIs(t, err, ErrNoSuchVersion)
	_, err = s.GetVersion(ctx, "b", "nokey", "")
	assert.ErrorIs(t, err, ErrNoSuchKey)
	_, err = s.GetVersion(ctx, "nobucket", "k", "")
	assert.ErrorIs(t, err, ErrNoSuchBucket)

	// A delete creates a marker: the key reads as deleted, its versions stay.
	res, err := s.DeleteObject(ctx, "b", "k", "")
	require.NoError(t, err)
	assert.True(t, res.DeleteMarker)
	assert.Less(t, res.VersionID, ids[2])
	_, err = s.GetVersion(ctx, "b", "k", "")
	var dm *DeleteMarkerError
	require.ErrorAs(t, err, &dm)
	assert.Equal(t, res.VersionID, dm.VersionID)
	_, err = s.GetVersion(ctx, "b", "k", res.VersionID)
	require.ErrorAs(t, err, &dm, "a delete marker by id is a DeleteMarkerError too")
	rec := lastRecord(t, s)
	assert.Equal(t, bbproto.OpDeleteMarker, rec.Op)
	assert.True(t, rec.IsDeleteMarker)
	assert.Equal(t, res.VersionID, rec.VersionID)

	assert.Equal(t, []listed{
		{"k", res.VersionID, true, true},
		{"k", ids[2], false, false},
		{"k", ids[1], false, false},
		{"k", ids[0], false, false},
	}, walk(t, s, "b", WalkOptions{}))

	// Deleting the marker by id brings the latest version back.
	res2, err := s.DeleteObject(ctx, "b", "k", res.VersionID)
	require.NoError(t, err)
	assert.Equal(t, DeleteResult{VersionID: res.VersionID, DeleteMarker: true}, res2)
	got, err = s.GetVersion(ctx, "b", "k", "")
	require.NoError(t, err)
	assert.Equal(t, ids[2], got.VersionID)

	// Deleting the latest version by id makes the previous one latest, removing its blob.
	blob := got.Parts[0].Blob
	res2, err = s.DeleteObject(ctx, "b", "k", ids[2])
	require.NoError(t, err)
	assert.Equal(t, DeleteResult{VersionID: ids[2]}, res2)
	assert.False(t, blobExists(s, blob))
	got, err = s.GetVersion(ctx, "b", "k", "")
	require.NoError(t, err)
	assert.Equal(t, ids[1], got.VersionID)
	assert.True(t, got.IsLatest)
	rec = lastRecord(t, s)
	assert.Equal(t, bbproto.OpDeleteVersion, rec.Op)
	assert.Equal(t, ids[2], rec.VersionID)
	assert.Equal(t, int64(1), rec.Size)

	// Deleting a version that does not exist is not an error.
	res2, err = s.DeleteObject(ctx, "b", "k", ids[2])
	require.NoError(t, err)
	assert.Zero(t, res2)
	res2, err = s.DeleteObject(ctx, "b", "k", "garbage")
	require.NoError(t, err)
	assert.Zero(t, res2)
}

func TestSuspendedVersioning(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	newBucket(t, s, "b", VersioningEnabled)
	v1 := put(t, s, "b", "k", "v1")

	_, err := s.UpdateBucket(ctx, "b", func(b *Bucket) error { b.Versioning = VersioningSuspended; return nil })
	require.NoError(t, err)
	n1 := put(t, s, "b", "k", "null1")
	require.Equal(t, NullVersionID, n1.VersionID)
	n2 := put(t, s, "b", "k", "null2")
	assert.False(t, blobExists(s, n1.Parts[0].Blob), "the previous null version is replaced")
	assert.Equal(t, []listed{
		{"k", "null", false, true},
		{"k", v1.VersionID, false, false},
	}, walk(t, s, "b", WalkOptions{}))

	// A delete writes a null delete marker replacing the null version.
	res, err := s.DeleteObject(ctx, "b", "k", "")
	require.NoError(t, err)
	assert.Equal(t, DeleteResult{VersionID: NullVersionID, DeleteMarker: true}, res)
	assert.False(t, blobExists(s, n2.Parts[0].Blob))
	assert.Equal(t, []listed{
		{"k", "null", true, true},
		{"k", v1.VersionID, false, false},
	}, walk(t, s, "b", WalkOptions{}))
	_, err = s.GetVersion(ctx, "b", "k", "")
	var dm *DeleteMarkerError
	require.ErrorAs(t, err, &dm)
	assert.Equal(t, NullVersionID, dm.VersionID)

	// A put replaces the null delete marker.
	put(t, s, "b", "k", "null3")
	assert.Equal(t, []listed{
		{"k", "null", false, true},
		{"k", v1.VersionID, false, false},
	}, walk(t, s, "b", WalkOptions{}))

	// Re-enabled: new versions go on top, the null version stays.
	_, err = s.UpdateBucket(ctx, "b", func(b *Bucket) error { b.Versioning = VersioningEnabled; return nil })
	require.NoError(t, err)
	v2 := put(t, s, "b", "k", "v2")
	assert.Equal(t, []listed{
		{"k", v2.VersionID, false, true},
		{"k", "null", false, false},
		{"k", v1.VersionID, false, false},
	}, walk(t, s, "b", WalkOptions{}))
	got, err := s.GetVersion(ctx, "b", "k", NullVersionID)
	require.NoError(t, err)
	assert.Equal(t, "null3", readData(t, s, got))

	// Delete the null version by id.
	res, err = s.DeleteObject(ctx, "b", "k", NullVersionID)
	require.NoError(t, err)
	assert.Equal(t, DeleteResult{VersionID: NullVersionID}, res)
	assert.Equal(t, []listed{
		{"k", v2.VersionID, false, true},
		{"k", v1.VersionID, false, false},
	}, walk(t, s, "b", WalkOptions{}))
}

func TestWalkVersionsBounds(t *testing.T) {
	s := newStore(t)
	newBucket(t, s, "b", VersioningEnabled)
	a1 := put(t, s, "b", "a", "1")
	a2 := put(t, s, "b", "a", "2")
	b1 := put(t, s, "b", "b/x", "1")
	c1 := put(t, s, "b", "b/y", "1")
	d1 := put(t, s, "b", "c", "1")

	all := walk(t, s, "b", WalkOptions{})
	require.Equal(t, []listed{
		{"a", a2.VersionID, false, true},
		{"a", a1.VersionID, false, false},
		{"b/x", b1.VersionID, false, true},
		{"b/y", c1.VersionID, false, true},
		{"c", d1.VersionID, false, true},
	}, all)
	assert.Equal(t, all[2:4], walk(t, s, "b", WalkOptions{Prefix: "b/"}))
	assert.Equal(t, all[2:], walk(t, s, "b", WalkOptions{After: "a"}))
	assert.Equal(t, all[1:], walk(t, s, "b", WalkOptions{After: "a", AfterVersion: a2.VersionID}))
	assert.Equal(t, all[3:4], walk(t, s, "b", WalkOptions{Prefix: "b/", After: "b/x"}))
	assert.Equal(t, all[2:4], walk(t, s, "b", WalkOptions{Prefix: "b/", After: "a"}))

	var n int
	require.NoError(t, s.WalkVersions(context.Background(), "b", WalkOptions{}, func(*Version) bool { n++; return n < 2 }))
	assert.Equal(t, 2, n, "stops when fn returns false")
	assert.ErrorIs(t, s.WalkVersions(context.Background(), "nope", WalkOptions{}, func(*Version) bool { return true }), ErrNoSuchBucket)
}

func TestInvalidKeys(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	newBucket(t, s, "b", "")
	for _, key := range []string{"", "a\x00b"} {
		_, err := s.PutObject(ctx, PutInput{Bucket: "b", Key: key})
		assert.ErrorIs(t, err, ErrInvalidKey)
		_, err = s.DeleteObject(ctx, "b", key, "")
		assert.ErrorIs(t, err, ErrInvalidKey)
	}
	_, err := s.PutObject(ctx, PutInput{Bucket: "missing", Key: "k"})
	assert.ErrorIs(t, err, ErrNoSuchBucket)
}

func TestBuckets(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	b, err := s.CreateBucket(ctx, "b2", "alice")
	require.NoError(t, err)
	assert.Equal(t, "alice", b.Owner)
	_, err = s.CreateBucket(ctx, "b2", "alice")
	assert.ErrorIs(t, err, ErrBucketAlreadyOwnedByYou)
	_, err = s.CreateBucket(ctx, "b2", "bob")
	assert.ErrorIs(t, err, ErrBucketExists)
	_, err = s.CreateBucket(ctx, "b1", "bob")
	require.NoError(t, err)

	list, err := s.ListBuckets(ctx)
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, "b1", list[0].Name)
	assert.Equal(t, "b2", list[1].Name)

	sentinel := errors.New("refused")
	_, err = s.UpdateBucket(ctx, "b2", func(b *Bucket) error { b.Versioning = VersioningEnabled; return sentinel })
	assert.ErrorIs(t, err, sentinel)
	got, err := s.GetBucket(ctx, "b2")
	require.NoError(t, err)
	assert.Empty(t, got.Versioning, "an aborted update changes nothing")
	up, err := s.UpdateBucket(ctx, "b2", func(b *Bucket) error {
		b.Versioning = VersioningEnabled
		b.ReplicationConfig = []byte("<ReplicationConfiguration/>")
		b.Name = "renamed"
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, "b2", up.Name)
	got, err = s.GetBucket(ctx, "b2")
	require.NoError(t, err)
	assert.Equal(t, VersioningEnabled, got.Versioning)
	assert.Equal(t, "<ReplicationConfiguration/>", string(got.ReplicationConfig))
	_, err = s.UpdateBucket(ctx, "nope", func(b *Bucket) error { return nil })
	assert.ErrorIs(t, err, ErrNoSuchBucket)

	// Not empty while a version or a delete marker exists; an upload goes with the bucket.
	v := put(t, s, "b2", "k", "x")
	assert.ErrorIs(t, s.DeleteBucket(ctx, "b2"), ErrBucketNotEmpty)
	_, err = s.DeleteObject(ctx, "b2", "k", v.VersionID)
	require.NoError(t, err)
	res, err := s.DeleteObject(ctx, "b2", "k", "")
	require.NoError(t, err)
	assert.ErrorIs(t, s.DeleteBucket(ctx, "b2"), ErrBucketNotEmpty, "a delete marker remains")
	_, err = s.DeleteObject(ctx, "b2", "k", res.VersionID)
	require.NoError(t, err)
	u, err := s.CreateUpload(ctx, "b2", "k", "alice", ObjectMeta{})
	require.NoError(t, err)
	part := writeBlob(t, s, []byte("part"))
	require.NoError(t, s.PutPart(ctx, "b2", "k", u.ID, UploadPart{Number: 1, Blob: part.Blob, Size: part.Size, ETag: part.ETag}))
	require.True(t, blobExists(s, part.Blob))
	require.NoError(t, s.DeleteBucket(ctx, "b2"))
	assert.False(t, blobExists(s, part.Blob), "the part's blob went with the bucket")
	_, err = s.GetBucket(ctx, "b2")
	assert.ErrorIs(t, err, ErrNoSuchBucket)
	assert.ErrorIs(t, s.DeleteBucket(ctx, "b2"), ErrNoSuchBucket)

	// Bucket operations are journaled with the bucket only.
	var ops []string
	for _, r := range journal(t, s, 0) {
		if r.Op == bbproto.OpBucket {
			assert.Empty(t, r.Key)
			ops = append(ops, r.Bucket)
		}
	}
	assert.Equal(t, []string{"b2", "b1", "b2", "b2"}, ops, "create b2, create b1, update b2, delete b2")
}

// testPolicy replicates keys not starting with "skip/" in versioning-enabled buckets,
// delete markers only when the bucket has a "dm" tag, and nothing tagged "norepl".
func testPolicy(b *Bucket, key string, tags map[string]string, deleteMarker bool) *Replication {
	if b.Versioning != VersioningEnabled || len(key) >= 5 && key[:5] == "skip/" || tags["norepl"] != "" {
		return nil
	}
	if deleteMarker && b.Tags["dm"] == "" {
		return nil
	}
	return &Replication{Status: bbproto.StatusPending, Role: "arn:role", Destination: "arn:aws:s3:::target",
		RuleID: "r1", Content: []bbproto.Content{bbproto.ContentData, bbproto.ContentMetadata}}
}

func TestReplicationPolicyAndTags(t *testing.T) {
	ctx := context.Background()
	opts := testOptions()
	opts.Policy = testPolicy
	s := openStore(t, t.TempDir(), opts)
	newBucket(t, s, "b", VersioningEnabled)

	v := put(t, s, "b", "k", "x")
	require.NotNil(t, v.Replication)
	assert.Equal(t, bbproto.StatusPending, v.Replication.Status)
	rec := lastRecord(t, s)
	assert.Equal(t, bbproto.OpPut, rec.Op)
	require.NotNil(t, rec.Replication)
	assert.Equal(t, []bbproto.Content{bbproto.ContentData, bbproto.ContentMetadata}, rec.Replication.Content)
	assert.Equal(t, "arn:aws:s3:::target", rec.Replication.Destination)
	assert.Equal(t, v.ETag, rec.ETag)
	assert.Equal(t, "text/plain", rec.ContentType)

	skipped := put(t, s, "b", "skip/k", "x")
	assert.Nil(t, skipped.Replication)

	_, err := s.SetReplicationStatus(ctx, "b", "k", v.VersionID, bbproto.StatusCompleted, "")
	require.NoError(t, err)

	// Tagging journals a metadata-only replication, leaving the data alone.
	id, err := s.PutTags(ctx, "b", "k", "", map[string]string{"color": "blue"})
	require.NoError(t, err)
	assert.Equal(t, v.VersionID, id)
	rec = lastRecord(t, s)
	assert.Equal(t, bbproto.OpMetadata, rec.Op)
	assert.Equal(t, map[string]string{"color": "blue"}, rec.Tags)
	require.NotNil(t, rec.Replication)
	assert.Equal(t, bbproto.StatusPending, rec.Replication.Status)
	assert.Equal(t, []bbproto.Content{bbproto.ContentMetadata}, rec.Replication.Content)
	got, err := s.GetVersion(ctx, "b", "k", v.VersionID)
	require.NoError(t, err)
	assert.Equal(t, v.Parts, got.Parts)
	assert.Equal(t, map[string]string{"color": "blue"}, got.Meta.Tags)
	assert.Equal(t, []bbproto.Content{bbproto.ContentMetadata}, got.Replication.Content)

	// Without a match the replication info is kept as is.
	_, err = s.PutTags(ctx, "b", "skip/k", "", map[string]string{"a": "b"})
	require.NoError(t, err)
	assert.Nil(t, lastRecord(t, s).Replication)

	// Delete markers follow the policy with deleteMarker=true.
	res, err := s.DeleteObject(ctx, "b", "k", "")
	require.NoError(t, err)
	assert.Nil(t, lastRecord(t, s).Replication)
	_, err = s.PutTags(ctx, "b", "k", "", nil)
	var dm *DeleteMarkerError
	require.ErrorAs(t, err, &dm)
	assert.Equal(t, res.VersionID, dm.VersionID)
	_, err = s.UpdateBucket(ctx, "b", func(b *Bucket) error { b.Tags = map[string]string{"dm": "1"}; return nil })
	require.NoError(t, err)
	_, err = s.DeleteObject(ctx, "b", "k", "")
	require.NoError(t, err)
	rec = lastRecord(t, s)
	assert.Equal(t, bbproto.OpDeleteMarker, rec.Op)
	require.NotNil(t, rec.Replication)
	assert.Equal(t, bbproto.StatusPending, rec.Replication.Status)

	_, err = s.PutTags(ctx, "b", "k", "bogus", nil)
	assert.ErrorIs(t, err, ErrNoSuchVersion)
	_, err = s.PutTags(ctx, "b", "nokey", "", nil)
	assert.ErrorIs(t, err, ErrNoSuchKey)
}

func TestSetReplicationStatus(t *testing.T) {
	ctx := context.Background()
	opts := testOptions()
	opts.Policy = testPolicy
	s := openStore(t, t.TempDir(), opts)
	newBucket(t, s, "b", VersioningEnabled)
	v := put(t, s, "b", "k", "x")

	got, err := s.SetReplicationStatus(ctx, "b", "k", v.VersionID, bbproto.StatusFailed, "target unreachable")
	require.NoError(t, err)
	assert.Equal(t, bbproto.StatusFailed, got.Replication.Status)
	assert.Equal(t, "target unreachable", got.Replication.Reason)
	assert.Equal(t, "arn:aws:s3:::target", got.Replication.Destination, "the rest of the info is kept")
	rec := lastRecord(t, s)
	assert.Equal(t, bbproto.OpStatus, rec.Op)
	assert.Equal(t, v.VersionID, rec.VersionID)
	assert.Equal(t, bbproto.StatusFailed, rec.Replication.Status)
	assert.Equal(t, "target unreachable", rec.Replication.Reason)

	got, err = s.SetReplicationStatus(ctx, "b", "k", v.VersionID, bbproto.StatusPending, "ignored")
	require.NoError(t, err)
	assert.Equal(t, bbproto.StatusPending, got.Replication.Status)
	assert.Empty(t, got.Replication.Reason)

	// A version without replication info gets some (backfill, or any status).
	skipped := put(t, s, "b", "skip/k", "x")
	got, err = s.SetReplicationStatus(ctx, "b", "skip/k", skipped.VersionID, bbproto.StatusCompleted, "")
	require.NoError(t, err)
	assert.Equal(t, &Replication{Status: bbproto.StatusCompleted, StatusTime: got.Replication.StatusTime}, got.Replication)
	assert.False(t, got.Replication.StatusTime.IsZero(), "the status time is recorded")
	other := put(t, s, "b", "k2", "x")
	_, err = s.SetReplicationStatus(ctx, "b", "k2", other.VersionID, bbproto.StatusCompleted, "")
	require.NoError(t, err)

	_, err = s.SetReplicationStatus(ctx, "b", "k", "ffffffffffffffffffffffffffffffff", bbproto.StatusCompleted, "")
	assert.ErrorIs(t, err, ErrNoSuchVersion)
	_, err = s.SetReplicationStatus(ctx, "b", "gone", v.VersionID, bbproto.StatusCompleted, "")
	assert.ErrorIs(t, err, ErrNoSuchVersion)
	_, err = s.SetReplicationStatus(ctx, "b", "k", v.VersionID, "BOGUS", "")
	assert.Error(t, err)

	// Delete markers have a status too.
	res, err := s.DeleteObject(ctx, "b", "k", "")
	require.NoError(t, err)
	got, err = s.SetReplicationStatus(ctx, "b", "k", res.VersionID, bbproto.StatusCompleted, "")
	require.NoError(t, err)
	assert.True(t, got.IsDeleteMarker)
}
