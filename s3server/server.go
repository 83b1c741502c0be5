// Package s3server is the project's local S3 endpoint: a versioned, SigV4-authenticated
// S3 API on net/http whose every metadata change is recorded in an ordered journal, plus
// the privileged /_/backbeat/ routes used by the replication engine (journal tail,
// replication status, replica writes). It is a peer of the engine, not a part of it: it
// imports nothing of the engine, and the engine speaks to it over HTTP only.
package s3server

import (
	"github.com/backbeat-temporal/backbeat/bbproto"

	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/backbeat-temporal/backbeat/s3server/replconf"
	"github.com/backbeat-temporal/backbeat/s3server/sigv4"
	"github.com/backbeat-temporal/backbeat/s3server/store"
)

// Config configures a Server.
type Config struct {
	// Listen is the address to listen on. Default "127.0.0.1:8000".
	Listen string
	// DataDir holds the metadata store, the journal and object data. Required.
	DataDir string
	// AccountsFile is the JSON accounts file (see Accounts). Required.
	AccountsFile string
	// Region is the only region accepted in signatures (a request signed for another is
	// refused: 400 AuthorizationHeaderMalformed, or AuthorizationQueryParametersError for
	// a presigned URL, naming the expected region) and the one GetBucketLocation
	// returns. Default "us-east-1".
	Region string
	// JournalRetention is how many journal records are kept. Default 0: all.
	JournalRetention uint64
	// JournalMaxAge removes journal records older than this. Default 0: no age limit.
	JournalMaxAge time.Duration
	// MaxJournalWait caps the wait= of a journal long-poll. Default 60s.
	MaxJournalWait time.Duration
	// IdleTimeout is the longest silence allowed while a request's headers or body are
	// read: a body that stalls longer is answered 400 RequestTimeout and its connection
	// closed, as S3 does. A handler that writes nothing (a journal long-poll) is not
	// limited by it. Default 20s.
	IdleTimeout time.Duration
	// KeepAliveTimeout closes a keep-alive connection idle between two requests for
	// longer. Default 2m.
	KeepAliveTimeout time.Duration
	// Logger receives structured logs. Default slog.Default().
	Logger *slog.Logger
	// NoSync disables fsync (benchmarks only). Default false.
	NoSync bool
	// TLSCertFile and TLSKeyFile are the PEM certificate (with its chain) and private key
	// of HTTPS: when both are set the server speaks HTTPS only. Both or neither.
	// Default "": plain HTTP.
	TLSCertFile, TLSKeyFile string
}

// Account is one identity of the accounts file.
type Account struct {
	Name      string `json:"name"`
	AccessKey string `json:"accessKey"`
	SecretKey string `json:"secretKey"`
	// ID is the account's optional 12-digit id: a bucket policy may name the account by
	// it as well as by its name ("arn:aws:iam::ID:root"). Default none.
	ID string `json:"id,omitempty"`
	// Replication marks the replication identity: the only one allowed on /_/backbeat/
	// routes (replica writes only into buckets whose owner consents, see policy.go). On
	// the ordinary routes it may only read object versions (GET/HEAD, GET ?tagging) of
	// buckets that have a replication configuration, and it lists only those buckets.
	Replication bool `json:"replication,omitempty"`
}

// Accounts is the accounts file: {"accounts":[{"name":..,"accessKey":..,"secretKey":..}]}.
type Accounts struct {
	Accounts []Account `json:"accounts"`
}

// LoadAccounts reads and validates an accounts file.
func LoadAccounts(path string) ([]Account, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read accounts file: %w", err)
	}
	var f Accounts
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("accounts file %s is not valid JSON (want {\"accounts\":[{\"name\":...,\"accessKey\":...,\"secretKey\":...}]}): %w", path, err)
	}
	if len(f.Accounts) == 0 {
		return nil, fmt.Errorf("accounts file %s lists no accounts", path)
	}
	seenKey, seenName := map[string]bool{}, map[string]bool{}
	for i, a := range f.Accounts {
		if a.Name == "" || a.AccessKey == "" || a.SecretKey == "" {
			return nil, fmt.Errorf("accounts file %s: account #%d needs name, accessKey and secretKey", path, i+1)
		}
		if seenKey[a.AccessKey] || seenName[a.Name] {
			return nil, fmt.Errorf("accounts file %s: account %q: duplicate name or access key", path, a.Name)
		}
		seenKey[a.AccessKey], seenName[a.Name] = true, true
		if a.ID != "" {
			if !validAccountID(a.ID) {
				return nil, fmt.Errorf("accounts file %s: account %q: id %q must be 12 digits", path, a.Name, a.ID)
			}
			if seenName[a.ID] {
				return nil, fmt.Errorf("accounts file %s: account %q: id %q is already used as a name or id", path, a.Name, a.ID)
			}
			seenName[a.ID] = true
		}
	}
	return f.Accounts, nil
}

