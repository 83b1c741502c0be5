package ingest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/internal/kafkaconf"
	"github.com/backbeat-temporal/backbeat/internal/tlsconf"
	"github.com/backbeat-temporal/backbeat/internal/tlsconf/tlstest"
)

// ingest's producer creates its topic and produces over TLS with SCRAM, against kfake.
func TestProducerTLSAndSCRAM(t *testing.T) {
	ca := tlstest.NewCA(t, "kafka CA")
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(),
		kfake.Superuser(kafkaconf.MechanismSCRAMSHA256, "ingest", "pw"), kfake.TLS(ca.ServerConfig(t, nil, "127.0.0.1")))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	sec := kafkaconf.Security{TLSConfig: tlsconf.Client{CAFile: ca.CAFile},
		SASLMechanism: kafkaconf.MechanismSCRAMSHA256, SASLUser: "ingest", SASLPassword: "pw"}
	p, err := newKafkaProducer(c.ListenAddrs(), sec, "secure-topic", 2)
	require.NoError(t, err)
	defer p.Close()
	n, err := p.Produce("j1", []bbproto.Record{{Seq: 1, Bucket: "b", Key: "k"}})
	require.NoError(t, err)
	assert.Positive(t, n, "bytes produced")

	sec.SASLPassword = "wrong"
	_, err = newKafkaProducer(c.ListenAddrs(), sec, "secure-topic", 2)
	require.ErrorContains(t, err, `credentials of user "ingest"`)
}
