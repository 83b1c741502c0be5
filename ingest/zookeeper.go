package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
)

// zkTerm is one ZooKeeper session: the lock that makes its holder the active ingest, and
// the offset znode. A session that disconnects or expires ends the term (Lost closes):
// the leader stops publishing and a new term starts with a new session, so two ingests
// never publish as leaders for long at once, and the offset write is a compare-and-set on
// the znode version besides.
type zkTerm struct {
	conn   *zk.Conn
	chroot string
	lost   chan struct{}
}

// dialZK opens a session and waits (ctx) until it is established.
func dialZK(ctx context.Context, servers []string, timeout time.Duration, chroot string, log *slog.Logger) (*zkTerm, error) {
	conn, events, err := zk.Connect(servers, timeout, zk.WithLogger(zkLogger{log}))
	if err != nil {
		return nil, fmt.Errorf("connect to ZooKeeper %s: %w", strings.Join(servers, ","), err)
	}
	t := &zkTerm{conn: conn, chroot: strings.TrimRight(chroot, "/"), lost: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		established := false
		for ev := range events { // drained until Close: go-zookeeper needs a reader
			switch ev.State {
			case zk.StateHasSession:
				if !established {
					established = true
					close(ready)
				}
			case zk.StateDisconnected, zk.StateExpired:
				if established {
					select {
					case <-t.lost:
					default:
						close(t.lost)
					}
				}
			}
		}
	}()
	select {
	case <-ready:
		return t, nil
	case <-ctx.Done():
		conn.Close()
		return nil, ctx.Err()
	case <-time.After(timeout):
		conn.Close()
		return nil, fmt.Errorf("no ZooKeeper session with %s within %s: is ZooKeeper running?", strings.Join(servers, ","), timeout)
	}
}

// Close ends the session (its ephemeral lock node goes with it).
func (t *zkTerm) Close() { t.conn.Close() }

func (t *zkTerm) offsetPath(journalID string) string {
	return t.chroot + "/queue-populator/logState/" + journalID + "/logOffset"
}

func (t *zkTerm) lockPath(journalID string) string {
	return t.chroot + "/queue-populator/leader/" + journalID
}

// ensureParents creates every missing parent of p.
func (t *zkTerm) ensureParents(p string) error {
	dir := path.Dir(p)
	cur := ""
	for _, part := range strings.Split(strings.TrimPrefix(dir, "/"), "/") {
		cur += "/" + part
		_, err := t.conn.Create(cur, nil, 0, zk.WorldACL(zk.PermAll))
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("create znode %s: %w", cur, err)
		}
	}
	return nil
}

// lock blocks until this session holds the journal's lock, ctx ends, or the session is
// lost.
func (t *zkTerm) lock(ctx context.Context, journalID string) error {
	p := t.lockPath(journalID)
	if err := t.ensureParents(p + "/x"); err != nil {
		return err
	}
	l := zk.NewLock(t.conn, p, zk.WorldACL(zk.PermAll))
	done := make(chan error, 1)
	go func() { done <- l.Lock() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("take the ingest lock %s: %w", p, err)
		}
		return nil
	case <-ctx.Done():
		t.conn.Close() // unblocks Lock
		return ctx.Err()
	case <-t.lost:
		t.conn.Close()
		return errors.New("ZooKeeper session lost while waiting for the ingest lock")
	}
}

// loadOffset reads the journal offset, creating the znode with initial when missing.
// It returns the znode version for the compare-and-set of saveOffset.
func (t *zkTerm) loadOffset(journalID string, initial uint64) (uint64, int32, error) {
	p := t.offsetPath(journalID)
	data, st, err := t.conn.Get(p)
	if errors.Is(err, zk.ErrNoNode) {
		if err := t.ensureParents(p); err != nil {
			return 0, 0, err
		}
		_, err = t.conn.Create(p, []byte(strconv.FormatUint(initial, 10)), 0, zk.WorldACL(zk.PermAll))
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return 0, 0, fmt.Errorf("create offset znode %s: %w", p, err)
		}
		data, st, err = t.conn.Get(p)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("read offset znode %s: %w", p, err)
	}
	off, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("offset znode %s holds %q, not a journal seq: fix or delete it: %w", p, data, err)
	}
	return off, st.Version, nil
}

// errFenced means another ingest wrote the offset: this one is no longer the leader.
var errFenced = errors.New("the offset znode was written by another ingest: stepping down")

// saveOffset writes the offset if the znode is still at version; returns the new version.
func (t *zkTerm) saveOffset(journalID string, off uint64, version int32) (int32, error) {
	st, err := t.conn.Set(t.offsetPath(journalID), []byte(strconv.FormatUint(off, 10)), version)
	if errors.Is(err, zk.ErrBadVersion) {
		return 0, errFenced
	}
	if err != nil {
		return 0, fmt.Errorf("write offset %d to ZooKeeper: %w", off, err)
	}
	return st.Version, nil
}

// zkLogger sends go-zookeeper's logs to slog at debug level (they are chatty).
type zkLogger struct{ log *slog.Logger }

func (l zkLogger) Printf(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...), "component", "zookeeper")
}
