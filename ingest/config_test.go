package ingest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A Config with only the credentials runs with DefaultConfig's values (the command's flag
// defaults), but for the metrics, which the library leaves off.
func TestZeroConfigTakesDefaultConfig(t *testing.T) {
	got, err := Config{AccessKey: "ak", SecretKey: "sk"}.withDefaults()
	require.NoError(t, err)
	want := DefaultConfig()
	want.AccessKey, want.SecretKey = "ak", "sk"
	want.MetricsListen = ""
	want.SweepInterval, want.SweepThreshold, want.SweepMaxPerRound = 0, 0, 0 // package sweeper fills them
	want.Logger = got.Logger
	assert.Equal(t, want, got)
}
