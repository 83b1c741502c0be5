package s3server

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/backbeat-temporal/backbeat/s3server/store"
)

// Bucket-level request bodies are small documents: their size limits.
const (
	maxBucketConfigBody = 64 << 10 // CreateBucketConfiguration, versioning, tagging
	maxReplicationBody  = 2 << 20  // up to 1000 replication rules
	maxDeleteBody       = 4 << 20  // up to 1000 keys of up to 1024 bytes, escaped
)

// xmlTimestamp renders a time as S3 does in XML documents: RFC 3339, UTC, milliseconds.
func xmlTimestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// listingETagXML is an ETag element of a listing: quoted, with the quotes written &quot; as S3
// writes them (encoding/xml would write &#34;).
type listingETagXML struct {
	Inner string `xml:",innerxml"`
}

// listingETag renders an unquoted ETag as S3 shows it in XML.
func listingETag(etag string) *listingETagXML {
	var b strings.Builder
	xml.EscapeText(&b, []byte(etag)) // hex digits and '-': escaping is only a safeguard
	return &listingETagXML{Inner: "&quot;" + b.String() + "&quot;"}
}

// listingOwnerXML is the Owner (and Initiator) element of listings: ID and DisplayName are
// the account name.
type listingOwnerXML struct {
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName"`
}

func listingOwner(account string) *listingOwnerXML {
	return &listingOwnerXML{ID: account, DisplayName: account}
}

// writeStatusNoContent answers 204 No Content.
func writeStatusNoContent(rq *request) error {
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}

// readBucketBody reads a request body of at most limit bytes and checks its Content-MD5
// when one was sent (S3 requires it, or a checksum, on some bucket operations; we accept
// requests without).
func readBucketBody(rq *request, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(rq.body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, errf("MalformedXML", http.StatusBadRequest, "The XML you provided was larger than the maximum of %d bytes.", limit)
	}
	if sum := rq.r.Header.Get("Content-MD5"); sum != "" {
		want, err := base64.StdEncoding.DecodeString(sum)
		if err != nil || len(want) != md5.Size {
			return nil, errf("InvalidDigest", http.StatusBadRequest, "The Content-MD5 you specified was invalid.")
		}
		got := md5.Sum(data)
		if !bytes.Equal(got[:], want) {
			return nil, errf("BadDigest", http.StatusBadRequest, "The Content-MD5 you specified did not match what we received.")
		}
	}
	return data, nil
}

// validBucketName applies S3's naming rules for new buckets.
func validBucketName(name string) bool {
	if len(name) < 3 || len(name) > 63 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
	if !alnum(name[0]) || !alnum(name[len(name)-1]) {
		return false
	}
	if strings.Contains(name, "..") || strings.Contains(name, ".-") || strings.Contains(name, "-.") {
		return false
	}
	if ip := net.ParseIP(name); ip != nil {
		return false
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return false
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, s) {
			return false
		}
	}
	return true
}

// listAllMyBucketsResult is the ListBuckets answer.
type listAllMyBucketsResult struct {
	XMLName xml.Name `xml:"ListAllMyBucketsResult"`
	Xmlns   string   `xml:"xmlns,attr"`
	Buckets struct {
		Bucket []bucketXML `xml:"Bucket"`
	} `xml:"Buckets"`
	Owner             *listingOwnerXML `xml:"Owner"`
	ContinuationToken string           `xml:"ContinuationToken,omitempty"`
	Prefix            string           `xml:"Prefix,omitempty"`
}

type bucketXML struct {
	Name         string `xml:"Name"`
	CreationDate string `xml:"CreationDate"`
	BucketRegion string `xml:"BucketRegion"`
}

// listBuckets answers the caller's buckets (every bucket for the replication identity),
// with the max-buckets, continuation-token and prefix options of ListBuckets.
func (s *Server) listBuckets(rq *request) error {
	maxBuckets := 10000
	if v := rq.q.Get("max-buckets"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return errf("InvalidArgument", http.StatusBadRequest, "max-buckets must be an integer between 1 and 10000")
		}
		maxBuckets = n
	}
	after := ""
	if tok := rq.q.Get("continuation-token"); tok != "" {
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil {
			return errf("InvalidArgument", http.StatusBadRequest, "The continuation token provided is incorrect")
		}
		after = string(raw)
	}
	prefix := rq.q.Get("prefix")
	all, err := s.store.ListBuckets(rq.r.Context())
	if err != nil {
		return err
	}
	if r := rq.q.Get("bucket-region"); r != "" && r != s.cfg.Region {
		all = nil // every bucket here is in the server's region
	}
	res := listAllMyBucketsResult{Xmlns: s3Namespace, Owner: listingOwner(rq.account.Name), Prefix: prefix}
	res.Buckets.Bucket = []bucketXML{}
	for _, b := range all {
		visible := b.Owner == rq.account.Name || (rq.account.Replication && len(b.ReplicationConfig) > 0)
		if !visible || b.Name <= after || !strings.HasPrefix(b.Name, prefix) {
			continue
		}
		if len(res.Buckets.Bucket) == maxBuckets {
			last := res.Buckets.Bucket[maxBuckets-1].Name
			res.ContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(last))
			break
		}
		res.Buckets.Bucket = append(res.Buckets.Bucket, bucketXML{Name: b.Name, CreationDate: xmlTimestamp(b.Created), BucketRegion: s.cfg.Region})
	}
	return writeXML(rq, res)
}

