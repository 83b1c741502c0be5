package journal

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/bbproto/bbclient"
)

// fakeJournal answers the journal route with canned lines: a unit-test stand-in for the
// malformed-input cases a real s3server never produces.
func fakeJournal(t *testing.T, status int, head string, body string) *Client {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Contains(t, r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AK/")
		w.Header().Set("X-Backbeat-Journal-Head", head)
		w.Header().Set("X-Backbeat-Journal-Id", "j1")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return clientOf(srv.URL, "AK", "SK")
}

func clientOf(url, accessKey, secretKey string) *Client {
	bb, err := bbclient.New(bbclient.Config{Endpoint: url, Credentials: credentials.NewStaticCredentialsProvider(accessKey, secretKey, "")})
	if err != nil {
		panic(err) // only an empty url fails: a bug of the test
	}
	return New(bb)
}

func TestReadParsesLines(t *testing.T) {
	c := fakeJournal(t, 200, "3", `{"seq":2,"op":"put","bucket":"b","key":"k","versionId":"v","replication":{"status":"PENDING"}}
{"seq":3,"op":"put","bucket":"b","key":"k2","versionId":"w"}
`)
	b, err := c.Read(context.Background(), 1, 10, 0)
	require.NoError(t, err)
	require.Len(t, b.Records, 2)
	assert.Equal(t, uint64(3), b.Head)
	assert.Equal(t, "j1", b.JournalID)
	assert.True(t, b.Records[0].Pending())
	assert.False(t, b.Records[1].Pending())
}

func TestMalformedLineStopsAtItsSeq(t *testing.T) {
	c := fakeJournal(t, 200, "4", "{\"seq\":2,\"op\":\"put\",\"bucket\":\"b\"}\n{not json\n{\"seq\":4}\n")
	b, err := c.Read(context.Background(), 1, 10, 0)
	var me *MalformedError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, uint64(3), me.Seq, "the bad line is named by its seq")
	assert.Contains(t, me.Error(), "seq 3")
	require.Len(t, b.Records, 1, "the good record before it is kept")
}

func TestGapIsMalformed(t *testing.T) {
	c := fakeJournal(t, 200, "5", "{\"seq\":2,\"op\":\"put\"}\n{\"seq\":5,\"op\":\"put\"}\n")
	_, err := c.Read(context.Background(), 1, 10, 0)
	var me *MalformedError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, uint64(3), me.Seq)
}

func TestTruncatedAndStatusErrors(t *testing.T) {
	c := fakeJournal(t, 410, "9", `{"code":"JournalTruncated","oldest":7,"journalId":"j1"}`)
	_, err := c.Read(context.Background(), 2, 10, 0)
	var te *TruncatedError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, uint64(7), te.Oldest)
	assert.Contains(t, te.Error(), "backfill")

	c = fakeJournal(t, 403, "0", `<Error><Code>AccessDenied</Code></Error>`)
	_, err = c.Read(context.Background(), 0, 10, 0)
	var se *bbproto.Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, http.StatusForbidden, se.Status)
	assert.Equal(t, "AccessDenied", se.Code)
	assert.Contains(t, se.Error(), "replication")
}

func TestUnreachableEndpoint(t *testing.T) {
	c := clientOf("http://127.0.0.1:1", "a", "b")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.Read(ctx, 0, 1, 0)
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "127.0.0.1:1"), err.Error())
	assert.False(t, errors.Is(err, context.DeadlineExceeded))
}
