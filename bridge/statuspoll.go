package bridge

import (
	"context"
	"sync"
	"time"
)

// pollStatus queries the status of p's workflow every Config.StatusPoll until ctx ends
// or the returned stop is called, so that the backlog gauge and the workflow's counters
// (backbeat_workflow_counter) stay current while no entries flow. A failed query is
// left to the next tick (the pump's own queries log and act on errors).
func pollStatus(ctx context.Context, p *pump) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(p.cfg.StatusPoll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				p.queryBacklog(ctx)
			}
		}
	})
	return func() {
		cancel()
		wg.Wait()
	}
}
