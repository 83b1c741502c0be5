package layout

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// protocolDefs are the marks of a definition of the s3server <-> engine protocol, each
// allowed only in its home: the record, the status values, the replica headers, key
// escaping and the signed client of the /_/backbeat/ routes.
var protocolDefs = []struct {
	what string
	re   *regexp.Regexp
	home string
}{
	{"the journal record", regexp.MustCompile(`type Record struct`), "bbproto/record.go"},
	{"the replication statuses", regexp.MustCompile(`=\s*"(PENDING|PROCESSING|COMPLETED|FAILED|REPLICA)"`), "bbproto/record.go"},
	{"the x-backbeat-* headers", regexp.MustCompile(`(?i)"x-backbeat-`), "bbproto/routes.go"},
	{"key escaping", regexp.MustCompile(`func (escapeKey|EscapeKey)\b`), "bbproto/routes.go"},
	{"a signed client of the routes", regexp.MustCompile(`v4\.NewSigner\(`), "bbproto/bbclient/client.go"},
}

// TestOneProtocolDefinition fails when a second definition of the protocol appears in
// non-test code: it lives in package bbproto (and its client in bbproto/bbclient).
func TestOneProtocolDefinition(t *testing.T) {
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, def := range protocolDefs {
			if !def.re.Match(data) || rel == def.home {
				continue
			}
			t.Errorf("%s defines %s again: use package bbproto (%s)", rel, def.what, def.home)
		}
		return nil
	})
	require.NoError(t, err)
}
