package metricsserver

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHealthAnswers503NamingTheFailingCheck(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusForbidden) }))
	defer up.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	open := ln.Addr().String()
	defer ln.Close()
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := ln2.Addr().String()
	ln2.Close()

	ready := false
	h := &Health{Checks: []Check{
		{Name: "http", Probe: HTTPProbe(up.URL)},
		{Name: "tcp", Probe: TCPProbe([]string{closed, open})},
		{Name: "flag", Probe: FlagProbe(func() bool { return ready }, "waiting for the group")},
	}, Extra: func() map[string]any { return map[string]any{"state": "leader"} }}

	get := func() (int, map[string]any) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
		var body map[string]any
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
		return rec.Code, body
	}
	code, body := get()
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, false, body["healthy"])
	assert.Equal(t, "leader", body["state"])
	checks := body["checks"].(map[string]any)
	assert.Equal(t, map[string]any{"ok": true}, checks["http"], "any HTTP answer is reachable")
	assert.Equal(t, map[string]any{"ok": true}, checks["tcp"], "one address accepting is enough")
	assert.Equal(t, map[string]any{"ok": false, "error": "waiting for the group"}, checks["flag"])

	ready = true
	code, body = get()
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, true, body["healthy"])
}

func TestProbesSayWhatIsUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = TCPProbe([]string{dead})(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "none of "+dead+" accepts connections")
	err = HTTPProbe("http://" + dead)(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "http://"+dead+" does not answer")

	slow := &Health{Timeout: 50 * time.Millisecond, Checks: []Check{{Name: "slow", Probe: func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}}}}
	ok, res := slow.Run(context.Background())
	assert.False(t, ok)
	assert.Equal(t, []string{"slow"}, Failing(res))
	assert.Contains(t, res["slow"].Error, "deadline exceeded")
}

func TestScrape(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("# HELP a_total A.\n# TYPE a_total counter\na_total{site=\"dr\"} 3\nb 1.5\n"))
	}))
	defer srv.Close()
	m, err := Scrape(context.Background(), strings.TrimPrefix(srv.URL, "http://"))
	require.NoError(t, err)
	assert.Equal(t, map[string]float64{`a_total{site="dr"}`: 3, "b": 1.5}, m)
	assert.Equal(t, "a_total", SeriesName(`a_total{site="dr"}`))
	_, err = Scrape(context.Background(), "127.0.0.1:1")
	assert.ErrorContains(t, err, "is the process running")
}

// TestServesProfiles: the metrics listener serves the handler and Go's profiles.
func TestServesProfiles(t *testing.T) {
	addr, closeFn, err := Start("127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "metrics of "+r.URL.Path)
	}), nil)
	require.NoError(t, err)
	defer closeFn()
	get := func(path string) (int, string) {
		res, err := http.Get("http://" + addr + path)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res.StatusCode, string(b)
	}
	code, body := get("/metrics")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "metrics of /metrics", body)
	code, body = get("/debug/pprof/goroutine?debug=1")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "goroutine profile:")
}
