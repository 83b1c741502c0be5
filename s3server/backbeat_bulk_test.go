package s3server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/s3server/store"

	"github.com/backbeat-temporal/backbeat/bbproto"
)

func TestBackbeatBulkStatus(t *testing.T) {
	h := newHarness(t)
	h.replicated("src")
	ctx := context.Background()
	key := "dir/sub dir/a+b%c.txt"
	v1 := seedVersion(t, h, "src", key, "one")
	v2 := seedVersion(t, h, "src", "k2", "two")
	v3 := seedVersion(t, h, "src", "k3", "three")
	head := h.srv.store.Head()

	body, err := json.Marshal(bbproto.BulkStatusBody{Statuses: []bbproto.BulkStatusItem{
		{Bucket: "src", Key: key, VersionID: v1.VersionID, Status: bbproto.StatusCompleted},
		{Bucket: "src", Key: "k2", VersionID: v2.VersionID, Status: bbproto.StatusFailed, Reason: "AccessDenied: \x01 target said no"},
		{Bucket: "src", Key: "k3", VersionID: strings.Repeat("0", 32), Status: bbproto.StatusCompleted},
		{Bucket: "nobucket", Key: "k", VersionID: v3.VersionID, Status: bbproto.StatusCompleted},
		{Bucket: "src", Key: "k3", VersionID: v3.VersionID, Status: "REPLICA"},
	}})
	require.NoError(t, err)
	r := h.bb("PUT", "status", body, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	var ans bbproto.BulkStatusAnswer
	require.NoError(t, json.Unmarshal(r.Body, &ans))
	require.Len(t, ans.Results, 5)
	codes := make([]string, len(ans.Results))
	for i, res := range ans.Results {
		codes[i] = res.Code
	}
	assert.Equal(t, []string{"", "", "NoSuchVersion", "NoSuchBucket", "InvalidArgument"}, codes)
	assert.Equal(t, bbproto.StatusCompleted, ans.Results[0].Status)
	assert.Equal(t, key, ans.Results[0].Key)
	assert.Equal(t, v1.LastModified.UTC(), ans.Results[0].LastModified.UTC())

	got, err := h.srv.store.GetVersion(ctx, "src", key, v1.VersionID)
	require.NoError(t, err)
	assert.Equal(t, bbproto.StatusCompleted, got.Replication.Status)
	got, err = h.srv.store.GetVersion(ctx, "src", "k2", v2.VersionID)
	require.NoError(t, err)
	assert.Equal(t, bbproto.StatusFailed, got.Replication.Status)
	assert.Equal(t, "AccessDenied: \x01 target said no", got.Replication.Reason)
	got, err = h.srv.store.GetVersion(ctx, "src", "k3", v3.VersionID)
	require.NoError(t, err)
	assert.Equal(t, bbproto.StatusPending, got.Replication.Status, "refused updates change nothing")

	// Journaled as the single route does: one status record per written version.
	recs := h.bb("GET", fmt.Sprintf("journal?after=%d", head), nil, nil).records(t)
	require.Len(t, recs, 2)
	assert.Equal(t, bbproto.OpStatus, recs[0].Op)
	assert.Equal(t, key, recs[0].Key)
	assert.Equal(t, bbproto.StatusFailed, recs[1].Replication.Status)

	// Whole-request errors write nothing; other identities are refused by the router.
	for _, tc := range []struct{ body, code string }{
		{`{"statuses":`, "MalformedJSON"},
		{`{"statuses":[` + strings.Repeat(`{},`, store.MaxStatusUpdates) + `{}]}`, "InvalidArgument"},
	} {
		r := h.bb("PUT", "status", []byte(tc.body), nil)
		assert.Equal(t, http.StatusBadRequest, r.Status)
		assert.Equal(t, tc.code, r.jsonErr(t)["code"])
	}
	r = h.bbAs(testUser, "PUT", "status", body, nil)
	assert.Equal(t, http.StatusForbidden, r.Status)
	assert.Equal(t, head+2, h.srv.store.Head())
}
