package contract

import "time"

// Params is the input of the partition workflow (workflows.PartitionWorkflow), also used for ContinueAsNew.
type Params struct {
	// Topic and Partition the workflow replicates. Required.
	Topic     string
	Partition int32
	// Config is carried across ContinueAsNew; zero fields take their defaults.
	Config Config
	// State is nil on the first run and carried across ContinueAsNew.
	State *State
}

// Config tunes a partition workflow. Zero fields take the defaults listed (see
// DefaultConfig, Config.WithDefaults).
type Config struct {
	// Retry is the retry policy of ActivityReplicate. Default: DefaultRetry()
	// (Backbeat's: 1 s, ×1.5, at most 300 s, 5 retries).
	Retry RetryConfig
	// StatusRetry is the retry policy of ActivitySetStatus. Default: DefaultStatusRetry()
	// (1 s, ×2, at most 60 s, retried forever: a version must not stay PENDING because a
	// status write failed; the partition waits instead).
	StatusRetry RetryConfig
	// ActivityTimeout is the StartToCloseTimeout of one ActivityReplicate attempt.
	// Default 1 h (large objects go by parts, heartbeating).
	ActivityTimeout time.Duration
	// HeartbeatTimeout of ActivityReplicate: an attempt that does not heartbeat for that
	// long is failed and retried. Default 60 s; negative disables heartbeat timeouts.
	HeartbeatTimeout time.Duration
	// StatusTimeout is the StartToCloseTimeout of one ActivitySetStatus attempt.
	// Default 30 s.
	StatusTimeout time.Duration
	// LocalStatus runs ActivitySetStatus as a local activity (by its registered name, in
	// the worker that runs the workflow task, with the same timeout and retry policy):
	// no activity task to dispatch and no workflow task to wake the workflow up, which
	// saves two of the ~5 task dispatches per entry. false runs it as a regular activity.
	// nil (the zero value) means true; WithDefaults sets it. Runs started before this
	// option existed keep the regular activity (see localStatusChange).
	LocalStatus *bool `json:",omitempty"`
	// ContinueAsNewAfter is the number of entries one run processes before it continues
	// as new (also done earlier when Temporal suggests it). Default 1000. Setting it to 1
	// is the way to exercise ContinueAsNew on a real server.
	ContinueAsNewAfter int
	// MaxSignalsPerRun is the number of signals one run accepts before it continues as
	// new (Temporal refuses signals past 10 000 per run). Default 5000.
	MaxSignalsPerRun int
	// MaxCarryBytes bounds the JSON size of the queue carried across ContinueAsNew
	// (Temporal refuses payloads over 2 MB). While the backlog is bigger, ContinueAsNew
	// is postponed until it has shrunk. Default 1 MiB.
	MaxCarryBytes int
	// MaxConcurrent is the most entries in flight at once. Entries start in offset
	// order, skipping any whose object (bucket and key) has an earlier entry still
	// queued or in flight, so the versions of one object are replicated one after
	// another in offset order while different objects overlap. 1 replicates the
	// entries strictly one after another. Default 8.
	MaxConcurrent int
	// DisableSearchAttributes stops the search attribute upserts, for namespaces where
	// the attributes of SearchAttributes() are not registered (an upsert of an unknown
	// attribute fails every workflow task). Default false.
	DisableSearchAttributes bool
}

// RetryConfig is an exponential backoff retry policy.
type RetryConfig struct {
	// InitialInterval is the delay before the first retry. Default 1 s.
	InitialInterval time.Duration
	// BackoffCoefficient multiplies the delay after each retry. Default 1.5 (2 for
	// DefaultStatusRetry); values below 1 take the default.
	BackoffCoefficient float64
	// MaximumInterval caps the delay. Default 300 s (60 s for DefaultStatusRetry).
	MaximumInterval time.Duration
	// MaxRetries is the number of retries after the first attempt (5 → at most 6
	// attempts). 0 takes the default (5); NoRetries means a single attempt;
	// RetryForever means no limit.
	MaxRetries int
}

// Special values of RetryConfig.MaxRetries.
const (
	NoRetries    = -1
	RetryForever = -2
)

// Defaults of Config (see the field comments).
const (
	DefaultActivityTimeout    = time.Hour
	DefaultHeartbeatTimeout   = 60 * time.Second
	DefaultStatusTimeout      = 30 * time.Second
	DefaultContinueAsNewAfter = 1000
	DefaultMaxSignalsPerRun   = 5000
	DefaultMaxCarryBytes      = 1 << 20
	DefaultMaxConcurrent      = 8
	DefaultLocalStatus        = true
)

// DefaultRetry is the default policy of ActivityReplicate, Backbeat's: 1 s, ×1.5,
// capped at 300 s, 5 retries.
func DefaultRetry() RetryConfig {
	return RetryConfig{InitialInterval: time.Second, BackoffCoefficient: 1.5, MaximumInterval: 300 * time.Second, MaxRetries: 5}
}

// DefaultStatusRetry is the default policy of ActivitySetStatus: 1 s, ×2, capped at
// 60 s, retried forever.
func DefaultStatusRetry() RetryConfig {
	return RetryConfig{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 60 * time.Second, MaxRetries: RetryForever}
}

// DefaultConfig returns the default Config.
func DefaultConfig() Config { return Config{}.WithDefaults() }

// WithDefaults returns c with its zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	c.Retry = c.Retry.withDefaults(DefaultRetry())
	c.StatusRetry = c.StatusRetry.withDefaults(DefaultStatusRetry())
	if c.ActivityTimeout <= 0 {
		c.ActivityTimeout = DefaultActivityTimeout
	}
	if c.HeartbeatTimeout == 0 {
		c.HeartbeatTimeout = DefaultHeartbeatTimeout
	}
	if c.StatusTimeout <= 0 {
		c.StatusTimeout = DefaultStatusTimeout
	}
	if c.LocalStatus == nil {
		on := DefaultLocalStatus
		c.LocalStatus = &on
	}
	if c.ContinueAsNewAfter <= 0 {
		c.ContinueAsNewAfter = DefaultContinueAsNewAfter
	}
	if c.MaxSignalsPerRun <= 0 {
		c.MaxSignalsPerRun = DefaultMaxSignalsPerRun
	}
	if c.MaxCarryBytes <= 0 {
		c.MaxCarryBytes = DefaultMaxCarryBytes
	}
	if c.MaxConcurrent <= 0 {
		c.MaxConcurrent = DefaultMaxConcurrent
	}
	return c
}

func (r RetryConfig) withDefaults(d RetryConfig) RetryConfig {
	if r.InitialInterval <= 0 {
		r.InitialInterval = d.InitialInterval
	}
	if r.BackoffCoefficient < 1 {
		r.BackoffCoefficient = d.BackoffCoefficient
	}
	if r.MaximumInterval <= 0 {
		r.MaximumInterval = d.MaximumInterval
	}
	if r.MaximumInterval < r.InitialInterval {
		r.MaximumInterval = r.InitialInterval
	}
	if r.MaxRetries == 0 {
		r.MaxRetries = d.MaxRetries
	}
	return r
}

// MaximumAttempts is the Temporal MaximumAttempts of the policy (0: unlimited).
func (r RetryConfig) MaximumAttempts() int32 {
	switch {
	case r.MaxRetries == RetryForever:
		return 0
	case r.MaxRetries < 0:
		return 1
	}
	return int32(r.MaxRetries) + 1
}
