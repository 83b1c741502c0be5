package s3server

import (
	"github.com/backbeat-temporal/backbeat/bbproto"

	"encoding/json"
	"fmt"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBackbeatPendingAndRedrive(t *testing.T) {
	h := newHarness(t)
	h.replicated("src")
	h.replicated("src2")
	a := seedVersion(t, h, "src", "dir/a b", "1")
	b := seedVersion(t, h, "src", "dir/b", "2")
	c := seedVersion(t, h, "src2", "c", "3")
	done := seedVersion(t, h, "src", "done", "4")
	require.Equal(t, 200, h.bb("PUT", "status/src/done?versionId="+done.VersionID, []byte(`{"status":"COMPLETED"}`), nil).Status)

	list := func(query string) bbproto.PendingPage {
		t.Helper()
		r := h.bb("GET", "pending?"+query, nil, nil)
		require.Equal(t, 200, r.Status, string(r.Body))
		assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
		var p bbproto.PendingPage
		require.NoError(t, json.Unmarshal(r.Body, &p), string(r.Body))
		return p
	}
	ids := func(p bbproto.PendingPage) []string {
		var out []string
		for _, v := range p.Versions {
			out = append(out, v.Bucket+"/"+v.Key+"@"+v.VersionID)
		}
		return out
	}
	all := list("")
	assert.Equal(t, []string{"src/dir/a b@" + a.VersionID, "src/dir/b@" + b.VersionID, "src2/c@" + c.VersionID}, ids(all))
	assert.Equal(t, map[string]int{"src": 2, "src2": 1}, all.Waiting)
	assert.Equal(t, a.Replication.PendingSince, all.Oldest["src"])
	assert.Empty(t, all.Next)

	assert.Empty(t, list("olderThan=1h").Versions, "nothing waits for an hour yet")
	assert.Equal(t, 2, list("olderThan=1h").Waiting["src"], "waiting counts every age")
	assert.Equal(t, []string{"src/dir/a b@" + a.VersionID}, ids(list("bucket=src&prefix="+url.QueryEscape("dir/a"))))

	// Pages of one.
	var paged []string
	q := "limit=1"
	for range 10 {
		p := list(q)
		paged = append(paged, ids(p)...)
		if p.Next == "" {
			break
		}
		q = "limit=1&after=" + p.Next
	}
	assert.Equal(t, ids(all), paged)

	// Re-drive a, and c with a stale status time.
	head := h.srv.store.Head()
	body, err := json.Marshal(map[string]any{"versions": []bbproto.RedriveRef{
		{Bucket: "src", Key: "dir/a b", VersionID: a.VersionID, StatusTime: all.Versions[0].StatusTime},
		{Bucket: "src2", Key: "c", VersionID: c.VersionID, StatusTime: all.Versions[0].StatusTime.Add(-1)},
		{Bucket: "src", Key: "nokey", VersionID: a.VersionID},
	}})
	require.NoError(t, err)
	r := h.bb("POST", "redrive", body, nil)
	require.Equal(t, 200, r.Status, string(r.Body))
	var res struct {
		Results []bbproto.RedriveResult `json:"results"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &res))
	require.Len(t, res.Results, 3)
	assert.Equal(t, []string{bbproto.RedriveDone, bbproto.RedriveChanged, bbproto.RedriveGone},
		[]string{res.Results[0].Outcome, res.Results[1].Outcome, res.Results[2].Outcome})
	recs := h.bb("GET", fmt.Sprintf("journal?after=%d", head), nil, nil).records(t)
	require.Len(t, recs, 1, "only the re-driven version is journaled")
	assert.Equal(t, bbproto.OpStatus, recs[0].Op)
	assert.Equal(t, "dir/a b", recs[0].Key)
	assert.Equal(t, bbproto.StatusPending, recs[0].Replication.Status)

	// Errors and access.
	for _, tc := range []struct{ method, path, body, code string }{
		{"GET", "pending?olderThan=soon", "", "InvalidArgument"},
		{"GET", "pending?olderThan=-1s", "", "InvalidArgument"},
		{"GET", "pending?limit=0", "", "InvalidArgument"},
		{"GET", "pending?prefix=x", "", "InvalidArgument"},
		{"GET", "pending?after=%21%21", "", "InvalidArgument"},
		{"GET", "pending?bucket=nobucket", "", "NoSuchBucket"},
		{"POST", "pending", "", "MethodNotAllowed"},
		{"GET", "redrive", "", "MethodNotAllowed"},
		{"POST", "redrive", "{", "MalformedJSON"},
	} {
		r := h.bb(tc.method, tc.path, []byte(tc.body), nil)
		assert.Equal(t, tc.code, r.jsonErr(t)["code"], tc.method+" "+tc.path)
	}
	assert.Equal(t, 403, h.bbAs(testUser, "GET", "pending", nil, nil).Status, "replication identity only")
	assert.Equal(t, 403, h.bbAs(testUser, "POST", "redrive", []byte(`{"versions":[]}`), nil).Status)
}
