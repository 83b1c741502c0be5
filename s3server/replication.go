package s3server

import (
	"net/http"

	"github.com/backbeat-temporal/backbeat/s3server/replconf"
	"github.com/backbeat-temporal/backbeat/s3server/store"
)

// putBucketReplication validates the configuration (replconf.Parse) and stores it as
// GetBucketReplication will answer it (rendered by Config.XML, with the IDs generated
// for rules that had none). The bucket's versioning must be Enabled.
func (s *Server) putBucketReplication(rq *request) error {
	data, err := readBucketBody(rq, maxReplicationBody)
	if err != nil {
		return err
	}
	c, err := replconf.Parse(data)
	if err != nil {
		return err
	}
	doc, err := c.XML()
	if err != nil {
		return err
	}
	_, err = s.store.UpdateBucket(rq.r.Context(), rq.bucket, func(b *store.Bucket) error {
		if b.Versioning != store.VersioningEnabled {
			return store.ErrVersioningNotEnabled
		}
		b.ReplicationConfig = doc
		return nil
	})
	if err != nil {
		return err
	}
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) getBucketReplication(rq *request) error {
	b, err := s.store.GetBucket(rq.r.Context(), rq.bucket)
	if err != nil {
		return err
	}
	if len(b.ReplicationConfig) == 0 {
		return store.ErrNoReplicationConfig
	}
	rq.w.Header().Set("Content-Type", "application/xml")
	rq.w.WriteHeader(http.StatusOK)
	rq.w.Write(b.ReplicationConfig) // the status is sent: a write error is the client's going away
	return nil
}

func (s *Server) deleteBucketReplication(rq *request) error {
	_, err := s.store.UpdateBucket(rq.r.Context(), rq.bucket, func(b *store.Bucket) error {
		b.ReplicationConfig = nil
		return nil
	})
	if err != nil {
		return err
	}
	return writeStatusNoContent(rq)
}
