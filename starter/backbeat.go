package starter

import (
	"context"
	"errors"
	"net/http"

	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/bbproto/bbclient"
)

// bbClient talks to s3server's privileged /_/backbeat/ routes as the replication
// identity (through bbclient), and explains their errors to the operator.
type bbClient struct {
	a   *app
	url string // endpoint base URL
	id  *identity
	bb  *bbclient.Client
}

// newBBClient returns a client of the privileged routes of the s3server at url, signed
// as id, each request bounded by --timeout.
func (a *app) newBBClient(url string, id *identity) (*bbClient, error) {
	bb, err := bbclient.New(bbclient.Config{Endpoint: url, Region: a.region, Credentials: id.creds,
		HTTP: &http.Client{Timeout: a.timeout}})
	if err != nil {
		return nil, failf("%v", err)
	}
	return &bbClient{a: a, url: url, id: id, bb: bb}, nil
}

// getVersion reads a version (or delete marker) with its replication info.
func (c *bbClient) getVersion(ctx context.Context, bucket, key, versionID string) (*bbproto.Version, error) {
	ctx, cancel := context.WithTimeout(ctx, c.a.timeout)
	defer cancel()
	v, err := c.bb.Version(ctx, bucket, key, versionID)
	if err != nil {
		return nil, c.explain(err, bucket, key, versionID)
	}
	return v, nil
}

// setStatus writes a version's replication status (PENDING re-queues it).
func (c *bbClient) setStatus(ctx context.Context, bucket, key, versionID string, status bbproto.Status) (*bbproto.Version, error) {
	ctx, cancel := context.WithTimeout(ctx, c.a.timeout)
	defer cancel()
	v, err := c.bb.SetStatus(ctx, bucket, key, versionID, status, "")
	if err != nil {
		return nil, c.explain(err, bucket, key, versionID)
	}
	return v, nil
}

// markPending marks versions of bucket PENDING where they have no replication status
// and a rule selects them (bulk status route, IfUnset: one request and one store
// transaction for up to bbproto.MaxBulkStatuses versions); one result per version.
func (c *bbClient) markPending(ctx context.Context, bucket string, vs []listedVersion) ([]bbproto.BulkStatusResult, error) {
	ctx, cancel := context.WithTimeout(ctx, c.a.timeout)
	defer cancel()
	items := make([]bbproto.BulkStatusItem, len(vs))
	for i, v := range vs {
		items[i] = bbproto.BulkStatusItem{Bucket: bucket, Key: v.key, VersionID: v.id, Status: bbproto.StatusPending, IfUnset: true}
	}
	res, err := c.bb.SetStatuses(ctx, items)
	if err != nil {
		return nil, c.explain(err, bucket, vs[0].key, vs[0].id)
	}
	return res, nil
}

// reasonOf is the reason of v's FAILED status ("" without one).
func reasonOf(v *bbproto.Version) string {
	if v.Replication == nil {
		return ""
	}
	return v.Replication.Reason
}

// explain turns an error of a privileged route into a message.
func (c *bbClient) explain(err error, bucket, key, versionID string) error {
	if errors.Is(err, context.Canceled) {
		return failf("interrupted")
	}
	if msg := c.a.connError(err, "the S3 endpoint", c.url, s3Hint); msg != "" {
		return failf("%s", msg)
	}
	var be *bbproto.Error
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
	case bbproto.CodeNotFound:
		return failf("%s has no privileged /_/backbeat/ routes (404): the status and failure reasons need the project's s3server", c.url)
	}
	return failf("%s/%s@%s at %s: %s: %s", bucket, key, versionID, c.url, be.Code, be.Message)
}
