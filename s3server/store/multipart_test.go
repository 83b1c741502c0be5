package store

import (
	"github.com/backbeat-temporal/backbeat/bbproto"

	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// uploadPart writes data as part n of upload.
func uploadPart(t *testing.T, s *Store, up *Upload, n int, data []byte) UploadPart {
	t.Helper()
	p := writeBlob(t, s, data)
	part := UploadPart{Number: n, Blob: p.Blob, Size: p.Size, ETag: p.ETag}
	require.NoError(t, s.PutPart(context.Background(), up.Bucket, up.Key, up.ID, part))
	return part
}

func TestMultipartComplete(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	newBucket(t, s, "b", VersioningEnabled)
	meta := ObjectMeta{ContentType: "application/zip", UserMetadata: map[string]string{"a": "1"}}
	up, err := s.CreateUpload(ctx, "b", "big", "alice", meta)
	require.NoError(t, err)
	require.Len(t, up.ID, 32)
	head := s.Head()

	got, err := s.GetUpload(ctx, "b", "big", up.ID)
	require.NoError(t, err)
	assert.Equal(t, meta, got.Meta)
	_, err = s.GetUpload(ctx, "b", "other", up.ID)
	assert.ErrorIs(t, err, ErrNoSuchUpload)
	_, err = s.GetUpload(ctx, "b", "big", "nope")
	assert.ErrorIs(t, err, ErrNoSuchUpload)

	p1data := bytes.Repeat([]byte("a"), MinPartSize)
	p2data := []byte("tail")
	replaced := uploadPart(t, s, up, 1, []byte("first try"))
	p1 := uploadPart(t, s, up, 1, p1data)
	assert.False(t, blobExists(s, replaced.Blob), "a replaced part's blob is removed")
	unused := uploadPart(t, s, up, 2, []byte("unused"))
	p3 := uploadPart(t, s, up, 3, p2data)
	parts, err := s.ListParts(ctx, "b", "big", up.ID)
	require.NoError(t, err)
	require.Len(t, parts, 3)
	assert.Equal(t, []int{1, 2, 3}, []int{parts[0].Number, parts[1].Number, parts[2].Number})
	assert.False(t, parts[0].LastModified.IsZero())
	assert.Equal(t, head, s.Head(), "uploads and parts are not journaled")

	uploads, err := s.ListUploads(ctx, "b")
	require.NoError(t, err)
	require.Len(t, uploads, 1)

	v, err := s.CompleteUpload(ctx, "b", "big", up.ID, []CompletePart{{1, `"` + p1.ETag + `"`}, {3, p3.ETag}}, nil)
	require.NoError(t, err)
	s1, s3 := md5.Sum(p1data), md5.Sum(p2data)
	want := md5.Sum(append(s1[:], s3[:]...))
	assert.Equal(t, hex.EncodeToString(want[:])+"-2", v.ETag)
	assert.Equal(t, int64(len(p1data)+len(p2data)), v.Size)
	assert.Equal(t, meta, v.Meta)
	assert.Equal(t, "alice", v.Owner)
	require.Len(t, v.Parts, 2)
	assert.Equal(t, p1.Blob, v.Parts[0].Blob, "parts are used in place, not copied")
	assert.False(t, blobExists(s, unused.Blob), "the blob of a part not used is removed")
	assert.True(t, blobExists(s, p1.Blob))
	rec := lastRecord(t, s)
	assert.Equal(t, bbproto.OpPut, rec.Op)
	assert.Equal(t, v.ETag, rec.ETag)
	assert.Equal(t, head+1, rec.Seq)

	read, err := s.GetVersion(ctx, "b", "big", "")
	require.NoError(t, err)
	assert.Equal(t, v.VersionID, read.VersionID)
	assert.Equal(t, string(p1data)+string(p2data), readData(t, s, read))

	_, err = s.GetUpload(ctx, "b", "big", up.ID)
	assert.ErrorIs(t, err, ErrNoSuchUpload, "the upload is gone")
	uploads, err = s.ListUploads(ctx, "b")
	require.NoError(t, err)
	assert.Empty(t, uploads)
	_, err = s.CompleteUpload(ctx, "b", "big", up.ID, []CompletePart{{1, p1.ETag}}, nil)
	assert.ErrorIs(t, err, ErrNoSuchUpload)
}

func TestMultipartValidation(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	newBucket(t, s, "b", "")
	up, err := s.CreateUpload(ctx, "b", "k", "alice", ObjectMeta{})
	require.NoError(t, err)
	small := uploadPart(t, s, up, 1, []byte("small"))
	last := uploadPart(t, s, up, 2, []byte("last"))

	_, err = s.CompleteUpload(ctx, "b", "k", up.ID, []CompletePart{{2, last.ETag}, {1, small.ETag}}, nil)
	assert.ErrorIs(t, err, ErrInvalidPartOrder)
	_, err = s.CompleteUpload(ctx, "b", "k", up.ID, []CompletePart{{1, small.ETag}, {1, small.ETag}}, nil)
	assert.ErrorIs(t, err, ErrInvalidPartOrder)
	_, err = s.CompleteUpload(ctx, "b", "k", up.ID, []CompletePart{{1, small.ETag}, {5, last.ETag}}, nil)
	assert.ErrorIs(t, err, ErrInvalidPart)
	_, err = s.CompleteUpload(ctx, "b", "k", up.ID, []CompletePart{{1, last.ETag}}, nil)
	assert.ErrorIs(t, err, ErrInvalidPart, "wrong ETag")
	_, err = s.CompleteUpload(ctx, "b", "k", up.ID, nil, nil)
	assert.ErrorIs(t, err, ErrInvalidPart)
	_, err = s.CompleteUpload(ctx, "b", "k", up.ID, []CompletePart{{1, small.ETag}, {2, last.ETag}}, nil)
	assert.ErrorIs(t, err, ErrEntityTooSmall)
	_, err = s.CompleteUpload(ctx, "b", "other", up.ID, []CompletePart{{1, small.ETag}}, nil)
	assert.ErrorIs(t, err, ErrNoSuchUpload)
	assert.ErrorIs(t, s.PutPart(ctx, "b", "k", up.ID, UploadPart{Number: 0}), ErrInvalidPart)
	assert.ErrorIs(t, s.PutPart(ctx, "b", "k", "nope", UploadPart{Number: 1}), ErrNoSuchUpload)

	// A single small part is fine (the last part may be small).
	v, err := s.CompleteUpload(ctx, "b", "k", up.ID, []CompletePart{{2, last.ETag}}, nil)
	require.NoError(t, err)
	assert.Equal(t, NullVersionID, v.VersionID)
	assert.Regexp(t, `^[0-9a-f]{32}-1$`, v.ETag)
	assert.False(t, blobExists(s, small.Blob))
}

func TestMultipartAbort(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	newBucket(t, s, "b", "")
	up1, err := s.CreateUpload(ctx, "b", "z", "alice", ObjectMeta{})
	require.NoError(t, err)
	up2, err := s.CreateUpload(ctx, "b", "a", "alice", ObjectMeta{})
	require.NoError(t, err)
	uploads, err := s.ListUploads(ctx, "b")
	require.NoError(t, err)
	require.Len(t, uploads, 2)
	assert.Equal(t, up2.ID, uploads[0].ID, "sorted by key")

	p := uploadPart(t, s, up1, 1, []byte("data"))
	assert.ErrorIs(t, s.AbortUpload(ctx, "b", "a", up1.ID), ErrNoSuchUpload, "key must match")
	require.NoError(t, s.AbortUpload(ctx, "b", "z", up1.ID))
	assert.False(t, blobExists(s, p.Blob))
	assert.ErrorIs(t, s.AbortUpload(ctx, "b", "z", up1.ID), ErrNoSuchUpload)
	_, err = s.ListParts(ctx, "b", "z", up1.ID)
	assert.ErrorIs(t, err, ErrNoSuchUpload)
}

func TestMultipartReplica(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	newBucket(t, s, "b", VersioningEnabled)
	up, err := s.CreateUpload(ctx, "b", "k", "replication", ObjectMeta{})
	require.NoError(t, err)
	p := uploadPart(t, s, up, 1, []byte("replica data"))
	id := formatOrder(1_700_000_000_000_000_000, 42)
	v, err := s.CompleteUpload(ctx, "b", "k", up.ID, []CompletePart{{1, p.ETag}}, &ReplicaInput{
		VersionID: id, Owner: "alice", Meta: ObjectMeta{ContentType: "x/y"},
		Source: &Replication{Status: bbproto.StatusCompleted, Role: "arn:role"}})
	require.NoError(t, err)
	assert.Equal(t, id, v.VersionID)
	assert.Equal(t, bbproto.StatusReplica, v.Replication.Status)
	assert.Equal(t, "arn:role", v.Replication.Role)
	got, err := s.GetVersion(ctx, "b", "k", id)
	require.NoError(t, err)
	assert.Equal(t, "x/y", got.Meta.ContentType)
	assert.Equal(t, "replica data", readData(t, s, got))
	assert.Equal(t, bbproto.StatusReplica, lastRecord(t, s).Replication.Status)
}

func TestBlobs(t *testing.T) {
	s := newStore(t)
	p := writeBlob(t, s, []byte("hello"))
	r, err := s.OpenBlob(p.Blob)
	require.NoError(t, err)
	buf := make([]byte, 3)
	_, err = r.Seek(2, 0)
	require.NoError(t, err)
	_, err = r.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "llo", string(buf))
	require.NoError(t, r.Close())

	l, err := s.LinkBlob(p.Blob)
	require.NoError(t, err)
	assert.NotEqual(t, p.Blob, l)
	require.NoError(t, s.RemoveBlobs(p.Blob))
	assert.False(t, blobExists(s, p.Blob))
	r, err = s.OpenBlob(l)
	require.NoError(t, err, "a linked blob outlives its source")
	r.Close()
	require.NoError(t, s.RemoveBlobs(p.Blob), "removing a missing blob is not an error")
	_, err = s.LinkBlob(p.Blob)
	assert.ErrorIs(t, err, os.ErrNotExist)

	_, err = s.OpenBlob("../../etc/passwd")
	assert.Error(t, err)

	w, err := s.NewBlob()
	require.NoError(t, err)
	_, err = w.Write([]byte("abandoned"))
	require.NoError(t, err)
	w.Abort()
	ents, err := os.ReadDir(filepath.Join(s.dir, "tmp"))
	require.NoError(t, err)
	assert.Empty(t, ents)
}

func TestOrphanBlobsRemovedOnOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir, testOptions())
	require.NoError(t, err)
	newBucket(t, s, "b", VersioningEnabled)
	kept := put(t, s, "b", "k", "kept")
	up, err := s.CreateUpload(ctx, "b", "m", "alice", ObjectMeta{})
	require.NoError(t, err)
	part := uploadPart(t, s, up, 1, []byte("part"))
	// A blob committed whose metadata transaction never happened (crash in between).
	orphan := writeBlob(t, s, []byte("orphan"))
	// A temporary file of a blob being written.
	w, err := s.NewBlob()
	require.NoError(t, err)
	_, err = w.Write([]byte("partial"))
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s = openStore(t, dir, testOptions())
	assert.False(t, blobExists(s, orphan.Blob), "orphan blob removed")
	assert.True(t, blobExists(s, kept.Parts[0].Blob))
	assert.True(t, blobExists(s, part.Blob), "upload parts are referenced")
	ents, err := os.ReadDir(filepath.Join(dir, "tmp"))
	require.NoError(t, err)
	assert.Empty(t, ents, "tmp is cleaned")
	got, err := s.GetVersion(ctx, "b", "k", "")
	require.NoError(t, err)
	assert.Equal(t, "kept", readData(t, s, got))
	assert.Equal(t, fmt.Sprint(kept.Size), fmt.Sprint(got.Size))
}
