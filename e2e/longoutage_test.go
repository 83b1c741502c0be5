package e2e

import (
	"bytes"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// outagePlan is the schedule of TestLongOutages, as offsets from the moment the target
// goes down. The long form (OUTAGE_LONG=1, outside CI) is issue 9's: the target s3server
// down 1 hour and, inside that hour, ZooKeeper down 5 minutes, the Temporal server down 10
// minutes and the source s3server down 10 minutes, one after the other. The short form
// (CI) is the same schedule divided by 30.
type outagePlan struct {
	target                  time.Duration // how long the target stays down
	zkAt, zkFor             time.Duration
	temporalAt, temporalFor time.Duration
	sourceAt, sourceFor     time.Duration
	writeEvery              time.Duration // the writer's pace while the source is up
	settle                  time.Duration // how long, after the target is back, everything may take to settle
	keys                    int           // keys the writer cycles over (overwrites: FIFO per object)
}

func longOutagePlan(t *testing.T) outagePlan {
	scale := 1.0 / 30
	if os.Getenv("OUTAGE_LONG") == "1" {
		scale = 1
	}
	if v := os.Getenv("OUTAGE_SCALE"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		require.NoError(t, err, "OUTAGE_SCALE must be a number (1 = the long form)")
		scale = f
	}
	d := func(x time.Duration) time.Duration { return time.Duration(float64(x) * scale) }
	p := outagePlan{
		target: d(time.Hour),
		zkAt:   d(5 * time.Minute), zkFor: d(5 * time.Minute),
		temporalAt: d(15 * time.Minute), temporalFor: d(10 * time.Minute),
		sourceAt: d(30 * time.Minute), sourceFor: d(10 * time.Minute),
		writeEvery: max(d(5*time.Second), 250*time.Millisecond),
		// The retry backoff is capped at 5 minutes (worker --retry-max-backoff): an entry
		// may wait that long for its next attempt after the target is back.
		settle: 10 * time.Minute,
		keys:   30,
	}
	return p
}

// TestLongOutages keeps the target s3server down for a long time and, during that
// outage, takes down ZooKeeper, the Temporal server and the source s3server one after the
// other, while a writer keeps putting (overwriting 30 keys) whenever the source is up.
// With durable retries every version ends COMPLETED with no operator action, and the
// target holds the same versions, in the same order, as REPLICA. The long form
// (OUTAGE_LONG=1: target 1 hour, ZooKeeper 5 min, Temporal 10 min, source 10 min) is the
// figure in docs/RELIABILITY.md; CI runs it divided by 30.
func TestLongOutages(t *testing.T) {
	p := longOutagePlan(t)
	// Every worker default (retry budget 24 h, backoff 1 s ×2 capped at 5 min, breaker):
	// what a user runs.
	s := startStack(t, withLogLevel("info"))
	var w written
	w.put(s, "warm", []byte("warm"), nil)
	s.waitSettled(2*time.Minute, 1)

	// The writer: one put every writeEvery, paused while the source is down.
	var (
		mu      sync.Mutex
		srcDown bool
		puts    int
	)
	stop := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		tick := time.NewTicker(p.writeEvery)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			mu.Lock()
			down := srcDown
			if !down {
				key := fmt.Sprintf("outage/%02d", i%p.keys)
				body := []byte(fmt.Sprintf("put %d of %s", i, key))
				out, err := s.srcC.PutObject(s.ctx, &s3.PutObjectInput{Bucket: aws.String(srcBucket), Key: aws.String(key),
					Body: bytes.NewReader(body), ContentType: aws.String("text/plain"), Metadata: map[string]string{"i": strconv.Itoa(i)}})
				if assert.NoError(t, err, "put %s while the source is up", key) {
					w.mu.Lock()
					w.data[aws.ToString(out.VersionId)] = body
					w.mu.Unlock()
					puts++
				}
			}
			mu.Unlock()
		}
	}()

	start := time.Now()
	at := func(d time.Duration) {
		if wait := time.Until(start.Add(d)); wait > 0 {
			time.Sleep(wait) // the outage schedule's clock, not a synchronisation
		}
	}
	s.dst.Kill()
	releaseDst := holdPort(t, hostOf(t, s.dst.URL))
	t.Logf("target down (for %s)", p.target)

	at(p.zkAt)
	s.zk.Kill()
	release := holdPort(t, s.zk.Addr())
	t.Logf("ZooKeeper down at %s (for %s)", time.Since(start).Round(time.Second), p.zkFor)
	at(p.zkAt + p.zkFor)
	release()
	s.zk.Restart()

	at(p.temporalAt)
	s.temporal.Kill()
	release = holdPort(t, s.temporal.Addr())
	t.Logf("Temporal down at %s (for %s)", time.Since(start).Round(time.Second), p.temporalFor)
	at(p.temporalAt + p.temporalFor)
	release()
	s.temporal.Restart()

	at(p.sourceAt)
	mu.Lock() // no put in flight when the source dies: every acknowledged put is recorded
	srcDown = true
	s.src.Kill()
	release = holdPort(t, hostOf(t, s.src.URL))
	mu.Unlock()
	t.Logf("source down at %s (for %s)", time.Since(start).Round(time.Second), p.sourceFor)
	at(p.sourceAt + p.sourceFor)
	mu.Lock()
	release()
	s.src.Restart()
	srcDown = false
	mu.Unlock()

	// Nothing is FAILED while the target is still down: the entries wait.
	for _, v := range s.versions(s.src, s.srcC, srcBucket) {
		require.NotEqual(t, "FAILED", v.status(), "%s@%s FAILED during the outage: %+v", v.Key, v.VersionID, v.Replication)
	}
	at(p.target)
	releaseDst()
	s.dst.Restart()
	back := time.Now()
	close(stop)
	<-writerDone
	t.Logf("target back after %s; %d puts during the outages", time.Since(start).Round(time.Second), puts)
	require.Positive(t, puts)

	src := s.waitSettled(p.settle, puts+1)
	t.Logf("every version settled %s after the target came back", time.Since(back).Round(time.Second))
	for _, v := range src {
		assert.Equal(t, "COMPLETED", v.status(), "%s@%s: %+v", v.Key, v.VersionID, v.Replication)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	s.checkTarget(src, &w)
}

// holdPort keeps addr, the address of a process just killed, bound while it is down and
// closes every connection made to it: what a dead endpoint behind a load balancer looks
// like. Without it, in a long outage another process of the machine may take the port
// (the kernel hands out ephemeral ports again) and answer in the dead one's place - a
// "NoSuchBucket" from a stranger is a permanent error, rightly. release frees the port
// for the restart.
func holdPort(t *testing.T, addr string) (release func()) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err, "hold the port of a killed process")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return // released
			}
			c.Close()
		}
	}()
	var once sync.Once
	release = func() {
		once.Do(func() {
			ln.Close()
			<-done
		})
	}
	t.Cleanup(release)
	return release
}

// hostOf is the host:port of an http:// URL.
func hostOf(t *testing.T, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	require.NoError(t, err)
	return u.Host
}
