package journal_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/journal"
	"github.com/backbeat-temporal/backbeat/s3server/s3test"
)

func client(p *s3test.Process, acct s3test.Account) *journal.Client {
	return journal.New(s3test.BBClientOf(p.URL, acct))
}

// TestAgainstS3Server reads a real s3server's journal: PENDING records for a replicated
// bucket, none for a plain one, gap-free seqs, and a long-poll woken by a put.
func TestAgainstS3Server(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	p := s3test.Start(t)
	ctx := context.Background()
	c := p.Client(s3test.User)
	for _, b := range []string{"src", "plain"} {
		s3test.MakeBucket(t, c, b, s3types.BucketVersioningStatusEnabled)
	}
	_, err := c.PutBucketReplication(ctx, &s3.PutBucketReplicationInput{Bucket: aws.String("src"),
		ReplicationConfiguration: &s3types.ReplicationConfiguration{Role: aws.String("arn:aws:iam::000000000000:role/backbeat"),
			Rules: []s3types.ReplicationRule{{ID: aws.String("all"), Status: s3types.ReplicationRuleStatusEnabled, Prefix: aws.String(""),
				Destination: &s3types.Destination{Bucket: aws.String("arn:aws:s3:::dst"),
					StorageClass: "dr"}}}}})
	require.NoError(t, err)
	for i := 0; i < 3; i++ {
		for _, b := range []string{"src", "plain"} {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String(fmt.Sprintf("k%d", i)), Body: bytes.NewReader([]byte("x"))})
			require.NoError(t, err)
		}
	}
	jc := client(p, s3test.Replication)
	batch, err := jc.Read(ctx, 0, 0, 0)
	require.NoError(t, err)
	require.NotEmpty(t, batch.JournalID)
	require.Equal(t, batch.Head, batch.Records[len(batch.Records)-1].Seq)
	var pending []string
	for i, r := range batch.Records {
		require.Equal(t, uint64(i+1), r.Seq)
		if r.Pending() {
			assert.Equal(t, "src", r.Bucket)
			assert.Equal(t, "arn:aws:s3:::dst", r.Replication.Destination)
			pending = append(pending, r.Key)
		}
	}
	assert.Equal(t, []string{"k0", "k1", "k2"}, pending)

	// Long-poll: nothing after head yet; a put wakes the waiting read.
	got := make(chan *journal.Batch, 1)
	errc := make(chan error, 1)
	go func() {
		b, err := jc.Read(ctx, batch.Head, 0, 30*time.Second)
		errc <- err
		got <- b
	}()
	start := time.Now()
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("src"), Key: aws.String("late"), Body: bytes.NewReader([]byte("y"))})
	require.NoError(t, err)
	select {
	case err := <-errc:
		require.NoError(t, err)
		b := <-got
		require.Len(t, b.Records, 1)
		assert.Equal(t, "late", b.Records[0].Key)
		assert.Less(t, time.Since(start), 20*time.Second)
	case <-time.After(25 * time.Second):
		t.Fatal("long-poll was not woken by the put")
	}

	// The ordinary user may not read the journal.
	_, err = client(p, s3test.User).Read(ctx, 0, 0, 0)
	var se *bbproto.Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 403, se.Status)
}

// TestTruncatedByRetention: a reader behind the retention window gets a TruncatedError
// naming the oldest kept seq.
func TestTruncatedByRetention(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	p := s3test.Start(t, "--journal-retention", "5")
	ctx := context.Background()
	c := p.Client(s3test.User)
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bkt")})
	require.NoError(t, err)
	for i := 0; i < 20; i++ {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String(fmt.Sprintf("k%d", i)), Body: bytes.NewReader(nil)})
		require.NoError(t, err)
	}
	jc := client(p, s3test.Replication)
	var te *journal.TruncatedError
	require.Eventually(t, func() bool {
		_, err := jc.Read(ctx, 1, 0, 0)
		return errors.As(err, &te) && te.Oldest > 2
	}, 10*time.Second, 50*time.Millisecond, "retention prunes the oldest records")
	assert.Contains(t, te.Error(), "backfill")
	b, err := jc.Read(ctx, te.Oldest-1, 0, 0)
	require.NoError(t, err, "reading from the oldest kept record works")
	require.NotEmpty(t, b.Records)
	assert.Equal(t, te.Oldest, b.Records[0].Seq)
}
