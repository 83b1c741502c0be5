package s3server

// The privileged routes under /_/backbeat/, allowed only for the account marked
// "replication" in the accounts file (the router answers 403 AccessDenied, as S3 XML, to
// anyone else). They are the contract between s3server and the replication engine
// (journal/ reads the journal route; activities/ and starter/ use the others).
//
// Every answer of these routes is JSON, never S3 XML: a success is described below, an
// error is {"code":"...","message":"...","requestId":"..."} with the HTTP status of the
// error and Content-Type application/json (a HEAD gets the status and no body).
//
//	route (after /_/backbeat/)                           answer
//	---------------------------------------------------  ----------------------------------------
//	GET    journal?after=SEQ&limit=N&wait=DUR            200 application/x-ndjson: the journal
//	                                                     records with seq > SEQ, one JSON object
//	                                                     per line (bbproto.Record, the wire format);
//	                                                     headers X-Backbeat-Journal-Id and
//	                                                     X-Backbeat-Journal-Head (last seq written)
//	PUT    status/BUCKET/KEY?versionId=V                 200 the updated version (JSON store.Version
//	         body {"status":"COMPLETED","reason":"..."}  plus "isLatest"); the change is journaled
//	                                                     (op "status")
//	PUT    status                                        200 {"results":[...]}: many statuses in one
//	         body {"statuses":[{"bucket":..,"key":..,    transaction (see backbeat_bulk.go)
//	         "versionId":..,"status":..,"reason":..}]}
//	GET    version/BUCKET/KEY[?versionId=V]              200 the version or delete marker (JSON
//	                                                     store.Version plus "isLatest", and
//	                                                     "bucketOwner", "journalId": the source
//	                                                     of replicas)
//	HEAD   version/BUCKET/KEY[?versionId=V]              same status and headers, no body
//	PUT    replica/BUCKET/KEY                            200 the replica version (JSON store.Version)
//	POST   replica/BUCKET/KEY?uploads                    200 {"uploadId":"..."}
//	PUT    replica/BUCKET/KEY?uploadId=U&partNumber=N    200 {"number":N,"etag":"hex md5","size":S}
//	GET    replica/BUCKET/KEY?uploadId=U                 200 {"uploadId":"U","parts":[{"number":N,
//	                                                     "etag":"...","size":S,"lastModified":"..."}]}
//	POST   replica/BUCKET/KEY?uploadId=U                 200 the replica version (JSON)
//	         body {"parts":[{"number":N,"etag":"..."}]}
//	DELETE replica/BUCKET/KEY?uploadId=U                 204
//
// Unknown routes answer 404 {"code":"NotFound"}; a known route with another method 405
// {"code":"MethodNotAllowed"} with an Allow header.
//
// Paths. BUCKET/KEY is the rest of the path after the route name, percent-decoded as in
// S3 path-style URLs: the bucket is cut at the first "/" (bucket names hold none) and the
// key is everything after it, slashes included. As in S3, "%2F" in a key is the same as
// "/" (the key "a/b" may be sent as a/b or a%2Fb), so the decoded path is unambiguous;
// a literal "%" in a key must be sent as %25. Clients escape each key byte outside
// [A-Za-z0-9-._~/] and must sign the path as sent (aws-sdk-go-v2's v4 signer with
// DisableURIPathEscaping, as S3 clients do): a signer that escapes the path again
// produces a signature the server refuses for keys with escaped bytes.
//
// Journal parameters: after (default 0) is the last seq the reader has; limit (default
// 1000) is capped at 10000; wait is a Go duration ("30s"), capped by
// Config.MaxJournalWait: when no record is after `after`, the request waits up to that
// long for one, and answers an empty 200 (with the headers) when none came, when the
// client went away or when the server shuts down. A bad parameter answers 400
// InvalidArgument naming it. When records after `after` were removed by retention the
// answer is 410 {"code":"JournalTruncated","message":"... backfill ...","after":SEQ,
// "oldest":N,"journalId":"..."}, oldest being the oldest seq still kept: the reader must
// stop and have the operator backfill, never skip.
//
// Status. status is COMPLETED, FAILED (reason kept), PROCESSING, or PENDING (backfill,
// `starter failed retry`: a version without replication info gets the bucket's matching
// rule). versionId is required ("null" names the null version); a missing version (or
// key) answers 404 NoSuchVersion, a missing bucket 404 NoSuchBucket, any other status 400
// InvalidArgument.
//
// Replica writes (PUT replica/..., and the complete of a multipart replica) read:
//
//	x-backbeat-version-id        required: the source version id, kept by the replica
//	x-backbeat-last-modified     required: the source last-modified time, RFC 3339 (nanos
//	                             allowed), kept by the replica
//	x-backbeat-delete-marker     "true": write a delete marker (empty body; PUT only)
//	x-backbeat-metadata-only     "true": replace the content headers, user metadata and tags
//	                             of the existing replica version without touching its data
//	                             (empty body; PUT only; 404 NoSuchVersion when absent)
//	x-backbeat-source-bucket     required: the source bucket; the target bucket's owner must
//	                             own it or grant its owner s3:ReplicateObject (data and
//	                             multipart create/complete), s3:ReplicateDelete (delete
//	                             markers) or s3:ReplicateTags (metadata-only) in its bucket
//	                             policy: 403 AccessDenied otherwise
//	x-backbeat-source-account    the account owning the source bucket (required when the
//	                             source is on another server; ignored when it is here)
//	x-backbeat-source-journal-id the source server's journal id (the version route's
//	                             journalId): this server's id, or no header and a local
//	                             bucket of that name, means the source is here
//	x-backbeat-source-replication  optional JSON store.Replication of the source version
//	                             (role, destination, site, content...): carried on the
//	                             replica, whose status is always REPLICA
//	Content-Type, Content-Encoding, Content-Disposition, Content-Language, Cache-Control,
//	Expires, x-amz-meta-*, x-amz-tagging (URL-encoded tag set), x-amz-storage-class:
//	                             the replica's metadata, as on a PutObject (the whole set:
//	                             what is not sent is not kept)
//
// and the body (any SigV4 payload mode) is the data. The replica keeps the source's
// version id and last-modified time, its status is REPLICA, and the versions of a key
// stay in the source's order even when an older replica arrives after a newer one.
// Writing a version that already exists replaces it when it is a replica of the same
// source (a re-run answers 200 again and the key still has one version of that id);
// any other version of that id is kept and the write answers 409 ReplicaConflict. The target bucket must have versioning Enabled
// (400 InvalidRequest otherwise). The replica is owned by the target bucket's owner.
//
// Multipart replicas: create the upload (?uploads; headers optional, those of the
// complete are what the replica keeps), upload parts (1..10000, each up to 5 GiB, all but
// the last at least 5 MiB), list the parts already stored (a resumed activity skips
// them), then complete with the parts and the x-backbeat-* headers above (not
// delete-marker nor metadata-only); abort removes the upload and its parts. The replica's
// ETag is S3's multipart ETag ("md5-of-md5s-N"): same part sizes as the source give the
// source's ETag.

