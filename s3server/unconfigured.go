package s3server

import (
	"bytes"
	"encoding/xml"
	"net/http"

	"github.com/backbeat-temporal/backbeat/s3server/store"
)

// Features this server does not offer answer as S3 answers for a bucket where they are
// disabled or unconfigured: ACLs are disabled (Object Ownership "BucketOwnerEnforced",
// S3's default), Object Lock, CORS, lifecycle, website and public access block are not
// configured.

// errACLNotSupported answers a request that sets an ACL other than the bucket owner's
// full control.
var errACLNotSupported = errf("AccessControlListNotSupported", http.StatusBadRequest, "The bucket does not allow ACLs")

// errNoObjectLock answers object retention and legal hold requests.
var errNoObjectLock = errf("InvalidRequest", http.StatusBadRequest, "Bucket is missing Object Lock Configuration")

// checkACLHeaders refuses ACL headers on a write other than the bucket-owner-full-control
// canned ACL (AccessControlListNotSupported), as S3 with ACLs disabled.
func checkACLHeaders(h http.Header) error {
	switch h.Get("x-amz-acl") {
	case "", "bucket-owner-full-control":
	default:
		return errACLNotSupported
	}
	for _, g := range []string{"x-amz-grant-full-control", "x-amz-grant-read", "x-amz-grant-read-acp", "x-amz-grant-write", "x-amz-grant-write-acp"} {
		if h.Get(g) != "" {
			return errACLNotSupported
		}
	}
	return nil
}

// accessControlPolicy is the Get/Put{Bucket,Object}Acl document.
type accessControlPolicy struct {
	XMLName xml.Name        `xml:"AccessControlPolicy"`
	Xmlns   string          `xml:"xmlns,attr,omitempty"`
	Owner   listingOwnerXML `xml:"Owner"`
	Grants  []aclGrant      `xml:"AccessControlList>Grant"`
}

type aclGrant struct {
	Grantee    aclGrantee `xml:"Grantee"`
	Permission string     `xml:"Permission"`
}

type aclGrantee struct {
	XMLNSXSI    string `xml:"xmlns:xsi,attr,omitempty"`
	Type        string `xml:"xsi:type,attr,omitempty"`
	ID          string `xml:"ID,omitempty"`
	DisplayName string `xml:"DisplayName,omitempty"`
	URI         string `xml:"URI,omitempty"`
	Email       string `xml:"EmailAddress,omitempty"`
}

// ownerACL is the only ACL of a bucket or object: the bucket owner's full control.
func ownerACL(owner string) accessControlPolicy {
	return accessControlPolicy{Xmlns: s3Namespace, Owner: *listingOwner(owner), Grants: []aclGrant{{
		Grantee: aclGrantee{XMLNSXSI: "http://www.w3.org/2001/XMLSchema-instance", Type: "CanonicalUser",
			ID: owner, DisplayName: owner},
		Permission: "FULL_CONTROL",
	}}}
}

// getBucketACL serves GetBucketAcl: the owner's full control.
func (s *Server) getBucketACL(rq *request) error {
	b, err := s.store.GetBucket(rq.r.Context(), rq.bucket)
	if err != nil {
		return err
	}
	return writeXML(rq, ownerACL(b.Owner))
}

// getObjectACL serves GetObjectAcl: the bucket owner's full control (the version must
// exist; a delete marker answers as GET does).
func (s *Server) getObjectACL(rq *request) error {
	b, err := s.store.GetBucket(rq.r.Context(), rq.bucket)
	if err != nil {
		return err
	}
	v, versioning, err := s.requestedVersion(rq)
	if err != nil {
		return err
	}
	setVersionID(rq.w.Header(), versioning, v.VersionID)
	return writeXML(rq, ownerACL(b.Owner))
}

// putBucketACL serves PutBucketAcl: only the owner's full control is accepted (the
// "private" canned ACL, or a document granting nothing else), and changes nothing.
func (s *Server) putBucketACL(rq *request) error {
	return s.putACL(rq, "private")
}

// putObjectACL serves PutObjectAcl like putBucketACL, for an existing version.
func (s *Server) putObjectACL(rq *request) error {
	if _, _, err := s.requestedVersion(rq); err != nil {
		return err
	}
	return s.putACL(rq, "bucket-owner-full-control")
}

// putACL accepts an ACL that grants only the bucket owner full control: the canned ACL
// canned (or bucket-owner-full-control), or an AccessControlPolicy body saying so.
func (s *Server) putACL(rq *request, canned string) error {
	b, err := s.store.GetBucket(rq.r.Context(), rq.bucket)
	if err != nil {
		return err
	}
	data, err := readBucketBody(rq, maxBucketConfigBody)
	if err != nil {
		return err
	}
	if acl := rq.r.Header.Get("x-amz-acl"); acl != "" {
		if (acl != canned && acl != "bucket-owner-full-control") || len(bytes.TrimSpace(data)) > 0 {
			return errACLNotSupported
		}
		rq.w.WriteHeader(http.StatusOK)
		return nil
	}
	if err := checkACLHeaders(rq.r.Header); err != nil {
		return err
	}
	var p accessControlPolicy
	if err := xml.Unmarshal(data, &p); err != nil {
		return errMalformedXML
	}
	if !ownerOnly(p, b) {
		return errACLNotSupported
	}
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

// ownerOnly tells whether p grants only the owner of b full control.
func ownerOnly(p accessControlPolicy, b *store.Bucket) bool {
	for _, g := range p.Grants {
		if g.Grantee.ID != b.Owner || g.Permission != "FULL_CONTROL" {
			return false
		}
	}
	return true
}

// ownershipControls is the GetBucketOwnershipControls answer.
type ownershipControls struct {
	XMLName         xml.Name `xml:"OwnershipControls"`
	Xmlns           string   `xml:"xmlns,attr"`
	ObjectOwnership string   `xml:"Rule>ObjectOwnership"`
}

// getBucketOwnershipControls serves GetBucketOwnershipControls: BucketOwnerEnforced.
func (s *Server) getBucketOwnershipControls(rq *request) error {
	return writeXML(rq, ownershipControls{Xmlns: s3Namespace, ObjectOwnership: "BucketOwnerEnforced"})
}

// notConfigured returns a handler answering err: a bucket configuration S3 reports as
// absent (404 with its own code) or an object feature the bucket lacks.
func notConfigured(err *apiError) handlerFunc {
	return func(*Server, *request) error { return err }
}

// Answers for configurations no bucket has.
var (
	errNoObjectLockConfig = errf("ObjectLockConfigurationNotFoundError", http.StatusNotFound, "Object Lock configuration does not exist for this bucket")
	errNoCORS             = errf("NoSuchCORSConfiguration", http.StatusNotFound, "The CORS configuration does not exist")
	errNoLifecycle        = errf("NoSuchLifecycleConfiguration", http.StatusNotFound, "The lifecycle configuration does not exist")
	errNoWebsite          = errf("NoSuchWebsiteConfiguration", http.StatusNotFound, "The specified bucket does not have a website configuration")
	errNoPublicAccess     = errf("NoSuchPublicAccessBlockConfiguration", http.StatusNotFound, "The public access block configuration was not found")
)
