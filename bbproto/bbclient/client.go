// Package bbclient is the one signed client of s3server's privileged /_/backbeat/
// routes (package bbproto describes them): journal, version, status, pending, redrive
// and the replica writes, single or multipart. Requests are signed with SigV4 as the
// replication identity, UNSIGNED-PAYLOAD, with the path signed as sent (keys escaped by
// bbproto.EscapeKey). An error answer is a *bbproto.Error.
package bbclient

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/backbeat-temporal/backbeat/bbproto"
)

// DefaultRegion is the region of the signature when Config.Region is empty.
const DefaultRegion = "us-east-1"

const unsignedPayload = "UNSIGNED-PAYLOAD"

// Config configures New.
type Config struct {
	// Endpoint is the s3server base URL, e.g. "http://127.0.0.1:8000". Required.
	Endpoint string
	// Region of the signature. Default DefaultRegion.
	Region string
	// Credentials of the replication identity. Required.
	Credentials aws.CredentialsProvider
	// HTTP sends the requests. Default http.DefaultClient (no overall timeout: requests
	// end with their context, long-polls included).
	HTTP *http.Client
}

// Client speaks to one s3server's privileged routes. It is safe for concurrent use.
type Client struct {
	base   *url.URL
	region string
	creds  aws.CredentialsProvider
	http   *http.Client
	signer *v4.Signer
}

// New returns a client of cfg.Endpoint.
func New(cfg Config) (*Client, error) {
	if cfg.Endpoint == "" {
		return nil, errors.New("bbclient: no endpoint: give the s3server URL")
	}
	if cfg.Credentials == nil {
		return nil, errors.New("bbclient: no credentials: give the keys of s3server's replication account")
	}
	u, err := url.Parse(strings.TrimRight(cfg.Endpoint, "/"))
	if err != nil {
		return nil, fmt.Errorf("bbclient: endpoint %q: %w", cfg.Endpoint, err)
	}
	c := &Client{base: u, region: cfg.Region, creds: cfg.Credentials, http: cfg.HTTP,
		signer: v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })}
	if c.region == "" {
		c.region = DefaultRegion
	}
	if c.http == nil {
		c.http = http.DefaultClient
	}
	return c, nil
}

// Endpoint is the server's base URL.
func (c *Client) Endpoint() string { return c.base.String() }

// Request is one call of a privileged route.
type Request struct {
	// Method is the HTTP method. Required.
	Method string
	// Route is a bbproto.Route* name. Required.
	Route string
	// Bucket and Key name the object of the object routes (status, version, replica);
	// empty for the others. They are escaped here.
	Bucket, Key string
	// Query is the query string. Default: none.
	Query url.Values
	// Header is added to the request. Default: none.
	Header http.Header
	// Body is the request body, of Length bytes. Default: no body.
	Body   io.Reader
	Length int64
}

// Do sends r and returns the 2xx answer, its body for the caller to close, or a
// *bbproto.Error for any other status, or a transport error.
func (c *Client) Do(ctx context.Context, r Request) (*http.Response, error) {
	path := bbproto.Prefix + r.Route
	if r.Bucket != "" || r.Key != "" {
		path = bbproto.ObjectPath(r.Route, r.Bucket, r.Key)
	}
	raw := strings.ReplaceAll(r.Query.Encode(), "+", "%20")
	return c.send(ctx, r.Method, path, raw, r.Header, r.Body, r.Length, r.Route)
}

// DoJSON is Do, decoding the answer into out (nil: discarded).
func (c *Client) DoJSON(ctx context.Context, r Request, out any) error {
	resp, err := c.Do(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode the answer of %s %s: %w", r.Method, r.Route, err)
	}
	return nil
}

// Raw sends a signed request to bbproto.Prefix+path (what follows /_/backbeat/, query
// included, keys already escaped) and returns the answer whatever its status: for tests
// of the routes themselves.
func (c *Client) Raw(ctx context.Context, method, path string, body io.Reader, hdr http.Header) (*http.Response, error) {
	p, q, _ := strings.Cut(path, "?")
	req, err := c.request(ctx, method, bbproto.Prefix+p, q, hdr, body, -1)
	if err != nil {
		return nil, err
	}
	return c.http.Do(req)
}

// send builds, signs and sends a request; a non-2xx answer is read into a
// *bbproto.Error naming route.
func (c *Client) send(ctx context.Context, method, path, rawQuery string, hdr http.Header, body io.Reader, length int64, route string) (*http.Response, error) {
	req, err := c.request(ctx, method, path, rawQuery, hdr, body, length)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s at %s: %w", method, route, c.base, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, readError(resp, route)
	}
	return resp, nil
}

// request builds a signed request; the path is escaped already and signed as is.
// length < 0 means unknown (a body read to its end).
func (c *Client) request(ctx context.Context, method, path, rawQuery string, hdr http.Header, body io.Reader, length int64) (*http.Request, error) {
	u := *c.base
	u.Path = c.base.Path + unescape(path)
	u.RawPath = c.base.EscapedPath() + path
	u.RawQuery = rawQuery
	if body == nil || length == 0 {
		body = http.NoBody
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("build the %s request: %w", method, err)
	}
	req.URL = &u // keep RawPath exactly
	if body != http.NoBody && length > 0 {
		req.ContentLength = length
		if _, ok := body.(io.ReadCloser); !ok {
			req.Body = io.NopCloser(body)
		}
		req.GetBody = nil
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("X-Amz-Content-Sha256", unsignedPayload)
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("replication credentials: %w", err)
	}
	if err := c.signer.SignHTTP(ctx, creds, req, unsignedPayload, "s3", c.region, time.Now()); err != nil {
		return nil, fmt.Errorf("sign the %s request: %w", method, err)
	}
	return req, nil
}

func unescape(p string) string {
	if s, err := url.PathUnescape(p); err == nil {
		return s
	}
	return p
}

// readError reads the error answer of a privileged route (JSON bbproto.Error; the
// router answers S3 XML to identities it refuses) and closes its body.
func readError(resp *http.Response, route string) *bbproto.Error {
	defer resp.Body.Close()
	e := &bbproto.Error{Status: resp.StatusCode, Route: route, RequestID: resp.Header.Get("x-amz-request-id")}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	body := strings.TrimSpace(string(data))
	switch {
	case strings.HasPrefix(body, "{"):
		if json.Unmarshal(data, e) != nil {
			e.Message = cut(body)
		}
	case strings.HasPrefix(body, "<"):
		var x struct {
			Code      string `xml:"Code"`
			Message   string `xml:"Message"`
			RequestID string `xml:"RequestId"`
		}
		if xml.Unmarshal(data, &x) == nil {
			e.Code, e.Message = x.Code, x.Message
			if x.RequestID != "" {
				e.RequestID = x.RequestID
			}
		} else {
			e.Message = cut(body)
		}
	default:
		e.Message = cut(body)
	}
	if e.Code == "" {
		switch resp.StatusCode {
		case http.StatusForbidden:
			e.Code = "AccessDenied"
		case http.StatusNotFound:
			e.Code = bbproto.CodeNotFound
		default:
			e.Code = http.StatusText(resp.StatusCode)
		}
	}
	return e
}

func cut(s string) string {
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
