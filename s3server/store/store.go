package store

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Names of the top-level bbolt buckets and of the keys in the meta bucket.
var (
	bktMeta    = []byte("meta")    // journal id, head, oldest kept seq, version clock
	bktBuckets = []byte("buckets") // bucket name → Bucket JSON
	bktData    = []byte("data")    // bucket name → nested bucket (see below)
	bktJournal = []byte("journal") // big-endian uint64 seq → Record JSON

	// Nested buckets of data/<bucket name>.
	bktVersions = []byte("v") // key \x00 orderKey → Version JSON
	bktAliases  = []byte("a") // key \x00 versionID → orderKey, for ids that are not order keys ("null", foreign ids)
	bktUploads  = []byte("u") // upload id → Upload JSON
	bktParts    = []byte("p") // upload id + big-endian uint32 part number → UploadPart JSON
	// bktWaiting ("w"): key \x00 orderKey → waitEntry JSON, the index of waiting
	// versions (pending_index.go).

	metaJournalID = []byte("journalId")
	metaHead      = []byte("head")
	metaOldest    = []byte("oldest")
	metaClock     = []byte("clock")
	// metaFormat ("format", pending_index.go): the store's format.
)

// maxBatch bounds how many write operations share one bbolt transaction.
const maxBatch = 256

// Store is the embedded metadata store. It is safe for concurrent use.
//
// Writes go through a single committer goroutine that runs every operation queued while
// the previous transaction was committing in ONE bbolt transaction (group commit): a lone
// writer pays no added latency, and concurrent writers share the fsyncs of a commit.
type Store struct {
	dir       string
	db        *bolt.DB
	opts      Options
	journalID string

	ops    chan *writeOp
	quit   chan struct{}
	wg     sync.WaitGroup
	closed atomic.Bool
	once   sync.Once

	// mu guards head and notify: notify is closed and replaced after each commit that
	// advanced the head, and closed (not replaced) by Close.
	mu     sync.Mutex
	head   uint64
	notify chan struct{}

	// Committer-only state (touched only by the committer goroutine).
	oldestKnown bool      // oldestTime is valid
	oldestTime  time.Time // time of the oldest kept journal record; zero = none kept
	bucketMemo  map[string]*memoBucket
}

// writeOp is one write operation queued for the committer.
type writeOp struct {
	fn   func(w *wtx) error // nil for a retention tick
	done chan error
}

// Open opens (creating if needed) the store in dir: dir/meta.db (bbolt), dir/blobs/,
// dir/tmp/. A new data directory gets a new random journal ID.
//
// Open removes leftovers of a crash: every file under dir/tmp, and every blob that no
// version and no multipart upload part references (a blob renamed into place whose
// metadata transaction never committed).
func Open(dir string, opts Options) (*Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("store: create data directory: %w", err)
	}
	tmp := filepath.Join(dir, "tmp")
	if err := os.RemoveAll(tmp); err != nil {
		return nil, fmt.Errorf("store: clean temporary directory: %w", err)
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("store: create temporary directory: %w", err)
	}
	for i := 0; i < 256; i++ {
		shard := filepath.Join(dir, "blobs", fmt.Sprintf("%02x", i))
		if err := os.MkdirAll(shard, 0o755); err != nil {
			return nil, fmt.Errorf("store: create blob directory: %w", err)
		}
	}
	db, err := bolt.Open(filepath.Join(dir, "meta.db"), 0o644, &bolt.Options{
		Timeout:         5 * time.Second,
		NoSync:          opts.NoSync,
		NoGrowSync:      opts.NoSync,
		NoFreelistSync:  true,
		FreelistType:    bolt.FreelistMapType,
		InitialMmapSize: 1 << 30,
	})
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", filepath.Join(dir, "meta.db"), err)
	}
	s := &Store{
		dir:        dir,
		db:         db,
		opts:       opts,
		ops:        make(chan *writeOp),
		quit:       make(chan struct{}),
		notify:     make(chan struct{}),
		bucketMemo: map[string]*memoBucket{},
	}
	if err := s.init(); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.removeOrphanBlobs(); err != nil {
		db.Close()
		return nil, err
	}
	s.wg.Add(1)
	go s.committer()
	if opts.JournalMaxAge > 0 {
		s.wg.Add(1)
		go s.ageTicker()
	}
	return s, nil
}

