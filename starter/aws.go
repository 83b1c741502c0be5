package starter

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/backbeat-temporal/backbeat/internal/tclient"
	"github.com/backbeat-temporal/backbeat/internal/tlsconf"
)

// identity is a set of S3 credentials and what to call them in messages.
type identity struct {
	// label names the credentials: `profile "backbeatuser"`, "the keys in ...".
	label string
	// profile is the shared config profile ("" when the keys came from elsewhere).
	profile string
	creds   aws.CredentialsProvider
	hc      aws.HTTPClient
}

// endpoint is one S3 endpoint used with one identity.
type endpoint struct {
	url string
	id  *identity
	s3  *s3.Client
}

// httpClient is the HTTP client of every S3 request: bounded by --timeout, dial
// included.
func (a *app) httpClient() *awshttp.BuildableClient {
	c := awshttp.NewBuildableClient().WithTimeout(a.timeout).WithDialerOptions(func(d *net.Dialer) { d.Timeout = a.timeout })
	if a.s3TLS != nil {
		c = c.WithTransportOptions(func(tr *http.Transport) { tr.TLSClientConfig = a.s3TLS.Clone() })
	}
	return c
}

// configFiles describes where the shared config and credentials files are, for
// messages.
func configFiles() string {
	cfg, creds := os.Getenv("AWS_CONFIG_FILE"), os.Getenv("AWS_SHARED_CREDENTIALS_FILE")
	if cfg == "" {
		cfg = config.DefaultSharedConfigFilename() + " (the default)"
	}
	if creds == "" {
		creds = config.DefaultSharedCredentialsFilename() + " (the default)"
	}
	return "AWS_CONFIG_FILE=" + cfg + " or AWS_SHARED_CREDENTIALS_FILE=" + creds
}

// loadProfile loads the credentials of an AWS shared config profile ("" = the SDK's
// default chain) and checks that it has keys. role says what the profile is for
// ("source", "target", "replication"), flag which flag names it.
func (a *app) loadProfile(ctx context.Context, profile, role, flag string) (*identity, error) {
	hc := a.httpClient()
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(a.region),
		config.WithHTTPClient(hc),
		config.WithRetryMaxAttempts(1),
		config.WithEC2IMDSClientEnableState(imds.ClientDisabled),
	}
	label := fmt.Sprintf("profile %q", profile)
	if profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(profile))
	} else if p := os.Getenv("AWS_PROFILE"); p != "" {
		label = fmt.Sprintf("profile %q (AWS_PROFILE)", p)
		profile = p
	} else {
		label = "the default AWS credentials"
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	var nf config.SharedConfigProfileNotExistError
	if errors.As(err, &nf) {
		return nil, failf("%s profile %q not found in %s: create it (`aws configure --profile %s`), pick another with --%s, or `source .demo/env` for the demo's profiles",
			role, nf.Profile, configFiles(), nf.Profile, flag)
	}
	if err != nil {
		return nil, failf("load the %s credentials (%s): %v", role, label, err)
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		if profile == "" {
			return nil, failf("no %s credentials found: pass --%s PROFILE (a profile in %s), or set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
				role, flag, configFiles())
		}
		return nil, failf("%s %s has no usable keys in %s: set aws_access_key_id and aws_secret_access_key for it (%v)",
			role, label, configFiles(), err)
	}
	return &identity{label: label, profile: profile, creds: aws.NewCredentialsCache(cfg.Credentials), hc: cfg.HTTPClient}, nil
}

// staticIdentity is an identity of fixed keys.
func (a *app) staticIdentity(label, access, secret string) *identity {
	return &identity{label: label, creds: credentials.NewStaticCredentialsProvider(access, secret, ""), hc: a.httpClient()}
}

