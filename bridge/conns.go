package bridge

import (
	"errors"
	"net"
	"sync"
	"time"
)

// errConnsCut is the dial error of a connTracker after cut.
var errConnsCut = errors.New("bridge: Kafka connections closed (the consumer group is stopping)")

// connTracker dials the Kafka connections of one consumer group and can close them all.
// sarama cannot cancel a request in flight: a JoinGroup is answered only when the
// group's rebalance completes (up to the read timeout), Consume holds the group's lock
// meanwhile and Close waits for that lock. Closing the sockets is the only way to end a
// pending JoinGroup at once (on shutdown, or when the watchdog rejoins).
type connTracker struct {
	dialer net.Dialer

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	cut   bool
}

func newConnTracker(dialTimeout, keepAlive time.Duration) *connTracker {
	return &connTracker{dialer: net.Dialer{Timeout: dialTimeout, KeepAlive: keepAlive}, conns: map[net.Conn]struct{}{}}
}

// Dial dials addr and remembers the connection (sarama's Net.Proxy.Dialer).
func (t *connTracker) Dial(network, addr string) (net.Conn, error) {
	t.mu.Lock()
	cut := t.cut
	t.mu.Unlock()
	if cut {
		return nil, errConnsCut
	}
	c, err := t.dialer.Dial(network, addr)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cut {
		c.Close()
		return nil, errConnsCut
	}
	tc := &trackedConn{Conn: c, t: t}
	t.conns[tc] = struct{}{}
	return tc, nil
}

// cutAll closes every connection and refuses new ones: every request in flight fails
// at once.
func (t *connTracker) cutAll() {
	t.mu.Lock()
	t.cut = true
	conns := t.conns
	t.conns = map[net.Conn]struct{}{}
	t.mu.Unlock()
	for c := range conns {
		c.(*trackedConn).Conn.Close()
	}
}

// trackedConn forgets itself when closed.
type trackedConn struct {
	net.Conn
	t *connTracker
}

func (c *trackedConn) Close() error {
	c.t.mu.Lock()
	delete(c.t.conns, c)
	c.t.mu.Unlock()
	return c.Conn.Close()
}
