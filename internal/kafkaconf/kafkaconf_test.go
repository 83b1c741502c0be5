package kafkaconf_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/backbeat-temporal/backbeat/internal/flagenv"
	"github.com/backbeat-temporal/backbeat/internal/kafkaconf"
	"github.com/backbeat-temporal/backbeat/internal/tlsconf"
	"github.com/backbeat-temporal/backbeat/internal/tlsconf/tlstest"
)

// broker starts a kfake cluster with opts and returns its addresses.
func broker(t *testing.T, opts ...kfake.Opt) []string {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(2, "t")}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// connect builds a sarama client with s applied and lists the topics.
func connect(t *testing.T, addrs []string, s kafkaconf.Security) error {
	t.Helper()
	c := sarama.NewConfig()
	c.Version = sarama.V2_8_0_0
	c.Net.DialTimeout = 3 * time.Second
	c.Metadata.Retry.Max = 0
	if err := s.Apply(c); err != nil {
		return err
	}
	cl, err := sarama.NewClient(addrs, c)
	if err != nil {
		return s.Explain(err, addrs)
	}
	defer cl.Close()
	topics, err := cl.Topics()
	if err != nil {
		return s.Explain(err, addrs)
	}
	assert.Contains(t, topics, "t")
	return nil
}

func TestSASL(t *testing.T) {
	for _, mech := range []string{kafkaconf.MechanismPlain, kafkaconf.MechanismSCRAMSHA256, kafkaconf.MechanismSCRAMSHA512} {
		t.Run(mech, func(t *testing.T) {
			addrs := broker(t, kfake.EnableSASL(), kfake.Superuser(mech, "backbeat", "s3cret"))
			require.NoError(t, connect(t, addrs, kafkaconf.Security{SASLMechanism: mech, SASLUser: "backbeat", SASLPassword: "s3cret"}))
			err := connect(t, addrs, kafkaconf.Security{SASLMechanism: mech, SASLUser: "backbeat", SASLPassword: "wrong"})
			require.Error(t, err)
			assert.Contains(t, err.Error(), `credentials of user "backbeat" (--kafka-sasl-user, --kafka-sasl-password-file or BACKBEAT_KAFKA_SASL_PASSWORD)`)
		})
	}
}

func TestTLSAndSCRAM(t *testing.T) {
	ca := tlstest.NewCA(t, "kafka CA")
	clients := tlstest.NewCA(t, "client CA")
	addrs := broker(t, kfake.EnableSASL(), kfake.Superuser(kafkaconf.MechanismSCRAMSHA512, "backbeat", "s3cret"),
		kfake.TLS(ca.ServerConfig(t, clients, "127.0.0.1", "localhost")))
	cert, key := clients.Issue(t, "backbeat-ingest")
	good := kafkaconf.Security{TLSConfig: tlsconf.Client{CAFile: ca.CAFile, CertFile: cert, KeyFile: key},
		SASLMechanism: kafkaconf.MechanismSCRAMSHA512, SASLUser: "backbeat", SASLPassword: "s3cret"}
	require.NoError(t, connect(t, addrs, good))

	other := tlstest.NewCA(t, "another CA")
	wrong := good
	wrong.TLSConfig.CAFile = other.CAFile
	err := connect(t, addrs, wrong)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "its certificate is not signed by a CA of the CA bundle "+other.CAFile)
	assert.Contains(t, err.Error(), "give the bundle of the CA that signed it with --kafka-tls-ca")

	plain := good
	plain.TLSConfig = tlsconf.Client{}
	require.Error(t, connect(t, addrs, plain), "plain text to a TLS listener fails")
}

func TestFlagsAndValidate(t *testing.T) {
	var s kafkaconf.Security
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	kafkaconf.AddFlags(fs, &s)
	pw := filepath.Join(t.TempDir(), "pw")
	require.NoError(t, os.WriteFile(pw, []byte("from-file\n"), 0o600))
	assert.Contains(t, fs.Lookup("kafka-sasl-password-file").Usage, kafkaconf.EnvSASLPassword, "flagenv's name of the secret")
	env := func(k string) (string, bool) { return "from-env", k == kafkaconf.EnvSASLPassword }
	require.NoError(t, flagenv.Parse(fs, []string{"--kafka-tls-ca", "/ca.pem", "--kafka-sasl-mechanism", "SCRAM-SHA-256",
		"--kafka-sasl-user", "u", "--kafka-sasl-password-file", pw}, env))
	require.NoError(t, s.Validate())
	assert.Equal(t, "from-file", s.SASLPassword, "the file wins over the environment")
	assert.Equal(t, "/ca.pem", s.TLSConfig.CAFile)

	s = kafkaconf.Security{}
	fs = flag.NewFlagSet("x", flag.ContinueOnError)
	kafkaconf.AddFlags(fs, &s)
	require.NoError(t, flagenv.Parse(fs, []string{"--kafka-sasl-mechanism", "PLAIN", "--kafka-sasl-user", "u"}, env))
	assert.Equal(t, "from-env", s.SASLPassword)
	require.ErrorContains(t, flagenv.Parse(fs, []string{"--kafka-sasl-password", "p"}, env),
		"--kafka-sasl-password is not accepted", "a password is never a flag value")

	s = kafkaconf.Security{SASLMechanism: "PLAIN", SASLUser: "u"}
	require.ErrorContains(t, s.Validate(), "needs a user (--kafka-sasl-user) and a password")
	s = kafkaconf.Security{SASLMechanism: "GSSAPI", SASLUser: "u", SASLPassword: "p"}
	require.ErrorContains(t, s.Validate(), `"GSSAPI" is not supported`)

	c := sarama.NewConfig()
	require.NoError(t, kafkaconf.Security{}.Apply(c))
	assert.False(t, c.Net.TLS.Enable)
	assert.False(t, c.Net.SASL.Enable)
}
