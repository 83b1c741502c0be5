package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestReplicationOnTemporalPostgres replicates through the production-shaped Temporal
// (the server on PostgreSQL, 4 history shards, as docker-compose.yml runs it) and kills
// -9 PostgreSQL, then the Temporal server, while a first batch replicates; a second
// batch is put after both restarts. Every version settles COMPLETED and the target
// holds REPLICA versions matching the source: nothing is lost.
func TestReplicationOnTemporalPostgres(t *testing.T) {
	s := startStack(t, withTemporalPostgres())
	pg := s.temporal.Postgres()
	require.NotNil(t, pg, "the stack runs Temporal on PostgreSQL")
	var w written
	const n = 60 // per batch
	put := func(batch int) {
		for i := 0; i < n; i++ {
			w.put(s, fmt.Sprintf("pg-%02d", i%20), []byte(fmt.Sprintf("batch %d object %d", batch, i)), map[string]string{"i": fmt.Sprint(i)})
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		put(1)
	}()
	require.Eventually(t, func() bool { return s.completed() >= 5 }, 3*time.Minute, 100*time.Millisecond)

	require.NoError(t, pg.Kill())
	require.NoError(t, pg.Restart())
	t.Logf("PostgreSQL killed and restarted: %d of %d versions completed", s.completed(), n)
	s.temporal.Kill()
	s.temporal.Restart()
	t.Logf("Temporal server killed and restarted: %d of %d versions completed", s.completed(), n)
	<-done
	put(2)

	src := s.waitSettled(5*time.Minute, 2*n)
	w.mu.Lock()
	defer w.mu.Unlock()
	s.checkTarget(src, &w)
}
