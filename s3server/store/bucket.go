package store

import (
	"github.com/backbeat-temporal/backbeat/bbproto"

	"context"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// memoBucket caches the decoded form of a stored bucket for the committer.
type memoBucket struct {
	raw string
	b   *Bucket
}

// getBucket decodes bucket name from tx: ErrNoSuchBucket when absent.
func getBucket(tx *bolt.Tx, name string) (*Bucket, error) {
	raw := tx.Bucket(bktBuckets).Get([]byte(name))
	if raw == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoSuchBucket, name)
	}
	b := new(Bucket)
	if err := json.Unmarshal(raw, b); err != nil {
		return nil, fmt.Errorf("store: decode bucket %s: %w", name, err)
	}
	return b, nil
}

// bucketData is the nested data bucket of a bucket and its sub-buckets.
type bucketData struct {
	root, versions, aliases, uploads, parts *bolt.Bucket
	waiting                                 *bolt.Bucket // the index of waiting versions (pending_index.go)
}

// openBucketData opens the data of bucket name under parent: ErrNoSuchBucket when absent.
func openBucketData(parent *bolt.Bucket, name string) (*bucketData, error) {
	root := parent.Bucket([]byte(name))
	if root == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoSuchBucket, name)
	}
	d := &bucketData{
		root:     root,
		versions: root.Bucket(bktVersions),
		aliases:  root.Bucket(bktAliases),
		uploads:  root.Bucket(bktUploads),
		parts:    root.Bucket(bktParts),
		waiting:  root.Bucket(bktWaiting),
	}
	if d.versions == nil || d.aliases == nil || d.uploads == nil || d.parts == nil || d.waiting == nil {
		return nil, fmt.Errorf("store: bucket %s: metadata is missing sub-buckets", name)
	}
	return d, nil
}

// bucket returns the stored bucket name (decoded once per stored value, shared: callers
// must not modify it) and its data: ErrNoSuchBucket when absent.
func (w *wtx) bucket(name string) (*Bucket, *bucketData, error) {
	raw := w.buckets.Get([]byte(name))
	if raw == nil {
		return nil, nil, fmt.Errorf("%w: %s", ErrNoSuchBucket, name)
	}
	var b *Bucket
	if m, ok := w.s.bucketMemo[name]; ok && m.raw == string(raw) {
		b = m.b
	} else {
		b = new(Bucket)
		if err := json.Unmarshal(raw, b); err != nil {
			return nil, nil, fmt.Errorf("store: decode bucket %s: %w", name, err)
		}
		if len(w.s.bucketMemo) > 1024 {
			clear(w.s.bucketMemo)
		}
		w.s.bucketMemo[name] = &memoBucket{raw: string(raw), b: b}
	}
	d, err := openBucketData(w.data, name)
	if err != nil {
		return nil, nil, err
	}
	return b, d, nil
}

// CreateBucket creates a bucket owned by owner. ErrBucketAlreadyOwnedByYou when owner
// already has it, ErrBucketExists when another account has it. Journaled (bbproto.OpBucket).
func (s *Store) CreateBucket(ctx context.Context, name, owner string) (*Bucket, error) {
	if name == "" {
		return nil, fmt.Errorf("store: create bucket: empty name")
	}
	var out *Bucket
	err := s.update(ctx, func(w *wtx) error {
		if raw := w.buckets.Get([]byte(name)); raw != nil {
			var b Bucket
			if err := json.Unmarshal(raw, &b); err != nil {
				return fmt.Errorf("store: decode bucket %s: %w", name, err)
			}
			if b.Owner == owner {
				return fmt.Errorf("%w: %s", ErrBucketAlreadyOwnedByYou, name)
			}
			return fmt.Errorf("%w: %s", ErrBucketExists, name)
		}
		b := &Bucket{Name: name, Owner: owner, Created: w.now()}
		if err := w.putJSON(w.buckets, []byte(name), b); err != nil {
			return err
		}
		root, err := w.data.CreateBucket([]byte(name))
		if err != nil {
			return fmt.Errorf("store: create bucket %s: %w", name, err)
		}
		for _, sub := range [][]byte{bktVersions, bktAliases, bktUploads, bktParts, bktWaiting} {
			if _, err := root.CreateBucket(sub); err != nil {
				return fmt.Errorf("store: create bucket %s: %w", name, err)
			}
		}
		out = b
		return w.appendRecord(&Record{Op: bbproto.OpBucket, Bucket: name})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetBucket returns a bucket or ErrNoSuchBucket.
func (s *Store) GetBucket(ctx context.Context, name string) (*Bucket, error) {
	var out *Bucket
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b, err := getBucket(tx, name)
		out = b
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListBuckets returns every bucket, sorted by name.
func (s *Store) ListBuckets(ctx context.Context) ([]*Bucket, error) {
	var out []*Bucket
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bktBuckets).ForEach(func(k, v []byte) error {
			b := new(Bucket)
			if err := json.Unmarshal(v, b); err != nil {
				return fmt.Errorf("store: decode bucket %s: %w", k, err)
			}
			out = append(out, b)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteBucket deletes an empty bucket (no versions, no delete markers):
// ErrBucketNotEmpty otherwise. Its incomplete multipart uploads are removed with it, part
// blobs included, as S3 does. Journaled (bbproto.OpBucket).
func (s *Store) DeleteBucket(ctx context.Context, name string) error {
	var removed []string
	err := s.update(ctx, func(w *wtx) error {
		removed = nil
		_, d, err := w.bucket(name)
		if err != nil {
			return err
		}
		if k, _ := d.versions.Cursor().First(); k != nil {
			return fmt.Errorf("%w: %s has object versions or delete markers", ErrBucketNotEmpty, name)
		}
		// Incomplete multipart uploads do not keep a bucket alive (as S3): they go with it.
		err = d.parts.ForEach(func(_, v []byte) error {
			var p UploadPart
			if err := json.Unmarshal(v, &p); err != nil {
				return fmt.Errorf("store: decode a part of bucket %s: %w", name, err)
			}
			removed = append(removed, p.Blob)
			return nil
		})
		if err != nil {
			return err
		}
		if err := w.del(w.buckets, []byte(name)); err != nil {
			return err
		}
		if err := w.data.DeleteBucket([]byte(name)); err != nil {
			return fmt.Errorf("store: delete bucket %s: %w", name, err)
		}
		return w.appendRecord(&Record{Op: bbproto.OpBucket, Bucket: name})
	})
	if err != nil {
		return err
	}
	s.removeBlobs(removed)
	return nil
}

// UpdateBucket applies fn to the stored bucket in one transaction and stores the result
// (versioning, replication config, tags). fn may return an error to abort: it is returned
// as is. The name, owner and creation time cannot be changed. Journaled (bbproto.OpBucket).
func (s *Store) UpdateBucket(ctx context.Context, name string, fn func(b *Bucket) error) (*Bucket, error) {
	var out *Bucket
	err := s.update(ctx, func(w *wtx) error {
		b, err := getBucket(w.tx, name)
		if err != nil {
			return err
		}
		name, owner, created := b.Name, b.Owner, b.Created
		if err := fn(b); err != nil {
			return err
		}
		b.Name, b.Owner, b.Created = name, owner, created
		if err := w.putJSON(w.buckets, []byte(name), b); err != nil {
			return err
		}
		out = b
		return w.appendRecord(&Record{Op: bbproto.OpBucket, Bucket: name})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
