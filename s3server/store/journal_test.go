package store

import (
	"github.com/backbeat-temporal/backbeat/bbproto"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestJournalGapFreeAcrossReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir, testOptions())
	require.NoError(t, err)
	id := s.JournalID()
	require.Len(t, id, 32)
	newBucket(t, s, "b", VersioningEnabled) // 2 records
	var lastID string
	for i := 0; i < 5; i++ {
		lastID = put(t, s, "b", fmt.Sprintf("k%d", i), "x").VersionID
	}
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close twice is harmless")
	_, _, err = s.ReadJournal(ctx, 0, 10)
	assert.ErrorIs(t, err, ErrClosed)
	_, err = s.PutObject(ctx, PutInput{Bucket: "b", Key: "k"})
	assert.ErrorIs(t, err, ErrClosed)

	s = openStore(t, dir, testOptions())
	assert.Equal(t, id, s.JournalID(), "the journal id belongs to the data directory")
	recs, head, err := s.ReadJournal(ctx, 0, 0)
	require.NoError(t, err)
	assert.Equal(t, uint64(7), head)
	assert.Equal(t, uint64(7), s.Head())
	v := put(t, s, "b", "k0", "y")
	assert.Less(t, v.VersionID, lastID, "ids keep sorting newest first after a reopen")
	recs = journal(t, s, 0)
	require.Len(t, recs, 8)
	for i, r := range recs {
		assert.Equal(t, uint64(i+1), r.Seq)
	}
	assert.Equal(t, bbproto.OpBucket, recs[0].Op)
	assert.Equal(t, bbproto.OpPut, recs[7].Op)
	assert.Equal(t, v.VersionID, recs[7].VersionID)
	assert.Equal(t, v.LastModified, recs[7].LastModified)

	other := openStore(t, t.TempDir(), testOptions())
	assert.NotEqual(t, id, other.JournalID(), "a new data directory has a new journal id")
}

func TestReadJournalLimits(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	newBucket(t, s, "b", "")
	for i := 0; i < 1100; i++ {
		_, err := s.PutObject(ctx, PutInput{Bucket: "b", Key: fmt.Sprintf("k%d", i), ETag: "e"})
		require.NoError(t, err)
	}
	recs, head, err := s.ReadJournal(ctx, 0, 0)
	require.NoError(t, err)
	assert.Equal(t, uint64(1101), head)
	assert.Len(t, recs, 1000, "limit <= 0 means 1000")
	recs, _, err = s.ReadJournal(ctx, 10, 5)
	require.NoError(t, err)
	require.Len(t, recs, 5)
	assert.Equal(t, uint64(11), recs[0].Seq)
	assert.Equal(t, uint64(15), recs[4].Seq)
	recs, _, err = s.ReadJournal(ctx, 1099, 10)
	require.NoError(t, err)
	require.Len(t, recs, 2)
	recs, head, err = s.ReadJournal(ctx, 1101, 10)
	require.NoError(t, err)
	assert.Empty(t, recs)
	assert.Equal(t, uint64(1101), head)
	recs, _, err = s.ReadJournal(ctx, 5000, 10)
	require.NoError(t, err)
	assert.Empty(t, recs)

	raw, _, err := s.ReadJournalRaw(ctx, 1099, 10)
	require.NoError(t, err)
	require.Len(t, raw, 2)
	var r Record
	require.NoError(t, json.Unmarshal(raw[0], &r))
	assert.Equal(t, uint64(1100), r.Seq)
	assert.Equal(t, "k1098", r.Key)
}

func TestJournalRetention(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	opts := testOptions()
	opts.JournalRetention = 10
	s, err := Open(dir, opts)
	require.NoError(t, err)
	newBucket(t, s, "b", "")
	for i := 0; i < 24; i++ {
		put(t, s, "b", "k", "x")
	}
	recs, head, err := s.ReadJournal(ctx, 15, 100)
	require.NoError(t, err)
	assert.Equal(t, uint64(25), head)
	assert.Len(t, recs, 10, "16..25 kept")
	_, _, err = s.ReadJournal(ctx, 14, 100)
	var te *JournalTruncatedError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, JournalTruncatedError{After: 14, Oldest: 16}, *te)
	assert.Contains(t, err.Error(), "16")
	_, _, err = s.ReadJournal(ctx, 0, 100)
	require.ErrorAs(t, err, &te)
	recs, _, err = s.ReadJournal(ctx, 25, 100)
	require.NoError(t, err, "reading from the head is never an error")
	assert.Empty(t, recs)
	require.NoError(t, s.Close())

	// Retention state survives a reopen.
	s = openStore(t, dir, opts)
	_, _, err = s.ReadJournal(ctx, 14, 100)
	require.ErrorAs(t, err, &te)
	put(t, s, "b", "k", "x")
	recs, _, err = s.ReadJournal(ctx, 16, 100)
	require.NoError(t, err)
	require.Len(t, recs, 10)
	assert.Equal(t, uint64(26), recs[9].Seq)
}

