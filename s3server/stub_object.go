package s3server

// PLACEHOLDER owned by the object-handlers helper: replace with real handlers in
// object.go, multipart.go, backbeat.go, ... and delete this file.

func (s *Server) putObject(rq *request) error               { return errNotImplemented }
func (s *Server) getObject(rq *request) error               { return errNotImplemented }
func (s *Server) headObject(rq *request) error              { return errNotImplemented }
func (s *Server) deleteObject(rq *request) error            { return errNotImplemented }
func (s *Server) getObjectTagging(rq *request) error        { return errNotImplemented }
func (s *Server) putObjectTagging(rq *request) error        { return errNotImplemented }
func (s *Server) deleteObjectTagging(rq *request) error     { return errNotImplemented }
func (s *Server) createMultipartUpload(rq *request) error   { return errNotImplemented }
func (s *Server) uploadPart(rq *request) error              { return errNotImplemented }
func (s *Server) listParts(rq *request) error               { return errNotImplemented }
func (s *Server) completeMultipartUpload(rq *request) error { return errNotImplemented }
func (s *Server) abortMultipartUpload(rq *request) error    { return errNotImplemented }
