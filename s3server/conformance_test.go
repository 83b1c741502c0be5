package s3server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestKeyNotUTF8 checks that every route taking a key refuses one that is not valid
// UTF-8 with 400 InvalidURI, as S3, and that nothing is stored under it.
func TestKeyNotUTF8(t *testing.T) {
	h := newHarness(t)
	h.mkBucket("utf", true)
	c := h.client(testUser)
	putString(t, c, "utf", "good", "x")
	for _, tc := range []struct {
		name, method, path string
		header             map[string]string
	}{
		{"put", http.MethodPut, "/utf/bad%FF%FE", nil},
		{"get", http.MethodGet, "/utf/bad%FF", nil},
		{"delete", http.MethodDelete, "/utf/bad%C3%28", nil},
		{"tagging", http.MethodGet, "/utf/bad%FF?tagging", nil},
		{"create multipart", http.MethodPost, "/utf/bad%FF?uploads", nil},
		{"upload part", http.MethodPut, "/utf/bad%FF?uploadId=x&partNumber=1", nil},
		{"copy source", http.MethodPut, "/utf/copy", map[string]string{"x-amz-copy-source": "/utf/bad%FF%FE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := objDo(t, h, testUser, tc.method, tc.path, nil, tc.header)
			assert.Equal(t, http.StatusBadRequest, r.Status, r.Body)
			assert.Contains(t, r.Body, "<Code>InvalidURI</Code>")
		})
	}
	r := objDo(t, h, testUser, http.MethodGet, "/utf?list-type=2", nil, nil)
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	assert.Equal(t, 1, strings.Count(r.Body, "<Key>"), "only the valid key is listed: %s", r.Body)
}
