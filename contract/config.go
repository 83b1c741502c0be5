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
	// Retry is the retry policy of ActivityReplicate. Default: DefaultRetry() (1 s, ×2,
	// at most 5 min, 3 retries). With durable retries (runs begun after the workflow's
	// "durable-retry" change) it is one *burst*: Temporal retries the activity
	// MaxRetries times, then the workflow waits on a timer, continuing the same backoff
	// (1, 2, 4 s in the burst, then 8, 16... s capped at MaximumInterval), and starts
	// another burst, until RetryBudget has passed since the entry's first failure.
	// Older runs mark the version FAILED after the first burst.
	Retry RetryConfig
	// StatusRetry is the retry policy of ActivitySetStatus. Default: DefaultStatusRetry()
	// (1 s, ×2, at most 60 s, 4 retries). With durable retries it is one burst, as for
	// Retry, and the bursts go on without a budget: a version must not stay PENDING
	// because a status write failed; the entry waits instead (other objects go on).
	// RetryForever is taken as the default burst there. Older runs retry forever inside
	// one local activity.
	StatusRetry RetryConfig
	// RetryBudget is how long an entry's replication is retried after its first
	// retryable failure (or after its target's breaker first held it back) before the
	// version is marked FAILED. Durable retries only. Default 24 h.
	RetryBudget time.Duration
	// BreakerThreshold is the number of consecutive retryable failures (bursts) of
	// entries of one target (the rule's site; status writes: the source) that opens the
	// target's circuit breaker: its entries then wait while one probe entry retries on
	// the backoff schedule; the first success (or a non-retryable answer: the target is
	// reachable) closes it and its waiting entries start at once. Durable retries only.
	// Default 5; negative disables the breaker.
	BreakerThreshold int
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
	// BatchMaxEntries bounds the entries of one ActivityReplicateBatch (runs begun
	// after the workflow's "batch" change; older runs replicate entry by entry). With
	// batches, MaxConcurrent bounds the activities in flight (a batch counts as one).
	// Default 64 (DefaultBatchMaxEntries); 1 makes batches of one entry.
	BatchMaxEntries int `json:",omitempty"`
	// BatchMaxBytes bounds the sum of the object sizes of one batch (a batch always
	// takes at least one entry). Default 64 MiB (DefaultBatchMaxBytes).
	BatchMaxBytes int64 `json:",omitempty"`
	// BatchParallelism is the most entries of one batch replicated at once by the
	// activity. Default 16 (DefaultBatchParallelism).
	BatchParallelism int `json:",omitempty"`
	// PartialBatches is the most batches in flight that are partial (fewer than
	// BatchMaxEntries entries and under half BatchMaxBytes). With that many in flight, a
	// partial batch is not started: the entries wait until one finishes (and join the
	// next batch together) or until they fill a batch. So under load batches grow instead
	// of multiplying, each costing Temporal the same (Nagle's algorithm applied to
	// activities); when idle an entry starts at once. Runs begun after the workflow's
	// "partial-batches" change. Default 2 (DefaultPartialBatches); negative: no bound.
	PartialBatches int `json:",omitempty"`
	// LargeObjectSize is the object size from which an entry is not batched: it is
	// replicated alone by ActivityReplicate, whose multipart copy resumes from its
	// heartbeats, within its own byte budget. Default 64 MiB (DefaultLargeObjectSize,
	// the default multipart threshold of the sites).
	LargeObjectSize int64 `json:",omitempty"`
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
	DefaultRetryBudget        = 24 * time.Hour
	DefaultBreakerThreshold   = 5
)

// DefaultRetry is the default policy of ActivityReplicate: 1 s, ×2, capped at 5 min,
// 3 retries per burst (see Config.Retry).
func DefaultRetry() RetryConfig {
	return RetryConfig{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute, MaxRetries: 3}
}

