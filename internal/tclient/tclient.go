// Package tclient dials Temporal for the engine's long-running commands (bridge,
// worker): it waits for the server with backoff instead of failing, and logs how to fix
// an address or namespace that never answers.
package tclient

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/backbeat-temporal/backbeat/internal/tlsconf"
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
	// TLS is the TLS (or, with a client certificate, mTLS) setting of the connection;
	// its zero value dials in plain text. Default: plain text.
	TLS tlsconf.Client
}

// TLSFlagCA, TLSFlagCert, TLSFlagKey and TLSFlagServerName are the command-line flags
// of Options.TLS, the same in every command.
const (
	TLSFlagCA         = "temporal-tls-ca"
	TLSFlagCert       = "temporal-tls-cert"
	TLSFlagKey        = "temporal-tls-key"
	TLSFlagServerName = "temporal-tls-server-name"
)

// CertFlags names the client certificate's flags in messages.
const CertFlags = "--" + TLSFlagCert + " and --" + TLSFlagKey

// FlagSet is the part of a flag set AddTLSFlags needs (flag.FlagSet and pflag.FlagSet
// both have it).
type FlagSet interface {
	StringVar(p *string, name, value, usage string)
}

// AddTLSFlags defines the --temporal-tls-* flags, which set t.
func AddTLSFlags(fs FlagSet, t *tlsconf.Client) {
	fs.StringVar(&t.CAFile, TLSFlagCA, "", "PEM bundle of the CAs that sign Temporal's frontend certificate; any --temporal-tls-* flag turns TLS on (empty: the system's roots when TLS is on)")
	fs.StringVar(&t.CertFile, TLSFlagCert, "", "PEM client certificate for mutual TLS with Temporal (with --temporal-tls-key)")
	fs.StringVar(&t.KeyFile, TLSFlagKey, "", "PEM private key file of --temporal-tls-cert")
	fs.StringVar(&t.ServerName, TLSFlagServerName, "", "name expected in Temporal's certificate (empty: the host of --temporal-address)")
}

// ClientOptions returns the SDK options of o (without logger or metrics): HostPort,
// Namespace and, when o.TLS is set, the TLS configuration.
func ClientOptions(o Options) (client.Options, error) {
	co := client.Options{HostPort: o.Address, Namespace: o.Namespace}
	if o.TLS.Set() {
		tc, err := o.TLS.Config()
		if err != nil {
			return co, fmt.Errorf("Temporal TLS (--%s, --%s, --%s): %w", TLSFlagCA, TLSFlagCert, TLSFlagKey, err)
		}
		co.ConnectionOptions.TLS = tc
	}
	return co, nil
}

// Explain returns err with what to do when it is a TLS failure (see tlsconf.Client.Explain).
func Explain(err error, o Options) error {
	t := o.TLS
	if t.CAFlag == "" {
		t.CAFlag = "--" + TLSFlagCA
	}
	if t.CertFlag == "" {
		t.CertFlag = CertFlags
	}
	return t.Explain(err, "Temporal at "+o.Address)
}

// HandshakeCause adds to err, a failed dial with TLS on, the error of a TLS handshake
// with the frontend made directly: gRPC's dial often ends on its deadline ("waiting for
// connections to become ready") without the handshake's reason, which is what tells the
// operator what to fix (see tlsconf.Client.Explain). With TLS 1.3 a server that refuses
// the client's certificate (mutual TLS) says so after the handshake: its alert is read
// too. err is returned as it is when TLS is off, the handshake succeeds (and no alert
// follows), or the frontend cannot be reached at all.
func HandshakeCause(err error, o Options) error {
	if !o.TLS.Set() {
		return err
	}
	cfg, cerr := o.TLS.Config()
	if cerr != nil {
		return err
	}
	conn, herr := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", o.Address, cfg)
	if herr == nil {
		defer conn.Close()
		// The alert comes right after the handshake; a server that accepted the client
		// waits for its HTTP/2 preface, and the read ends on its deadline.
		_ = conn.SetReadDeadline(time.Now().Add(time.Second))
		if _, rerr := conn.Read(make([]byte, 1)); rerr != nil && strings.Contains(rerr.Error(), "remote error: tls:") {
			return errors.Join(err, rerr)
		}
		return err
	}
	var op *net.OpError
	if errors.As(herr, &op) && op.Op == "dial" {
		return err // not reachable: no TLS reason to add
	}
	return errors.Join(err, herr)
}

// Dial connects to Temporal, retrying with exponential backoff until it answers or ctx
// ends (then the error joins ctx's error and the last dial error). A TLS setting that
// cannot be loaded is an error at once.
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
	co, err := ClientOptions(o)
	if err != nil {
		return nil, err
	}
	co.Logger = tlog.NewStructuredLogger(o.Logger.With("component", "temporal-client"))
	co.MetricsHandler = o.Metrics
	backoff := o.MinBackoff
	for {
		c, err := client.DialContext(ctx, co)
		if err == nil {
			return c, nil
		}
		err = Explain(HandshakeCause(err, o), o)
		o.Logger.Error("cannot reach Temporal; retrying (start it, or fix --temporal-address / --namespace / --temporal-tls-*)",
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
