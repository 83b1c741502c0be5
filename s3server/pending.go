package s3server

// The privileged routes that find and re-drive versions whose replication waits (the
// engine's sweeper and `starter redrive` use them; see store.ListPending, store.Redrive):
//
//	route (after /_/backbeat/)                           answer
//	---------------------------------------------------  ----------------------------------------
//	GET    pending?bucket=B&prefix=P&olderThan=D         200 application/json bbproto.PendingPage:
//	         &after=CURSOR&limit=N                       {"versions":[{bucket,key,versionId,
//	                                                     isDeleteMarker,lastModified,status,
//	                                                     statusTime,since}],"oldest":{bucket:
//	                                                     time},"waiting":{bucket:n},"scanned":n,
//	                                                     "next":"CURSOR"}
//	POST   redrive                                       200 {"results":[{bucket,key,versionId,
//	         body {"versions":[{bucket,key,versionId,    outcome: redriven|changed|gone}]}
//	         statusTime}]}
//
// pending lists the PENDING and PROCESSING versions whose status was written at least
// olderThan ago (a Go duration; default 0: all), of bucket (default: every bucket) under
// prefix (needs bucket), at most limit per page (default 1000, at most 10000) and at most
// 100000 waiting versions examined per request (read from the store's index of waiting
// versions: the cost follows them, not the bucket's size): a page may be short, or
// empty, and still have a next cursor; the listing is done when next is absent. oldest
// and waiting describe every waiting version the page examined, whatever their age (the
// oldest-PENDING metric).
//
// redrive journals PENDING again on each listed version (at most 1000, one transaction)
// that still waits with the statusTime sent, so ingest carries it through the engine
// again; the others are left alone ("changed": done or re-driven meanwhile; "gone").

import (
	"github.com/backbeat-temporal/backbeat/bbproto"

	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/backbeat-temporal/backbeat/s3server/store"
)

// bbPending serves GET pending.
func (s *Server) bbPending(rq *request) error {
	o := store.PendingOptions{Bucket: rq.q.Get("bucket"), Prefix: rq.q.Get("prefix"), After: rq.q.Get("after")}
	if o.Prefix != "" && o.Bucket == "" {
		return bbInvalid("prefix needs bucket.")
	}
	if v := rq.q.Get("olderThan"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return bbInvalid("olderThan must be a non-negative Go duration such as 15m, not %q.", v)
		}
		o.OlderThan = d
	}
	if v := rq.q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return bbInvalid("limit must be a positive integer (at most %d is used), not %q.", store.MaxPendingLimit, v)
		}
		o.Limit = min(n, store.MaxPendingLimit)
	}
	page, err := s.store.ListPending(rq.r.Context(), o)
	if errors.Is(err, store.ErrInvalidCursor) {
		return bbInvalid("after must be the next cursor of a previous answer: %v.", err)
	}
	if err != nil {
		return err
	}
	writeBackbeatJSON(rq, http.StatusOK, page)
	return nil
}

// bbRedrive serves POST redrive.
func (s *Server) bbRedrive(rq *request) error {
	var body struct {
		Versions []bbproto.RedriveRef `json:"versions"`
	}
	if err := readBackbeatJSON(rq, &body); err != nil {
		return err
	}
	if len(body.Versions) > bbproto.MaxRedrive {
		return bbInvalid("At most %d versions per redrive request, not %d.", bbproto.MaxRedrive, len(body.Versions))
	}
	res, err := s.store.Redrive(rq.r.Context(), body.Versions)
	if err != nil {
		return err
	}
	writeBackbeatJSON(rq, http.StatusOK, map[string]any{"results": res})
	return nil
}
