package workflows

import (
	"go.temporal.io/sdk/temporal"

	"github.com/backbeat-temporal/backbeat/contract"
)

// retryPolicy is the Temporal retry policy of r with the given non-retryable error
// types.
func retryPolicy(r contract.RetryConfig, nonRetryable []string) *temporal.RetryPolicy {
	return &temporal.RetryPolicy{
		InitialInterval:        r.InitialInterval,
		BackoffCoefficient:     r.BackoffCoefficient,
		MaximumInterval:        r.MaximumInterval,
		MaximumAttempts:        r.MaximumAttempts(),
		NonRetryableErrorTypes: nonRetryable,
	}
}

// Typed keys of the search attributes of contract.SearchAttributes, for the workflow's
// upserts.
var (
	partitionKey = temporal.NewSearchAttributeKeyInt64(contract.SearchAttrPartition)
	topicKey     = temporal.NewSearchAttributeKeyKeyword(contract.SearchAttrTopic)
	backlogKey   = temporal.NewSearchAttributeKeyInt64(contract.SearchAttrBacklog)
	pausedKey    = temporal.NewSearchAttributeKeyBool(contract.SearchAttrPaused)
	processedKey = temporal.NewSearchAttributeKeyInt64(contract.SearchAttrProcessed)
)