import (
	"encoding/hex"
	"github.com/backbeat-temporal/backbeat/bbproto"

	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/backbeat-temporal/backbeat/bbproto/bucketpolicy"
	"github.com/backbeat-temporal/backbeat/s3server/store"
)

// Limits of the privileged routes.
const (
	bbJournalDefaultLimit = 1000
	bbJournalMaxLimit     = 10000
	bbMaxPutSize          = 5 << 30 // single-PUT replica, as S3's PutObject
	bbMaxPartSize         = 5 << 30 // one part of a multipart replica, as S3's UploadPart
	bbMaxJSONBody         = 1 << 20 // status and complete bodies (10000 parts fit)
)

// bbError is an error of a privileged route, answered as JSON (bbproto.Error).
type bbError struct {
	Status        int
	Code, Message string
	// Allow lists the methods of the route (405): sent as the Allow header.
	Allow string
	// After and Oldest (410 JournalTruncated): the seq read after, the oldest kept.
	After, Oldest uint64
	// JournalID (410 JournalTruncated) names the journal.
	JournalID string
}

func (e *bbError) Error() string { return fmt.Sprintf("%s (%d): %s", e.Code, e.Status, e.Message) }

func bbErrorf(status int, code, format string, args ...any) *bbError {
	return &bbError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// bbInvalid is a 400 InvalidArgument naming a parameter or header.
func bbInvalid(format string, args ...any) *bbError {
	return bbErrorf(http.StatusBadRequest, bbproto.CodeInvalidArgument, format, args...)
}

// serveBackbeat serves the privileged routes; path is what follows /_/backbeat/
// (percent-decoded). It answers every error itself, as JSON, and returns nil.
func (s *Server) serveBackbeat(rq *request, path string) error {
	if err := s.routeBackbeat(rq, path); err != nil {
		s.writeBackbeatError(rq, err)
	}
	return nil
}

// routeBackbeat dispatches on the route name and the method.
func (s *Server) routeBackbeat(rq *request, path string) error {
	name, rest, hasRest := strings.Cut(path, "/")
	method := rq.r.Method
	allow := func(methods ...string) error {
		for _, m := range methods {
			if m == method {
				return nil
			}
		}
		be := bbErrorf(http.StatusMethodNotAllowed, bbproto.CodeMethodNotAllowed,
			"%s is not allowed on the %s route (allowed: %s).", method, name, strings.Join(methods, ", "))
		be.Allow = strings.Join(methods, ", ")
		return be
	}
	switch {
	case name == "journal" && !hasRest:
		if err := allow(http.MethodGet); err != nil {
			return err
		}
		return s.bbJournal(rq)
	case name == "status" && !hasRest: // backbeat_bulk.go
		if err := allow(http.MethodPut); err != nil {
			return err
		}
		return s.bbSetStatuses(rq)
	case name == "status" && hasRest:
		if err := allow(http.MethodPut); err != nil {
			return err
		}
		bucket, key, err := bbObjectPath(name, rest)
		if err != nil {
			return err
		}
		return s.bbSetStatus(rq, bucket, key)
	case name == "version" && hasRest:
		if err := allow(http.MethodGet, http.MethodHead); err != nil {
			return err
		}
		bucket, key, err := bbObjectPath(name, rest)
		if err != nil {
			return err
		}
		return s.bbGetVersion(rq, bucket, key)
	case name == "pending" && !hasRest: // pending.go
		if err := allow(http.MethodGet); err != nil {
			return err
		}
		return s.bbPending(rq)
	case name == "redrive" && !hasRest:
		if err := allow(http.MethodPost); err != nil {
			return err
		}
		return s.bbRedrive(rq)
	case name == "replica" && hasRest:
		bucket, key, err := bbObjectPath(name, rest)
		if err != nil {
			return err
		}
		return s.bbReplica(rq, bucket, key)
	}
	return bbErrorf(http.StatusNotFound, bbproto.CodeNotFound, "No privileged route %q: see the route table in s3server/backbeat.go.", "/_/backbeat/"+path)
}

// bbReplica dispatches the replica routes on the method and the query.
func (s *Server) bbReplica(rq *request, bucket, key string) error {
	_, uploads := rq.q["uploads"]
	uploadID, hasUploadID := rq.q["uploadId"]
	_, hasPart := rq.q["partNumber"]
	switch {
	case uploads && hasUploadID:
		return bbInvalid("uploads and uploadId cannot be used together.")
	case uploads:
		if rq.r.Method != http.MethodPost {
			return bbMethodNotAllowed(rq, "POST")
		}
		return s.bbCreateUpload(rq, bucket, key)
	case hasUploadID:
		id := uploadID[0]
		if id == "" {
			return bbInvalid("uploadId is empty.")
		}
		switch rq.r.Method {
		case http.MethodPut:
			if !hasPart {
				return bbInvalid("partNumber is required to upload a part.")
			}
			return s.bbPutPart(rq, bucket, key, id)
		case http.MethodGet:
			return s.bbListParts(rq, bucket, key, id)
		case http.MethodPost:
			return s.bbCompleteUpload(rq, bucket, key, id)
		case http.MethodDelete:
			if err := s.store.AbortUpload(rq.r.Context(), bucket, key, id); err != nil {
				return err
			}
			rq.w.WriteHeader(http.StatusNoContent)
			return nil
		}
		return bbMethodNotAllowed(rq, "PUT, GET, POST, DELETE")
	case hasPart:
		return bbInvalid("partNumber needs uploadId.")
	}
	if rq.r.Method != http.MethodPut {
		return bbMethodNotAllowed(rq, "PUT")
	}
	return s.bbPutReplica(rq, bucket, key)
}

func bbMethodNotAllowed(rq *request, allow string) error {
	be := bbErrorf(http.StatusMethodNotAllowed, bbproto.CodeMethodNotAllowed,
		"%s is not allowed on this replica route (allowed: %s).", rq.r.Method, allow)
	be.Allow = allow
	return be
}

// bbObjectPath splits BUCKET/KEY; both must be non-empty.
func bbObjectPath(route, rest string) (bucket, key string, err error) {
	bucket, key, _ = strings.Cut(rest, "/")
	if bucket == "" || key == "" {
		return "", "", bbInvalid("The %s route needs a bucket and a key: /_/backbeat/%s/BUCKET/KEY.", route, route)
	}
	return bucket, key, nil
}

// writeBackbeatError answers err as JSON.
func (s *Server) writeBackbeatError(rq *request, err error) {
	var be *bbError
	if !errors.As(err, &be) {
		be = bbFromError(err)
	}
	if be.Status >= 500 {
		s.log.Error("backbeat route failed", "method", rq.r.Method, "path", rq.r.URL.Path, "requestId", rq.id, "err", err)
	} else {
		s.log.Debug("backbeat request refused", "method", rq.r.Method, "path", rq.r.URL.Path, "code", be.Code, "err", err)
	}
	body := bbproto.Error{Code: be.Code, Message: be.Message, RequestID: rq.id, After: be.After, Oldest: be.Oldest,
		JournalID: be.JournalID}
	if be.Allow != "" {
		rq.w.Header().Set("Allow", be.Allow)
	}
	writeBackbeatJSON(rq, be.Status, &body)
}

// bbFromError maps a store (or S3 API) error to the JSON error to answer.
func bbFromError(err error) *bbError {
	var te *store.JournalTruncatedError
	switch {
	case errors.As(err, &te):
		be := bbErrorf(http.StatusGone, bbproto.CodeJournalTruncated,
			"journal records after seq %d were removed by retention; the oldest kept seq is %d: backfill the buckets (starter backfill) and restart from the oldest kept seq, never skip", te.After, te.Oldest)
		be.After, be.Oldest = te.After, te.Oldest
		return be
	case errors.Is(err, store.ErrInvalidKey):
		return bbInvalid("%v", err)
	case errors.Is(err, store.ErrVersioningNotEnabled):
		return bbErrorf(http.StatusBadRequest, "InvalidRequest", "The target bucket must have versioning Enabled to receive replicas.")
	case errors.Is(err, store.ErrClosed):
		return bbErrorf(http.StatusServiceUnavailable, "ServiceUnavailable", "The server is shutting down.")
	}
	ae := toAPIError(err)
	return bbErrorf(ae.Status, ae.Code, "%s", ae.Message)
}

// writeBackbeatJSON answers v as JSON with status (no body for HEAD).
func writeBackbeatJSON(rq *request, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		data = []byte(`{"code":"InternalError","message":"cannot encode the answer"}`)
	}
	data = append(data, '\n')
	h := rq.w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(data)))
	rq.w.WriteHeader(status)
	if rq.r.Method != http.MethodHead {
		rq.w.Write(data) // the status is sent: a write error is the client's going away
	}
}

