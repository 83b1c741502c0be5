package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/contract"
)

// TestTargetDownWithBreakerAndPartialBatches: a target down for 40 s of workflow time
// while entries arrive one by one, with the breaker and the partial-batch bound on:
// once the target is back every entry is COMPLETED (none held for good).
func TestTargetDownWithBreakerAndPartialBatches(t *testing.T) {
	for _, partial := range []int{-1, 1, 2} {
		t.Run(map[int]string{-1: "unbounded", 1: "bound1", 2: "bound2"}[partial], func(t *testing.T) {
			var env interface{ Now() time.Time }
			f := &batchFakes{}
			e := newBatchEnv(t, f)
			env = e
			start := e.Now()
			f.outcome = func(en contract.Entry, call int) contract.EntryOutcome {
				if env.Now().Sub(start) < 40*time.Second {
					return contract.EntryOutcome{Outcome: contract.OutcomeRetry, Error: "target down"}
				}
				return contract.EntryOutcome{Outcome: contract.OutcomeDone, Status: bbproto.StatusCompleted, StatusWritten: true}
			}
			for i := int64(0); i < 12; i++ {
				signalAt(e, time.Duration(i)*time.Second, entries(i))
			}
			runUntil(t, e, params(contract.Config{BreakerThreshold: 3, PartialBatches: partial,
				Retry: contract.RetryConfig{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute, MaxRetries: 2}}), 10*time.Minute)
			assert.Len(t, f.Statuses(), 12, "every entry COMPLETED once the target is back")
		})
	}
}
