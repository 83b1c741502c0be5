package activities

import (
	"github.com/backbeat-temporal/backbeat/bbproto"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/s3server/s3test"
)

func TestStatusReason(t *testing.T) {
	assert.Equal(t, "bell \a nul \x00 ok", statusReason("bell \a nul \x00 ok"), "control characters are kept (JSON escapes them)")
	assert.Equal(t, "cut \uFFFD", statusReason("cut \xe2\x82"), "a cut rune becomes U+FFFD")
	long := strings.Repeat("é", MaxStatusReason) // 2 bytes each
	for _, in := range []string{long, "x" + long, strings.Repeat("x", MaxStatusReason+1)} {
		got := statusReason(in)
		assert.True(t, utf8.ValidString(got))
		assert.LessOrEqual(t, len(got), MaxStatusReason)
		assert.Greater(t, len(got), MaxStatusReason-utf8.UTFMax-len("…"))
		assert.True(t, strings.HasSuffix(got, "…"))
	}
	exact := strings.Repeat("x", MaxStatusReason)
	assert.Equal(t, exact, statusReason(exact))
}

// Keys and reasons with control characters and cut runes reach COMPLETED or FAILED on
// a real s3server: the status body is JSON that it accepts.
func TestStatusWithControlCharactersAndCutRunes(t *testing.T) {
	e := newEnv(t)
	r := e.replicator(e.sites(KindS3Server, s3test.Replication))
	cut := "é"[:1]
	// A key with a cut rune cannot be journaled (JSON): s3server refuses it, so no
	// version of it can stay PENDING.
	_, err := e.srcC.PutObject(e.ctx, &s3.PutObjectInput{Bucket: aws.String(srcBucket), Key: aws.String("cut-" + cut), Body: strings.NewReader("x")})
	require.Error(t, err)
	assert.Empty(t, e.drain(), "nothing PENDING")

	keys := []string{"bell\a-soh\x01-esc\x1b[31m", "tab\there/new\nline", "quote\"back\\slash-é-\u00a0-end"}
	for _, key := range keys {
		vid := e.put(key, []byte("data of "+key))
		rec := e.pending()
		require.Equal(t, key, rec.Key)
		_, err := r.Replicate(e.ctx, rec, nil)
		require.NoError(t, err, "%q", key)
		_, err = r.SetStatus(e.ctx, srcBucket, key, vid, bbproto.StatusCompleted, "")
		require.NoError(t, err, "%q", key)
		assert.Equal(t, bbproto.StatusCompleted, e.status(key, vid).Status, "%q", key)

		// A failure whose reason names the key, plus a Go error text with control
		// characters, a cut rune and more than the bound.
		bad := rec
		bad.Replication = &bbproto.Replication{Status: bbproto.StatusPending, Destination: "arn:aws:s3:::nowhere"}
		_, rerr := r.Replicate(e.ctx, bad, nil)
		require.Error(t, rerr)
		reason := rerr.Error() + " \a\x01\x7f " + cut + " " + strings.Repeat("ü", MaxStatusReason)
		_, err = r.SetStatus(e.ctx, srcBucket, key, vid, bbproto.StatusFailed, reason)
		require.NoError(t, err, "%q", key)
		got := e.status(key, vid)
		assert.Equal(t, bbproto.StatusFailed, got.Status, "%q", key)
		assert.Equal(t, statusReason(reason), got.Reason, "%q", key)
		assert.True(t, strings.HasPrefix(got.Reason, rerr.Error()), "the reason starts with the error: %q", got.Reason)
	}
}

// srcStatus is the replication status and reason of a source version, read through
// the version route and checked against the plain S3 API's view.
type srcStatus struct {
	Status bbproto.Status
	Reason string
}

func (e *env) status(key, versionID string) srcStatus {
	e.t.Helper()
	v, err := e.src.BBClient().Version(e.ctx, srcBucket, key, versionID)
	require.NoError(e.t, err)
	require.NotNil(e.t, v.Replication)
	head, err := e.srcC.HeadObject(e.ctx, &s3.HeadObjectInput{Bucket: aws.String(srcBucket), Key: aws.String(key), VersionId: aws.String(versionID)})
	require.NoError(e.t, err)
	assert.Equal(e.t, string(v.Replication.Status), string(head.ReplicationStatus))
	return srcStatus{Status: v.Replication.Status, Reason: v.Replication.Reason}
}
