package s3server

import (
	"net/http"
	"strings"

	"github.com/backbeat-temporal/backbeat/s3server/store"
)

// Object tagging: Get/Put/DeleteObjectTagging, per version.

// maxObjectTaggingBody bounds a PutObjectTagging body (10 tags of at most 128 + 256
// characters, escaped).
const maxObjectTaggingBody = 64 << 10

// getObjectTagging serves GetObjectTagging: the tags of the version (versionId, or the
// latest), with x-amz-version-id.
func (s *Server) getObjectTagging(rq *request) error {
	v, versioning, err := s.requestedVersion(rq)
	if err != nil {
		return err
	}
	setVersionID(rq.w.Header(), versioning, v.VersionID)
	return writeXML(rq, newTagging(v.Meta.Tags))
}

// requestedVersion returns the version rq names (versionId, or the latest) and the
// bucket's versioning; a delete marker is answered as GET answers it (versionError).
func (s *Server) requestedVersion(rq *request) (*store.Version, string, error) {
	vid, err := versionParam(rq.q)
	if err != nil {
		return nil, "", err
	}
	versioning, err := s.bucketVersioning(rq, rq.bucket)
	if err != nil {
		return nil, "", err
	}
	v, err := s.store.GetVersion(rq.r.Context(), rq.bucket, rq.key, vid)
	if err != nil {
		return nil, "", versionError(err, vid != "", versioning)
	}
	return v, versioning, nil
}

// putObjectTagging serves PutObjectTagging: replaces the version's tags (at most 10,
// none under the reserved aws: prefix). The store journals the change and applies the
// bucket's replication policy (a metadata-only PENDING entry when a rule matches).
func (s *Server) putObjectTagging(rq *request) error {
	vid, err := versionParam(rq.q)
	if err != nil {
		return err
	}
	data, err := readBucketBody(rq, maxObjectTaggingBody)
	if err != nil {
		return err
	}
	tags, err := parseTaggingXML(data, maxObjectTags)
	if err != nil {
		return err
	}
	for k := range tags {
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return errf("InvalidTag", http.StatusBadRequest, "System tags cannot be added/updated by requester")
		}
	}
	return s.setObjectTags(rq, vid, tags, http.StatusOK)
}

// deleteObjectTagging serves DeleteObjectTagging: removes the version's tags (204).
func (s *Server) deleteObjectTagging(rq *request) error {
	vid, err := versionParam(rq.q)
	if err != nil {
		return err
	}
	return s.setObjectTags(rq, vid, nil, http.StatusNoContent)
}

// setObjectTags stores tags on version vid of rq.key and answers status with
// x-amz-version-id.
func (s *Server) setObjectTags(rq *request, vid string, tags map[string]string, status int) error {
	versioning, err := s.bucketVersioning(rq, rq.bucket)
	if err != nil {
		return err
	}
	id, err := s.store.PutTags(rq.r.Context(), rq.bucket, rq.key, vid, tags)
	if err != nil {
		return versionError(err, vid != "", versioning)
	}
	setVersionID(rq.w.Header(), versioning, id)
	rq.w.WriteHeader(status)
	return nil
}
