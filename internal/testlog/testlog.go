// Package testlog holds the loggers of the project's tests: a logger that drops
// everything (Discard) and a buffer that a logger and the test read concurrently
// (Buffer), so that a test can assert what a component logged.
package testlog

import (
	"bytes"
	"log/slog"
	"sync"
)

// Discard returns a logger that drops every record.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// Buffer is a bytes.Buffer safe for one writer (a logger, a process's output) and
// concurrent readers. Its zero value is ready.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
