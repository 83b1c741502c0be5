package starter

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/internal/tlsconf/tlstest"
	"github.com/backbeat-temporal/backbeat/s3server/s3test"
)

// TestS3CAFile runs setup against an HTTPS s3server whose certificate a test CA signed:
// with the CA (--s3-ca-file or AWS_CA_BUNDLE) it works; with another CA it fails and
// says which option to fix.
func TestS3CAFile(t *testing.T) {
	if testing.Short() {
		t.Skip("starts s3server")
	}
	useProfiles(t)
	ca := tlstest.NewCA(t, "backbeat test CA")
	cert, key := ca.Issue(t, "127.0.0.1")
	p := s3test.Start(t, "--tls-cert", cert, "--tls-key", key)
	flags := []string{"--source-endpoint", "https://" + p.Addr, "--source-profile", profUser, "--timeout", "5s"}
	setup := func(bucket string, extra ...string) result {
		return run(t, append(append([]string{"setup", "--source-bucket", bucket, "--target-bucket", bucket + "-replica"}, flags...), extra...)...)
	}

	r := setup("by-flag", "--s3-ca-file", ca.CAFile)
	require.Equal(t, ExitOK, r.code, "%s", r)

	other := tlstest.NewCA(t, "another CA")
	r = setup("wrong-ca", "--s3-ca-file", other.CAFile)
	require.Equal(t, ExitFailed, r.code, "%s", r)
	assert.Contains(t, r.stderr, "its certificate is not signed by a CA of the CA bundle "+other.CAFile)
	assert.Contains(t, r.stderr, "give the bundle of the CA that signed it with --s3-ca-file (or AWS_CA_BUNDLE)")

	r = setup("bad-file", "--s3-ca-file", key)
	require.Equal(t, ExitUsage, r.code, "%s", r)
	assert.Contains(t, r.stderr, "holds no PEM certificate")

	t.Setenv(EnvS3CAFile, ca.CAFile)
	r = setup("by-env")
	require.Equal(t, ExitOK, r.code, "%s", r)

	t.Setenv(EnvS3CAFile, "")
	t.Setenv("AWS_CA_BUNDLE", ca.CAFile)
	r = setup("by-aws-env")
	require.Equal(t, ExitOK, r.code, "AWS_CA_BUNDLE when --s3-ca-file and %s are empty: %s", EnvS3CAFile, r)
}

// TestTemporalTLS dials a TLS stand-in of Temporal's frontend: with its CA the
// handshake passes (the stand-in then answers Unimplemented), with another CA the
// message names --temporal-tls-ca.
func TestTemporalTLS(t *testing.T) {
	useProfiles(t)
	ca := tlstest.NewCA(t, "temporal CA")
	addr := tlstest.TemporalFrontend(t, ca, nil)
	args := []string{"partitions", "--temporal-address", addr, "--partitions", "1", "--timeout", "3s"}

	r := run(t, append(args, "--temporal-tls-ca", ca.CAFile)...)
	assert.Contains(t, r.stderr, "method DescribeWorkflowExecution not implemented", "the call went through TLS to the stand-in: %s", r)

	other := tlstest.NewCA(t, "another CA")
	t.Setenv(EnvTemporalTLSCA, other.CAFile)
	r = run(t, args...)
	require.Equal(t, ExitFailed, r.code, "%s", r)
	assert.Contains(t, r.stderr, "its certificate is not signed by a CA of the CA bundle "+other.CAFile)
	assert.Contains(t, r.stderr, "--temporal-tls-ca/"+EnvTemporalTLSCA)
}
