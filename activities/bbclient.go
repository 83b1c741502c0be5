package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// unsignedPayload is the x-amz-content-sha256 of streamed bodies.
const unsignedPayload = "UNSIGNED-PAYLOAD"

// bbClient speaks to an s3server's privileged /_/backbeat/ routes, signed with SigV4
// (UNSIGNED-PAYLOAD, the path signed as sent) as the replication identity.
type bbClient struct {
	base   *url.URL
	region string
	creds  aws.CredentialsProvider
	http   *http.Client
	signer *v4.Signer
}

func newBBClient(endpoint, region string, creds aws.CredentialsProvider, hc *http.Client) (*bbClient, error) {
	u, err := url.Parse(strings.TrimRight(endpoint, "/"))
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: %w", endpoint, err)
	}
	return &bbClient{
		base: u, region: region, creds: creds, http: hc,
		signer: v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }),
	}, nil
}

// escapeKey escapes every byte of s outside [A-Za-z0-9-._~/], as S3 clients do.
func escapeKey(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~/", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// bbRequest is one call of a privileged route.
type bbRequest struct {
	method, route, bucket, key string
	query                      url.Values
	header                     http.Header
	body                       io.Reader
	length                     int64 // of body; 0 without body
}

// do sends r and returns the 2xx answer (its body for the caller to close), or an
// *S3Error for any other status.
func (c *bbClient) do(ctx context.Context, r bbRequest) (*http.Response, error) {
	path := "/_/backbeat/" + r.route
	if r.bucket != "" {
		path += "/" + r.bucket + "/" + r.key
	}
	u := *c.base
	u.Path = c.base.Path + path
	u.RawPath = c.base.EscapedPath() + escapeKey(path)
	u.RawQuery = strings.ReplaceAll(r.query.Encode(), "+", "%20")
	body := r.body
	if body != nil && r.length == 0 {
		body = http.NoBody
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.URL = &u // keep RawPath exactly
	if body != nil {
		req.ContentLength = r.length
		if _, ok := body.(io.ReadCloser); !ok {
			req.Body = io.NopCloser(body)
		}
		req.GetBody = nil
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	req.Header.Set("X-Amz-Content-Sha256", unsignedPayload)
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	if err := c.signer.SignHTTP(ctx, creds, req, unsignedPayload, "s3", c.region, time.Now()); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, readS3Error(resp)
	}
	return resp, nil
}

// doJSON is do, decoding the answer into out (nil: discarded).
func (c *bbClient) doJSON(ctx context.Context, r bbRequest, out any) error {
	resp, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode the answer of %s %s: %w", r.method, r.route, err)
	}
	return nil
}

// versionInfo is s3server's JSON of a version (store.Version) as the version, status
// and replica routes answer it.
type versionInfo struct {
	Bucket         string     `json:"bucket"`
	Key            string     `json:"key"`
	VersionID      string     `json:"versionId"`
	IsDeleteMarker bool       `json:"isDeleteMarker,omitempty"`
	Size           int64      `json:"size"`
	ETag           string     `json:"etag"`
	LastModified   time.Time  `json:"lastModified"`
	Meta           objectMeta `json:"meta"`
	Parts          []struct {
		Size int64  `json:"size"`
		ETag string `json:"etag"`
	} `json:"parts,omitempty"`
	Replication *struct {
		Status      string   `json:"status"`
		Role        string   `json:"role,omitempty"`
		Destination string   `json:"destination,omitempty"`
		Site        string   `json:"site,omitempty"`
		Content     []string `json:"content,omitempty"`
		RuleID      string   `json:"ruleId,omitempty"`
	} `json:"replication,omitempty"`
	IsLatest *bool `json:"isLatest,omitempty"`
	// BucketOwner and JournalID (version route) name the account owning the source
	// bucket and the source server: sent with replica writes, whose target checks that
	// the destination's owner consents to that account.
	BucketOwner string `json:"bucketOwner,omitempty"`
	JournalID   string `json:"journalId,omitempty"`
}

// objectMeta is what a client sets on a version (store.ObjectMeta).
type objectMeta struct {
	ContentType        string            `json:"contentType,omitempty"`
	ContentEncoding    string            `json:"contentEncoding,omitempty"`
	ContentDisposition string            `json:"contentDisposition,omitempty"`
	ContentLanguage    string            `json:"contentLanguage,omitempty"`
	CacheControl       string            `json:"cacheControl,omitempty"`
	Expires            string            `json:"expires,omitempty"`
	UserMetadata       map[string]string `json:"userMetadata,omitempty"`
	Tags               map[string]string `json:"tags,omitempty"`
	StorageClass       string            `json:"storageClass,omitempty"`
}

// equal tells whether two metadata sets are the same (nil and empty maps are equal).
func (m objectMeta) equal(o objectMeta) bool {
	return m.ContentType == o.ContentType && m.ContentEncoding == o.ContentEncoding &&
		m.ContentDisposition == o.ContentDisposition && m.ContentLanguage == o.ContentLanguage &&
		m.CacheControl == o.CacheControl && m.Expires == o.Expires &&
		mapsEqual(m.UserMetadata, o.UserMetadata) && mapsEqual(m.Tags, o.Tags)
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// header returns the request headers that set m on a PutObject or a replica write.
func (m objectMeta) header() http.Header {
	h := http.Header{}
	set := func(k, v string) {
		if v != "" {
			h.Set(k, v)
		}
	}
	set("Content-Type", m.ContentType)
	set("Content-Encoding", m.ContentEncoding)
	set("Content-Disposition", m.ContentDisposition)
	set("Content-Language", m.ContentLanguage)
	set("Cache-Control", m.CacheControl)
	set("Expires", m.Expires)
	set("X-Amz-Storage-Class", m.StorageClass)
	for k, v := range m.UserMetadata {
		h.Set("X-Amz-Meta-"+k, v)
	}
	set("X-Amz-Tagging", tagging(m.Tags))
	return h
}

// tagging encodes tags as the x-amz-tagging header ("" for none).
func tagging(tags map[string]string) string {
	if len(tags) == 0 {
		return ""
	}
	v := url.Values{}
	for k, t := range tags {
		v.Set(k, t)
	}
	return strings.ReplaceAll(v.Encode(), "+", "%20")
}
