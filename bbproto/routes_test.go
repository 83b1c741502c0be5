package bbproto

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestEscapeKey(t *testing.T) {
	assert.Equal(t, "a/b%20c%2Bd%C3%BC~_-.", EscapeKey("a/b c+dü~_-."))
	assert.Equal(t, "%25", EscapeKey("%"))
	assert.Equal(t, "/_/backbeat/version/src/a/b%3Fc", ObjectPath(RouteVersion, "src", "a/b?c"))
}
