package s3server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/backbeat-temporal/backbeat/s3server/s3test"
)

// benchServer starts a real s3server process (fsync on, as in production) with a
// versioned bucket "bench" under a replication rule, so every put also journals PENDING.
func benchServer(b *testing.B) (*s3test.Process, *s3.Client) {
	b.Helper()
	p := s3test.Start(b)
	c := p.Client(s3test.User)
	ctx := context.Background()
	must(b, func() error {
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bench")})
		return err
	})
	must(b, func() error {
		_, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("bench"),
			VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}})
		return err
	})
	must(b, func() error {
		_, err := c.PutBucketReplication(ctx, &s3.PutBucketReplicationInput{Bucket: aws.String("bench"),
			ReplicationConfiguration: &s3types.ReplicationConfiguration{Role: aws.String("arn:aws:iam::000000000000:role/backbeat"),
				Rules: []s3types.ReplicationRule{{ID: aws.String("all"), Status: s3types.ReplicationRuleStatusEnabled, Prefix: aws.String(""),
					Destination: &s3types.Destination{Bucket: aws.String("arn:aws:s3:::target"), StorageClass: "dr"}}}}})
		return err
	})
	return p, c
}

func must(b *testing.B, f func() error) {
	b.Helper()
	if err := f(); err != nil {
		b.Fatal(err)
	}
}

func reportOps(b *testing.B, start time.Time) {
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
}

// BenchmarkPut4KiB: PutObject of 4 KiB objects, 8 concurrent clients.
func BenchmarkPut4KiB(b *testing.B) {
	_, c := benchServer(b)
	data := bytes.Repeat([]byte("x"), 4<<10)
	var n atomic.Int64
	b.SetBytes(int64(len(data)))
	b.SetParallelism(4) // 4 × GOMAXPROCS(2) = 8 clients
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k := fmt.Sprintf("obj-%d", n.Add(1))
			if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String(k), Body: bytes.NewReader(data)}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportOps(b, start)
}

// BenchmarkGet4KiB: GetObject of 4 KiB objects, 8 concurrent clients.
func BenchmarkGet4KiB(b *testing.B) {
	_, c := benchServer(b)
	data := bytes.Repeat([]byte("x"), 4<<10)
	const keys = 64
	for i := 0; i < keys; i++ {
		must(b, func() error {
			_, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String(fmt.Sprintf("obj-%d", i)), Body: bytes.NewReader(data)})
			return err
		})
	}
	var n atomic.Int64
	b.SetBytes(int64(len(data)))
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("bench"), Key: aws.String(fmt.Sprintf("obj-%d", n.Add(1)%keys))})
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, out.Body)
			out.Body.Close()
		}
	})
	reportOps(b, start)
}

// BenchmarkPut64MiB: PutObject of one 64 MiB object at a time (MB/s).
func BenchmarkPut64MiB(b *testing.B) {
	_, c := benchServer(b)
	data := bytes.Repeat([]byte("0123456789abcdef"), 4<<20)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		must(b, func() error {
			_, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String("big"), Body: bytes.NewReader(data)})
			return err
		})
	}
}

// BenchmarkGet64MiB: GetObject of a 64 MiB object (MB/s).
func BenchmarkGet64MiB(b *testing.B) {
	_, c := benchServer(b)
	data := bytes.Repeat([]byte("0123456789abcdef"), 4<<20)
	must(b, func() error {
		_, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String("big"), Body: bytes.NewReader(data)})
		return err
	})
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("bench"), Key: aws.String("big")})
		if err != nil {
			b.Fatal(err)
		}
		if n, _ := io.Copy(io.Discard, out.Body); n != int64(len(data)) {
			b.Fatalf("read %d bytes", n)
		}
		out.Body.Close()
	}
}

// BenchmarkJournalTail: reading the journal through the privileged route, 1000 records
// a request (records/s).
func BenchmarkJournalTail(b *testing.B) {
	p, c := benchServer(b)
	const records = 3000
	for i := 0; i < records; i++ {
		must(b, func() error {
			_, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String(fmt.Sprintf("k%d", i)), Body: bytes.NewReader(nil)})
			return err
		})
	}
	b.ResetTimer()
	start := time.Now()
	total := 0
	for i := 0; i < b.N; i++ {
		for after := 0; after < records; after += 1000 {
			resp, err := p.Backbeat(context.Background(), http.MethodGet, fmt.Sprintf("journal?after=%d&limit=1000", after), nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			total += bytes.Count(data, []byte("\n"))
		}
	}
	b.ReportMetric(float64(total)/time.Since(start).Seconds(), "records/s")
}
