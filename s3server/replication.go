package s3server

import (
	"net/http"

	"github.com/backbeat-temporal/backbeat/s3server/replconf"
	"github.com/backbeat-temporal/backbeat/s3server/store"
)

// putBucketReplication validates the configuration (replconf.Parse) and stores it as
// GetBucketReplication will answer it (rendered by Config.XML, with the IDs generated
// for rules that had none). The bucket's versioning must be Enabled, and every local
// destination must be acceptable (checkDestinations).
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
	src, err := s.store.GetBucket(rq.r.Context(), rq.bucket)
	if err != nil {
		return err
	}
	if src.Versioning != store.VersioningEnabled {
		return store.ErrVersioningNotEnabled
	}
	if err := s.checkDestinations(rq.r.Context(), rq.bucket, rq.account.Name, c); err != nil {
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
	return s.clearBucketConfig(rq, func(b *store.Bucket) { b.ReplicationConfig = nil })
}

// clearBucketConfig removes a configuration of rq.bucket with clear and answers 204.
func (s *Server) clearBucketConfig(rq *request, clear func(b *store.Bucket)) error {
	_, err := s.store.UpdateBucket(rq.r.Context(), rq.bucket, func(b *store.Bucket) error {
		clear(b)
		return nil
	})
	if err != nil {
		return err
	}
	return writeStatusNoContent(rq)
}
