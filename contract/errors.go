package contract

// ErrorKind classifies a replication failure. The non-empty kinds are fail-fast: the
// same attempt would fail again until someone fixes a configuration (or the version is
// gone). An activity returns a Temporal application error whose type is
// Kind.ErrorType(); the workflow's retry policies list the fail-fast types
// (ReplicateNonRetryableErrorTypes, SetStatusNonRetryableErrorTypes).
type ErrorKind string

// Error kinds.
const (
	// KindRetryable: network errors, 5xx, throttling, a lost multipart upload...
	// Its application error type is ErrTypeRetryable.
	KindRetryable ErrorKind = ""
	// KindAccessDenied: the source or the target refused the replication identity.
	KindAccessDenied ErrorKind = "AccessDenied"
	// KindInvalidConfig: the replication rule or the sites file cannot work (unknown
	// site, bad destination ARN, target bucket without versioning, target kind wrong...),
	// or the workflow's own parameters are invalid.
	KindInvalidConfig ErrorKind = "InvalidConfig"
	// KindNoSuchBucket: the target (or source) bucket does not exist.
	KindNoSuchBucket ErrorKind = "NoSuchBucket"
	// KindSourceGone: the source version no longer exists (deleted before it was
	// replicated): there is nothing left to replicate nor to mark. The workflow counts
	// the entry as skipped and sets no status.
	KindSourceGone ErrorKind = "NoSuchVersion"
	// KindInvalidEntry: the journal record cannot be replicated (missing fields, unknown
	// op...).
	KindInvalidEntry ErrorKind = "InvalidEntry"
	// KindNonRetryable: any other request refused for good (metadata too large, invalid
	// argument...).
	KindNonRetryable ErrorKind = "NonRetryable"
)

// ErrTypeRetryable is the application error type of KindRetryable failures.
const ErrTypeRetryable = "Retryable"

// ErrorType is the Temporal application error type of the kind: the kind itself, or
// ErrTypeRetryable for KindRetryable.
func (k ErrorKind) ErrorType() string {
	if k == KindRetryable {
		return ErrTypeRetryable
	}
	return string(k)
}

// ReplicateNonRetryableErrorTypes are the NonRetryableErrorTypes of ActivityReplicate:
// every fail-fast kind.
func ReplicateNonRetryableErrorTypes() []string {
	return errorTypes(KindNonRetryable, KindAccessDenied, KindInvalidConfig,
		KindNoSuchBucket, KindSourceGone, KindInvalidEntry)
}

// SetStatusNonRetryableErrorTypes are the NonRetryableErrorTypes of ActivitySetStatus:
// only errors saying that there is no version to mark. Everything else (access denied
// included: an operator can fix it) is retried forever by default, since a version must
// never stay PENDING.
func SetStatusNonRetryableErrorTypes() []string {
	return errorTypes(KindNonRetryable, KindNoSuchBucket, KindSourceGone)
}

func errorTypes(kinds ...ErrorKind) []string {
	types := make([]string, len(kinds))
	for i, k := range kinds {
		types[i] = k.ErrorType()
	}
	return types
}
