package store

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testOptions are the options of test stores: no fsync (tests check logic, not disks).
func testOptions() Options { return Options{NoSync: true} }

// openStore opens a store in dir, closed at the end of the test.
func openStore(t testing.TB, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// newStore opens a store in a new directory.
func newStore(t testing.TB) *Store {
	t.Helper()
	return openStore(t, t.TempDir(), testOptions())
}

// newBucket creates bucket name owned by "alice" with the given versioning.
func newBucket(t testing.TB, s *Store, name, versioning string) {
	t.Helper()
	ctx := context.Background()
	_, err := s.CreateBucket(ctx, name, "alice")
	require.NoError(t, err)
	if versioning != "" {
		_, err = s.UpdateBucket(ctx, name, func(b *Bucket) error { b.Versioning = versioning; return nil })
		require.NoError(t, err)
	}
}

// writeBlob commits a blob holding data.
func writeBlob(t testing.TB, s *Store, data []byte) Part {
	t.Helper()
	w, err := s.NewBlob()
	require.NoError(t, err)
	_, err = w.Write(data)
	require.NoError(t, err)
	id, size, err := w.Commit()
	require.NoError(t, err)
	require.Equal(t, int64(len(data)), size)
	sum := md5.Sum(data)
	return Part{Blob: id, Size: size, ETag: hex.EncodeToString(sum[:])}
}

// put writes data as a new version of bucket/key.
func put(t testing.TB, s *Store, bucket, key, data string) *Version {
	t.Helper()
	p := writeBlob(t, s, []byte(data))
	v, err := s.PutObject(context.Background(), PutInput{Bucket: bucket, Key: key, Owner: "alice",
		Parts: []Part{p}, ETag: p.ETag, Size: p.Size, Meta: ObjectMeta{ContentType: "text/plain"}})
	require.NoError(t, err)
	return v
}

// readData reads the data of a version.
func readData(t testing.TB, s *Store, v *Version) string {
	t.Helper()
	var out []byte
	for _, p := range v.Parts {
		r, err := s.OpenBlob(p.Blob)
		require.NoError(t, err)
		b, err := io.ReadAll(r)
		r.Close()
		require.NoError(t, err)
		out = append(out, b...)
	}
	return string(out)
}

// blobExists tells whether blob id is on disk.
func blobExists(s *Store, id string) bool {
	_, err := os.Stat(filepath.Join(s.dir, "blobs", id[:2], id))
	return err == nil
}

// listed is one entry of WalkVersions, for compact assertions.
type listed struct {
	Key, VersionID string
	DeleteMarker   bool
	Latest         bool
}

func walk(t testing.TB, s *Store, bucket string, opts WalkOptions) []listed {
	t.Helper()
	var out []listed
	require.NoError(t, s.WalkVersions(context.Background(), bucket, opts, func(v *Version) bool {
		out = append(out, listed{v.Key, v.VersionID, v.IsDeleteMarker, v.IsLatest})
		return true
	}))
	return out
}

// journal reads every record after `after`.
func journal(t testing.TB, s *Store, after uint64) []Record {
	t.Helper()
	recs, _, err := s.ReadJournal(context.Background(), after, 1<<20)
	require.NoError(t, err)
	return recs
}

// lastRecord is the last journal record.
func lastRecord(t testing.TB, s *Store) Record {
	t.Helper()
	recs := journal(t, s, 0)
	require.NotEmpty(t, recs)
	return recs[len(recs)-1]
}

// fakeClock is a settable Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
