package starter

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Replication statuses, as s3server keeps them and HeadObject shows them.
const (
	StatusPending    = "PENDING"
	StatusProcessing = "PROCESSING"
	StatusCompleted  = "COMPLETED"
	StatusFailed     = "FAILED"
	StatusReplica    = "REPLICA"
)

// bbClient talks to s3server's privileged /_/backbeat/ routes as the replication
// identity.
type bbClient struct {
	a   *app
	url string // endpoint base URL
	id  *identity
}

// bbVersion is what the version and status routes answer (store.Version's JSON).
type bbVersion struct {
	Bucket         string    `json:"bucket"`
	Key            string    `json:"key"`
	VersionID      string    `json:"versionId"`
	IsDeleteMarker bool      `json:"isDeleteMarker"`
	Size           int64     `json:"size"`
	LastModified   time.Time `json:"lastModified"`
	Meta           struct {
		Tags map[string]string `json:"tags"`
	} `json:"meta"`
	Replication *struct {
		Status      string `json:"status"`
		Destination string `json:"destination"`
		Site        string `json:"site"`
		Reason      string `json:"reason"`
	} `json:"replication"`
}

func (v bbVersion) status() string {
	if v.Replication == nil {
		return ""
	}
	return v.Replication.Status
}

func (v bbVersion) reason() string {
	if v.Replication == nil {
		return ""
	}
	return v.Replication.Reason
}

// bbError is an error answer of a privileged route.
type bbError struct {
	Status  int
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *bbError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

// escapeKey escapes every byte of an object key outside [A-Za-z0-9-._~/], as the
// privileged routes expect (they are signed as sent).
func escapeKey(k string) string {
	var b strings.Builder
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-._~/", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// do sends a signed request to route/BUCKET/KEY?versionId=V and decodes a JSON answer
// into out.
func (c *bbClient) do(ctx context.Context, method, route, bucket, key, versionID string, body any, out any) error {
	var data []byte
	if body != nil {
		var err error
		if data, err = json.Marshal(body); err != nil {
			return err
		}
	}
	u := c.url + "/_/backbeat/" + route + "/" + escapeKey(bucket) + "/" + escapeKey(key)
	if versionID != "" {
		u += "?versionId=" + url.QueryEscape(versionID)
	}
	ctx, cancel := context.WithTimeout(ctx, c.a.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(data))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	sum := sha256.Sum256(data)
	hash := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", hash)
	creds, err := c.id.creds.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("replication credentials (%s): %w", c.id.label, err)
	}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(ctx, creds, req, hash, "s3", c.a.region, time.Now()); err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	resp, err := c.id.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		e := &bbError{Status: resp.StatusCode}
		if json.Unmarshal(answer, e) != nil || e.Code == "" {
			// The router answers S3 XML to identities it refuses.
			e.Code, e.Message = xmlField(answer, "Code"), xmlField(answer, "Message")
			if e.Code == "" {
				e.Code, e.Message = http.StatusText(resp.StatusCode), strings.TrimSpace(string(answer))
			}
		}
		return e
	}
	if out != nil {
		if err := json.Unmarshal(answer, out); err != nil {
			return fmt.Errorf("decode the answer of %s %s: %w", method, route, err)
		}
	}
	return nil
}

// xmlField returns the text of the first <name> element of an S3 XML error.
func xmlField(doc []byte, name string) string {
	s := string(doc)
	i := strings.Index(s, "<"+name+">")
	j := strings.Index(s, "</"+name+">")
	if i < 0 || j < i {
		return ""
	}
	return s[i+len(name)+2 : j]
}

// getVersion reads a version (or delete marker) with its replication info.
func (c *bbClient) getVersion(ctx context.Context, bucket, key, versionID string) (*bbVersion, error) {
	var v bbVersion
	if err := c.do(ctx, http.MethodGet, "version", bucket, key, versionID, nil, &v); err != nil {
		return nil, c.explain(err, bucket, key, versionID)
	}
	return &v, nil
}

// setStatus writes a version's replication status (PENDING re-queues it).
func (c *bbClient) setStatus(ctx context.Context, bucket, key, versionID, status string) (*bbVersion, error) {
	var v bbVersion
	if err := c.do(ctx, http.MethodPut, "status", bucket, key, versionID, map[string]string{"status": status}, &v); err != nil {
		return nil, c.explain(err, bucket, key, versionID)
	}
	return &v, nil
}

// explain turns an error of a privileged route into a message.
func (c *bbClient) explain(err error, bucket, key, versionID string) error {
	if errors.Is(err, context.Canceled) {
		return failf("interrupted")
	}
	if msg := c.a.connError(err, "the S3 endpoint", c.url, s3Hint); msg != "" {
		return failf("%s", msg)
	}
	var be *bbError
	if !errors.As(err, &be) {
		return failf("%s/%s@%s at %s: %v", bucket, key, versionID, c.url, err)
	}
	switch be.Code {
	case "NoSuchBucket":
		return failf("bucket %s does not exist at %s: create it or run `starter setup`", bucket, c.url)
	case "NoSuchVersion", "NoSuchKey":
		return failf("version %s of %s/%s does not exist at %s", versionID, bucket, key, c.url)
	case "InvalidAccessKeyId":
		return failf("%s does not know the access key of %s (InvalidAccessKeyId): use the keys of s3server's replication account",
			c.url, c.id.label)
	case "SignatureDoesNotMatch":
		return failf("%s refused the secret key of %s (SignatureDoesNotMatch): check the replication account's secret key",
			c.url, c.id.label)
	case "AccessDenied":
		return failf("%s is not s3server's replication identity at %s (AccessDenied on /_/backbeat/): use the keys of the account marked \"replication\" in its accounts file",
			c.id.label, c.url)
	case "NotFound":
		return failf("%s has no privileged /_/backbeat/ routes (404): the status and failure reasons need the project's s3server", c.url)
	}
	return failf("%s/%s@%s at %s: %s: %s", bucket, key, versionID, c.url, be.Code, be.Message)
}
