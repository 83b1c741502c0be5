package s3server

// PLACEHOLDER owned by the bucket-handlers helper: replace with real handlers in
// bucket.go, list.go, replication.go, ... and delete this file.

func (s *Server) listBuckets(rq *request) error             { return errNotImplemented }
func (s *Server) createBucket(rq *request) error            { return errNotImplemented }
func (s *Server) headBucket(rq *request) error              { return errNotImplemented }
func (s *Server) deleteBucket(rq *request) error            { return errNotImplemented }
func (s *Server) listObjects(rq *request) error             { return errNotImplemented }
func (s *Server) listObjectVersions(rq *request) error      { return errNotImplemented }
func (s *Server) listMultipartUploads(rq *request) error    { return errNotImplemented }
func (s *Server) getBucketVersioning(rq *request) error     { return errNotImplemented }
func (s *Server) putBucketVersioning(rq *request) error     { return errNotImplemented }
func (s *Server) getBucketReplication(rq *request) error    { return errNotImplemented }
func (s *Server) putBucketReplication(rq *request) error    { return errNotImplemented }
func (s *Server) deleteBucketReplication(rq *request) error { return errNotImplemented }
func (s *Server) getBucketTagging(rq *request) error        { return errNotImplemented }
func (s *Server) putBucketTagging(rq *request) error        { return errNotImplemented }
func (s *Server) deleteBucketTagging(rq *request) error     { return errNotImplemented }
func (s *Server) getBucketLocation(rq *request) error       { return errNotImplemented }
func (s *Server) deleteObjects(rq *request) error           { return errNotImplemented }
