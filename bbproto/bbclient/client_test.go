package bbclient

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/backbeat-temporal/backbeat/bbproto"
)

func TestReadError(t *testing.T) {
	mk := func(status int, body string) *http.Response {
		return &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body))}
	}
	e := readError(mk(404, `{"code":"NoSuchVersion","message":"gone","requestId":"R"}`), "version")
	assert.Equal(t, &bbproto.Error{Status: 404, Code: "NoSuchVersion", Message: "gone", RequestID: "R", Route: "version"}, e)
	e = readError(mk(410, `{"code":"JournalTruncated","message":"backfill","after":3,"oldest":9,"journalId":"j"}`), "journal")
	assert.Equal(t, uint64(9), e.Oldest)
	assert.Equal(t, "j", e.JournalID)
	e = readError(mk(403, `<?xml version="1.0"?><Error><Code>SignatureDoesNotMatch</Code><Message>bad</Message></Error>`), "status")
	assert.Equal(t, "SignatureDoesNotMatch", e.Code)
	assert.Equal(t, "bad", e.Message)
	assert.Contains(t, e.Error(), "replication", "a 403 says which account to use")
	e = readError(mk(403, ``), "status")
	assert.Equal(t, "AccessDenied", e.Code)
	e = readError(mk(502, `bad gateway`), "status")
	assert.Equal(t, "Bad Gateway", e.Code)
	assert.Equal(t, "bad gateway", e.Message)
	assert.Equal(t, "status route answered 502 Bad Gateway: bad gateway", e.Error())
}
