// Package benchkit measures copies and replication from outside, for the side-by-side
// benchmark (`make bench`, BenchmarkSideBySide in e2e): objects to copy (Fill), a raw
// copy loop with aws-sdk-go-v2 (CopyLoop), `rclone copy` (Rclone), puts at a steady rate
// (Paced), a stepped search of the highest rate whose latency stays under a bound
// (SearchRate), the CPU time of processes (GroupCPU) and the table that puts the figures
// side by side with their ratios (WriteTable).
package benchkit

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Throughput is what one copy moved and how long it took.
type Throughput struct {
	Objects int
	Bytes   int64
	Elapsed time.Duration
}

// ObjectsPerSec is Objects over Elapsed (0 when nothing was timed).
func (t Throughput) ObjectsPerSec() float64 {
	if t.Elapsed <= 0 {
		return 0
	}
	return float64(t.Objects) / t.Elapsed.Seconds()
}

// MBPerSec is Bytes over Elapsed in MB/s (10^6 bytes), 0 when nothing was timed.
func (t Throughput) MBPerSec() float64 {
	if t.Elapsed <= 0 {
		return 0
	}
	return float64(t.Bytes) / 1e6 / t.Elapsed.Seconds()
}

// NewClient returns an S3 client for an S3 endpoint such as s3server: path style,
// region us-east-1, checksums only where the API requires them (so a body streamed from
// a GET can be PUT over plain HTTP), no retries (a failure is a failed measurement), and
// up to 256 idle connections to the endpoint (the SDK's default of 10 would reconnect
// under a concurrency of 16).
func NewClient(endpoint, accessKey, secretKey string) *s3.Client {
	hc := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns, t.MaxIdleConnsPerHost = 256, 256
	})
	return s3.New(s3.Options{
		BaseEndpoint:               aws.String(endpoint),
		Region:                     "us-east-1",
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		HTTPClient:                 hc,
		RetryMaxAttempts:           1,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// Key is the key of object i of a Fill under prefix.
func Key(prefix string, i int) string { return fmt.Sprintf("%s%06d", prefix, i) }

// Fill puts n objects Key(prefix, i) of size random bytes (one body shared by all) into
// bucket with conc concurrent putters, and returns their keys in order.
func Fill(ctx context.Context, c *s3.Client, bucket, prefix string, n int, size int64, conc int) ([]string, error) {
	body := make([]byte, size)
	rand.Read(body)
	keys := make([]string, n)
	for i := range keys {
		keys[i] = Key(prefix, i)
	}
	err := Parallel(ctx, n, conc, func(ctx context.Context, i int) error {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(keys[i]),
			Body: bytes.NewReader(body), ContentType: aws.String("application/octet-stream")})
		if err != nil {
			return fmt.Errorf("fill %s/%s: %w", bucket, keys[i], err)
		}
		return nil
	})
	return keys, err
}

// CopyLoop copies every key from bucket src to bucket dst with conc concurrent workers,
// the way a plain copy program would: GET, then PUT of the GET's body as it streams (no
// buffering, UNSIGNED-PAYLOAD), content type kept. It is the reference of the
// side-by-side benchmark: what the endpoint can copy, with nothing in between.
func CopyLoop(ctx context.Context, c *s3.Client, src, dst string, keys []string, conc int) (Throughput, error) {
	var mu sync.Mutex
	var bytes int64
	start := time.Now()
	err := Parallel(ctx, len(keys), conc, func(ctx context.Context, i int) error {
		get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(src), Key: aws.String(keys[i])})
		if err != nil {
			return fmt.Errorf("copy loop: get %s/%s: %w", src, keys[i], err)
		}
		defer get.Body.Close()
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(dst), Key: aws.String(keys[i]),
			Body: get.Body, ContentLength: get.ContentLength, ContentType: get.ContentType},
			func(o *s3.Options) {
				o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
			})
		if err != nil {
			return fmt.Errorf("copy loop: put %s/%s: %w", dst, keys[i], err)
		}
		mu.Lock()
		bytes += aws.ToInt64(get.ContentLength)
		mu.Unlock()
		return nil
	})
	return Throughput{Objects: len(keys), Bytes: bytes, Elapsed: time.Since(start)}, err
}

// MakeBucket creates bucket, versioned when versioned is true.
func MakeBucket(ctx context.Context, c *s3.Client, bucket string, versioned bool) error {
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	if !versioned {
		return nil
	}
	_, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(bucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
	if err != nil {
		return fmt.Errorf("enable versioning on %s: %w", bucket, err)
	}
	return nil
}

// Parallel runs op(ctx, i) for i in [0, n) with at most conc at once and returns the
// first error (the others are cancelled by it).
func Parallel(ctx context.Context, n, conc int, op func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	idx := make(chan int)
	var wg sync.WaitGroup
	for range max(conc, 1) {
		wg.Go(func() {
			for i := range idx {
				if err := op(ctx, i); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case idx <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(idx)
	wg.Wait()
	return context.Cause(ctx)
}

// Paced starts op(ctx, i) for i in [0, n) at rate per second — op i is due at start +
// i/rate — with at most conc running at once (an op that cannot start on time because
// conc are running starts late: the achieved rate is n over the returned duration). It
// returns the time from the first start to the last op's end and the first error.
func Paced(ctx context.Context, rate float64, n, conc int, op func(ctx context.Context, i int) error) (time.Duration, error) {
	if rate <= 0 {
		return 0, fmt.Errorf("paced: rate %g must be positive", rate)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	slots := make(chan struct{}, max(conc, 1))
	var wg sync.WaitGroup
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
loop:
	for i := range n {
		due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		timer.Reset(time.Until(due))
		select {
		case <-timer.C:
		case <-ctx.Done():
			break loop
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			break loop
		}
		wg.Go(func() {
			defer func() { <-slots }()
			if err := op(ctx, i); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	return time.Since(start), context.Cause(ctx)
}

// Percentile is the p-th percentile (nearest rank) of d; 0 for no value.
func Percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}
