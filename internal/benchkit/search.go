package benchkit

import (
	"context"
	"fmt"
	"math"
	"time"
)

// Step is what one step of SearchRate measured at one offered rate.
type Step struct {
	// Rate offered (objects/s) and Achieved: objects put over the time the puts took.
	Rate, Achieved float64
	// Put versions, and Done of them ended COMPLETED within the step's deadline.
	Put, Done int
	// P50 and P99 of the put→COMPLETED latency of the Done versions.
	P50, P99 time.Duration
}

// Pass tells whether the step holds the bound: every version done, p99 under bound.
func (s Step) Pass(bound time.Duration) bool {
	return s.Put > 0 && s.Done == s.Put && s.P99 < bound
}

// String is the step on one line: rates, versions done, latencies.
func (s Step) String() string {
	return fmt.Sprintf("rate %.3g/s (achieved %.3g/s): %d/%d done, p50 %s p99 %s",
		s.Rate, s.Achieved, s.Done, s.Put, s.P50.Round(time.Millisecond), s.P99.Round(time.Millisecond))
}

// Search tunes SearchRate.
type Search struct {
	// Start is the first rate tried (objects/s). Required.
	Start float64
	// Factor multiplies the rate after each passing step until one fails. Default 2.
	Factor float64
	// Refine is how many bisections (geometric) are tried between the last passing and
	// the first failing rate. Default 2.
	Refine int
	// Max: the search stops, passing, at a rate above Max. Default: no limit.
	Max float64
	// Bound is the p99 a step must stay under. Default 2 s.
	Bound time.Duration
}

// SearchRate finds the highest rate whose step passes (Step.Pass): it doubles (Factor)
// from Start while steps pass, then bisects Refine times between the last pass and the
// first failure; when Start already fails it divides by Factor, at most Refine times.
// measure runs one step at a rate. It returns the best passing step (Put 0 when none
// passed) and every step in the order run.
func SearchRate(ctx context.Context, s Search, measure func(ctx context.Context, rate float64) (Step, error)) (Step, []Step, error) {
	if s.Start <= 0 {
		return Step{}, nil, fmt.Errorf("search: start rate %g must be positive", s.Start)
	}
	if s.Factor <= 1 {
		s.Factor = 2
	}
	if s.Refine <= 0 {
		s.Refine = 2
	}
	if s.Bound <= 0 {
		s.Bound = 2 * time.Second
	}
	var steps []Step
	var best Step
	step := func(rate float64) (bool, error) {
		st, err := measure(ctx, rate)
		if err != nil {
			return false, err
		}
		steps = append(steps, st)
		ok := st.Pass(s.Bound)
		if ok && st.Rate > best.Rate {
			best = st
		}
		return ok, nil
	}
	lo, hi := 0.0, 0.0 // last passing and first failing rate
	for rate := s.Start; ; rate *= s.Factor {
		ok, err := step(rate)
		if err != nil {
			return best, steps, err
		}
		if !ok {
			hi = rate
			break
		}
		lo = rate
		if s.Max > 0 && rate > s.Max {
			return best, steps, nil
		}
	}
	for range s.Refine {
		rate := hi / s.Factor // nothing passed yet: go down
		if lo > 0 {
			rate = math.Sqrt(lo * hi)
		}
		ok, err := step(rate)
		if err != nil {
			return best, steps, err
		}
		if ok {
			lo = rate
		} else {
			hi = rate
		}
	}
	return best, steps, nil
}
