// Package tlsconf builds the TLS settings of the engine's clients (of s3server, of
// Temporal, of Kafka) in one place, and turns certificate errors into messages that say
// which CA bundle to give.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// EnvAWSCABundle is the AWS SDKs' convention for a PEM CA bundle; the commands use it
// when their --s3-ca-file is not given.
const EnvAWSCABundle = "AWS_CA_BUNDLE"

// Client is the TLS setting of a client. Its zero value is plain TLS against the
// system's roots.
type Client struct {
	// CAFile is a PEM bundle of the CAs that may sign the server's certificate.
	// Default "": the system's roots.
	CAFile string
	// CertFile and KeyFile are the PEM client certificate and its key (mutual TLS).
	// Both or neither. Default "": no client certificate.
	CertFile, KeyFile string
	// ServerName is the name checked in the server's certificate. Default "": the host
	// dialed.
	ServerName string
	// CAFlag names the option that sets CAFile (e.g. "--s3-ca-file"), for messages.
	// Default "the CA file".
	CAFlag string
	// CertFlag names the options that set CertFile and KeyFile (e.g.
	// "--temporal-tls-cert and --temporal-tls-key"), for messages. Default "a client
	// certificate and its key".
	CertFlag string
}

// Set reports whether any field (other than CAFlag and CertFlag) is set.
func (c Client) Set() bool {
	return c.CAFile != "" || c.CertFile != "" || c.KeyFile != "" || c.ServerName != ""
}

// Config returns the tls.Config of c (TLS 1.2 at least).
func (c Client) Config() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if c.CAFile != "" {
		pool, err := LoadCAs(c.CAFile)
		if err != nil {
			return nil, err
		}
		tc.RootCAs = pool
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return nil, errors.New("a client certificate and its key go together: give both files or neither")
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load the client certificate %s and key %s (PEM files): %w", c.CertFile, c.KeyFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// LoadCAs reads a PEM bundle of CA certificates.
func LoadCAs(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read the CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA bundle %s holds no PEM certificate (-----BEGIN CERTIFICATE-----)", file)
	}
	return pool, nil
}

// Explain returns err with what to do when it is a TLS failure talking to server: a
// certificate signed by an unknown CA, for another name, a server that does not speak
// TLS, or one that requires a client certificate (mutual TLS) and got none it accepts.
// Other errors are returned as they are.
func (c Client) Explain(err error, server string) error {
	if err == nil {
		return nil
	}
	flag := c.CAFlag
	if flag == "" {
		flag = "the CA file"
	}
	roots := "the system's CA roots"
	if c.CAFile != "" {
		roots = "the CA bundle " + c.CAFile
	}
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		record   tls.RecordHeaderError
	)
	// gRPC flattens the handshake error into its status text: match that text too.
	msg := err.Error()
	switch {
	case errors.As(err, &unknown) || strings.Contains(msg, "x509: certificate signed by unknown authority"):
		return fmt.Errorf("TLS to %s: its certificate is not signed by a CA of %s: give the bundle of the CA that signed it with %s: %w", server, roots, flag, err)
	case errors.As(err, &hostname) || strings.Contains(msg, "x509: certificate is valid for") || strings.Contains(msg, "x509: certificate is not valid for any names"):
		return fmt.Errorf("TLS to %s: its certificate is not valid for that name: dial a name the certificate holds, or set the expected server name: %w", server, err)
	case errors.As(err, &invalid) || strings.Contains(msg, "x509: certificate has expired"):
		return fmt.Errorf("TLS to %s: its certificate is invalid (expired, or not a server certificate): renew it: %w", server, err)
	case errors.As(err, &record) || strings.Contains(msg, "first record does not look like a TLS handshake"):
		return fmt.Errorf("TLS to %s: the server does not speak TLS: use its plain address (http://), or enable TLS on it: %w", server, err)
	case strings.Contains(msg, "remote error: tls: certificate required") || strings.Contains(msg, "remote error: tls: bad certificate") ||
		strings.Contains(msg, "remote error: tls: unknown certificate authority"):
		certFlag := c.CertFlag
		if certFlag == "" {
			certFlag = "a client certificate and its key"
		}
		what := "the server requires a client certificate (mutual TLS) and none was given"
		if c.CertFile != "" {
			what = "the server does not accept the client certificate " + c.CertFile + " (mutual TLS)"
		}
		return fmt.Errorf("TLS to %s: %s: give one signed by a CA the server trusts with %s: %w", server, what, certFlag, err)
	}
	return err
}

// MaxIdleConnsPerHost is how many idle connections to one host the clients of
// HTTPClient keep for reuse. The engine sends many requests at once to a few hosts (a
// batch copies 16 objects at once, several batches run): with Go's default of 2, most
// requests would dial a new connection (measured: a fifth of the worker's CPU went to
// dialing, and as much of s3server's to accepting).
const MaxIdleConnsPerHost = 256

// HTTPClient returns an HTTP client that trusts c's CAs (and presents its certificate),
// keeps up to MaxIdleConnsPerHost idle connections per host, and whose TLS errors say
// what to do (see Explain). It has no overall timeout: requests end with their context.
func HTTPClient(c Client) (*http.Client, error) {
	tc, err := c.Config()
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 0, MaxIdleConnsPerHost // MaxIdleConns 0: no overall bound
	tr.TLSClientConfig = tc
	return &http.Client{Transport: &explainer{rt: tr, c: c}}, nil
}

// explainer explains the TLS errors of a RoundTripper.
type explainer struct {
	rt http.RoundTripper
	c  Client
}

// RoundTrip implements http.RoundTripper.
func (e *explainer) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := e.rt.RoundTrip(req)
	if err != nil {
		return nil, e.c.Explain(err, req.URL.Host)
	}
	return resp, nil
}

// CloseIdleConnections closes the idle connections of the wrapped transport.
func (e *explainer) CloseIdleConnections() {
	if ci, ok := e.rt.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// S3CAFile returns flagValue, or $AWS_CA_BUNDLE (looked up with getenv) when it is
// empty.
func S3CAFile(flagValue string, getenv func(string) string) string {
	if flagValue != "" {
		return flagValue
	}
	return getenv(EnvAWSCABundle)
}
