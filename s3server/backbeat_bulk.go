package s3server

// The bulk status route, PUT /_/backbeat/status (no bucket nor key in the path): the
// replication engine writes the statuses of a whole batch of versions in one request,
// one store transaction and one fsync. Its wire types are bbproto.BulkStatus*.
//
// Request body (JSON, at most 1 MiB, at most store.MaxStatusUpdates versions):
//
//	{"statuses":[{"bucket":"b","key":"k","versionId":"v","status":"COMPLETED"},
//	             {"bucket":"b","key":"k2","versionId":"v2","status":"FAILED","reason":"..."}]}
//
// Answer 200, one result per status in the request's order:
//
//	{"results":[{"bucket":"b","key":"k","versionId":"v","status":"COMPLETED",
//	             "lastModified":"..."},
//	            {"bucket":"b","key":"k2","versionId":"v2","code":"NoSuchVersion",
//	             "message":"..."}]}
//
// Each version is written exactly as by PUT status/BUCKET/KEY (journaled as op
// "status", its status and pending times kept the same way); a version that cannot be
// written (missing bucket or version, invalid key, status other than COMPLETED, FAILED,
// PROCESSING or PENDING) gets a code and a message (the error codes of the single
// route) and the others are still written. An item with "ifUnset":true (backfill) is
// written only when the version has no replication status and, for PENDING, when an
// Enabled rule selects it; else its code is StatusAlreadySet ("current": the status it
// has) or NoMatchingRule. A body that is not this JSON answers 400
// MalformedJSON, too many statuses 400 InvalidArgument; nothing is written then.

import (
	"errors"
	"net/http"

	"github.com/backbeat-temporal/backbeat/bbproto"

	"github.com/backbeat-temporal/backbeat/s3server/store"
)

// bbSetStatuses serves PUT status (bulk).
func (s *Server) bbSetStatuses(rq *request) error {
	var body bbproto.BulkStatusBody
	if err := readBackbeatJSON(rq, &body); err != nil {
		return err
	}
	if len(body.Statuses) > store.MaxStatusUpdates {
		return bbInvalid("%d statuses in one request, at most %d.", len(body.Statuses), store.MaxStatusUpdates)
	}
	updates := make([]store.StatusUpdate, len(body.Statuses))
	for i, it := range body.Statuses {
		updates[i] = store.StatusUpdate{Bucket: it.Bucket, Key: it.Key, VersionID: it.VersionID, Status: it.Status, Reason: it.Reason, IfUnset: it.IfUnset}
	}
	res, err := s.store.SetReplicationStatuses(rq.r.Context(), updates)
	if err != nil {
		return err
	}
	out := bbproto.BulkStatusAnswer{Results: make([]bbproto.BulkStatusResult, len(res))}
	for i, r := range res {
		it := body.Statuses[i]
		o := bbproto.BulkStatusResult{Bucket: it.Bucket, Key: it.Key, VersionID: it.VersionID}
		var already *store.StatusAlreadySetError
		switch {
		case errors.As(r.Err, &already):
			o.Code, o.Message, o.Current = bbproto.CodeStatusAlreadySet, "The version already has a replication status: nothing was written.", already.Current
		case errors.Is(r.Err, store.ErrNoMatchingRule):
			o.Code, o.Message = bbproto.CodeNoMatchingRule, "No Enabled replication rule of the bucket selects the version: nothing was written."
		case r.Err != nil:
			be := bbFromError(r.Err)
			if be.Status >= 500 {
				be = bbInvalid("%v", r.Err) // an invalid status: the store's own message
			}
			o.Code, o.Message = be.Code, be.Message
		default:
			o.Status, o.LastModified = it.Status, r.Version.LastModified
		}
		out.Results[i] = o
	}
	writeBackbeatJSON(rq, http.StatusOK, out)
	return nil
}
