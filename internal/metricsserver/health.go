package metricsserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// DefaultCheckTimeout bounds each check of a /healthz request when Health.Timeout is 0.
const DefaultCheckTimeout = 2 * time.Second

// Check is one thing /healthz verifies: a dependency's reachability or the process's own
// state.
type Check struct {
	// Name names the check in the body: "kafka", "temporal", "s3server", "consuming"...
	Name string
	// Probe returns nil when the check passes; its error says what is wrong. It is called
	// on every request, with a context bounded by Health.Timeout.
	Probe func(ctx context.Context) error
}

// CheckResult is one check's entry in the body of /healthz.
type CheckResult struct {
	// OK is true when the probe passed.
	OK bool `json:"ok"`
	// Error is the probe's error when it did not.
	Error string `json:"error,omitempty"`
}

// Health serves /healthz: it runs every check at once and answers 200 when all pass,
// 503 when one fails (the process cannot do its job), with a JSON body
// {"healthy": bool, "checks": {name: {"ok", "error"}}, ...Extra}.
type Health struct {
	// Checks are run on each request, concurrently.
	Checks []Check
	// Timeout bounds each check. Default DefaultCheckTimeout.
	Timeout time.Duration
	// Extra adds fields to the body (the process's state...). Default: none.
	Extra func() map[string]any
}

// Run runs the checks and returns whether all passed and each one's result.
func (h *Health) Run(ctx context.Context) (bool, map[string]CheckResult) {
	timeout := h.Timeout
	if timeout == 0 {
		timeout = DefaultCheckTimeout
	}
	res := make(map[string]CheckResult, len(h.Checks))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range h.Checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			err := c.Probe(cctx)
			r := CheckResult{OK: err == nil}
			if err != nil {
				r.Error = err.Error()
			}
			mu.Lock()
			res[c.Name] = r
			mu.Unlock()
		})
	}
	wg.Wait()
	ok := true
	for _, r := range res {
		ok = ok && r.OK
	}
	return ok, res
}

// ServeHTTP implements http.Handler.
func (h *Health) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ok, res := h.Run(r.Context())
	body := map[string]any{}
	if h.Extra != nil {
		for k, v := range h.Extra() {
			body[k] = v
		}
	}
	body["healthy"] = ok
	body["checks"] = res
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(body)
}

// Failing returns the names of the failed checks, sorted, for logs and messages.
func Failing(res map[string]CheckResult) []string {
	var out []string
	for n, r := range res {
		if !r.OK {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// TCPProbe passes when one of addrs (host:port) accepts a TCP connection: the
// reachability of a Kafka cluster or a ZooKeeper ensemble.
func TCPProbe(addrs []string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		var d net.Dialer
		var errs []error
		for _, a := range addrs {
			c, err := d.DialContext(ctx, "tcp", a)
			if err == nil {
				c.Close()
				return nil
			}
			errs = append(errs, err)
		}
		return fmt.Errorf("none of %s accepts connections: %w", strings.Join(addrs, ","), errors.Join(errs...))
	}
}

// HTTPProbe passes when url answers HTTP, whatever the status (an S3 endpoint answers
// 403 to an anonymous request): the reachability of an HTTP service.
func HTTPProbe(url string) func(ctx context.Context) error {
	return HTTPClientProbe(http.DefaultClient, url)
}

// HTTPClientProbe is HTTPProbe sending its request with hc (e.g. a client that trusts
// a private CA).
func HTTPClientProbe(hc *http.Client, url string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("bad URL %q: %w", url, err)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return fmt.Errorf("%s does not answer: %w", url, err)
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		return nil
	}
}

// FlagProbe passes while ok() is true; otherwise it fails with msg (what the process is
// waiting for and where to look).
func FlagProbe(ok func() bool, msg string) func(ctx context.Context) error {
	return func(context.Context) error {
		if ok() {
			return nil
		}
		return errors.New(msg)
	}
}
