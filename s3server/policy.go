package s3server

// Tenant isolation on the replication path: bucket policies (the replication grants a
// destination owner gives other accounts), the checks of PutBucketReplication, the
// consent checked at every replica write, and what the replication identity may do on
// the ordinary S3 routes.

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/backbeat-temporal/backbeat/bbproto/bucketpolicy"
	"github.com/backbeat-temporal/backbeat/s3server/replconf"
	"github.com/backbeat-temporal/backbeat/s3server/store"

	"github.com/backbeat-temporal/backbeat/bbproto/replrule"
)

var errNoSuchBucketPolicy = &apiError{Code: "NoSuchBucketPolicy", Status: http.StatusNotFound, Message: "The bucket policy does not exist"}

// putBucketPolicy validates (bucketpolicy.Parse) and stores the policy as sent: 204.
func (s *Server) putBucketPolicy(rq *request) error {
	data, err := readBucketBody(rq, bucketpolicy.MaxSize)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Code == "MalformedXML" {
			return errf("MalformedPolicy", http.StatusBadRequest, "Policies must be at most %d bytes.", bucketpolicy.MaxSize)
		}
		return err
	}
	if _, err := bucketpolicy.Parse(data, rq.bucket); err != nil {
		return err
	}
	_, err = s.store.UpdateBucket(rq.r.Context(), rq.bucket, func(b *store.Bucket) error {
		b.Policy = data
		return nil
	})
	if err != nil {
		return err
	}
	return writeStatusNoContent(rq)
}

// getBucketPolicy answers the stored policy JSON (404 NoSuchBucketPolicy when none).
func (s *Server) getBucketPolicy(rq *request) error {
	b, err := s.store.GetBucket(rq.r.Context(), rq.bucket)
	if err != nil {
		return err
	}
	if len(b.Policy) == 0 {
		return errNoSuchBucketPolicy
	}
	rq.w.Header().Set("Content-Type", "application/json")
	rq.w.WriteHeader(http.StatusOK)
	rq.w.Write(b.Policy) // the status is sent: a write error is the client's going away
	return nil
}

// deleteBucketPolicy removes the policy: 204 (also when there was none, as S3).
func (s *Server) deleteBucketPolicy(rq *request) error {
	return s.clearBucketConfig(rq, func(b *store.Bucket) { b.Policy = nil })
}

// accountNames are the names a policy may use for account: its name and, when the
// accounts file gives one, its 12-digit id.
func (s *Server) accountNames(account string) []string {
	names := []string{account}
	for _, a := range s.accounts {
		if a.Name == account && a.ID != "" {
			names = append(names, a.ID)
		}
	}
	return names
}

// consentError is a replication refused by the destination bucket's owner.
type consentError struct {
	msg string
}

func (e *consentError) Error() string { return e.msg }

// checkConsent tells whether account may replicate (action: bucketpolicy.Action*) key
// into dst ("" for the bucket as a whole): it owns dst, or dst's policy allows it and
// denies nothing. The refusal is a *consentError naming the statement to add.
func (s *Server) checkConsent(dst *store.Bucket, account, action, key string) error {
	if dst.Owner == account {
		return nil
	}
	var (
		d   bucketpolicy.Decision
		sid string
	)
	if len(dst.Policy) > 0 {
		p, err := bucketpolicy.Parse(dst.Policy, dst.Name)
		if err != nil {
			return fmt.Errorf("the stored policy of bucket %s does not parse: %w", dst.Name, err)
		}
		d, sid = p.Evaluate(s.accountNames(account), action, key)
	}
	switch d {
	case bucketpolicy.Allowed:
		return nil
	case bucketpolicy.Denied:
		return &consentError{msg: fmt.Sprintf("Access Denied: the policy of bucket %s denies %s to account %s (statement %q): its owner must remove that Deny to receive replicas from %s", dst.Name, action, account, sid, account)}
	}
	return &consentError{msg: fmt.Sprintf("Access Denied: bucket %s belongs to another account and its policy does not grant %s to account %s: its owner must add to the bucket policy the statement %s", dst.Name, action, account, bucketpolicy.GrantExample(dst.Name, account))}
}

// standardStorageClasses are S3 storage classes: a rule naming one (or none) keeps its
// destination on this server; any other StorageClass names a site of the engine, another
// endpoint.
var standardStorageClasses = map[string]bool{
	"STANDARD": true, "REDUCED_REDUNDANCY": true, "STANDARD_IA": true, "ONEZONE_IA": true,
	"INTELLIGENT_TIERING": true, "GLACIER": true, "DEEP_ARCHIVE": true, "GLACIER_IR": true,
	"OUTPOSTS": true, "EXPRESS_ONEZONE": true,
}

// checkDestinations checks every rule of c put on bucket src by account: a local
// destination (no site in StorageClass) must exist, differ from src, have versioning
// Enabled and be owned by account or grant it s3:ReplicateObject. A destination on
// another site is checked there, at each replica write.
func (s *Server) checkDestinations(ctx context.Context, src, account string, c *replconf.Config) error {
	for _, r := range c.Rules {
		if r.StorageClass != "" && !standardStorageClasses[r.StorageClass] {
			continue
		}
		name, _ := replrule.ParseBucketARN(r.DestinationBucket) // valid: Parse checked it
		if name == src {
			return errf("InvalidRequest", http.StatusBadRequest, "Destination bucket cannot be the same as the source bucket (rule %q: %s).", r.ID, r.DestinationBucket)
		}
		b, err := s.store.GetBucket(ctx, name)
		if errors.Is(err, store.ErrNoSuchBucket) {
			return errf("InvalidRequest", http.StatusBadRequest, "Destination bucket must exist: rule %q names %s, which does not exist on this server (a bucket on another endpoint needs the engine's site name as the rule's StorageClass).", r.ID, r.DestinationBucket)
		}
		if err != nil {
			return err
		}
		if err := s.checkConsent(b, account, bucketpolicy.ActionReplicateObject, ""); err != nil {
			var ce *consentError
			if errors.As(err, &ce) {
				return errf("AccessDenied", http.StatusForbidden, "Rule %q: %s", r.ID, ce.msg)
			}
			return err
		}
		if b.Versioning != store.VersioningEnabled {
			return errf("InvalidRequest", http.StatusBadRequest, "Destination bucket must have versioning enabled (rule %q: %s).", r.ID, r.DestinationBucket)
		}
	}
	return nil
}

// replicationMayRead tells whether the replication identity may make the ordinary S3
// request rq on a bucket with a replication configuration: the reads the engine does on
// source versions (GET/HEAD of an object, with versionId, Range or partNumber, and GET
// ?tagging) and ListObjectVersions (GET ?versions: the s3:ListBucket an AWS replication
// role has, used to order versions for plain-S3 targets), nothing else.
func replicationMayRead(rq *request) bool {
	m := rq.r.Method
	if _, ok := rq.q["uploadId"]; ok {
		return false
	}
	sub := "" // the subresource named in the query, if any
	for p := range rq.q {
		if !plainParams[p] {
			if sub != "" {
				return false
			}
			sub = p
		}
	}
	if rq.key == "" { // ListObjectVersions only
		return m == http.MethodGet && sub == "versions"
	}
	return (m == http.MethodGet && (sub == "" || sub == "tagging")) || (m == http.MethodHead && sub == "")
}
