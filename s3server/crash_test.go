package s3server_test

import (
	"github.com/backbeat-temporal/backbeat/bbproto"

	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/s3server/s3test"
)

// journalRecord is the part of a journal record the crash test checks.
type journalRecord struct {
	Seq            uint64 `json:"seq"`
	Op             string `json:"op"`
	Bucket         string `json:"bucket"`
	Key            string `json:"key"`
	VersionID      string `json:"versionId"`
	ETag           string `json:"etag"`
	Size           int64  `json:"size"`
	IsDeleteMarker bool   `json:"isDeleteMarker"`
	Replication    *struct {
		Status string `json:"status"`
	} `json:"replication"`
}

// readJournal reads every record after `after` through the privileged route.
func readJournal(t *testing.T, p *s3test.Process, after uint64) []journalRecord {
	t.Helper()
	var all []journalRecord
	for {
		resp, err := p.Backbeat(context.Background(), http.MethodGet, fmt.Sprintf("journal?after=%d&limit=5000", after), nil, nil)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
		head, err := strconv.ParseUint(resp.Header.Get("X-Backbeat-Journal-Head"), 10, 64)
		require.NoError(t, err, "journal head header")
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if len(bytes.TrimSpace(sc.Bytes())) == 0 {
				continue
			}
			var r journalRecord
			require.NoError(t, json.Unmarshal(sc.Bytes(), &r), sc.Text())
			all = append(all, r)
			after = r.Seq
		}
		if after >= head {
			return all
		}
	}
}

type ackedPut struct {
	key, versionID, md5 string
}

// TestCrashKill9MidWrites kills a real s3server process with SIGKILL while clients write
// objects, restarts it on the same data directory, and checks the durability invariants:
// journal seqs are gap-free; every acknowledged PUT is visible with its data; every
// visible version has its journal record and every put record its version; data matches
// the ETag; versions written under a replication rule are PENDING.
func TestCrashKill9MidWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	p := s3test.Start(t)
	ctx := context.Background()
	c := p.Client(s3test.User)
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("crash")})
	require.NoError(t, err)
	_, err = c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("crash"),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}})
	require.NoError(t, err)
	_, err = c.PutBucketReplication(ctx, &s3.PutBucketReplicationInput{Bucket: aws.String("crash"),
		ReplicationConfiguration: &s3types.ReplicationConfiguration{Role: aws.String("arn:aws:iam::000000000000:role/backbeat"),
			Rules: []s3types.ReplicationRule{{ID: aws.String("all"), Status: s3types.ReplicationRuleStatusEnabled, Prefix: aws.String(""),
				Destination: &s3types.Destination{Bucket: aws.String("arn:aws:s3:::target"), StorageClass: "dr"}}}}})
	require.NoError(t, err)

	var (
		mu    sync.Mutex
		acked []ackedPut
	)
	for round := 0; round < 3; round++ {
		c := p.Client(s3test.User)
		var n atomic.Int64
		target := int64(40 + 30*round)
		reached := make(chan struct{})
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(round), uint64(w)))
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					data := make([]byte, 512+rng.IntN(128<<10))
					for j := range data {
						data[j] = byte(rng.Uint32())
					}
					sum := md5.Sum(data)
					key := fmt.Sprintf("w%d/k%d", w, i%7)
					out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("crash"), Key: aws.String(key), Body: bytes.NewReader(data)})
					if err != nil {
						return // the server died under us: that put was not acknowledged
					}
					mu.Lock()
					acked = append(acked, ackedPut{key, aws.ToString(out.VersionId), hex.EncodeToString(sum[:])})
					mu.Unlock()
					if n.Add(1) == target {
						close(reached)
					}
				}
			}(w)
		}
		// Kill once enough writes are acknowledged, with more in flight.
		select {
		case <-reached:
		case <-time.After(60 * time.Second):
			t.Fatalf("writers made no progress: %d of %d puts", n.Load(), target)
		}
		p.Kill()
		close(stop)
		wg.Wait()
		p.Restart()
		checkInvariants(t, p, acked)
	}
}

func checkInvariants(t *testing.T, p *s3test.Process, acked []ackedPut) {
	t.Helper()
	ctx := context.Background()
	c := p.Client(s3test.User)
	recs := readJournal(t, p, 0)
	require.NotEmpty(t, recs)
	puts := map[string]journalRecord{} // key\x00versionId → record
	for i, r := range recs {
		require.Equal(t, uint64(i+1), r.Seq, "journal seq must be gap-free from 1")
		if r.Bucket == "crash" && r.Op == "put" {
			puts[r.Key+"\x00"+r.VersionID] = r
		}
	}
	listed := map[string]bool{}
	pg := s3.NewListObjectVersionsPaginator(c, &s3.ListObjectVersionsInput{Bucket: aws.String("crash")})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		require.NoError(t, err)
		for _, v := range page.Versions {
			id := aws.ToString(v.Key) + "\x00" + aws.ToString(v.VersionId)
			listed[id] = true
			rec, ok := puts[id]
			require.True(t, ok, "visible version %s has no journal record", id)
			require.Equal(t, strings.Trim(aws.ToString(v.ETag), `"`), rec.ETag)
			require.NotNil(t, rec.Replication, "replicated bucket: record carries replication info")
			require.Equal(t, string(bbproto.StatusPending), rec.Replication.Status)
		}
	}
	for id := range puts {
		require.True(t, listed[id], "journal put record %q has no visible version", id)
	}
	for _, a := range acked {
		require.True(t, listed[a.key+"\x00"+a.versionID], "acknowledged put %s@%s lost", a.key, a.versionID)
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("crash"), Key: aws.String(a.key), VersionId: aws.String(a.versionID)})
		require.NoError(t, err)
		h := md5.New()
		_, err = io.Copy(h, out.Body)
		out.Body.Close()
		require.NoError(t, err)
		require.Equal(t, a.md5, hex.EncodeToString(h.Sum(nil)), "data of %s@%s", a.key, a.versionID)
		require.Equal(t, "PENDING", string(out.ReplicationStatus))
	}
}
