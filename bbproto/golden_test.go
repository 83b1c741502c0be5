package bbproto

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/")

// TestGolden pins the wire format: each value's JSON must equal its golden file, and the
// golden file must decode to the same value. A change here is a change of the protocol
// between s3server and the engine: both sides, and readers of old journals, must agree.
func TestGolden(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 10, 20, 30, 123456789, time.UTC)
	t1 := t0.Add(time.Minute)
	yes := true
	cases := map[string]any{
		"record.json": &Record{Seq: 42, Time: t0, Op: OpPut, Bucket: "src", Key: "a/b c.txt", VersionID: "v1",
			Size: 11, ETag: "5eb63bbbe01eeed093cb22bb8f5acdc3", ContentType: "text/plain",
			UserMetadata: map[string]string{"color": "blue"}, Tags: map[string]string{"team": "x"},
			LastModified: t0, Replication: &Replication{Status: StatusPending, Role: "arn:aws:iam::1:role/r",
				Destination: "arn:aws:s3:::dst", Site: "east", Content: []Content{ContentData, ContentMetadata},
				RuleID: "r1", StatusTime: t0, PendingSince: t0}},
		"record-delete-marker.json": &Record{Seq: 43, Time: t1, Op: OpDeleteMarker, Bucket: "src", Key: "k",
			VersionID: "v2", IsDeleteMarker: true, LastModified: t1},
		"record-bucket.json": &Record{Seq: 44, Time: t1, Op: OpBucket, Bucket: "src"},
		"version.json": &Version{Bucket: "src", Key: "k", VersionID: "v1", Size: 11, ETag: "abc-2", LastModified: t0,
			Owner: "alice", Meta: ObjectMeta{ContentType: "text/plain", ContentEncoding: "gzip", ContentDisposition: "inline",
				ContentLanguage: "en", CacheControl: "no-cache", Expires: "Wed, 21 Oct 2015 07:28:00 GMT",
				UserMetadata: map[string]string{"a": "1"}, Tags: map[string]string{"t": "v"}, StorageClass: "east",
				Checksums: map[string]string{"CRC32": "AAAAAA=="}},
			Parts:       []Part{{Blob: "b1", Size: 5, ETag: "p1"}, {Blob: "b2", Size: 6, ETag: "p2"}},
			Replication: &Replication{Status: StatusReplica, SourceBucket: "src0", SourceAccount: "bob", StatusTime: t1},
			UploadID:    "u1", IsLatest: &yes, BucketOwner: "alice", JournalID: "j1"},
		"version-delete-marker.json": &Version{Bucket: "src", Key: "k", VersionID: "null", IsDeleteMarker: true,
			LastModified: t0, Owner: "alice"},
		"status.json": &StatusBody{Status: StatusFailed, Reason: "access denied"},
		"status-bulk.json": &BulkStatusBody{Statuses: []BulkStatusItem{{Bucket: "src", Key: "k", VersionID: "v1", Status: StatusCompleted},
			{Bucket: "src", Key: "k2", VersionID: "v2", Status: StatusFailed, Reason: "access denied"},
			{Bucket: "src", Key: "k3", VersionID: "v3", Status: StatusPending, IfUnset: true}}},
		"status-bulk-answer.json": &BulkStatusAnswer{Results: []BulkStatusResult{{Bucket: "src", Key: "k", VersionID: "v1", Status: StatusCompleted, LastModified: t0},
			{Bucket: "src", Key: "k2", VersionID: "v2", Code: "NoSuchVersion", Message: "no such version"},
			{Bucket: "src", Key: "k3", VersionID: "v3", Code: CodeStatusAlreadySet, Message: "has a status", Current: StatusCompleted}}},
		"error.json": &Error{Code: "NoSuchVersion", Message: "no such version", RequestID: "r1"},
		"error-410.json": &Error{Code: CodeJournalTruncated, Message: "backfill", RequestID: "r2", After: 3, Oldest: 10,
			JournalID: "j1"},
		"parts.json":    &PartList{UploadID: "u1", Parts: []UploadPart{{Number: 1, ETag: "e1", Size: 5 << 20, LastModified: &t0}}},
		"complete.json": &CompleteBody{Parts: []UploadPart{{Number: 1, ETag: "e1"}, {Number: 2, ETag: "e2"}}},
		"pending.json": &PendingPage{Versions: []PendingVersion{{Bucket: "src", Key: "k", VersionID: "v1",
			LastModified: t0, Status: StatusPending, StatusTime: t0, Since: t0}},
			Oldest: map[string]time.Time{"src": t0}, Waiting: map[string]int{"src": 1}, Scanned: 7, Next: "c"},
		"redrive.json": &RedriveBody{Versions: []RedriveRef{{Bucket: "src", Key: "k", VersionID: "v1", StatusTime: t0}}},
		"redrive-answer.json": &RedriveAnswer{Results: []RedriveResult{{Bucket: "src", Key: "k", VersionID: "v1",
			Outcome: RedriveDone}}},
	}
	for name, v := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := json.MarshalIndent(v, "", "  ")
			require.NoError(t, err)
			got = append(got, '\n')
			path := filepath.Join("testdata", name)
			if *update {
				require.NoError(t, os.WriteFile(path, got, 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test ./bbproto -update to write it")
			assert.Equal(t, string(want), string(got), "the JSON of %T changed: the wire format is pinned", v)
			back := reflect.New(reflect.TypeOf(v).Elem()).Interface()
			require.NoError(t, json.NewDecoder(bytes.NewReader(want)).Decode(back))
			assert.Equal(t, v, back, "%s does not decode to the value it pins", name)
		})
	}
}