// versionJSON is the protocol's JSON of v; isLatest is set when withLatest.
func versionJSON(v *store.Version, withLatest bool) bbproto.Version {
	out := bbproto.Version{Bucket: v.Bucket, Key: v.Key, VersionID: v.VersionID, IsDeleteMarker: v.IsDeleteMarker,
		Size: v.Size, ETag: v.ETag, LastModified: v.LastModified, Owner: v.Owner, Meta: v.Meta, Parts: v.Parts,
		Replication: v.Replication, UploadID: v.UploadID}
	if withLatest {
		latest := v.IsLatest
		out.IsLatest = &latest
	}
	return out
}

// writeVersionJSON answers 200 with the version's JSON (with isLatest when withLatest)
// and its id in x-amz-version-id.
func writeVersionJSON(rq *request, v *store.Version, withLatest bool) {
	rq.w.Header().Set("x-amz-version-id", v.VersionID)
	writeBackbeatJSON(rq, http.StatusOK, versionJSON(v, withLatest))
}

// --- journal ---

// bbJournal serves GET journal?after=&limit=&wait=.
func (s *Server) bbJournal(rq *request) error {
	var after uint64
	if v := rq.q.Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return bbInvalid("after must be a journal seq (a non-negative integer), not %q.", v)
		}
		after = n
	}
	limit := bbJournalDefaultLimit
	if v := rq.q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return bbInvalid("limit must be a positive integer (at most %d is used), not %q.", bbJournalMaxLimit, v)
		}
		limit = min(n, bbJournalMaxLimit)
	}
	var wait time.Duration
	if v := rq.q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return bbInvalid("wait must be a non-negative Go duration such as 30s or 500ms, not %q.", v)
		}
		wait = min(d, s.cfg.MaxJournalWait)
	}
	ctx := rq.r.Context()
	h := rq.w.Header()
	h.Set(bbproto.HeaderJournalID, s.store.JournalID())
	recs, head, err := s.store.ReadJournalRaw(ctx, after, limit)
	if err != nil {
		return s.journalError(err)
	}
	if len(recs) == 0 && wait > 0 {
		wctx, cancel := context.WithTimeout(ctx, wait)
		werr := s.store.WaitJournal(wctx, after)
		cancel()
		if werr == nil {
			recs, head, err = s.store.ReadJournalRaw(ctx, after, limit)
			if err != nil {
				return s.journalError(err)
			}
		} else {
			// Timed out, the client went away, or the server is shutting down: an
			// empty answer; the reader asks again.
			head = s.store.Head()
		}
	}
	h.Set(bbproto.HeaderJournalHead, strconv.FormatUint(head, 10))
	h.Set("Content-Type", "application/x-ndjson")
	h.Set("Cache-Control", "no-store")
	rq.w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(rq.w, 64<<10)
	for _, r := range recs {
		bw.Write(r)
		bw.WriteByte('\n')
	}
	bw.Flush() // the status is sent: a write error is the client's going away
	return nil
}