// init creates the top-level buckets and the journal ID of a new data directory, and
// loads the journal head. A store written before the index of waiting versions gets
// it (buildPendingIndex).
func (s *Store) init() error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bktMeta, bktBuckets, bktData, bktJournal} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bktMeta)
		if id := meta.Get(metaJournalID); id != nil {
			s.journalID = string(id)
		} else {
			s.journalID = randomHex(16)
			if err := meta.Put(metaJournalID, []byte(s.journalID)); err != nil {
				return err
			}
			if err := meta.Put(metaOldest, u64(1)); err != nil {
				return err
			}
		}
		s.head = getU64(meta, metaHead)
		if getU64(meta, metaFormat) < formatPendingIndex {
			if err := buildPendingIndex(tx); err != nil {
				return fmt.Errorf("build the index of waiting versions: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: initialise %s: %w", filepath.Join(s.dir, "meta.db"), err)
	}
	return nil
}

// Close closes the store; blocked Wait calls return ErrClosed.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		s.closed.Store(true)
		s.mu.Lock()
		close(s.notify)
		s.mu.Unlock()
		close(s.quit)
		s.wg.Wait()
		if cerr := s.db.Close(); cerr != nil {
			err = fmt.Errorf("store: close: %w", cerr)
		}
	})
	return err
}

// JournalID is the ID made when the data directory was created.
func (s *Store) JournalID() string { return s.journalID }

// now is the current time, in UTC.
func (s *Store) now() time.Time { return s.opts.Now().UTC() }

// view runs fn in a read transaction.
func (s *Store) view(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return ErrClosed
	}
	err := s.db.View(fn)
	if errors.Is(err, bolt.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// update queues fn for the committer and waits until its transaction committed (or
// failed). fn must make every check that can fail before its first write: an error
// returned after a write aborts the whole batch, which is then retried one op at a time.
func (s *Store) update(ctx context.Context, fn func(w *wtx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return ErrClosed
	}
	op := &writeOp{fn: fn, done: make(chan error, 1)}
	select {
	case s.ops <- op:
	case <-s.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-op.done
}

// committer runs queued write operations, batching those that queue up while a
// transaction commits.
func (s *Store) committer() {
	defer s.wg.Done()
	batch := make([]*writeOp, 0, maxBatch)
	for {
		batch = batch[:0]
		select {
		case op := <-s.ops:
			batch = append(batch, op)
		case <-s.quit:
			return
		}
	drain:
		for len(batch) < maxBatch {
			select {
			case op := <-s.ops:
				batch = append(batch, op)
			default:
				break drain
			}
		}
		s.runBatch(batch)
	}
}

// batchAbort carries the error of an op that failed after writing: the transaction
// must be rolled back.
type batchAbort struct {
	idx int
	err error
}

func (e *batchAbort) Error() string { return e.err.Error() }

// runBatch runs ops in one transaction and delivers each op's result.
func (s *Store) runBatch(ops []*writeOp) {
	ticksOnly := true
	for _, op := range ops {
		if op.fn != nil {
			ticksOnly = false
			break
		}
	}
	if ticksOnly && !s.ageDue() {
		return
	}
	errs := make([]error, len(ops))
	var head uint64
	err := s.db.Update(func(tx *bolt.Tx) error {
		w, err := s.newWtx(tx)
		if err != nil {
			return err
		}
		for i, op := range ops {
			if op.fn == nil {
				continue
			}
			w.dirty = false
			w.opNow = time.Time{}
			if err := callOp(op.fn, w); err != nil {
				if w.dirty {
					return &batchAbort{idx: i, err: err}
				}
				errs[i] = err
			}
		}
		if err := w.finish(); err != nil {
			return err
		}
		head = w.head
		return nil
	})
	if err != nil {
		s.oldestKnown = false // a prune or an append may have been rolled back
		clear(s.bucketMemo)
		if len(ops) == 1 {
			var ab *batchAbort
			if errors.As(err, &ab) {
				err = ab.err
			}
			if ops[0].done != nil {
				ops[0].done <- err
			}
			return
		}
		for _, op := range ops {
			s.runBatch([]*writeOp{op})
		}
		return
	}
	s.mu.Lock()
	if head > s.head {
		s.head = head
		if !s.closed.Load() {
			close(s.notify)
			s.notify = make(chan struct{})
		}
	}
	s.mu.Unlock()
	for i, op := range ops {
		if op.done != nil {
			op.done <- errs[i]
		}
	}
}

// callOp runs fn, turning a panic (of a Policy or UpdateBucket callback) into an error
// that aborts the batch.
func callOp(fn func(w *wtx) error, w *wtx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			w.dirty = true
			err = fmt.Errorf("store: write operation panicked: %v", p)
		}
	}()
	return fn(w)
}

