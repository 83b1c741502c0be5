package store

import (
	"github.com/backbeat-temporal/backbeat/bbproto"

	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReplicasOutOfOrder(t *testing.T) {
	ctx := context.Background()
	src := newStore(t)
	newBucket(t, src, "src", VersioningEnabled)
	s1 := put(t, src, "src", "k", "one")
	s2 := put(t, src, "src", "k", "two")
	s3 := put(t, src, "src", "k", "three")

	dst := newStore(t)
	newBucket(t, dst, "dst", VersioningEnabled)
	source := &Replication{Status: bbproto.StatusPending, Role: "arn:role", Destination: "arn:aws:s3:::dst", Site: "site1", Content: []bbproto.Content{bbproto.ContentData, bbproto.ContentMetadata}}
	replicate := func(v *Version, data string) *Version {
		t.Helper()
		p := writeBlob(t, dst, []byte(data))
		r, err := dst.PutReplica(ctx, ReplicaInput{Bucket: "dst", Key: v.Key, VersionID: v.VersionID, LastModified: v.LastModified,
			Owner: v.Owner, Meta: v.Meta, Parts: []Part{p}, ETag: v.ETag, Size: p.Size, Source: source})
		require.NoError(t, err)
		return r
	}
	// The newest arrives first, then the oldest, then the middle one.
	r3 := replicate(s3, "three")
	assert.Equal(t, s3.VersionID, r3.VersionID)
	assert.Equal(t, bbproto.StatusReplica, r3.Replication.Status)
	assert.Equal(t, "site1", r3.Replication.Site)
	assert.Equal(t, "arn:role", r3.Replication.Role)
	assert.True(t, s3.LastModified.Equal(r3.LastModified))
	rec := lastRecord(t, dst)
	assert.Equal(t, bbproto.OpPut, rec.Op)
	assert.Equal(t, bbproto.StatusReplica, rec.Replication.Status)
	assert.Equal(t, s3.VersionID, rec.VersionID)

	replicate(s1, "one")
	replicate(s2, "two")
	want := []listed{
		{"k", s3.VersionID, false, true},
		{"k", s2.VersionID, false, false},
		{"k", s1.VersionID, false, false},
	}
	assert.Equal(t, want, walk(t, dst, "dst", WalkOptions{}))
	latest, err := dst.GetVersion(ctx, "dst", "k", "")
	require.NoError(t, err)
	assert.Equal(t, "three", readData(t, dst, latest))

	// Idempotent re-run: the same id is replaced, its old blob removed.
	old := latest.Parts[0].Blob
	replicate(s3, "three")
	assert.Equal(t, want, walk(t, dst, "dst", WalkOptions{}))
	assert.False(t, blobExists(dst, old))

	// A local write after the replicas goes on top.
	local := put(t, dst, "dst", "k", "local")
	assert.Equal(t, local.VersionID, walk(t, dst, "dst", WalkOptions{})[0].VersionID)

	// Metadata-only update of an existing replica.
	_, err = dst.PutReplica(ctx, ReplicaInput{Bucket: "dst", Key: "k", VersionID: s2.VersionID, MetadataOnly: true,
		Meta: ObjectMeta{ContentType: "text/html", Tags: map[string]string{"t": "1"}}})
	require.NoError(t, err)
	got, err := dst.GetVersion(ctx, "dst", "k", s2.VersionID)
	require.NoError(t, err)
	assert.Equal(t, "two", readData(t, dst, got))
	assert.Equal(t, map[string]string{"t": "1"}, got.Meta.Tags)
	assert.Equal(t, bbproto.StatusReplica, got.Replication.Status)
	assert.Equal(t, bbproto.OpMetadata, lastRecord(t, dst).Op)
	_, err = dst.PutReplica(ctx, ReplicaInput{Bucket: "dst", Key: "k", VersionID: "ffffffffffffffffffffffffffffffff", MetadataOnly: true})
	assert.ErrorIs(t, err, ErrNoSuchVersion)

	// A delete marker replica.
	res, err := src.DeleteObject(ctx, "src", "k2", "")
	require.NoError(t, err)
	var dmv *Version
	require.NoError(t, src.WalkVersions(ctx, "src", WalkOptions{Prefix: "k2"}, func(v *Version) bool { dmv = v; return false }))
	require.True(t, dmv.IsDeleteMarker)
	_, err = dst.PutReplica(ctx, ReplicaInput{Bucket: "dst", Key: "k2", VersionID: res.VersionID, LastModified: dmv.LastModified, IsDeleteMarker: true, Source: source})
	require.NoError(t, err)
	rec = lastRecord(t, dst)
	assert.Equal(t, bbproto.OpDeleteMarker, rec.Op)
	assert.True(t, rec.IsDeleteMarker)
	_, err = dst.GetVersion(ctx, "dst", "k2", "")
	var dm *DeleteMarkerError
	require.ErrorAs(t, err, &dm)
	assert.Equal(t, res.VersionID, dm.VersionID)

	// Replicas need a versioning-enabled bucket.
	newBucket(t, dst, "plain", "")
	_, err = dst.PutReplica(ctx, ReplicaInput{Bucket: "plain", Key: "k", VersionID: s1.VersionID, LastModified: s1.LastModified})
	assert.ErrorIs(t, err, ErrVersioningNotEnabled)
}

func TestReplicaNullAndForeignIDs(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	newBucket(t, s, "b", VersioningEnabled)
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	in := func(id string, at time.Time) ReplicaInput {
		return ReplicaInput{Bucket: "b", Key: "k", VersionID: id, LastModified: at, ETag: "e"}
	}
	// Foreign ids and the null version are ordered by their last-modified time.
	_, err := s.PutReplica(ctx, in("zzz-newest", t0.Add(3*time.Second)))
	require.NoError(t, err)
	_, err = s.PutReplica(ctx, in(NullVersionID, t0))
	require.NoError(t, err)
	_, err = s.PutReplica(ctx, in("AAA.middle", t0.Add(time.Second)))
	require.NoError(t, err)
	want := []listed{
		{"k", "zzz-newest", false, true},
		{"k", "AAA.middle", false, false},
		{"k", "null", false, false},
	}
	assert.Equal(t, want, walk(t, s, "b", WalkOptions{}))
	for _, id := range []string{"zzz-newest", "AAA.middle", NullVersionID} {
		v, err := s.GetVersion(ctx, "b", "k", id)
		require.NoError(t, err, id)
		assert.Equal(t, id, v.VersionID)
	}
	// Re-running with another time moves the version, without duplicating it.
	_, err = s.PutReplica(ctx, in(NullVersionID, t0.Add(2*time.Second)))
	require.NoError(t, err)
	assert.Equal(t, []listed{
		{"k", "zzz-newest", false, true},
		{"k", "null", false, false},
		{"k", "AAA.middle", false, false},
	}, walk(t, s, "b", WalkOptions{}))
	assert.Equal(t, []listed{{"k", "AAA.middle", false, false}},
		walk(t, s, "b", WalkOptions{After: "k", AfterVersion: NullVersionID}))

	res, err := s.DeleteObject(ctx, "b", "k", "AAA.middle")
	require.NoError(t, err)
	assert.Equal(t, "AAA.middle", res.VersionID)
	_, err = s.GetVersion(ctx, "b", "k", "AAA.middle")
	assert.ErrorIs(t, err, ErrNoSuchVersion)
}

func TestVersionOrderWithClockSkew(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)}
	opts := testOptions()
	opts.Now = clock.Now
	s := openStore(t, t.TempDir(), opts)
	newBucket(t, s, "b", VersioningEnabled)

	v1 := put(t, s, "b", "k", "1")
	clock.Add(-time.Hour) // the clock goes backwards
	v2 := put(t, s, "b", "k", "2")
	v3 := put(t, s, "b", "k", "3") // same instant
	assert.Less(t, v2.VersionID, v1.VersionID)
	assert.Less(t, v3.VersionID, v2.VersionID)

	// A replica from a source whose clock is a year ahead, then a local write: the local
	// write is still the latest.
	future := formatOrder(uint64(clock.Now().Add(365*24*time.Hour).UnixNano()), 7)
	_, err := s.PutReplica(ctx, ReplicaInput{Bucket: "b", Key: "k", VersionID: future, LastModified: clock.Now().Add(365 * 24 * time.Hour)})
	require.NoError(t, err)
	v4 := put(t, s, "b", "k", "4")
	got, err := s.GetVersion(ctx, "b", "k", "")
	require.NoError(t, err)
	assert.Equal(t, v4.VersionID, got.VersionID)
	assert.Equal(t, []listed{
		{"k", v4.VersionID, false, true},
		{"k", future, false, false},
		{"k", v3.VersionID, false, false},
		{"k", v2.VersionID, false, false},
		{"k", v1.VersionID, false, false},
	}, walk(t, s, "b", WalkOptions{}))
	// Other keys are not pushed into the future.
	other := put(t, s, "b", "other", "x")
	assert.Greater(t, other.VersionID, future)
}

