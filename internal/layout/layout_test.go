// Package layout checks the architecture's import rules (docs/ARCHITECTURE.md): each
// part of the data path depends only on what its room allows.
package layout

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const mod = "github.com/backbeat-temporal/backbeat/"

// deps lists the packages pkg depends on, directly or not.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", mod+pkg).CombinedOutput()
	require.NoError(t, err, "%s", out)
	return strings.Fields(string(out))
}

// TestNoIO checks the own imports of the workflow code and of the engine's contract:
// the Temporal SDK uses the network, the workflow never does, and the contract is data.
func TestNoIO(t *testing.T) {
	for _, pkg := range []string{"workflows", "contract"} {
		t.Run(pkg, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, mod+pkg).CombinedOutput()
			require.NoError(t, err, "%s", out)
			for _, imp := range strings.Fields(string(out)) {
				switch {
				case imp == "os", strings.HasPrefix(imp, "net"), imp == "io/ioutil", imp == "math/rand", imp == "sync":
					t.Errorf("%s imports %s: it must be deterministic and do no I/O", pkg, imp)
				}
			}
		})
	}
}

// testSupport are the packages that exist for tests: no shipped binary imports them.
var testSupport = []string{mod + "internal/devstack", mod + "internal/enginetest", mod + "internal/testlog",
	mod + "internal/tlsconf/tlstest", mod + "s3server/s3test", mod + "internal/benchkit", mod + "storm"}

func TestImportRules(t *testing.T) {
	rules := []struct {
		pkg, why  string
		forbidden []string
	}{
		{"s3server/...", "s3server is a peer, not a part: of the engine's code it imports only the protocol package bbproto and its standard-library peers",
			[]string{mod + "journal", mod + "contract", mod + "sweeper", mod + "ingest", mod + "bridge", mod + "workflows", mod + "activities", mod + "worker", mod + "starter", "go.temporal.io", "github.com/IBM/sarama"}},
		{"workflows", "workflows do no I/O and import no S3 or Kafka code",
			[]string{"github.com/aws/", "github.com/IBM/sarama", mod + "activities", mod + "s3server"}},
		{"ingest", "ingest knows no Temporal", []string{"go.temporal.io", mod + "workflows", mod + "s3server"}},
		{"bridge", "the bridge knows no S3 and no workflow code (the contract is package contract)",
			[]string{"github.com/aws/", mod + "s3server", mod + "activities", mod + "workflows"}},
		{"starter", "the starter talks to workflows through package contract", []string{mod + "workflows"}},
		{"activities", "activities share package contract with the workflow, not its code", []string{mod + "workflows"}},
		{"contract", "the engine's contract is data: no Temporal, Kafka, S3 or engine code, so every part may import it",
			[]string{"go.temporal.io", "github.com/IBM/sarama", "github.com/aws/", mod + "workflows", mod + "activities",
				mod + "bridge", mod + "ingest", mod + "worker", mod + "starter", mod + "s3server"}},
		{"bbproto", "the protocol is data: standard library only, no I/O", []string{"net/http", "github.com/", "go.", mod}},
		{"bbproto/replrule", "replication-rule semantics are shared by s3server and the engine: standard library only, no I/O",
			[]string{"net/http", "github.com/", "go.", mod}},
		{"bbproto/bucketpolicy", "bucket policies are read by s3server and checked by starter: standard library and replrule only, no I/O",
			[]string{"net/http", "github.com/", "go.", mod}},
		{"sweeper", "the sweeper runs in ingest: it speaks to s3server only, through package bbclient",
			[]string{"go.temporal.io", "github.com/IBM/sarama", mod + "workflows", mod + "s3server"}},
		{"cmd/...", "shipped binaries import no test support (the dev broker's code is internal/devbroker)",
			testSupport},
	}
	// allowed are the exceptions to a rule's forbidden prefixes.
	allowed := map[string][]string{"bbproto/bucketpolicy": {mod + "bbproto/replrule"}}
	for _, r := range rules {
		t.Run(r.pkg, func(t *testing.T) {
			for _, d := range deps(t, r.pkg) {
				for _, f := range r.forbidden {
					if strings.HasPrefix(d, f) && !strings.HasPrefix(d, mod+r.pkg) && !slices.Contains(allowed[r.pkg], d) {
						t.Errorf("%s depends on %s: %s", r.pkg, d, r.why)
					}
				}
			}
		})
	}
}
