package layout

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
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

// notYetMoved lists the files that still hold a second definition, to be folded into
// bbproto (issue 8): the list may only shrink.
var notYetMoved = map[string]bool{
	"starter/backbeat.go": true, // starter's client of the version and status routes
	"journal/journal.go":  true, // the journal route's reader signs its own requests
}

// TestOneProtocolDefinition fails when a second definition of the protocol appears in
// non-test code: it lives in package bbproto (and its client in bbproto/bbclient).
func TestOneProtocolDefinition(t *testing.T) {
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	seen := map[string]bool{}
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
			seen[rel] = true
			if !notYetMoved[rel] {
				t.Errorf("%s defines %s again: use package bbproto (%s)", rel, def.what, def.home)
			}
		}
		return nil
	})
	require.NoError(t, err)
	for f := range notYetMoved {
		assert.True(t, seen[f], "%s no longer defines protocol items: remove it from notYetMoved", f)
	}
}
