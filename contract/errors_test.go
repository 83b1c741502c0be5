package contract

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestErrorKindsAreErrorTypes(t *testing.T) {
	for _, k := range []ErrorKind{KindAccessDenied, KindInvalidConfig, KindNoSuchBucket, KindSourceGone, KindInvalidEntry, KindNonRetryable} {
		assert.Equal(t, string(k), k.ErrorType())
		assert.Contains(t, ReplicateNonRetryableErrorTypes(), k.ErrorType(), "fail-fast kind %s", k)
	}
	assert.Equal(t, ErrTypeRetryable, KindRetryable.ErrorType())
	assert.NotContains(t, ReplicateNonRetryableErrorTypes(), KindRetryable.ErrorType())
	assert.NotContains(t, SetStatusNonRetryableErrorTypes(), KindAccessDenied.ErrorType(), "status writes retry access denied")
	assert.Contains(t, SetStatusNonRetryableErrorTypes(), KindSourceGone.ErrorType(), "no version left to mark")
}

func TestKeysAndIDs(t *testing.T) {
	assert.Equal(t, "b/k/with/slash", ObjectKey("b", "k/with/slash"))
	assert.Equal(t, "backbeat-replication/topic/3", WorkflowID("topic", 3))
}