// journalError adds the journal id to a 410 answer.
func (s *Server) journalError(err error) error {
	be := bbFromError(err)
	if be.Status == http.StatusGone {
		be.JournalID = s.store.JournalID()
	}
	return be
}

// --- status and version ---

// bbSetStatus serves PUT status/BUCKET/KEY?versionId=V.
func (s *Server) bbSetStatus(rq *request, bucket, key string) error {
	vid, ok := rq.q["versionId"]
	if !ok || vid[0] == "" {
		return bbInvalid("versionId is required to set a replication status.")
	}
	var body bbproto.StatusBody
	if err := readBackbeatJSON(rq, &body); err != nil {
		return err
	}
	if !body.Status.Settable() {
		return bbInvalid("status must be COMPLETED, FAILED, PROCESSING or PENDING, not %q.", body.Status)
	}
	v, err := s.store.SetReplicationStatus(rq.r.Context(), bucket, key, vid[0], body.Status, body.Reason)
	if err != nil {
		return err
	}
	writeVersionJSON(rq, v, true)
	return nil
}

// bbGetVersion serves GET/HEAD version/BUCKET/KEY[?versionId=V]: a version or delete
// marker ("" or no versionId: the latest).
func (s *Server) bbGetVersion(rq *request, bucket, key string) error {
	ctx := rq.r.Context()
	vid := rq.q.Get("versionId")
	v, err := s.store.GetVersion(ctx, bucket, key, vid)
	var dm *store.DeleteMarkerError
	if errors.As(err, &dm) {
		v, err = s.deleteMarker(ctx, bucket, key, dm.VersionID)
	}
	if err != nil {
		return err
	}
	b, err := s.store.GetBucket(ctx, bucket)
	if err != nil {
		return err
	}
	rq.w.Header().Set("x-amz-version-id", v.VersionID)
	out := versionJSON(v, true)
	out.BucketOwner, out.JournalID = b.Owner, s.store.JournalID()
	writeBackbeatJSON(rq, http.StatusOK, out)
	return nil
}

