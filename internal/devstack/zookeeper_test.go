package devstack

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type quietZKLogger struct{}

func (quietZKLogger) Printf(string, ...any) {}

// zkConnect opens a session to addr and waits until it is established.
func zkConnect(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	conn, events, err := zk.Connect([]string{addr}, 5*time.Second, zk.WithLogger(quietZKLogger{}))
	require.NoError(t, err)
	t.Cleanup(conn.Close)
	ctx := ctxTimeout(t, 30*time.Second)
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				go func() { // go-zookeeper needs a reader of its events
					for range events {
					}
				}()
				return conn
			}
		case <-ctx.Done():
			t.Fatalf("no ZooKeeper session with %s", addr)
		}
	}
}

func TestZooKeeperCrashAndRestart(t *testing.T) {
	SkipShort(t, startsProcesses)
	t.Parallel()
	z := StartZooKeeper(t)
	assert.NotEqual(t, 2181, z.Port(), "a free port, not the default")

	ans, err := FourLetterWord(ctxTimeout(t, 5*time.Second), z.Addr(), "ruok")
	require.NoError(t, err)
	assert.Equal(t, "imok", ans)
	ans, err = FourLetterWord(ctxTimeout(t, 5*time.Second), z.Addr(), "srvr")
	require.NoError(t, err)
	assert.Contains(t, ans, "Mode: standalone")

	cfg, err := os.ReadFile(filepath.Join(filepath.Dir(z.DataDir()), "conf", "zoo.cfg"))
	require.NoError(t, err)
	assert.Contains(t, string(cfg), "clientPortAddress=127.0.0.1")

	conn := zkConnect(t, z.Addr())
	_, err = conn.Create("/backbeat", nil, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	_, err = conn.Create("/backbeat/logOffset", []byte("42"), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	conn.Close()

	pid := z.Process().Pid()
	z.Kill()
	assert.False(t, z.Process().Running())
	_, err = FourLetterWord(ctxTimeout(t, time.Second), z.Addr(), "ruok")
	assert.Error(t, err, "nothing listens after kill -9")

	z.Restart()
	assert.NotEqual(t, pid, z.Process().Pid())
	conn = zkConnect(t, z.Addr())
	data, _, err := conn.Get("/backbeat/logOffset")
	require.NoError(t, err, "the znode survives kill -9")
	assert.Equal(t, "42", string(data))

	// A graceful stop and restart keeps it as well.
	_, err = conn.Set("/backbeat/logOffset", []byte("43"), -1)
	require.NoError(t, err)
	conn.Close()
	z.Stop()
	z.Restart()
	conn = zkConnect(t, z.Addr())
	data, _, err = conn.Get("/backbeat/logOffset")
	require.NoError(t, err)
	assert.Equal(t, "43", string(data))
}

func TestZooKeeperOptionsAndParallelInstances(t *testing.T) {
	SkipShort(t, startsProcesses)
	t.Parallel()
	port := FreePort(t)
	dir := filepath.Join(t.TempDir(), "zkdata")
	a := StartZooKeeper(t, ZooKeeperPort(port), ZooKeeperDataDir(dir))
	b := StartZooKeeper(t)
	assert.Equal(t, port, a.Port())
	assert.Equal(t, dir, a.DataDir())
	assert.NotEqual(t, a.Addr(), b.Addr())
	for _, z := range []*ZooKeeper{a, b} {
		ans, err := FourLetterWord(ctxTimeout(t, 5*time.Second), z.Addr(), "ruok")
		require.NoError(t, err)
		assert.Equal(t, "imok", ans)
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.NotEmpty(t, entries, "ZooKeeper writes its data where it was told")
	assert.Contains(t, a.Process().Log(), "clientPortAddress is 127.0.0.1", "ZooKeeper's own log is captured (slf4j-simple)")
}

func TestZooKeeperClasspath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	jar := filepath.Join(dir, "zookeeper.jar")
	assert.Equal(t, "/conf:"+jar, ZooKeeperClasspath("/conf", jar))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "slf4j-simple.jar"), nil, 0o644))
	assert.Equal(t, "/conf:"+jar+":"+filepath.Join(dir, "slf4j-simple.jar"), ZooKeeperClasspath("/conf", jar))

	cfg := ZooKeeperConfig("/data", 12345)
	for _, line := range []string{"dataDir=/data", "clientPort=12345", "clientPortAddress=127.0.0.1", "admin.enableServer=false", "4lw.commands.whitelist=ruok,srvr"} {
		assert.Contains(t, strings.Split(cfg, "\n"), line)
	}
}

func TestFourLetterWordRefused(t *testing.T) {
	t.Parallel()
	_, err := FourLetterWord(context.Background(), FreeAddr(t), "ruok")
	assert.Error(t, err)
}

func TestZooKeeperMissingJar(t *testing.T) {
	t.Setenv("BACKBEAT_ZOOKEEPER_JAR", filepath.Join(t.TempDir(), "nope.jar"))
	_, _, err := zooKeeperBinaries()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nope.jar not found")
	assert.Contains(t, err.Error(), "scripts/deps.sh")
}
