package testlog

import (
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestBufferKeepsConcurrentWrites(t *testing.T) {
	var b Buffer
	log := slog.New(slog.NewTextHandler(&b, nil))
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); log.Info("hello"); _ = b.String() }()
	}
	wg.Wait()
	assert.Equal(t, 8, strings.Count(b.String(), "\n"))
	assert.False(t, Discard().Enabled(t.Context(), slog.LevelError), "Discard drops everything")
}