// deleteMarker returns the delete marker versionID of key (GetVersion answers only
// DeleteMarkerError for one): the walk starts at key, whose versions come first.
func (s *Server) deleteMarker(ctx context.Context, bucket, key, versionID string) (*store.Version, error) {
	var out *store.Version
	err := s.store.WalkVersions(ctx, bucket, store.WalkOptions{Prefix: key}, func(v *store.Version) bool {
		if v.Key != key {
			return false
		}
		if v.VersionID == versionID {
			out = v
			return false
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if out == nil { // removed since
		return nil, fmt.Errorf("%w: %s/%s version %s", store.ErrNoSuchVersion, bucket, key, versionID)
	}
	return out, nil
}

// readBackbeatJSON decodes a JSON request body of at most bbMaxJSONBody bytes.
func readBackbeatJSON(rq *request, v any) error {
	data, err := io.ReadAll(io.LimitReader(rq.body, bbMaxJSONBody+1))
	if err != nil {
		return err
	}
	if len(data) > bbMaxJSONBody {
		return bbInvalid("The JSON body is larger than %d bytes.", bbMaxJSONBody)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return bbErrorf(http.StatusBadRequest, bbproto.CodeMalformedJSON, "The body is not the JSON this route expects: %v.", err)
	}
	return nil
}

// --- replicas ---

// replicaHeaders reads the x-backbeat-* headers and the object metadata of a replica
// write.
func replicaHeaders(rq *request, bucket, key string) (store.ReplicaInput, error) {
	h := rq.r.Header
	in := store.ReplicaInput{Bucket: bucket, Key: key, VersionID: h.Get(bbproto.HeaderVersionID)}
	if in.VersionID == "" {
		return in, bbInvalid("The %s header is required.", bbproto.HeaderVersionID)
	}
	lm := h.Get(bbproto.HeaderLastModified)
	if lm == "" {
		return in, bbInvalid("The %s header is required (RFC 3339 time).", bbproto.HeaderLastModified)
	}
	t, err := time.Parse(time.RFC3339Nano, lm)
	if err != nil {
		return in, bbInvalid("The %s header must be an RFC 3339 time such as 2006-01-02T15:04:05.999999999Z, not %q.", bbproto.HeaderLastModified, lm)
	}
	in.LastModified = t.UTC()
	for _, f := range []struct {
		name string
		dst  *bool
	}{{bbproto.HeaderDeleteMarker, &in.IsDeleteMarker}, {bbproto.HeaderMetadataOnly, &in.MetadataOnly}} {
		if v := h.Get(f.name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return in, bbInvalid("The %s header must be true or false, not %q.", f.name, v)
			}
			*f.dst = b
		}
	}
	if in.IsDeleteMarker && in.MetadataOnly {
		return in, bbInvalid("%s and %s cannot be used together.", bbproto.HeaderDeleteMarker, bbproto.HeaderMetadataOnly)
	}
	if v := h.Get(bbproto.HeaderSourceReplication); v != "" {
		in.Source = new(store.Replication)
		if err := json.Unmarshal([]byte(v), in.Source); err != nil {
			return in, bbInvalid("The %s header must be the source's replication info as JSON: %v.", bbproto.HeaderSourceReplication, err)
		}
	}
	if !in.IsDeleteMarker {
		meta, err := readObjectMeta(h, nil)
		if err != nil {
			return in, err
		}
		in.Meta = meta
	}
	return in, nil
}

// replicaFrom is the source of a replica write.
type replicaFrom struct {
	bucket, account string
}

// replicaSource reads the source of a replica write: the x-backbeat-source-bucket
// header, and the owner of that bucket in this server's store when the source is here
// (x-backbeat-source-journal-id is this server's journal id, or absent and the bucket
// exists here), else the x-backbeat-source-account header.
func (s *Server) replicaSource(ctx context.Context, rq *request) (replicaFrom, error) {
	h := rq.r.Header
	from := replicaFrom{bucket: h.Get(bbproto.HeaderSourceBucket)}
	if from.bucket == "" {
		return from, bbInvalid("The %s header is required: the bucket the replica comes from, whose owner the target bucket's owner must have granted replication.", bbproto.HeaderSourceBucket)
	}
	journal := h.Get(bbproto.HeaderSourceJournal)
	if journal == "" || journal == s.store.JournalID() {
		b, err := s.store.GetBucket(ctx, from.bucket)
		switch {
		case err == nil:
			from.account = b.Owner // never the header's word for a bucket of this server
			return from, nil
		case !errors.Is(err, store.ErrNoSuchBucket):
			return from, err
		case journal != "":
			return from, bbInvalid("The source bucket %s does not exist on this server (%s names this server's journal).", from.bucket, bbproto.HeaderSourceJournal)
		}
	}
	from.account = h.Get(bbproto.HeaderSourceAccount)
	if from.account == "" {
		return from, bbInvalid("The %s header is required when the source bucket %s is on another server: the account owning it.", bbproto.HeaderSourceAccount, from.bucket)
	}
	return from, nil
}

// authorizeReplica checks that the owner of bucket consents to action (a
// bucketpolicy.Action*) on key by the replica's source account: it returns the source
// and the owner of bucket (replicas belong to it). NoSuchBucket when absent; a refusal
// is 403 AccessDenied naming the policy statement the owner must add.
func (s *Server) authorizeReplica(ctx context.Context, rq *request, bucket, key, action string) (replicaFrom, string, error) {
	from, err := s.replicaSource(ctx, rq)
	if err != nil {
		return from, "", err
	}
	b, err := s.store.GetBucket(ctx, bucket)
	if err != nil {
		return from, "", err
	}
	if err := s.checkConsent(b, from.account, action, key); err != nil {
		return from, "", err
	}
	return from, b.Owner, nil
}

// replicaAction is the policy action a replica write needs.
func replicaAction(in *store.ReplicaInput) string {
	switch {
	case in.IsDeleteMarker:
		return bucketpolicy.ActionReplicateDelete
	case in.MetadataOnly:
		return bucketpolicy.ActionReplicateTags
	}
	return bucketpolicy.ActionReplicateObject
}

// bbPutReplica serves PUT replica/BUCKET/KEY.
func (s *Server) bbPutReplica(rq *request, bucket, key string) error {
	ctx := rq.r.Context()
	in, err := replicaHeaders(rq, bucket, key)
	if err != nil {
		return err
	}
	from, owner, err := s.authorizeReplica(ctx, rq, bucket, key, replicaAction(&in))
	if err != nil {
		return err
	}
	in.Owner, in.SourceBucket, in.SourceAccount = owner, from.bucket, from.account
	if in.IsDeleteMarker || in.MetadataOnly {
		if err := bbEmptyBody(rq); err != nil {
			return err
		}
	} else {
		p, err := s.storeBody(rq.body, rq.auth.DecodedLength, bbMaxPutSize)
		if err != nil {
			return err
		}
		in.Parts, in.ETag, in.Size = []store.Part{p}, p.ETag, p.Size
		if len(rq.auth.Trailer) > 0 { // checksums sent as aws-chunked trailers
			if m, err := readObjectMeta(http.Header{}, rq.auth.Trailer); err == nil && len(m.Checksums) > 0 {
				if in.Meta.Checksums == nil {
					in.Meta.Checksums = map[string]string{}
				}
				for k, v := range m.Checksums {
					in.Meta.Checksums[k] = v
				}
			}
		}
	}
	v, err := s.store.PutReplica(ctx, in)
	if err != nil {
		if len(in.Parts) > 0 {
			s.store.RemoveBlobs(in.Parts[0].Blob)
		}
		return err
	}
	writeVersionJSON(rq, v, false)
	return nil
}

// bbEmptyBody refuses a body on a delete-marker or metadata-only replica.
func bbEmptyBody(rq *request) error {
	if rq.auth.DecodedLength > 0 {
		return bbInvalid("A delete-marker or metadata-only replica has no body.")
	}
	n, err := io.Copy(io.Discard, io.LimitReader(rq.body, 1))
	if err != nil {
		return err
	}
	if n > 0 {
		return bbInvalid("A delete-marker or metadata-only replica has no body.")
	}
	return nil
}

// bbCreateUpload serves POST replica/BUCKET/KEY?uploads.
func (s *Server) bbCreateUpload(rq *request, bucket, key string) error {
	ctx := rq.r.Context()
	meta, err := readObjectMeta(rq.r.Header, nil)
	if err != nil {
		return err
	}
	_, owner, err := s.authorizeReplica(ctx, rq, bucket, key, bucketpolicy.ActionReplicateObject)
	if err != nil {
		return err
	}
	up, err := s.store.CreateUpload(ctx, bucket, key, owner, meta)
	if err != nil {
		return err
	}
	writeBackbeatJSON(rq, http.StatusOK, bbproto.UploadBody{UploadID: up.ID})
	return nil
}

// bbPutPart serves PUT replica/BUCKET/KEY?uploadId=U&partNumber=N.
func (s *Server) bbPutPart(rq *request, bucket, key, uploadID string) error {
	ctx := rq.r.Context()
	pn := rq.q.Get("partNumber")
	n, err := strconv.Atoi(pn)
	if err != nil || n < 1 || n > store.MaxPartNumber {
		return bbInvalid("partNumber must be an integer from 1 to %d, not %q.", store.MaxPartNumber, pn)
	}
	if _, err := s.store.GetUpload(ctx, bucket, key, uploadID); err != nil {
		return err // before storing the body: no orphan blob for a missing upload
	}
	p, err := s.storeBody(rq.body, rq.auth.DecodedLength, bbMaxPartSize)
	if err != nil {
		return err
	}
	if err := s.store.PutPart(ctx, bucket, key, uploadID, store.UploadPart{Number: n, Blob: p.Blob, Size: p.Size, ETag: p.ETag}); err != nil {
		s.store.RemoveBlobs(p.Blob)
		return err
	}
	writeBackbeatJSON(rq, http.StatusOK, bbproto.UploadPart{Number: n, ETag: p.ETag, Size: p.Size})
	return nil
}

// bbListParts serves GET replica/BUCKET/KEY?uploadId=U.
func (s *Server) bbListParts(rq *request, bucket, key, uploadID string) error {
	parts, err := s.store.ListParts(rq.r.Context(), bucket, key, uploadID)
	if err != nil {
		return err
	}
	out := bbproto.PartList{UploadID: uploadID, Parts: []bbproto.UploadPart{}}
	for _, p := range parts {
		lm := p.LastModified
		out.Parts = append(out.Parts, bbproto.UploadPart{Number: p.Number, ETag: p.ETag, Size: p.Size, LastModified: &lm})
	}
	writeBackbeatJSON(rq, http.StatusOK, out)
	return nil
}

// bbCompleteUpload serves POST replica/BUCKET/KEY?uploadId=U.
func (s *Server) bbCompleteUpload(rq *request, bucket, key, uploadID string) error {
	ctx := rq.r.Context()
	in, err := replicaHeaders(rq, bucket, key)
	if err != nil {
		return err
	}
	if in.IsDeleteMarker || in.MetadataOnly {
		return bbInvalid("A multipart replica is neither a delete marker nor metadata-only.")
	}
	var body bbproto.CompleteBody
	if err := readBackbeatJSON(rq, &body); err != nil {
		return err
	}
	if len(body.Parts) == 0 {
		return bbInvalid("The body must list the parts: {\"parts\":[{\"number\":1,\"etag\":\"...\"}]}.")
	}
	if e := rq.r.Header.Get(bbproto.HeaderETag); e != "" {
		if !isMD5Hex(e) {
			return bbInvalid("%s must be the single-PUT source's ETag, 32 hex digits, not %q.", bbproto.HeaderETag, e)
		}
		in.ETag = strings.ToLower(e)
	}
	parts := make([]store.CompletePart, len(body.Parts))
	for i, p := range body.Parts {
		parts[i] = store.CompletePart{Number: p.Number, ETag: p.ETag}
	}
	from, owner, err := s.authorizeReplica(ctx, rq, bucket, key, bucketpolicy.ActionReplicateObject)
	if err != nil {
		return err
	}
	in.Owner, in.SourceBucket, in.SourceAccount = owner, from.bucket, from.account
	v, err := s.store.CompleteUpload(ctx, bucket, key, uploadID, parts, &in)
	if err != nil {
		return err
	}
	writeVersionJSON(rq, v, false)
	return nil
}

// isMD5Hex tells whether s is a hex MD5 (a single-PUT object's ETag).
func isMD5Hex(s string) bool {
	if len(s) != 32 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
