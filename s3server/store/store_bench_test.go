package store

import (
	"github.com/backbeat-temporal/backbeat/bbproto"

	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// benchPut writes one 4 KiB object the way the PUT handler does: blob, then metadata.
func benchPut(b *testing.B, s *Store, key string, data []byte, etag string) {
	w, err := s.NewBlob()
	if err != nil {
		b.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		b.Fatal(err)
	}
	id, size, err := w.Commit()
	if err != nil {
		b.Fatal(err)
	}
	_, err = s.PutObject(context.Background(), PutInput{Bucket: "bench", Key: key, Owner: "alice",
		Parts: []Part{{Blob: id, Size: size, ETag: etag}}, ETag: etag, Size: size,
		Meta: ObjectMeta{ContentType: "application/octet-stream"}})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPutObject4KiB measures 4 KiB PUTs with fsync on (NoSync false) into a
// versioning-enabled bucket under a replication policy: serially, and from 8 goroutines
// (where group commit shares fsyncs).
func BenchmarkPutObject4KiB(b *testing.B) {
	data := bytes.Repeat([]byte("x"), 4<<10)
	sum := md5.Sum(data)
	etag := hex.EncodeToString(sum[:])
	setup := func(b *testing.B) *Store {
		s, err := Open(b.TempDir(), Options{Policy: testPolicy})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		newBucket(b, s, "bench", VersioningEnabled)
		return s
	}
	b.Run("serial", func(b *testing.B) {
		s := setup(b)
		b.SetBytes(int64(len(data)))
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			benchPut(b, s, fmt.Sprintf("obj-%d", i), data, etag)
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "puts/s")
	})
	b.Run("parallel8", func(b *testing.B) {
		s := setup(b)
		var n atomic.Int64
		b.SetBytes(int64(len(data)))
		b.SetParallelism(4) // 4 × GOMAXPROCS(2) = 8 writers
		b.ResetTimer()
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				benchPut(b, s, fmt.Sprintf("obj-%d", n.Add(1)), data, etag)
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "puts/s")
	})
}

// BenchmarkReadJournal measures reading the journal 1000 records at a time.
func BenchmarkReadJournal(b *testing.B) {
	const records = 10000
	s, err := Open(b.TempDir(), Options{Policy: testPolicy, NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	newBucket(b, s, "bench", VersioningEnabled)
	for i := 0; i < records; i++ {
		_, err := s.PutObject(context.Background(), PutInput{Bucket: "bench", Key: fmt.Sprintf("obj-%d", i), ETag: "d41d8cd98f00b204e9800998ecf8427e",
			Meta: ObjectMeta{ContentType: "text/plain", UserMetadata: map[string]string{"a": "b"}}})
		if err != nil {
			b.Fatal(err)
		}
	}
	for _, raw := range []bool{false, true} {
		name := "decoded"
		if raw {
			name = "raw"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			total := 0
			start := time.Now()
			for i := 0; i < b.N; i++ {
				after := uint64(i*1000) % records
				var n int
				if raw {
					recs, _, err := s.ReadJournalRaw(ctx, after, 1000)
					if err != nil {
						b.Fatal(err)
					}
					n = len(recs)
				} else {
					recs, _, err := s.ReadJournal(ctx, after, 1000)
					if err != nil {
						b.Fatal(err)
					}
					n = len(recs)
				}
				total += n
			}
			b.ReportMetric(float64(total)/time.Since(start).Seconds(), "records/s")
		})
	}
}

// BenchmarkListPending lists the waiting versions of a bucket of 100 000 versions of
// which 10 wait: "scan" reads every version (ListPending before the index of waiting
// versions, kept as the tests' oracle), "index" is ListPending.
func BenchmarkListPending(b *testing.B) {
	const total, waitingN = 100000, 10
	opts := testOptions()
	opts.Policy = testPolicy
	s, err := Open(b.TempDir(), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	newBucket(b, s, "bench", VersioningEnabled)
	ctx := context.Background()
	for i := 0; i < total; i += 1000 {
		err := s.update(ctx, func(w *wtx) error {
			bk, d, err := w.bucket("bench")
			if err != nil {
				return err
			}
			for j := i; j < i+1000; j++ {
				key := fmt.Sprintf("skip/obj-%07d", j) // no rule: not replicated
				if j%(total/waitingN) == 0 {
					key = fmt.Sprintf("obj-%07d", j)
				}
				v := &Version{Bucket: "bench", Key: key, Size: 4096, ETag: "e", LastModified: w.now(), Owner: "alice"}
				if _, err := w.writeNew(bk, d, v, bbproto.OpPut); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	for _, bc := range []struct {
		name string
		list func(context.Context, *Store, PendingOptions) (*bbproto.PendingPage, error)
	}{
		{"scan", listPendingScan},
		{"index", func(ctx context.Context, s *Store, o PendingOptions) (*bbproto.PendingPage, error) {
			return s.ListPending(ctx, o)
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				page, err := bc.list(ctx, s, PendingOptions{Bucket: "bench", MaxScan: total})
				if err != nil {
					b.Fatal(err)
				}
				if len(page.Versions) != waitingN || page.Next != "" {
					b.Fatalf("listed %d versions (next %q), want %d", len(page.Versions), page.Next, waitingN)
				}
			}
		})
	}
}
