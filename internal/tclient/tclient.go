// Package tclient dials Temporal for the engine's long-running commands (bridge,
// worker): it waits for the server with backoff instead of failing, and logs how to fix
// an address or namespace that never answers.
package tclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
)

// Options configure Dial.
type Options struct {
	// Address is the Temporal frontend host:port. Required.
	Address string
	// Namespace is the Temporal namespace. Default "default".
	Namespace string
	// Logger receives the client's logs and the retry messages. Default slog.Default().
	Logger *slog.Logger
	// Metrics receives the SDK's metrics. Default: none.
	Metrics client.MetricsHandler
	// MinBackoff and MaxBackoff bound the delay between attempts. Defaults 200ms, 30s.
	MinBackoff, MaxBackoff time.Duration
}

// Dial connects to Temporal, retrying with exponential backoff until it answers or ctx
// ends (then the error joins ctx's error and the last dial error).
func Dial(ctx context.Context, o Options) (client.Client, error) {
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MinBackoff == 0 {
		o.MinBackoff = 200 * time.Millisecond
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = 30 * time.Second
	}
	backoff := o.MinBackoff
	for {
		c, err := client.DialContext(ctx, client.Options{
			HostPort:       o.Address,
			Namespace:      o.Namespace,
			Logger:         tlog.NewStructuredLogger(o.Logger.With("component", "temporal-client")),
			MetricsHandler: o.Metrics,
		})
		if err == nil {
			return c, nil
		}
		o.Logger.Error("cannot reach Temporal; retrying (start it, or fix --temporal-address / --namespace)",
			"address", o.Address, "namespace", o.Namespace, "err", err, "retryIn", backoff)
		select {
		case <-ctx.Done():
			return nil, errors.Join(ctx.Err(), err)
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, o.MaxBackoff)
	}
}

// Probe is a /healthz check of Temporal (see metricsserver.Check): it fails until Set
// gives it the dialed client, then whenever Temporal's health check does not pass.
type Probe struct {
	// Address is the frontend host:port, for the messages.
	Address string
	c       atomic.Pointer[client.Client]
}

// Set gives the probe the client Dial returned.
func (p *Probe) Set(c client.Client) { p.c.Store(&c) }

// Check runs the probe; it suits metricsserver.Check.Probe.
func (p *Probe) Check(ctx context.Context) error {
	c := p.c.Load()
	if c == nil {
		return fmt.Errorf("not connected to Temporal at %s yet (start it, or fix --temporal-address / --namespace)", p.Address)
	}
	if _, err := (*c).CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		return fmt.Errorf("health check of Temporal at %s fails: %w", p.Address, err)
	}
	return nil
}
