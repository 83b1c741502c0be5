package s3server

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/backbeat-temporal/backbeat/s3server/sigv4"
)

// request is one API call being served: the verified identity, the parsed target and the
// response writer. Handlers read the body from rq.body (verified by sigv4), never r.Body.
type request struct {
	w       http.ResponseWriter
	r       *http.Request
	id      string
	account *Account // nil for an anonymous request
	auth    *sigv4.Result
	body    io.ReadCloser
	bucket  string
	key     string
	q       url.Values
}

// handlerFunc serves one operation; a returned error is answered as S3 XML.
type handlerFunc func(s *Server, rq *request) error

// backbeatPrefix is the path of the privileged routes.
const backbeatPrefix = "/_/backbeat/"

// plainParams are query parameters that select no subresource (list options, version
// ids, presigned-URL auth, SDK hints...). Any other query parameter names a subresource.
var plainParams = map[string]bool{
	"versionId": true, "partNumber": true, "uploadId": true, "x-id": true,
	"prefix": true, "delimiter": true, "max-keys": true, "marker": true, "encoding-type": true,
	"list-type": true, "continuation-token": true, "start-after": true, "fetch-owner": true,
	"key-marker": true, "version-id-marker": true, "max-uploads": true, "upload-id-marker": true,
	"part-number-marker": true, "max-parts": true, "allow-unordered": true,
	"response-content-type": true, "response-content-language": true, "response-expires": true,
	"response-cache-control": true, "response-content-disposition": true, "response-content-encoding": true,
	"X-Amz-Algorithm": true, "X-Amz-Credential": true, "X-Amz-Date": true, "X-Amz-Expires": true,
	"X-Amz-SignedHeaders": true, "X-Amz-Signature": true, "X-Amz-Security-Token": true,
	"X-Amz-Content-Sha256": true, "x-amz-checksum-mode": true,
	"max-buckets": true, "bucket-region": true, // ListBuckets
}

// route picks the handler for a method and the subresource named in the query. Unknown
// subresources answer NotImplemented: never fall through to another operation.
// needsBucket is false only for ListBuckets and CreateBucket.
func route(method, bucket, key string, q url.Values) (h handlerFunc, needsBucket bool) {
	h = routeHandler(method, bucket, key, q)
	create := key == "" && method == http.MethodPut && len(q) == 0
	return h, bucket != "" && !create
}

func routeHandler(method, bucket, key string, q url.Values) handlerFunc {
	sub := ""
	for p := range q {
		if plainParams[p] {
			continue
		}
		if sub != "" { // two subresources in one request
			return nil
		}
		sub = p
	}
	_, hasUploadID := q["uploadId"]
	switch {
	case bucket == "":
		if method == http.MethodGet && sub == "" {
			return (*Server).listBuckets
		}
		return nil
	case key == "":
		return bucketRoutes[method+" "+sub]
	case sub == "" && hasUploadID:
		return uploadRoutes[method]
	default:
		return objectRoutes[method+" "+sub]
	}
}

// bucketRoutes maps "METHOD subresource" on a bucket to its handler.
var bucketRoutes = map[string]handlerFunc{
	"PUT ":               (*Server).createBucket,
	"HEAD ":              (*Server).headBucket,
	"DELETE ":            (*Server).deleteBucket,
	"GET ":               (*Server).listObjects, // v1, or v2 with list-type=2
	"GET versions":       (*Server).listObjectVersions,
	"GET uploads":        (*Server).listMultipartUploads,
	"GET versioning":     (*Server).getBucketVersioning,
	"PUT versioning":     (*Server).putBucketVersioning,
	"GET replication":    (*Server).getBucketReplication,
	"PUT replication":    (*Server).putBucketReplication,
	"DELETE replication": (*Server).deleteBucketReplication,
	"GET tagging":        (*Server).getBucketTagging,
	"PUT tagging":        (*Server).putBucketTagging,
	"DELETE tagging":     (*Server).deleteBucketTagging,
	"GET location":       (*Server).getBucketLocation,
	"GET policy":         (*Server).getBucketPolicy,
	"PUT policy":         (*Server).putBucketPolicy,
	"DELETE policy":      (*Server).deleteBucketPolicy,
	"POST delete":        (*Server).deleteObjects,
}

// objectRoutes maps "METHOD subresource" on an object to its handler.
var objectRoutes = map[string]handlerFunc{
	"PUT ":           (*Server).putObject, // or CopyObject with x-amz-copy-source
	"GET ":           (*Server).getObject,
	"HEAD ":          (*Server).headObject,
	"DELETE ":        (*Server).deleteObject,
	"GET tagging":    (*Server).getObjectTagging,
	"PUT tagging":    (*Server).putObjectTagging,
	"DELETE tagging": (*Server).deleteObjectTagging,
	"POST uploads":   (*Server).createMultipartUpload,
}

