package e2e

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// written remembers what the test put, by version id, to compare with the target.
type written struct {
	mu   sync.Mutex
	data map[string][]byte // versionId → content
}

func (w *written) put(s *stack, key string, body []byte, meta map[string]string) string {
	s.t.Helper()
	out, err := s.srcC.PutObject(s.ctx, &s3.PutObjectInput{Bucket: aws.String(srcBucket), Key: aws.String(key),
		Body: bytes.NewReader(body), ContentType: aws.String("text/plain"), Metadata: meta})
	require.NoError(s.t, err)
	id := aws.ToString(out.VersionId)
	w.mu.Lock()
	if w.data == nil {
		w.data = map[string][]byte{}
	}
	w.data[id] = body
	w.mu.Unlock()
	return id
}

// checkTarget compares the settled source versions with the target bucket: same keys,
// version ids, delete markers and order; REPLICA status; same data, metadata and tags.
func (s *stack) checkTarget(src []version, w *written) {
	t := s.t
	t.Helper()
	for _, v := range src {
		assert.Equal(t, "COMPLETED", v.status(), "%s@%s: %+v", v.Key, v.VersionID, v.Replication)
	}
	dst := s.versions(s.dst, s.dstC, dstBucket)
	require.Len(t, dst, len(src), "the target holds one version per source version")
	for i := range src {
		sv, dv := src[i], dst[i]
		require.Equal(t, [3]any{sv.Key, sv.VersionID, sv.IsDeleteMarker}, [3]any{dv.Key, dv.VersionID, dv.IsDeleteMarker},
			"version %d: same key, version id and kind, in the same order", i)
		assert.Equal(t, "REPLICA", dv.status(), "%s@%s", dv.Key, dv.VersionID)
		assert.True(t, sv.LastModified.Equal(dv.LastModified), "%s@%s keeps its last-modified time", dv.Key, dv.VersionID)
		if sv.IsDeleteMarker {
			continue
		}
		assert.Equal(t, sv.ETag, dv.ETag)
		got, err := s.dstC.GetObject(s.ctx, &s3.GetObjectInput{Bucket: aws.String(dstBucket), Key: aws.String(dv.Key), VersionId: aws.String(dv.VersionID)})
		require.NoError(t, err)
		body, err := io.ReadAll(got.Body)
		got.Body.Close()
		require.NoError(t, err)
		if want, ok := w.data[sv.VersionID]; ok {
			assert.Equal(t, want, body, "%s@%s data", dv.Key, dv.VersionID)
		}
		assert.Equal(t, "REPLICA", string(got.ReplicationStatus))
		assert.Equal(t, "text/plain", aws.ToString(got.ContentType))
		srcHead, err := s.srcC.HeadObject(s.ctx, &s3.HeadObjectInput{Bucket: aws.String(srcBucket), Key: aws.String(sv.Key), VersionId: aws.String(sv.VersionID)})
		require.NoError(t, err)
		assert.Equal(t, "COMPLETED", string(srcHead.ReplicationStatus), "head-object on the source shows COMPLETED")
		assert.Equal(t, srcHead.Metadata, got.Metadata, "%s@%s user metadata", dv.Key, dv.VersionID)
	}
}

func TestReplicationEndToEnd(t *testing.T) {
	s := startStack(t)
	var w written
	// Overwrites of the same keys, a delete marker, a tag change, and a nested key.
	for round := 0; round < 4; round++ {
		for _, key := range []string{"alpha", "dir/beta", "gamma with space"} {
			w.put(s, key, []byte(fmt.Sprintf("%s round %d", key, round)), map[string]string{"round": fmt.Sprint(round)})
		}
	}
	_, err := s.srcC.DeleteObject(s.ctx, &s3.DeleteObjectInput{Bucket: aws.String(srcBucket), Key: aws.String("alpha")})
	require.NoError(t, err)
	tagged := w.put(s, "tagged", []byte("tag me"), nil)
	_, err = s.srcC.PutObjectTagging(s.ctx, &s3.PutObjectTaggingInput{Bucket: aws.String(srcBucket), Key: aws.String("tagged"),
		VersionId: aws.String(tagged), Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String("team"), Value: aws.String("storage")}}}})
	require.NoError(t, err)
	w.put(s, "alpha", []byte("alpha after the delete marker"), nil)

	src := s.waitSettled(3*time.Minute, 4*3+1+1+1)
	s.checkTarget(src, &w)

	// The tag change reached the target version without a second data copy.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		tags, err := s.dstC.GetObjectTagging(s.ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(dstBucket), Key: aws.String("tagged"), VersionId: aws.String(tagged)})
		if assert.NoError(c, err) && assert.Len(c, tags.TagSet, 1) {
			assert.Equal(c, "storage", aws.ToString(tags.TagSet[0].Value))
		}
	}, time.Minute, 200*time.Millisecond)

	// A clean stop (SIGTERM) ends every engine process promptly.
	for _, p := range []interface{ Stop() error }{s.bridge, s.worker, s.ingest} {
		assert.NoError(t, p.Stop())
	}
}

func TestReplicationSurvivesKillOfWorkerAndBridge(t *testing.T) {
	s := startStack(t)
	var w written
	const n = 120
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < n; i++ {
			w.put(s, fmt.Sprintf("obj-%03d", i%40), []byte(fmt.Sprintf("object %d", i)), map[string]string{"i": fmt.Sprint(i)})
		}
	}()
	// Kill the worker once some versions completed, then the bridge, mid-stream.
	require.Eventually(t, func() bool { return s.completed() >= 10 }, 2*time.Minute, 100*time.Millisecond)
	require.NoError(t, s.worker.Kill())
	require.NoError(t, s.worker.Restart())
	c0 := s.completed()
	require.Eventually(t, func() bool { return s.completed() > c0 }, 2*time.Minute, 100*time.Millisecond, "progress after the worker restart")
	require.NoError(t, s.bridge.Kill())
	require.NoError(t, s.bridge.Restart())
	<-done

	src := s.waitSettled(4*time.Minute, n)
	w.mu.Lock()
	defer w.mu.Unlock()
	s.checkTarget(src, &w)
}

// TestReplicationSurvivesRestartsOfTemporalAndIngest kills the Temporal dev server
// (its SQLite file kept) and ingest mid-stream: once they are back, every version
// settles and the target matches.
func TestReplicationSurvivesRestartsOfTemporalAndIngest(t *testing.T) {
	s := startStack(t)
	var w written
	const n = 80
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < n; i++ {
			w.put(s, fmt.Sprintf("t-%02d", i%20), []byte(fmt.Sprintf("object %d", i)), nil)
		}
	}()
	require.Eventually(t, func() bool { return s.completed() >= 5 }, 2*time.Minute, 100*time.Millisecond)
	s.temporal.Kill()
	s.temporal.Restart()
	c0 := s.completed()
	require.Eventually(t, func() bool { return s.completed() > c0 }, 2*time.Minute, 100*time.Millisecond, "progress after Temporal's restart")
	require.NoError(t, s.ingest.Kill())
	require.NoError(t, s.ingest.Restart())
	<-done

	src := s.waitSettled(4*time.Minute, n)
	w.mu.Lock()
	defer w.mu.Unlock()
	s.checkTarget(src, &w)
}
