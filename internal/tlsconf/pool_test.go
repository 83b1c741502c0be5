package tlsconf_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/internal/tlsconf"
)

// TestHTTPClientReusesConnections: many requests at once to one host, twice; the second
// round reuses the first round's connections instead of dialing (Go's default keeps 2).
func TestHTTPClientReusesConnections(t *testing.T) {
	const concurrent = 32
	var dialed atomic.Int64
	var arrived sync.WaitGroup
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Done()
		arrived.Wait() // every request of a round is in flight at once: one connection each
		w.Write([]byte("ok"))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dialed.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	hc, err := tlsconf.HTTPClient(tlsconf.Client{})
	require.NoError(t, err)

	round := func() {
		arrived.Add(concurrent)
		var done sync.WaitGroup
		for range concurrent {
			done.Go(func() {
				res, err := hc.Get(srv.URL)
				if assert.NoError(t, err) {
					io.Copy(io.Discard, res.Body) // read to the end: the connection goes back to the pool
					res.Body.Close()
				}
			})
		}
		done.Wait()
	}
	round()
	first := dialed.Load()
	require.EqualValues(t, concurrent, first, "the first round opens one connection per request in flight")
	round()
	assert.Equal(t, first, dialed.Load(), "the second round reuses the idle connections")
}