// validAccountID tells whether id is 12 ASCII digits.
func validAccountID(id string) bool {
	if len(id) != 12 {
		return false
	}
	for _, c := range id {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Server is the S3 endpoint. Create it with New, serve Handler, Close when done.
type Server struct {
	cfg      Config
	log      *slog.Logger
	store    *store.Store
	verifier *sigv4.Verifier
	accounts map[string]Account // by access key

	replMu    sync.Mutex
	replCache map[string]*replconf.Config // parsed configs by XML text
}

// accountCreds adapts the accounts map to sigv4.Credentials.
type accountCreds map[string]Account

func (c accountCreds) Secret(accessKey string) (string, bool) {
	a, ok := c[accessKey]
	return a.SecretKey, ok
}

// DefaultConfig returns the defaults of the Config fields, the values the command's
// flags start from; New fills a zero field with the same value. DataDir and
// AccountsFile are required and have none.
func DefaultConfig() Config {
	return Config{
		Listen:           "127.0.0.1:8000",
		Region:           "us-east-1",
		MaxJournalWait:   60 * time.Second,
		IdleTimeout:      20 * time.Second,
		KeepAliveTimeout: 2 * time.Minute,
	}
}

// New opens the data directory and returns a Server.
func New(cfg Config) (*Server, error) {
	if (cfg.TLSCertFile == "") != (cfg.TLSKeyFile == "") {
		return nil, errors.New("s3server: --tls-cert and --tls-key go together: give both for HTTPS, or neither for HTTP")
	}
	d := DefaultConfig()
	if cfg.Listen == "" {
		cfg.Listen = d.Listen
	}
	if cfg.Region == "" {
		cfg.Region = d.Region
	}
	if cfg.MaxJournalWait == 0 {
		cfg.MaxJournalWait = d.MaxJournalWait
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = d.IdleTimeout
	}
	if cfg.KeepAliveTimeout <= 0 {
		cfg.KeepAliveTimeout = d.KeepAliveTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.DataDir == "" {
		return nil, errors.New("s3server: a data directory is required (--data-dir)")
	}
	if cfg.AccountsFile == "" {
		return nil, errors.New("s3server: an accounts file is required (--accounts)")
	}
	accts, err := LoadAccounts(cfg.AccountsFile)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, accounts: map[string]Account{}, replCache: map[string]*replconf.Config{}}
	for _, a := range accts {
		s.accounts[a.AccessKey] = a
	}
	s.verifier = &sigv4.Verifier{Creds: accountCreds(s.accounts), Region: cfg.Region}
	st, err := store.Open(cfg.DataDir, store.Options{
		Policy:           s.replicationPolicy,
		JournalRetention: cfg.JournalRetention,
		JournalMaxAge:    cfg.JournalMaxAge,
		NoSync:           cfg.NoSync,
	})
	if err != nil {
		return nil, fmt.Errorf("s3server: open data directory %s: %w", cfg.DataDir, err)
	}
	s.store = st
	return s, nil
}

// Close closes the store.
func (s *Server) Close() error { return s.store.Close() }

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// replicationConfig returns the parsed form of a stored configuration (cached).
func (s *Server) replicationConfig(raw []byte) (*replconf.Config, error) {
	s.replMu.Lock()
	defer s.replMu.Unlock()
	if c, ok := s.replCache[string(raw)]; ok {
		return c, nil
	}
	c, err := replconf.Parse(raw)
	if err != nil {
		return nil, err
	}
	s.replCache[string(raw)] = c
	return c, nil
}

// replicationPolicy is the store's ReplicationPolicy: PENDING when an Enabled rule of the
// bucket's configuration matches.
func (s *Server) replicationPolicy(b *store.Bucket, key string, tags map[string]string, deleteMarker bool) *store.Replication {
	if len(b.ReplicationConfig) == 0 || b.Versioning != store.VersioningEnabled {
		return nil
	}
	c, err := s.replicationConfig(b.ReplicationConfig)
	if err != nil {
		s.log.Error("stored replication configuration does not parse", "bucket", b.Name, "err", err)
		return nil
	}
	m, ok := c.Match(key, tags, deleteMarker)
	if !ok {
		return nil
	}
	return &store.Replication{
		Status:      bbproto.StatusPending,
		Role:        m.Role,
		Destination: m.DestinationBucket,
		Site:        m.StorageClass,
		RuleID:      m.RuleID,
		Content:     []bbproto.Content{bbproto.ContentData, bbproto.ContentMetadata},
	}
}

// httpServer returns the http.Server of s: headers must arrive within IdleTimeout,
// keep-alive connections close after KeepAliveTimeout, and requests see base as their
// parent context. Bodies are timed by serveHTTP (idleBody), not by a ReadTimeout,
// which would also cut off handlers that legitimately write nothing for long.
func (s *Server) httpServer(base context.Context) *http.Server {
	return &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.cfg.IdleTimeout,
		IdleTimeout:       s.cfg.KeepAliveTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return base },
	}
}

// Run serves cfg until ctx is done, then shuts down gracefully (in-flight requests get
// up to 10 s) and closes the store.
func Run(ctx context.Context, cfg Config) error {
	s, err := New(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("s3server: listen on %s: %w", s.cfg.Listen, err)
	}
	scheme := "http"
	if s.cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLSCertFile, s.cfg.TLSKeyFile)
		if err != nil {
			ln.Close()
			return fmt.Errorf("s3server: load the HTTPS certificate %s and key %s (PEM files): %w", s.cfg.TLSCertFile, s.cfg.TLSKeyFile, err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}})
		scheme = "https"
	}
	// Requests see a context that ends when shutdown starts, so journal long-polls return
	// at once instead of holding the shutdown.
	baseCtx, stopRequests := context.WithCancel(context.Background())
	defer stopRequests()
	srv := s.httpServer(baseCtx)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("s3server listening", "addr", ln.Addr().String(), "scheme", scheme, "dataDir", s.cfg.DataDir, "journalId", s.store.JournalID())
	select {
	case err := <-errc:
		return fmt.Errorf("s3server: serve: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("s3server shutting down")
	stopRequests()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("s3server: shutdown: %w", err)
	}
	return nil
}
