package s3server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/backbeat-temporal/backbeat/internal/testlog"
)

// FuzzRouter sends correctly signed requests with arbitrary methods, paths, queries,
// headers and bodies (XML documents of every subresource among the seeds) through the
// whole HTTP layer: routing, subresource dispatch, XML parsing, handlers and the store.
// Whatever the input, the server must answer — never panic, never a 500 (an internal
// error on bad input is a bug) — and an error answer must be an S3 XML or JSON error.
func FuzzRouter(f *testing.F) {
	dir := f.TempDir()
	acc, err := json.Marshal(Accounts{Accounts: []Account{testUser, testOther, testRepl}})
	if err != nil {
		f.Fatal(err)
	}
	accPath := filepath.Join(dir, "accounts.json")
	if err := os.WriteFile(accPath, acc, 0o600); err != nil {
		f.Fatal(err)
	}
	srv, err := New(Config{DataDir: filepath.Join(dir, "data"), AccountsFile: accPath, NoSync: true,
		Logger: testlog.Discard()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })
	h := srv.Handler()

	do := func(t testing.TB, acct Account, method, target, header string, body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8000/", nil)
		req.Method = method
		u, err := req.URL.Parse(target)
		if err != nil {
			return nil
		}
		req.URL, req.RequestURI = u, u.RequestURI()
		for _, line := range strings.Split(header, "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && k != "" {
				req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
			}
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
		if err := sign(req, acct, payloadHash(body)); err != nil {
			return nil
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for _, b := range []string{"fuzz", "other-bucket"} {
		if rec := do(f, testUser, http.MethodPut, "/"+b, "", nil); rec == nil || rec.Code != http.StatusOK {
			f.Fatalf("create bucket %s failed", b)
		}
	}
	do(f, testUser, http.MethodPut, "/fuzz?versioning", "", []byte(`<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>`))
	do(f, testUser, http.MethodPut, "/fuzz/key", "x-amz-meta-a: b", []byte("hello"))

	seeds := []struct{ method, target, header, body string }{
		{"PUT", "/fuzz?replication", "", `<ReplicationConfiguration><Role>arn:aws:iam::1:role/r</Role><Rule><ID>a</ID><Status>Enabled</Status><Priority>1</Priority><DeleteMarkerReplication><Status>Disabled</Status></DeleteMarkerReplication><Filter><Prefix>x</Prefix></Filter><Destination><Bucket>arn:aws:s3:::other-bucket</Bucket></Destination></Rule></ReplicationConfiguration>`},
		{"PUT", "/fuzz?versioning", "", `<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>`},
		{"PUT", "/fuzz?tagging", "", `<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>`},
		{"PUT", "/fuzz/key?tagging", "", `<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>`},
		{"POST", "/fuzz?delete", "", `<Delete><Object><Key>key</Key></Object><Quiet>true</Quiet></Delete>`},
		{"POST", "/fuzz/mp?uploads", "content-type: text/plain", ``},
		{"POST", "/fuzz/mp?uploadId=abc", "", `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload>`},
		{"PUT", "/fuzz/mp?uploadId=abc&partNumber=1", "", `data`},
		{"GET", "/fuzz?list-type=2&prefix=k&delimiter=/&max-keys=2&continuation-token=zz", "", ``},
		{"GET", "/fuzz?versions&key-marker=k&version-id-marker=v&max-keys=1", "", ``},
		{"GET", "/fuzz/key", "range: bytes=1-2\nif-none-match: \"x\"", ``},
		{"PUT", "/fuzz/copy", "x-amz-copy-source: /fuzz/key?versionId=null\nx-amz-metadata-directive: REPLACE", ``},
		{"DELETE", "/fuzz/key?versionId=zz", "", ``},
		{"GET", "/fuzz?uploads&prefix=m", "", ``},
		{"PUT", "/fuzz/k2", "x-amz-tagging: a=b&c=d\ncontent-md5: AAAA", `body`},
		{"GET", "/fuzz?acl", "", ``},
		{"GET", "/_/backbeat/journal?after=0&limit=5", "", ``},
		{"PUT", "/_/backbeat/status/fuzz/key?versionId=null", "", `{"status":"FAILED","reason":"x"}`},
		{"PUT", "/_/backbeat/replica/fuzz/r", "x-backbeat-version-id: 0123\nx-backbeat-last-modified: 2026-01-01T00:00:00Z", `r`},
	}
	for _, s := range seeds {
		f.Add(s.method, s.target, s.header, []byte(s.body), s.target[:min(len(s.target), 3)] == "/_/")
	}
	f.Fuzz(func(t *testing.T, method, target, header string, body []byte, asReplication bool) {
		if len(body) > 1<<16 || len(target) > 4096 || len(header) > 4096 || !strings.HasPrefix(target, "/") {
			return
		}
		switch method {
		case "GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH":
		default:
			return
		}
		acct := testUser
		if asReplication {
			acct = testRepl
		}
		rec := do(t, acct, method, target, header, body)
		if rec == nil {
			return // not a request a client could send
		}
		if rec.Code == http.StatusInternalServerError {
			t.Fatalf("%s %s (headers %q, body %q): 500 %s", method, target, header, body, rec.Body.String())
		}
		if rec.Code >= 400 && method != http.MethodHead {
			ct := rec.Header().Get("Content-Type")
			if !strings.Contains(ct, "xml") && !strings.Contains(ct, "json") {
				t.Fatalf("%s %s: error %d without an XML/JSON body (content-type %q)", method, target, rec.Code, ct)
			}
		}
	})
}
