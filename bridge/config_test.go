package bridge

import (
	"testing"

	"github.com/IBM/sarama"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/internal/kafkaconf"
)

// The consumer group's JoinGroup answer may take up to the rebalance timeout: the read
// timeout must be longer, or a member gives up mid-rebalance and rejoins forever.
func TestSaramaReadTimeoutOutlastsRebalance(t *testing.T) {
	c := saramaConfig()
	require.NoError(t, c.Validate())
	assert.Greater(t, c.Net.ReadTimeout, c.Consumer.Group.Rebalance.Timeout)
	assert.Greater(t, c.Net.ReadTimeout, c.Consumer.Group.Session.Timeout)
}

// The Kafka security of the Config reaches the consumer group's sarama configuration.
func TestSaramaConfigKafkaSecurity(t *testing.T) {
	b := &bridge{cfg: Config{Kafka: kafkaconf.Security{TLS: true, SASLMechanism: kafkaconf.MechanismSCRAMSHA512, SASLUser: "u", SASLPassword: "p"}}}
	c := b.saramaConfig()
	require.NoError(t, c.Validate())
	assert.True(t, c.Net.TLS.Enable)
	assert.True(t, c.Net.SASL.Enable)
	assert.Equal(t, sarama.SASLMechanism(kafkaconf.MechanismSCRAMSHA512), c.Net.SASL.Mechanism)
	assert.NotNil(t, c.Net.SASL.SCRAMClientGeneratorFunc)
	assert.Greater(t, c.Net.ReadTimeout, c.Consumer.Group.Rebalance.Timeout, "the group's own settings are kept")
}

// A zero Config runs with DefaultConfig's values (the command's flag defaults), but for
// the metrics, which the library leaves off, and LowWater, derived from HighWater.
func TestZeroConfigTakesDefaultConfig(t *testing.T) {
	got, err := Config{}.withDefaults()
	require.NoError(t, err)
	want := DefaultConfig()
	want.MetricsListen = ""
	want.LowWater = want.HighWater / 2
	want.Logger = got.Logger
	assert.Equal(t, want, got)
}

// A member waiting in JoinGroup sends no heartbeat: the rebalance must be able to
// complete (dropping members that never rejoin) before the waiting members' sessions
// time out, or a coordinator that expires them (kfake does) drops live bridges.
func TestSaramaRebalanceWithinSession(t *testing.T) {
	c := saramaConfig()
	assert.Less(t, c.Consumer.Group.Rebalance.Timeout+c.Consumer.Group.Heartbeat.Interval, c.Consumer.Group.Session.Timeout)
}
