package bbproto

import (
	"fmt"
	"strings"
)

// Prefix is the path of the privileged routes, allowed only for s3server's replication
// identity.
const Prefix = "/_/backbeat/"

// Route names (the path segment after Prefix).
const (
	RouteJournal = "journal" // GET journal?after=SEQ&limit=N&wait=DUR
	RouteStatus  = "status"  // PUT status/BUCKET/KEY?versionId=V; PUT status (bulk, BulkStatusBody)
	RouteVersion = "version" // GET|HEAD version/BUCKET/KEY[?versionId=V]
	RouteReplica = "replica" // PUT|POST|GET|DELETE replica/BUCKET/KEY[?uploads|uploadId=U...]
	RoutePending = "pending" // GET pending?bucket=&prefix=&olderThan=&after=&limit=
	RouteRedrive = "redrive" // POST redrive
)

// Headers of the journal route's answer.
const (
	HeaderJournalID   = "X-Backbeat-Journal-Id"
	HeaderJournalHead = "X-Backbeat-Journal-Head"
)

// Headers of the replica writes (see s3server/backbeat.go for their meaning).
const (
	HeaderVersionID         = "X-Backbeat-Version-Id"         // the source version id, kept
	HeaderLastModified      = "X-Backbeat-Last-Modified"      // RFC 3339 (nanos), kept
	HeaderDeleteMarker      = "X-Backbeat-Delete-Marker"      // "true": a delete marker
	HeaderMetadataOnly      = "X-Backbeat-Metadata-Only"      // "true": metadata only
	HeaderSourceReplication = "X-Backbeat-Source-Replication" // JSON Replication of the source
	HeaderSourceBucket      = "X-Backbeat-Source-Bucket"      // the source bucket
	HeaderSourceAccount     = "X-Backbeat-Source-Account"     // the account owning it
	HeaderSourceJournal     = "X-Backbeat-Source-Journal-Id"  // the source server's journal id
	HeaderETag              = "X-Backbeat-Etag"               // multipart complete: the single-PUT source's ETag (hex MD5), kept
)

// EscapeKey escapes every byte of s outside [A-Za-z0-9-._~/], as S3 clients escape
// keys in paths. The routes are signed with the path as sent (SigV4 without escaping
// the path again).
func EscapeKey(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~/", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// ObjectPath is the escaped path of route for bucket and key:
// /_/backbeat/ROUTE/BUCKET/KEY.
func ObjectPath(route, bucket, key string) string {
	return Prefix + route + "/" + EscapeKey(bucket) + "/" + EscapeKey(key)
}