// s3Client is a path-style client of an endpoint, without retries.
func (a *app) s3Client(ep string, id *identity) (*endpoint, error) {
	u, err := url.Parse(ep)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("endpoint %q is not an http(s) URL such as %s", ep, DefaultS3Endpoint)
	}
	c := s3.New(s3.Options{
		BaseEndpoint:               aws.String(strings.TrimRight(ep, "/")),
		Region:                     a.region,
		UsePathStyle:               true,
		Credentials:                id.creds,
		HTTPClient:                 id.hc,
		RetryMaxAttempts:           1,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	return &endpoint{url: strings.TrimRight(ep, "/"), id: id, s3: c}, nil
}

// source is the source endpoint with the source profile.
func (a *app) source(ctx context.Context) (*endpoint, error) {
	id, err := a.loadProfile(ctx, a.sourceProfile, "source", "source-profile")
	if err != nil {
		return nil, err
	}
	return a.s3Client(a.sourceEndpoint, id)
}

// target is the target endpoint with the target profile (the source identity when
// both are the same profile).
func (a *app) target(ctx context.Context, src *endpoint) (*endpoint, error) {
	id := (*identity)(nil)
	if src != nil && a.targetProfile == a.sourceProfile {
		id = src.id
	} else {
		var err error
		if id, err = a.loadProfile(ctx, a.targetProfile, "target", "target-profile"); err != nil {
			return nil, err
		}
	}
	return a.s3Client(a.targetEndpoint, id)
}

// replicationIdentity is s3server's replication identity: --replication-profile, or
// the keys in the environment. required false returns nil, nil when none is configured.
func (a *app) replicationIdentity(ctx context.Context, required bool) (*identity, error) {
	if a.replicationProfile != "" {
		return a.loadProfile(ctx, a.replicationProfile, "replication", "replication-profile")
	}
	ak, sk := a.replicationAccessKey, a.replicationSecretKey
	switch {
	case ak != "" && sk != "":
		return a.staticIdentity("the replication keys (--replication-access-key)", ak, sk), nil
	case ak != "" || sk != "":
		return nil, usagef("--replication-access-key (%s) and the secret key (%s or --replication-secret-key-file) go together: set both, or use --replication-profile",
			EnvReplicationAccessKey, EnvReplicationSecretKey)
	case !required:
		return nil, nil
	}
	return nil, failf("this command uses s3server's privileged routes, which need the replication identity " +
		"(the account marked \"replication\" in s3server's accounts file): pass --replication-profile PROFILE " +
		"(env " + EnvReplicationProfile + "; the demo's profile is \"replication\"), or " + replicationKeys)
}

// apiCode returns the S3 error code of err ("" when it is not an S3 error).
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// httpStatus returns the HTTP status of an S3 error (0 when none).
func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// connError explains an error that is not an answer of the server (refused, DNS,
// timeout), or returns "".
func (a *app) connError(err error, what, url, hint string) string {
	tc := tlsconf.Client{CAFile: a.s3CAFile, CAFlag: "--s3-ca-file (or AWS_CA_BUNDLE)"}
	if what == "Temporal" {
		tc = a.temporalTLS
		tc.CAFlag = "--" + tclient.TLSFlagCA + "/" + EnvTemporalTLSCA
		tc.CertFlag = "--" + tclient.TLSFlagCert + "/" + EnvTemporalTLSCert + " and --" + tclient.TLSFlagKey + "/" + EnvTemporalTLSKey
	}
	if e := tc.Explain(err, what+" at "+url); e != err {
		return e.Error()
	}
	var dns *net.DNSError
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("cannot reach %s at %s (connection refused): %s", what, url, hint)
	case errors.As(err, &dns):
		return fmt.Sprintf("cannot reach %s at %s: host %q not found (check the endpoint)", what, url, dns.Name)
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return fmt.Sprintf("%s at %s did not answer within %s (--timeout): %s", what, url, a.timeout, hint)
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH):
		return fmt.Sprintf("cannot reach %s at %s (%v): %s", what, url, err, hint)
	}
	return ""
}

const s3Hint = "is s3server running? (make demo starts it; the endpoint is set by --source-endpoint/" + EnvSourceEndpoint +
	" and --target-endpoint/" + EnvTargetEndpoint + ")"

// explain turns an S3 error of op on bucket at ep into a message saying what is wrong
// and how to fix it.
func (a *app) explain(err error, ep *endpoint, op, bucket string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return failf("interrupted")
	}
	if msg := a.connError(err, "the S3 endpoint", ep.url, s3Hint); msg != "" {
		return failf("%s", msg)
	}
	code, status := apiCode(err), httpStatus(err)
	switch {
	case code == "NoSuchBucket" || (code == "NotFound" && op == "HeadBucket"):
		return failf("bucket %s does not exist at %s: create it or run `starter setup`", bucket, ep.url)
	case code == "InvalidAccessKeyId":
		return failf("%s does not know the access key of %s (InvalidAccessKeyId): check aws_access_key_id of that profile in %s",
			ep.url, ep.id.label, configFiles())
	case code == "SignatureDoesNotMatch":
		return failf("%s refused the secret key of %s (SignatureDoesNotMatch): check aws_secret_access_key of that profile in %s",
			ep.url, ep.id.label, configFiles())
	case code == "AccessDenied":
		return failf("%s may not %s bucket %s at %s (AccessDenied): use the profile of the bucket's owner", ep.id.label, op, bucket, ep.url)
	case status == 403:
		return failf("%s refused %s of bucket %s with %s (403 Forbidden): wrong keys, or not the bucket's owner; check the profile in %s",
			ep.url, op, bucket, ep.id.label, configFiles())
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return failf("%s of bucket %s at %s failed: %s: %s", op, bucket, ep.url, ae.ErrorCode(), ae.ErrorMessage())
	}
	return failf("%s of bucket %s at %s failed: %v", op, bucket, ep.url, err)
}