// ageTicker queues a retention pass periodically when JournalMaxAge is set, so that old
// records go even when nothing is written.
func (s *Store) ageTicker() {
	defer s.wg.Done()
	every := s.opts.JournalMaxAge / 4
	every = min(max(every, 100*time.Millisecond), time.Second) // a pass that prunes nothing costs no transaction
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			select {
			case s.ops <- &writeOp{}:
			case <-s.quit:
				return
			}
		case <-s.quit:
			return
		}
	}
}

// wtx is the state of one write transaction shared by the ops of a batch.
type wtx struct {
	s       *Store
	tx      *bolt.Tx
	meta    *bolt.Bucket
	buckets *bolt.Bucket
	data    *bolt.Bucket
	journal *bolt.Bucket

	head, oldest, clock uint64
	startHead           uint64
	startClock          uint64
	dirty               bool      // the current op wrote something
	opNow               time.Time // the current op's time (set on first use)
}

func (s *Store) newWtx(tx *bolt.Tx) (*wtx, error) {
	w := &wtx{
		s:       s,
		tx:      tx,
		meta:    tx.Bucket(bktMeta),
		buckets: tx.Bucket(bktBuckets),
		data:    tx.Bucket(bktData),
		journal: tx.Bucket(bktJournal),
	}
	if w.meta == nil || w.buckets == nil || w.data == nil || w.journal == nil {
		return nil, errors.New("store: metadata database is missing its top-level buckets")
	}
	w.journal.FillPercent = 1 // append-only
	w.head = getU64(w.meta, metaHead)
	w.oldest = getU64(w.meta, metaOldest)
	if w.oldest == 0 {
		w.oldest = 1
	}
	w.clock = getU64(w.meta, metaClock)
	w.startHead, w.startClock = w.head, w.clock
	return w, nil
}

// now is the time of the current op (the same for all its fields).
func (w *wtx) now() time.Time {
	if w.opNow.IsZero() {
		w.opNow = w.s.now()
	}
	return w.opNow
}

// put writes k=v in b, marking the op dirty.
func (w *wtx) put(b *bolt.Bucket, k, v []byte) error {
	w.dirty = true
	if err := b.Put(k, v); err != nil {
		return fmt.Errorf("store: write: %w", err)
	}
	return nil
}

// del removes k from b, marking the op dirty.
func (w *wtx) del(b *bolt.Bucket, k []byte) error {
	w.dirty = true
	if err := b.Delete(k); err != nil {
		return fmt.Errorf("store: delete: %w", err)
	}
	return nil
}

// putJSON writes the JSON of v under k in b.
func (w *wtx) putJSON(b *bolt.Bucket, k []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode: %w", err)
	}
	return w.put(b, k, data)
}

// finish writes the head, clock and retention state, pruning the journal.
func (w *wtx) finish() error {
	if err := w.prune(); err != nil {
		return err
	}
	if w.head != w.startHead {
		if err := w.meta.Put(metaHead, u64(w.head)); err != nil {
			return fmt.Errorf("store: write journal head: %w", err)
		}
	}
	if w.clock != w.startClock {
		if err := w.meta.Put(metaClock, u64(w.clock)); err != nil {
			return fmt.Errorf("store: write version clock: %w", err)
		}
	}
	return nil
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func getU64(b *bolt.Bucket, k []byte) uint64 {
	v := b.Get(k)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// randomHex returns n random bytes, hex encoded.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand panics on an unusable source)
	return hex.EncodeToString(b)
}