// uploadRoutes maps methods on an object with ?uploadId= to multipart handlers.
var uploadRoutes = map[string]handlerFunc{
	"PUT":    (*Server).uploadPart, // or UploadPartCopy with x-amz-copy-source
	"GET":    (*Server).listParts,
	"POST":   (*Server).completeMultipartUpload,
	"DELETE": (*Server).abortMultipartUpload,
}

// serveHTTP authenticates, routes and answers errors.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	rq := &request{w: w, r: r, id: newRequestID(), q: r.URL.Query()}
	w.Header().Set("x-amz-request-id", rq.id)
	w.Header().Set("Server", "backbeat-s3server")
	err := s.serve(rq)
	if err != nil {
		s.writeError(rq, err)
	}
	if rq.body != nil {
		rq.body.Close()
	}
}

func (s *Server) serve(rq *request) error {
	res, err := s.verifier.Verify(rq.r)
	if err != nil {
		return err
	}
	rq.auth, rq.body = res, res.Body
	if !res.Anonymous {
		a := s.accounts[res.AccessKey]
		rq.account = &a
	}
	if rq.account == nil {
		return errAccessDenied // no anonymous access to anything
	}
	path := rq.r.URL.Path
	if strings.HasPrefix(path, backbeatPrefix) {
		if !rq.account.Replication {
			return errAccessDenied
		}
		return s.serveBackbeat(rq, strings.TrimPrefix(path, backbeatPrefix))
	}
	rq.bucket, rq.key = splitPath(path)
	h, needsBucket := route(rq.r.Method, rq.bucket, rq.key, rq.q)
	if h == nil {
		if rq.bucket != "" && !s.knownMethod(rq.r.Method) {
			return errMethodNotAllowed
		}
		return errNotImplemented
	}
	if needsBucket {
		if err := s.authorizeBucket(rq); err != nil {
			return err
		}
	} else if rq.bucket != "" && rq.account.Replication {
		return errAccessDenied // the replication identity creates no bucket
	}
	return h(s, rq)
}

func (s *Server) knownMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPost, http.MethodDelete:
		return true
	}
	return false
}

// authorizeBucket checks that rq.bucket exists and that the caller owns it; the
// replication identity may only read object versions of buckets that have a replication
// configuration (replicationMayRead).
func (s *Server) authorizeBucket(rq *request) error {
	b, err := s.store.GetBucket(rq.r.Context(), rq.bucket)
	if err != nil {
		return err
	}
	switch {
	case b.Owner == rq.account.Name:
		return nil
	case rq.account.Replication && len(b.ReplicationConfig) > 0 && replicationMayRead(rq):
		return nil
	}
	return errAccessDenied
}

// splitPath splits a path-style URL path into bucket and key.
func splitPath(p string) (bucket, key string) {
	p = strings.TrimPrefix(p, "/")
	bucket, key, _ = strings.Cut(p, "/")
	return bucket, key
}

// writeError answers err as an S3 XML error (no body for HEAD).
func (s *Server) writeError(rq *request, err error) {
	ae := toAPIError(err)
	if ae == errInternal {
		s.log.Error("internal error", "method", rq.r.Method, "path", rq.r.URL.Path, "requestId", rq.id, "err", err)
	} else {
		s.log.Debug("request refused", "method", rq.r.Method, "path", rq.r.URL.Path, "code", ae.Code, "err", err)
	}
	h := rq.w.Header()
	for k, v := range ae.Headers {
		h.Set(k, v)
	}
	if rq.r.Method == http.MethodHead {
		rq.w.WriteHeader(ae.Status)
		return
	}
	h.Set("Content-Type", "application/xml")
	rq.w.WriteHeader(ae.Status)
	io.WriteString(rq.w, xml.Header)
	xml.NewEncoder(rq.w).Encode(errorBody{Code: ae.Code, Message: ae.Message, Resource: rq.r.URL.Path, RequestID: rq.id})
}

// writeXML answers 200 with an XML document.
func writeXML(rq *request, v any) error {
	data, err := xml.Marshal(v)
	if err != nil {
		return errors.Join(errInternal, err)
	}
	rq.w.Header().Set("Content-Type", "application/xml")
	rq.w.WriteHeader(http.StatusOK)
	io.WriteString(rq.w, xml.Header)
	rq.w.Write(data) // the status is sent: a write error is the client's going away
	return nil
}

// readXML decodes an XML request body of at most limit bytes into v (MalformedXML when
// it does not parse).
func readXML(rq *request, limit int64, v any) error {
	data, err := io.ReadAll(io.LimitReader(rq.body, limit+1))
	if err != nil {
		return err
	}
	if int64(len(data)) > limit {
		return errf("MalformedXML", http.StatusBadRequest, "The XML you provided was larger than the maximum of %d bytes.", limit)
	}
	if err := xml.Unmarshal(data, v); err != nil {
		return errMalformedXML
	}
	return nil
}

func newRequestID() string {
	var b [8]byte
	rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}