func TestJournalMaxAge(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	opts := testOptions()
	opts.Now = clock.Now
	opts.JournalMaxAge = time.Hour
	s := openStore(t, t.TempDir(), opts)
	newBucket(t, s, "b", "")
	for i := 0; i < 3; i++ {
		put(t, s, "b", "k", "x") // seqs 2..4
	}
	clock.Add(2 * time.Hour)
	put(t, s, "b", "k", "x") // seq 5: the older ones expire
	recs, head, err := s.ReadJournal(ctx, 4, 100)
	require.NoError(t, err)
	assert.Equal(t, uint64(5), head)
	require.Len(t, recs, 1)
	_, _, err = s.ReadJournal(ctx, 3, 100)
	var te *JournalTruncatedError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, uint64(5), te.Oldest)

	// Without writes, the background pass expires the rest.
	clock.Add(2 * time.Hour)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, _, err = s.ReadJournal(ctx, 4, 100)
		if errors.As(err, &te) {
			break
		}
		require.True(t, time.Now().Before(deadline), "records older than the max age were not pruned")
		time.Sleep(20 * time.Millisecond) // polling a condition, not synchronising
	}
	assert.Equal(t, uint64(6), te.Oldest)
	recs, _, err = s.ReadJournal(ctx, 5, 100)
	require.NoError(t, err)
	assert.Empty(t, recs)
	put(t, s, "b", "k", "x")
	recs, _, err = s.ReadJournal(ctx, 5, 100)
	require.NoError(t, err)
	require.Len(t, recs, 1)
}

func TestWaitJournal(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	newBucket(t, s, "b", "")
	head := s.Head()

	// Already past: returns at once.
	require.NoError(t, s.WaitJournal(ctx, head-1))

	// Wakes on a put.
	woke := make(chan error, 1)
	go func() { woke <- s.WaitJournal(ctx, head) }()
	put(t, s, "b", "k", "x")
	select {
	case err := <-woke:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("WaitJournal did not wake on a put")
	}

	// Honours ctx.
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, s.WaitJournal(cctx, s.Head()), context.DeadlineExceeded)

	// Wakes on Close with ErrClosed.
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- s.WaitJournal(ctx, s.Head()+100) }()
	}
	require.NoError(t, s.Close())
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.ErrorIs(t, err, ErrClosed)
	}
	assert.ErrorIs(t, s.WaitJournal(ctx, 0), ErrClosed)
}

func TestConcurrentPuts(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	newBucket(t, s, "b", VersioningEnabled)
	const workers, each = 16, 40
	var (
		mu  sync.Mutex
		ids = map[string]bool{}
		wg  sync.WaitGroup
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				v, err := s.PutObject(ctx, PutInput{Bucket: "b", Key: fmt.Sprintf("k%d", i%3), ETag: "e"})
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				assert.False(t, ids[v.VersionID], "duplicate version id")
				ids[v.VersionID] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Len(t, ids, workers*each)
	recs := journal(t, s, 0)
	require.Len(t, recs, workers*each+2)
	for i, r := range recs {
		require.Equal(t, uint64(i+1), r.Seq)
	}
	// The journal order is the version order: for each key, later records have newer ids.
	last := map[string]string{}
	for _, r := range recs[2:] {
		if prev, ok := last[r.Key]; ok {
			require.Less(t, r.VersionID, prev)
		}
		last[r.Key] = r.VersionID
	}
	assert.Len(t, walk(t, s, "b", WalkOptions{}), workers*each)
}

func TestFailingOpDoesNotAffectOthers(t *testing.T) {
	ctx := context.Background()
	opts := testOptions()
	opts.Policy = func(b *Bucket, key string, tags map[string]string, dm bool) *Replication {
		if key == "boom" {
			panic("policy failure")
		}
		return nil
	}
	s := openStore(t, t.TempDir(), opts)
	newBucket(t, s, "b", VersioningEnabled)
	var wg sync.WaitGroup
	var failed, ok atomic.Int64
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 30; i++ {
				key := fmt.Sprintf("k%d", i)
				if i%5 == 0 {
					key = "boom"
				}
				if _, err := s.PutObject(ctx, PutInput{Bucket: "b", Key: key}); err != nil {
					failed.Add(1)
				} else {
					ok.Add(1)
				}
				_, err := s.UpdateBucket(ctx, "b", func(*Bucket) error { return errors.New("no") })
				assert.Error(t, err)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(8*6), failed.Load())
	assert.Equal(t, int64(8*24), ok.Load())
	recs := journal(t, s, 0)
	require.Len(t, recs, 2+8*24)
	for i, r := range recs {
		require.Equal(t, uint64(i+1), r.Seq)
		require.NotEqual(t, "boom", r.Key)
	}
	assert.Len(t, walk(t, s, "b", WalkOptions{}), 8*24)
}