// DefaultStatusRetry is the default policy of ActivitySetStatus: 1 s, ×2, capped at
// 60 s, 4 retries per burst (see Config.StatusRetry).
func DefaultStatusRetry() RetryConfig {
	return RetryConfig{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 60 * time.Second, MaxRetries: 4}
}

// DefaultConfig returns the default Config.
func DefaultConfig() Config { return Config{}.WithDefaults() }

// WithDefaults returns c with its zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	c.Retry = c.Retry.withDefaults(DefaultRetry())
	c.StatusRetry = c.StatusRetry.withDefaults(DefaultStatusRetry())
	if c.RetryBudget <= 0 {
		c.RetryBudget = DefaultRetryBudget
	}
	if c.BreakerThreshold == 0 {
		c.BreakerThreshold = DefaultBreakerThreshold
	}
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
	if c.BatchMaxEntries <= 0 {
		c.BatchMaxEntries = DefaultBatchMaxEntries
	}
	if c.BatchMaxBytes <= 0 {
		c.BatchMaxBytes = DefaultBatchMaxBytes
	}
	if c.BatchParallelism <= 0 {
		c.BatchParallelism = DefaultBatchParallelism
	}
	if c.PartialBatches == 0 {
		c.PartialBatches = DefaultPartialBatches
	}
	if c.LargeObjectSize <= 0 {
		c.LargeObjectSize = DefaultLargeObjectSize
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

// Overlay returns c with the fields that o sets (non-zero) replaced by o's: the
// worker's own configuration (ActivityWorkflowConfig) over the one carried in Params.
// Retry and StatusRetry are replaced field by field.
func (c Config) Overlay(o Config) Config {
	c.Retry = c.Retry.overlay(o.Retry)
	c.StatusRetry = c.StatusRetry.overlay(o.StatusRetry)
	setIf(&c.RetryBudget, o.RetryBudget)
	setIf(&c.BreakerThreshold, o.BreakerThreshold)
	setIf(&c.ActivityTimeout, o.ActivityTimeout)
	setIf(&c.HeartbeatTimeout, o.HeartbeatTimeout)
	setIf(&c.StatusTimeout, o.StatusTimeout)
	if o.LocalStatus != nil {
		c.LocalStatus = o.LocalStatus
	}
	setIf(&c.ContinueAsNewAfter, o.ContinueAsNewAfter)
	setIf(&c.MaxSignalsPerRun, o.MaxSignalsPerRun)
	setIf(&c.MaxCarryBytes, o.MaxCarryBytes)
	setIf(&c.MaxConcurrent, o.MaxConcurrent)
	setIf(&c.BatchMaxEntries, o.BatchMaxEntries)
	setIf(&c.BatchMaxBytes, o.BatchMaxBytes)
	setIf(&c.BatchParallelism, o.BatchParallelism)
	setIf(&c.PartialBatches, o.PartialBatches)
	setIf(&c.LargeObjectSize, o.LargeObjectSize)
	c.DisableSearchAttributes = c.DisableSearchAttributes || o.DisableSearchAttributes
	return c
}

func (r RetryConfig) overlay(o RetryConfig) RetryConfig {
	setIf(&r.InitialInterval, o.InitialInterval)
	setIf(&r.BackoffCoefficient, o.BackoffCoefficient)
	setIf(&r.MaximumInterval, o.MaximumInterval)
	setIf(&r.MaxRetries, o.MaxRetries)
	return r
}

func setIf[T comparable](dst *T, v T) {
	var zero T
	if v != zero {
		*dst = v
	}
}

// Delay is the backoff before the attempt that follows attempt n (n ≥ 1):
// InitialInterval × BackoffCoefficient^(n-1), capped at MaximumInterval. r must have its
// defaults set.
func (r RetryConfig) Delay(n int) time.Duration {
	d := float64(r.InitialInterval)
	for i := 1; i < n && d < float64(r.MaximumInterval); i++ {
		d *= r.BackoffCoefficient
	}
	return min(time.Duration(d), r.MaximumInterval)
}
