package layout

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestArchitectureTableListsEveryPackage checks that docs/ARCHITECTURE.md's table of
// packages names every package of `go list ./...` (as `pkg/` in its first column) and
// nothing that is not one.
func TestArchitectureTableListsEveryPackage(t *testing.T) {
	out, err := exec.Command("go", "list", mod+"...").CombinedOutput()
	require.NoError(t, err, "%s", out)
	pkgs := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		pkgs[strings.TrimPrefix(p, mod)] = true
	}
	doc, err := os.ReadFile("../../docs/ARCHITECTURE.md")
	require.NoError(t, err)
	listed := map[string]bool{}
	name := regexp.MustCompile("`([a-z0-9/]+)/`")
	for _, line := range strings.Split(string(doc), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.HasPrefix(line, "| `") {
			continue
		}
		for _, m := range name.FindAllStringSubmatch(cells[1], -1) {
			listed[m[1]] = true
		}
	}
	for p := range pkgs {
		assert.True(t, listed[p], "docs/ARCHITECTURE.md's table of packages has no row for %s/", p)
	}
	for p := range listed {
		assert.True(t, pkgs[p], "docs/ARCHITECTURE.md's table names %s/, which is not a package", p)
	}
}
