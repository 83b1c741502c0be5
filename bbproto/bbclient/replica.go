package bbclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/backbeat-temporal/backbeat/bbproto"
)

// PutReplica writes a replica of bucket/key (PUT replica/...): hdr carries the
// bbproto.Header* headers and the object metadata, body the data (length bytes; nil for
// a delete marker or a metadata-only update). It returns the replica version.
func (c *Client) PutReplica(ctx context.Context, bucket, key string, hdr http.Header, body io.Reader, length int64) (*bbproto.Version, error) {
	var v bbproto.Version
	err := c.DoJSON(ctx, Request{Method: http.MethodPut, Route: bbproto.RouteReplica, Bucket: bucket, Key: key,
		Header: hdr, Body: body, Length: length}, &v)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// CreateUpload starts a multipart replica of bucket/key and returns its upload id.
func (c *Client) CreateUpload(ctx context.Context, bucket, key string, hdr http.Header) (string, error) {
	var out bbproto.UploadBody
	err := c.DoJSON(ctx, Request{Method: http.MethodPost, Route: bbproto.RouteReplica, Bucket: bucket, Key: key,
		Query: url.Values{"uploads": {""}}, Header: hdr}, &out)
	if err != nil {
		return "", err
	}
	if out.UploadID == "" {
		return "", fmt.Errorf("replica route answered no uploadId for %s/%s", bucket, key)
	}
	return out.UploadID, nil
}

// PutPart uploads part n (size bytes of body) of a multipart replica and returns what
// the server stored.
func (c *Client) PutPart(ctx context.Context, bucket, key, uploadID string, n int, body io.Reader, size int64) (*bbproto.UploadPart, error) {
	var out bbproto.UploadPart
	err := c.DoJSON(ctx, Request{Method: http.MethodPut, Route: bbproto.RouteReplica, Bucket: bucket, Key: key,
		Query: url.Values{"uploadId": {uploadID}, "partNumber": {strconv.Itoa(n)}}, Body: body, Length: size}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ListParts lists the parts of a multipart replica already stored.
func (c *Client) ListParts(ctx context.Context, bucket, key, uploadID string) ([]bbproto.UploadPart, error) {
	var out bbproto.PartList
	err := c.DoJSON(ctx, Request{Method: http.MethodGet, Route: bbproto.RouteReplica, Bucket: bucket, Key: key,
		Query: url.Values{"uploadId": {uploadID}}}, &out)
	if err != nil {
		return nil, err
	}
	return out.Parts, nil
}

// CompleteUpload completes a multipart replica with parts (number and ETag); hdr
// carries the bbproto.Header* headers and the replica's metadata. It returns the replica
// version.
func (c *Client) CompleteUpload(ctx context.Context, bucket, key, uploadID string, hdr http.Header, parts []bbproto.UploadPart) (*bbproto.Version, error) {
	body, err := json.Marshal(bbproto.CompleteBody{Parts: parts})
	if err != nil {
		return nil, fmt.Errorf("encode the parts: %w", err)
	}
	var v bbproto.Version
	err = c.DoJSON(ctx, Request{Method: http.MethodPost, Route: bbproto.RouteReplica, Bucket: bucket, Key: key,
		Query: url.Values{"uploadId": {uploadID}}, Header: hdr, Body: bytes.NewReader(body), Length: int64(len(body))}, &v)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// AbortUpload removes a multipart replica's upload and its parts.
func (c *Client) AbortUpload(ctx context.Context, bucket, key, uploadID string) error {
	return c.DoJSON(ctx, Request{Method: http.MethodDelete, Route: bbproto.RouteReplica, Bucket: bucket, Key: key,
		Query: url.Values{"uploadId": {uploadID}}}, nil)
}
