package store

import (
	"github.com/backbeat-temporal/backbeat/bbproto"

	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// defaultJournalLimit is the number of records ReadJournal returns when limit <= 0.
const defaultJournalLimit = 1000

// appendRecord gives rec the next seq and writes it.
func (w *wtx) appendRecord(rec *Record) error {
	w.head++
	rec.Seq = w.head
	if rec.Time.IsZero() {
		rec.Time = w.now()
	}
	if err := w.putJSON(w.journal, u64(rec.Seq), rec); err != nil {
		return fmt.Errorf("store: append journal record %d: %w", rec.Seq, err)
	}
	if w.s.oldestKnown && w.s.oldestTime.IsZero() {
		w.s.oldestTime = rec.Time
	}
	return nil
}

// recordOf returns the journal record of op on v (Seq and Time are set by appendRecord).
func recordOf(op bbproto.Op, v *Version) *Record {
	return &Record{
		Op:             op,
		Bucket:         v.Bucket,
		Key:            v.Key,
		VersionID:      v.VersionID,
		Size:           v.Size,
		ETag:           v.ETag,
		ContentType:    v.Meta.ContentType,
		UserMetadata:   v.Meta.UserMetadata,
		Tags:           v.Meta.Tags,
		IsDeleteMarker: v.IsDeleteMarker,
		LastModified:   v.LastModified,
		Replication:    v.Replication,
	}
}

// ageDue tells whether the oldest journal record may be older than JournalMaxAge.
// Committer-only.
func (s *Store) ageDue() bool {
	if s.opts.JournalMaxAge <= 0 {
		return false
	}
	if !s.oldestKnown {
		return true
	}
	return !s.oldestTime.IsZero() && s.now().Sub(s.oldestTime) >= s.opts.JournalMaxAge
}

// prune applies JournalRetention and JournalMaxAge, moving the oldest kept seq forward.
func (w *wtx) prune() error {
	s := w.s
	oldest := w.oldest
	if n := s.opts.JournalRetention; n > 0 && w.head >= n && w.head-n+1 > oldest {
		for seq := oldest; seq < w.head-n+1; seq++ {
			if err := w.journal.Delete(u64(seq)); err != nil {
				return fmt.Errorf("store: prune journal record %d: %w", seq, err)
			}
		}
		oldest = w.head - n + 1
		s.oldestKnown = false
	}
	if s.ageDue() {
		cutoff := s.now().Add(-s.opts.JournalMaxAge)
		for {
			k, v := w.journal.Cursor().First()
			if k == nil {
				oldest = w.head + 1
				s.oldestKnown, s.oldestTime = true, time.Time{}
				break
			}
			var r struct {
				Time time.Time `json:"time"`
			}
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("store: decode journal record %d: %w", binary.BigEndian.Uint64(k), err)
			}
			seq := binary.BigEndian.Uint64(k)
			if !r.Time.Before(cutoff) {
				s.oldestKnown, s.oldestTime = true, r.Time
				oldest = max(oldest, seq)
				break
			}
			if err := w.journal.Delete(k); err != nil {
				return fmt.Errorf("store: prune journal record %d: %w", seq, err)
			}
			oldest = max(oldest, seq+1)
		}
	}
	if oldest != w.oldest {
		if err := w.meta.Put(metaOldest, u64(oldest)); err != nil {
			return fmt.Errorf("store: write oldest journal seq: %w", err)
		}
		w.oldest = oldest
	}
	return nil
}

// ReadJournal returns up to limit records with seq > after, and the head seq (the last
// written). limit <= 0 means 1000. *JournalTruncatedError when records after `after` were
// pruned; after equal to (or beyond) the head is never an error: no records.
func (s *Store) ReadJournal(ctx context.Context, after uint64, limit int) ([]Record, uint64, error) {
	var recs []Record
	head, err := s.readJournal(ctx, after, limit, func(seq uint64, v []byte) error {
		recs = append(recs, Record{})
		if err := json.Unmarshal(v, &recs[len(recs)-1]); err != nil {
			return fmt.Errorf("store: decode journal record %d: %w", seq, err)
		}
		return nil
	})
	if err != nil {
		return nil, head, err
	}
	return recs, head, nil
}

// ReadJournalRaw is ReadJournal returning each record as its stored JSON (one line, no
// newline), saving a decode and re-encode to handlers that serve JSON lines.
func (s *Store) ReadJournalRaw(ctx context.Context, after uint64, limit int) ([]json.RawMessage, uint64, error) {
	var recs []json.RawMessage
	head, err := s.readJournal(ctx, after, limit, func(_ uint64, v []byte) error {
		recs = append(recs, bytes.Clone(v))
		return nil
	})
	if err != nil {
		return nil, head, err
	}
	return recs, head, nil
}

// readJournal calls fn with each stored record after `after`, up to limit, inside a read
// transaction, and returns the head.
func (s *Store) readJournal(ctx context.Context, after uint64, limit int, fn func(seq uint64, v []byte) error) (uint64, error) {
	if limit <= 0 {
		limit = defaultJournalLimit
	}
	var head uint64
	err := s.view(ctx, func(tx *bolt.Tx) error {
		meta := tx.Bucket(bktMeta)
		head = getU64(meta, metaHead)
		oldest := max(getU64(meta, metaOldest), 1)
		if after+1 < oldest {
			return &JournalTruncatedError{After: after, Oldest: oldest}
		}
		if after >= head {
			return nil
		}
		c := tx.Bucket(bktJournal).Cursor()
		n := 0
		for k, v := c.Seek(u64(after + 1)); k != nil && n < limit; k, v = c.Next() {
			if err := fn(binary.BigEndian.Uint64(k), v); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return head, err
}

// WaitJournal blocks until the head seq is > after, ctx is done, or the store closes
// (ErrClosed).
func (s *Store) WaitJournal(ctx context.Context, after uint64) error {
	for {
		s.mu.Lock()
		head, ch, closed := s.head, s.notify, s.closed.Load()
		s.mu.Unlock()
		if closed {
			return ErrClosed
		}
		if head > after {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Head returns the seq of the last journal record written (0 when none).
func (s *Store) Head() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.head
}
