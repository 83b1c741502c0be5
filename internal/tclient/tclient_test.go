package tclient_test

import (
	"context"
	"flag"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/internal/tclient"
	"github.com/backbeat-temporal/backbeat/internal/testlog"
	"github.com/backbeat-temporal/backbeat/internal/tlsconf"
	"github.com/backbeat-temporal/backbeat/internal/tlsconf/tlstest"
)

func dial(t *testing.T, o tclient.Options) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	o.Logger = testlog.Discard()
	o.MinBackoff, o.MaxBackoff = 50*time.Millisecond, 50*time.Millisecond
	c, err := tclient.Dial(ctx, o)
	if err == nil {
		c.Close()
	}
	return err
}

func TestDialTLS(t *testing.T) {
	ca := tlstest.NewCA(t, "temporal CA")
	addr := tlstest.TemporalFrontend(t, ca, nil)
	require.NoError(t, dial(t, tclient.Options{Address: addr, TLS: tlsconf.Client{CAFile: ca.CAFile}}))
	// The certificate holds temporal.test: dialing by IP with that server name works too.
	require.NoError(t, dial(t, tclient.Options{Address: addr, TLS: tlsconf.Client{CAFile: ca.CAFile, ServerName: "temporal.test"}}))

	other := tlstest.NewCA(t, "another CA")
	err := dial(t, tclient.Options{Address: addr, TLS: tlsconf.Client{CAFile: other.CAFile}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "TLS to Temporal at "+addr+": its certificate is not signed by a CA of the CA bundle "+other.CAFile)
	assert.Contains(t, err.Error(), "give the bundle of the CA that signed it with --temporal-tls-ca")

	err = dial(t, tclient.Options{Address: addr, TLS: tlsconf.Client{CAFile: ca.CAFile, ServerName: "other.test"}})
	require.ErrorContains(t, err, "its certificate is not valid for that name")
}

func TestDialMutualTLS(t *testing.T) {
	ca := tlstest.NewCA(t, "temporal CA")
	clients := tlstest.NewCA(t, "client CA")
	addr := tlstest.TemporalFrontend(t, ca, clients)
	cert, key := clients.Issue(t, "backbeat-worker")
	require.NoError(t, dial(t, tclient.Options{Address: addr, TLS: tlsconf.Client{CAFile: ca.CAFile, CertFile: cert, KeyFile: key}}))
	require.Error(t, dial(t, tclient.Options{Address: addr, TLS: tlsconf.Client{CAFile: ca.CAFile}}), "a client without a certificate is refused")
	err := dial(t, tclient.Options{Address: addr, TLS: tlsconf.Client{CAFile: ca.CAFile, CertFile: cert}})
	require.ErrorContains(t, err, "give both files or neither")
}

func TestAddTLSFlags(t *testing.T) {
	var tc tlsconf.Client
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	tclient.AddTLSFlags(fs, &tc)
	require.NoError(t, fs.Parse([]string{"--temporal-tls-ca", "/ca.pem", "--temporal-tls-cert", "/c.pem", "--temporal-tls-key", "/k.pem", "--temporal-tls-server-name", "t.example"}))
	assert.Equal(t, tlsconf.Client{CAFile: "/ca.pem", CertFile: "/c.pem", KeyFile: "/k.pem", ServerName: "t.example"}, tc)
	co, err := tclient.ClientOptions(tclient.Options{Address: "a:1"})
	require.NoError(t, err)
	assert.Nil(t, co.ConnectionOptions.TLS, "no flag: plain text")
}

// TestExplainClientCertificate: a frontend on mutual TLS that refuses the client (no
// certificate, or one of another CA) is explained with the flags to give.
func TestExplainClientCertificate(t *testing.T) {
	ca := tlstest.NewCA(t, "temporal CA")
	clients := tlstest.NewCA(t, "client CA")
	addr := tlstest.TemporalFrontend(t, ca, clients)
	err := dial(t, tclient.Options{Address: addr, TLS: tlsconf.Client{CAFile: ca.CAFile}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "TLS to Temporal at "+addr+": the server requires a client certificate (mutual TLS) and none was given: "+
		"give one signed by a CA the server trusts with --temporal-tls-cert and --temporal-tls-key")

	other := tlstest.NewCA(t, "another client CA")
	cert, key := other.Issue(t, "intruder")
	err = dial(t, tclient.Options{Address: addr, TLS: tlsconf.Client{CAFile: ca.CAFile, CertFile: cert, KeyFile: key}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the server does not accept the client certificate "+cert+" (mutual TLS)")
}