// createBucketConfiguration is the optional CreateBucket body.
type createBucketConfiguration struct {
	XMLName            xml.Name `xml:"CreateBucketConfiguration"`
	LocationConstraint string   `xml:"LocationConstraint"`
}

func (s *Server) createBucket(rq *request) error {
	if !validBucketName(rq.bucket) {
		return errf("InvalidBucketName", http.StatusBadRequest, "The specified bucket is not valid.")
	}
	data, err := readBucketBody(rq, maxBucketConfigBody)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(data)) > 0 {
		var cfg createBucketConfiguration
		if err := xml.Unmarshal(data, &cfg); err != nil {
			return errMalformedXML
		}
		if lc := cfg.LocationConstraint; lc != "" && lc != s.cfg.Region {
			return errf("IllegalLocationConstraintException", http.StatusBadRequest, "The %s location constraint is incompatible for the region specific endpoint this request was sent to.", lc)
		}
	}
	if strings.EqualFold(rq.r.Header.Get("x-amz-bucket-object-lock-enabled"), "true") {
		return errf("NotImplemented", http.StatusNotImplemented, "Object Lock is not supported by this server.")
	}
	if _, err := s.store.CreateBucket(rq.r.Context(), rq.bucket, rq.account.Name); err != nil {
		return err
	}
	rq.w.Header().Set("Location", "/"+rq.bucket)
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) headBucket(rq *request) error {
	rq.w.Header().Set("x-amz-bucket-region", s.cfg.Region)
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) deleteBucket(rq *request) error {
	if err := s.store.DeleteBucket(rq.r.Context(), rq.bucket); err != nil {
		return err
	}
	return writeStatusNoContent(rq)
}

// locationConstraint is the GetBucketLocation answer: empty for us-east-1, as S3.
type locationConstraint struct {
	XMLName xml.Name `xml:"LocationConstraint"`
	Xmlns   string   `xml:"xmlns,attr"`
	Region  string   `xml:",chardata"`
}

func (s *Server) getBucketLocation(rq *request) error {
	region := s.cfg.Region
	if region == "us-east-1" {
		region = ""
	}
	return writeXML(rq, locationConstraint{Xmlns: s3Namespace, Region: region})
}

// versioningConfiguration is the Get/PutBucketVersioning document.
type versioningConfiguration struct {
	XMLName   xml.Name `xml:"VersioningConfiguration"`
	Xmlns     string   `xml:"xmlns,attr,omitempty"`
	Status    string   `xml:"Status,omitempty"`
	MfaDelete string   `xml:"MfaDelete,omitempty"`
}

func (s *Server) getBucketVersioning(rq *request) error {
	b, err := s.store.GetBucket(rq.r.Context(), rq.bucket)
	if err != nil {
		return err
	}
	return writeXML(rq, versioningConfiguration{Xmlns: s3Namespace, Status: b.Versioning})
}

func (s *Server) putBucketVersioning(rq *request) error {
	data, err := readBucketBody(rq, maxBucketConfigBody)
	if err != nil {
		return err
	}
	var vc versioningConfiguration
	if err := xml.Unmarshal(data, &vc); err != nil {
		return errMalformedXML
	}
	switch vc.MfaDelete {
	case "", "Disabled":
	case "Enabled":
		return errf("NotImplemented", http.StatusNotImplemented, "MFA Delete is not supported by this server.")
	default:
		return errMalformedXML
	}
	switch vc.Status {
	case store.VersioningEnabled, store.VersioningSuspended:
	case "":
		if vc.MfaDelete == "" {
			return errMalformedXML
		}
		rq.w.WriteHeader(http.StatusOK) // MfaDelete Disabled only: nothing changes
		return nil
	default:
		return errMalformedXML
	}
	_, err = s.store.UpdateBucket(rq.r.Context(), rq.bucket, func(b *store.Bucket) error {
		if vc.Status != store.VersioningEnabled && len(b.ReplicationConfig) > 0 {
			return errf("InvalidBucketState", http.StatusConflict, "A replication configuration is present on this bucket, so the versioning state cannot be changed.")
		}
		b.Versioning = vc.Status
		return nil
	})
	if err != nil {
		return err
	}
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) getBucketTagging(rq *request) error {
	b, err := s.store.GetBucket(rq.r.Context(), rq.bucket)
	if err != nil {
		return err
	}
	if len(b.Tags) == 0 {
		return errf("NoSuchTagSet", http.StatusNotFound, "The TagSet does not exist")
	}
	return writeXML(rq, newTagging(b.Tags))
}

func (s *Server) putBucketTagging(rq *request) error {
	data, err := readBucketBody(rq, maxBucketConfigBody)
	if err != nil {
		return err
	}
	tags, err := parseTaggingXML(data, maxBucketTags)
	if err != nil {
		return err
	}
	for k := range tags {
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return errf("InvalidTag", http.StatusBadRequest, "System tags cannot be added/updated by requester")
		}
	}
	_, err = s.store.UpdateBucket(rq.r.Context(), rq.bucket, func(b *store.Bucket) error {
		b.Tags = tags
		if len(tags) == 0 {
			b.Tags = nil
		}
		return nil
	})
	if err != nil {
		return err
	}
	return writeStatusNoContent(rq)
}

func (s *Server) deleteBucketTagging(rq *request) error {
	_, err := s.store.UpdateBucket(rq.r.Context(), rq.bucket, func(b *store.Bucket) error {
		b.Tags = nil
		return nil
	})
	if err != nil {
		return err
	}
	return writeStatusNoContent(rq)
}
