package activities

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/contract"
	"github.com/backbeat-temporal/backbeat/s3server/s3test"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func TestLoadSites(t *testing.T) {
	p := writeFile(t, "sites.json", `{"sites":[
		{"name":"dr","endpoint":"http://127.0.0.1:8001","accessKey":"AK","secretKey":"SK"},
		{"name":"aws","profile":"backup","kind":"s3","region":"eu-west-1","multipartThreshold":134217728,"partSize":33554432},
		{"name":"minio","endpoint":"http://127.0.0.1:9000","accessKey":"AK","secretKey":"SK","kind":"s3","pathStyle":false}
	],"default":"dr"}`)
	s, err := LoadSites(p)
	require.NoError(t, err)
	require.Len(t, s.Sites, 3)
	dr, aws, minio := s.Sites[0], s.Sites[1], s.Sites[2]
	assert.Equal(t, KindS3Server, dr.Kind)
	assert.Equal(t, DefaultRegion, dr.Region)
	assert.Equal(t, int64(DefaultMultipartThreshold), dr.MultipartThreshold)
	assert.Equal(t, int64(DefaultPartSize), dr.PartSize)
	assert.True(t, *dr.PathStyle)
	assert.Equal(t, "eu-west-1", aws.Region)
	assert.False(t, *aws.PathStyle, "AWS (no endpoint) is virtual-hosted by default")
	assert.Equal(t, int64(128<<20), aws.MultipartThreshold)
	assert.Equal(t, int64(32<<20), aws.PartSize)
	assert.False(t, *minio.PathStyle)

	for name, want := range map[string]string{"": "dr", "dr": "dr", "aws": "aws", "STANDARD": "dr", "STANDARD_IA": "dr"} {
		got, err := s.Lookup(name)
		require.NoError(t, err, name)
		assert.Equal(t, want, got.Name, "site of %q", name)
	}
	_, err = s.Lookup("mars")
	assert.Equal(t, contract.KindInvalidConfig, KindOf(err))
	assert.Contains(t, err.Error(), `unknown replication site "mars"`)
	assert.Contains(t, err.Error(), "dr, aws, minio")
	_, err = s.Lookup("dr,aws")
	assert.Equal(t, contract.KindInvalidConfig, KindOf(err))
	assert.Contains(t, err.Error(), "several sites")
}

