// Package metricsserver serves a command's /metrics and /healthz handler on its own
// listener (ingest :9101, bridge :9102, worker :9103).
package metricsserver

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// Start listens on addr and serves h in the background. It returns the bound address
// (useful with port 0) and a function that closes the server. An empty addr serves
// nothing and returns a no-op close.
func Start(addr string, h http.Handler, log *slog.Logger) (bound string, closeFn func(), err error) {
	if addr == "" {
		return "", func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("metrics listener on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: withPprof(h), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	if log != nil {
		log.Info("metrics listening", "addr", ln.Addr().String())
	}
	return ln.Addr().String(), func() { srv.Close() }, nil
}

// withPprof serves Go's runtime profiles under /debug/pprof/ (as Prometheus and etcd do
// on their HTTP port) and everything else with h: `go tool pprof
// http://ADDR/debug/pprof/profile?seconds=30` profiles a running process.
func withPprof(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