func TestReplicaNeverReplacesAnotherSourcesVersion(t *testing.T) {
	ctx := context.Background()
	dst := newStore(t)
	newBucket(t, dst, "dst", "")
	own := put(t, dst, "dst", "doc", "alice's own bytes") // the null version, put before versioning
	require.Equal(t, NullVersionID, own.VersionID)
	_, err := dst.UpdateBucket(ctx, "dst", func(b *Bucket) error { b.Versioning = VersioningEnabled; return nil })
	require.NoError(t, err)

	in := func(src string, meta bool) ReplicaInput {
		r := ReplicaInput{Bucket: "dst", Key: "doc", VersionID: NullVersionID, LastModified: time.Now(),
			SourceBucket: src, SourceAccount: "bob", MetadataOnly: meta, Meta: ObjectMeta{Tags: map[string]string{"x": "y"}}}
		if !meta {
			p := writeBlob(t, dst, []byte("bob's bytes"))
			r.Parts, r.ETag, r.Size = []Part{p}, p.ETag, p.Size
		}
		return r
	}
	for _, meta := range []bool{false, true} {
		_, err = dst.PutReplica(ctx, in("bob-src", meta))
		var ce *ReplicaConflictError
		require.ErrorAs(t, err, &ce, "metadataOnly=%v", meta)
		assert.False(t, ce.Replica)
		assert.ErrorIs(t, err, ErrReplicaConflict)
	}
	got, err := dst.GetVersion(ctx, "dst", "doc", NullVersionID)
	require.NoError(t, err)
	assert.Equal(t, "alice's own bytes", readData(t, dst, got))
	assert.Empty(t, got.Meta.Tags)

	// A replica of one source is replaced by a re-run from it, never by another source.
	r1 := in("src1", false)
	r1.VersionID = "v1"
	_, err = dst.PutReplica(ctx, r1)
	require.NoError(t, err)
	got, err = dst.GetVersion(ctx, "dst", "doc", "v1")
	require.NoError(t, err)
	assert.Equal(t, "src1", got.Replication.SourceBucket)
	assert.Equal(t, "bob", got.Replication.SourceAccount)
	r1 = in("src1", false)
	r1.VersionID = "v1"
	_, err = dst.PutReplica(ctx, r1)
	require.NoError(t, err)
	r2 := in("src2", true)
	r2.VersionID = "v1"
	_, err = dst.PutReplica(ctx, r2)
	var ce *ReplicaConflictError
	require.ErrorAs(t, err, &ce)
	assert.True(t, ce.Replica)
	assert.Equal(t, "src1", ce.SourceBucket)
}
