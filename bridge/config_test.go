package bridge

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The consumer group's JoinGroup answer may take up to the rebalance timeout: the read
// timeout must be longer, or a member gives up mid-rebalance and rejoins forever.
func TestSaramaReadTimeoutOutlastsRebalance(t *testing.T) {
	c := saramaConfig()
	require.NoError(t, c.Validate())
	assert.Greater(t, c.Net.ReadTimeout, c.Consumer.Group.Rebalance.Timeout)
	assert.Greater(t, c.Net.ReadTimeout, c.Consumer.Group.Session.Timeout)
}
