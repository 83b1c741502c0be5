package activities

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// A site's caFile is loaded when the replicator is built: a missing one stops the worker
// at start, naming the site.
func TestSiteCAFileLoadedAtStart(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-ca.pem")
	src := Site{Endpoint: "https://127.0.0.1:1", AccessKey: "a", SecretKey: "s"}
	sites := &Sites{Sites: []Site{{Name: "dr", Endpoint: "https://127.0.0.1:2", AccessKey: "a", SecretKey: "s", CAFile: missing}}}
	_, err := New(context.Background(), Config{Source: src, Sites: sites})
	require.ErrorContains(t, err, `activities: site "dr": CA bundle: read the CA bundle: open `+missing)

	src.CAFile = missing
	_, err = New(context.Background(), Config{Source: src})
	require.ErrorContains(t, err, "activities: source: CA bundle: read the CA bundle")
}
