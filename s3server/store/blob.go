package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// Blob ids are 32 random hex digits; a blob lives in dir/blobs/<first 2 digits>/<id>.
const blobIDLen = 32

func isBlobID(id string) bool { return isGenID(id) } // same shape: 32 lower-case hex digits

func (s *Store) blobPath(id string) string {
	return filepath.Join(s.dir, "blobs", id[:2], id)
}

func (s *Store) tmpPath(id string) string {
	return filepath.Join(s.dir, "tmp", id)
}

// syncDir fsyncs a directory (a rename or link in it becomes durable).
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// NewBlob starts a blob: data is written to a temporary file under dir/tmp.
func (s *Store) NewBlob() (*BlobWriter, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	id := randomHex(blobIDLen / 2)
	f, err := os.OpenFile(s.tmpPath(id), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("store: create blob: %w", err)
	}
	return &BlobWriter{s: s, id: id, f: f}, nil
}

// OpenBlob opens a committed blob for reading.
func (s *Store) OpenBlob(id string) (io.ReadSeekCloser, error) {
	if !isBlobID(id) {
		return nil, fmt.Errorf("store: open blob: invalid blob id %q", id)
	}
	f, err := os.Open(s.blobPath(id))
	if err != nil {
		return nil, fmt.Errorf("store: open blob: %w", err)
	}
	return f, nil
}

// LinkBlob makes a new blob with the same content as id (a hard link when possible) for
// server-side copy, already durable.
func (s *Store) LinkBlob(id string) (string, error) {
	if !isBlobID(id) {
		return "", fmt.Errorf("store: link blob: invalid blob id %q", id)
	}
	if s.closed.Load() {
		return "", ErrClosed
	}
	nid := randomHex(blobIDLen / 2)
	err := os.Link(s.blobPath(id), s.blobPath(nid))
	if err == nil {
		if !s.opts.NoSync {
			if err := syncDir(filepath.Dir(s.blobPath(nid))); err != nil {
				return "", fmt.Errorf("store: link blob: %w", err)
			}
		}
		return nid, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("store: link blob %s: %w", id, err)
	}
	// No hard links here: copy.
	src, err := os.Open(s.blobPath(id))
	if err != nil {
		return "", fmt.Errorf("store: copy blob %s: %w", id, err)
	}
	defer src.Close()
	w, err := s.NewBlob()
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(w, src); err != nil {
		w.Abort()
		return "", fmt.Errorf("store: copy blob %s: %w", id, err)
	}
	nid, _, err = w.Commit()
	return nid, err
}

// RemoveBlobs deletes blobs no longer referenced (best effort, errors logged by caller).
// Blobs already absent are not an error.
func (s *Store) RemoveBlobs(ids ...string) error {
	var errs []error
	for _, id := range ids {
		if !isBlobID(id) {
			errs = append(errs, fmt.Errorf("store: remove blob: invalid blob id %q", id))
			continue
		}
		if err := os.Remove(s.blobPath(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("store: remove blob: %w", err))
		}
	}
	return errors.Join(errs...)
}

// BlobWriter writes one blob. Write, then Commit (fsync, rename into place, fsync dir) or
// Abort. Not safe for concurrent use.
type BlobWriter struct {
	s    *Store
	id   string
	f    *os.File
	size int64
	done bool
}

// Write appends data.
func (w *BlobWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, errors.New("store: write to a finished blob")
	}
	n, err := w.f.Write(p)
	w.size += int64(n)
	if err != nil {
		return n, fmt.Errorf("store: write blob: %w", err)
	}
	return n, nil
}

// Commit makes the blob durable and returns its id and size.
func (w *BlobWriter) Commit() (id string, size int64, err error) {
	if w.done {
		return "", 0, errors.New("store: commit of a finished blob")
	}
	w.done = true
	tmp := w.f.Name()
	if !w.s.opts.NoSync {
		if err := w.f.Sync(); err != nil {
			w.f.Close()
			os.Remove(tmp)
			return "", 0, fmt.Errorf("store: sync blob: %w", err)
		}
	}
	if err := w.f.Close(); err != nil {
		os.Remove(tmp)
		return "", 0, fmt.Errorf("store: close blob: %w", err)
	}
	dst := w.s.blobPath(w.id)
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return "", 0, fmt.Errorf("store: commit blob: %w", err)
	}
	if !w.s.opts.NoSync {
		if err := syncDir(filepath.Dir(dst)); err != nil {
			return "", 0, fmt.Errorf("store: sync blob directory: %w", err)
		}
	}
	return w.id, w.size, nil
}

// Abort removes the temporary file. It does nothing after Commit or Abort.
func (w *BlobWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.f.Close()
	os.Remove(w.f.Name())
}

// removeOrphanBlobs removes the blobs that no version and no upload part references:
// left by a crash between a blob's commit and its metadata transaction, or between a
// metadata transaction and the removal of the blobs it unreferenced.
func (s *Store) removeOrphanBlobs() error {
	used := map[string]struct{}{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bktData).ForEachBucket(func(name []byte) error {
			d, err := openBucketData(tx.Bucket(bktData), string(name))
			if err != nil {
				return err
			}
			err = d.versions.ForEach(func(k, v []byte) error {
				var vv struct {
					Parts []struct {
						Blob string `json:"blob"`
					} `json:"parts"`
				}
				if err := json.Unmarshal(v, &vv); err != nil {
					return fmt.Errorf("store: decode version of %s: %w", name, err)
				}
				for _, p := range vv.Parts {
					used[p.Blob] = struct{}{}
				}
				return nil
			})
			if err != nil {
				return err
			}
			return d.parts.ForEach(func(k, v []byte) error {
				var p struct {
					Blob string `json:"blob"`
				}
				if err := json.Unmarshal(v, &p); err != nil {
					return fmt.Errorf("store: decode upload part of %s: %w", name, err)
				}
				used[p.Blob] = struct{}{}
				return nil
			})
		})
	})
	if err != nil {
		return fmt.Errorf("store: scan blob references: %w", err)
	}
	root := filepath.Join(s.dir, "blobs")
	shards, err := os.ReadDir(root)
	if err != nil {
		return fmt.Errorf("store: scan blobs: %w", err)
	}
	for _, sh := range shards {
		if !sh.IsDir() {
			continue
		}
		ents, err := os.ReadDir(filepath.Join(root, sh.Name()))
		if err != nil {
			return fmt.Errorf("store: scan blobs: %w", err)
		}
		for _, e := range ents {
			if _, ok := used[e.Name()]; ok {
				continue
			}
			if err := os.Remove(filepath.Join(root, sh.Name(), e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("store: remove orphan blob: %w", err)
			}
		}
	}
	return nil
}