func TestLoadSitesErrors(t *testing.T) {
	for name, tc := range map[string]struct{ content, want string }{
		"not json":        {`{`, "unexpected EOF"},
		"unknown field":   {`{"sites":[{"name":"a","endpoint":"http://x","accessKey":"a","secretKey":"b","secret":"x"}]}`, `unknown field "secret"`},
		"no sites":        {`{"sites":[]}`, "no sites"},
		"no name":         {`{"sites":[{"endpoint":"http://x","accessKey":"a","secretKey":"b"}]}`, "no name"},
		"bad kind":        {`{"sites":[{"name":"a","endpoint":"http://x","accessKey":"a","secretKey":"b","kind":"gcs"}]}`, `kind must be "s3server" or "s3"`},
		"no endpoint":     {`{"sites":[{"name":"a","accessKey":"a","secretKey":"b"}]}`, "needs an endpoint"},
		"bad endpoint":    {`{"sites":[{"name":"a","endpoint":"127.0.0.1:80","accessKey":"a","secretKey":"b"}]}`, "is not an http(s) URL"},
		"no credentials":  {`{"sites":[{"name":"a","endpoint":"http://x"}]}`, "has no credentials"},
		"half keys":       {`{"sites":[{"name":"a","endpoint":"http://x","accessKey":"a"}]}`, "go together"},
		"small parts":     {`{"sites":[{"name":"a","endpoint":"http://x","accessKey":"a","secretKey":"b","partSize":1000}]}`, "below S3's minimum"},
		"duplicate":       {`{"sites":[{"name":"a","endpoint":"http://x","accessKey":"a","secretKey":"b"},{"name":"a","endpoint":"http://y","accessKey":"a","secretKey":"b"}]}`, "listed twice"},
		"unknown default": {`{"sites":[{"name":"a","endpoint":"http://x","accessKey":"a","secretKey":"b"}],"default":"b"}`, `default site "b" is not listed`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := LoadSites(writeFile(t, "sites.json", tc.content))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	_, err := LoadSites(filepath.Join(t.TempDir(), "missing.json"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestSitesDefaultOnlyWhenOne(t *testing.T) {
	s := &Sites{Sites: []Site{{Name: "a", Endpoint: "http://x", AccessKey: "a", SecretKey: "b"}}}
	require.NoError(t, s.Validate())
	assert.Equal(t, "a", s.Default)
	st, err := s.Lookup("")
	require.NoError(t, err)
	assert.Equal(t, "a", st.Name)

	two := &Sites{Sites: []Site{{Name: "a", Endpoint: "http://x", AccessKey: "a", SecretKey: "b"}, {Name: "b", Endpoint: "http://y", AccessKey: "a", SecretKey: "b"}}}
	require.NoError(t, two.Validate())
	_, err = two.Lookup("")
	assert.Equal(t, contract.KindInvalidConfig, KindOf(err))
	assert.Contains(t, err.Error(), `no "default"`)
}

func TestDefaultSitesIsTheSource(t *testing.T) {
	s := DefaultSites(Site{Endpoint: "http://127.0.0.1:8000", AccessKey: "a", SecretKey: "b", Kind: KindS3})
	require.NoError(t, s.Validate())
	st, err := s.Lookup("")
	require.NoError(t, err)
	assert.Equal(t, DefaultSourceSite, st.Name)
	assert.Equal(t, KindS3Server, st.Kind)
	assert.Equal(t, "http://127.0.0.1:8000", st.Endpoint)
}

func TestBucketFromARN(t *testing.T) {
	b, err := BucketFromARN("arn:aws:s3:::target-bucket")
	require.NoError(t, err)
	assert.Equal(t, "target-bucket", b)
	for _, bad := range []string{"", "target-bucket", "arn:aws:s3:::", "arn:aws:s3:::a/b", "arn:aws:iam::1:role/x"} {
		_, err := BucketFromARN(bad)
		assert.Equal(t, contract.KindInvalidConfig, KindOf(err), bad)
	}
}

func TestClassify(t *testing.T) {
	target := side{site: Site{Name: "dr", Endpoint: "http://t", Kind: KindS3Server}, bucket: "tb"}
	plain := side{site: Site{Name: "aws", Kind: KindS3, Region: "us-east-1"}, bucket: "tb"}
	source := side{source: true, site: Site{Name: "source", Endpoint: "http://s"}, bucket: "sb"}
	for _, tc := range []struct {
		err  error
		sd   side
		kind contract.ErrorKind
		want string
	}{
		{&S3Error{Status: 403, Code: "AccessDenied"}, target, contract.KindAccessDenied, `account marked "replication"`},
		{&S3Error{Status: 403, Code: "SignatureDoesNotMatch"}, plain, contract.KindAccessDenied, `site "aws" at AWS S3 (us-east-1)`},
		{&S3Error{Status: 403}, plain, contract.KindAccessDenied, "refused the credentials"},
		{&S3Error{Status: 403, Code: "InvalidAccessKeyId"}, source, contract.KindAccessDenied, "source s3server at http://s refused the replication identity"},
		{&S3Error{Status: 400, Code: "AuthorizationHeaderMalformed"}, plain, contract.KindInvalidConfig, "region"},
		{&S3Error{Status: 404, Code: "NoSuchBucket"}, target, contract.KindNoSuchBucket, "target bucket tb does not exist"},
		{&S3Error{Status: 404, Code: "NoSuchBucket"}, source, contract.KindNoSuchBucket, "source bucket sb no longer exists"},
		{&S3Error{Status: 404, Code: "NoSuchVersion"}, source, contract.KindSourceGone, "source version no longer exists"},
		{&S3Error{Status: 404, Code: "NoSuchKey"}, source, contract.KindSourceGone, "source version no longer exists"},
		{&S3Error{Status: 404, Code: "NoSuchVersion"}, target, contract.KindRetryable, "answered 404"},
		{&S3Error{Status: 400, Code: "InvalidRequest", Message: "The target bucket must have versioning Enabled to receive replicas."}, target, contract.KindInvalidConfig, "enable versioning"},
		{&S3Error{Status: 501, Code: "NotImplemented"}, target, contract.KindInvalidConfig, `"kind":"s3"`},
		{&S3Error{Status: 400, Code: "MetadataTooLarge"}, target, contract.KindNonRetryable, "MetadataTooLarge"},
		{&S3Error{Status: 503, Code: "SlowDown"}, target, contract.KindRetryable, "503 SlowDown"},
		{&S3Error{Status: 500, Code: "InternalError"}, source, contract.KindRetryable, "500"},
		{&S3Error{Status: 404, Code: "NoSuchUpload"}, target, contract.KindRetryable, ""},
		{fmt.Errorf("dial: %w", errors.New("connection refused")), target, contract.KindRetryable, "unreachable"},
		{context.DeadlineExceeded, target, contract.KindRetryable, "interrupted"},
		{newError(contract.KindInvalidEntry, "already classified", nil), target, contract.KindInvalidEntry, "already classified"},
	} {
		err := classify(tc.err, tc.sd, "do it")
		assert.Equal(t, tc.kind, KindOf(err), "%v", tc.err)
		assert.Contains(t, err.Error(), tc.want, "%v", tc.err)
		assert.ErrorIs(t, err, tc.err)
	}
	assert.Nil(t, classify(nil, target, "x"))
}

// TestSiteProfile reads a site's credentials from an AWS shared-config profile.
func TestSiteProfile(t *testing.T) {
	e := newEnv(t)
	creds := writeFile(t, "credentials", fmt.Sprintf("[dr]\naws_access_key_id = %s\naws_secret_access_key = %s\n", s3test.Replication.AccessKey, s3test.Replication.SecretKey))
	cfg := writeFile(t, "config", "[profile dr]\nregion = us-east-1\n")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", creds)
	t.Setenv("AWS_CONFIG_FILE", cfg)
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_PROFILE", "")
	r := e.replicator(&Sites{Sites: []Site{{Name: "dr", Endpoint: e.dst.URL, Profile: "dr"}}})
	vid := e.put("k", []byte("via profile"))
	res, err := r.Replicate(e.ctx, e.pending(), nil)
	require.NoError(t, err)
	assert.Equal(t, ActionCopied, res.Action)
	assert.NotNil(t, e.version(e.dst, dstBucket, "k", vid))

	// A profile that does not exist fails at New, naming it.
	_, err = New(e.ctx, Config{Source: Site{Endpoint: e.src.URL, AccessKey: "a", SecretKey: "b"},
		Sites: &Sites{Sites: []Site{{Name: "x", Endpoint: e.dst.URL, Profile: "nope"}}}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"nope"`)
}
