package devbroker

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/internal/testlog"
)

func TestParseTopics(t *testing.T) {
	got, err := ParseTopics(" a:3, b ,,c:1")
	require.NoError(t, err)
	assert.Equal(t, []Topic{{"a", 3}, {"b", 0}, {"c", 1}}, got)
	got, err = ParseTopics("")
	require.NoError(t, err)
	assert.Empty(t, got)
	for _, bad := range []string{":3", "a:0", "a:x", "a:-1"} {
		_, err := ParseTopics(bad)
		assert.Error(t, err, bad)
	}
}

func TestConfigValidation(t *testing.T) {
	for _, listen := range []string{"0.0.0.0:9092", ":9092", "[::]:9092", "nonsense"} {
		_, err := Start(Config{Listen: listen})
		assert.Error(t, err, listen)
	}
	_, err := Start(Config{Listen: "127.0.0.1:0", Partitions: -1})
	assert.Error(t, err)
}

func TestStartKeepsTopicsInDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	b, err := Start(Config{Listen: "127.0.0.1:0", DataDir: dir, Topics: []Topic{{Name: "t3", Partitions: 3}, {Name: "tdef"}}, Partitions: 2, SyncWrites: true, Logger: testlog.Discard()})
	require.NoError(t, err)
	addr := b.Addr()
	assert.True(t, strings.HasPrefix(addr, "127.0.0.1:"))
	assert.Len(t, b.cluster.PartitionInfos("t3"), 3)
	assert.Len(t, b.cluster.PartitionInfos("tdef"), 2, "a topic without a count gets Partitions")
	b.Close()
	b.Close() // twice is fine

	// Restart with the same directory and a changed topic list: t3 is kept as it is,
	// the new topic is created.
	var logs bytes.Buffer
	b, err = Start(Config{Listen: addr, DataDir: dir, Topics: []Topic{{Name: "t3", Partitions: 5}, {Name: "new", Partitions: 1}}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	defer b.Close()
	assert.Len(t, b.cluster.PartitionInfos("t3"), 3)
	assert.Len(t, b.cluster.PartitionInfos("tdef"), 2)
	assert.Len(t, b.cluster.PartitionInfos("new"), 1)
	assert.Contains(t, logs.String(), "topic exists with another partition count")
}

func TestRunStopsOnCancel(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	var logs testlog.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- Run(ctx, Config{Listen: addr, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	}()
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "devbroker listening on "+addr) }, 10*time.Second, 10*time.Millisecond)
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	conn.Close()
	cancel()
	select {
	case err := <-errc:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	assert.Contains(t, logs.String(), "devbroker stopped")

	// A taken address is an error.
	l, err = net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	err = Run(context.Background(), Config{Listen: l.Addr().String(), Logger: testlog.Discard()})
	assert.Error(t, err)
}
