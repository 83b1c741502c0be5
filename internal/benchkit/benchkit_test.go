package benchkit

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/s3server/s3test"
)

// limit is a fake engine for SearchRate: a step passes up to max objects/s.
func limit(max float64) func(context.Context, float64) (Step, error) {
	return func(_ context.Context, rate float64) (Step, error) {
		st := Step{Rate: rate, Achieved: rate, Put: 10, Done: 10, P50: 100 * time.Millisecond, P99: time.Second}
		if rate > max {
			st.P99 = 3 * time.Second
		}
		return st, nil
	}
}

func TestSearchRateDoublesThenBisects(t *testing.T) {
	best, steps, err := SearchRate(context.Background(), Search{Start: 5}, limit(37))
	require.NoError(t, err)
	var rates []int
	for _, s := range steps {
		rates = append(rates, int(s.Rate))
	}
	// 5, 10, 20 pass, 40 fails; then √(20·40)≈28 passes and √(28·40)≈33 passes.
	assert.Equal(t, []int{5, 10, 20, 40, 28, 33}, rates)
	assert.InDelta(t, 33.6, best.Rate, 0.1)
	assert.True(t, best.Pass(2*time.Second))
}

func TestSearchRateGoesDownWhenStartFails(t *testing.T) {
	best, steps, err := SearchRate(context.Background(), Search{Start: 10, Refine: 3}, limit(2))
	require.NoError(t, err)
	require.Len(t, steps, 4)
	// 10 fails, 5 fails, 2.5 fails, 1.25 passes.
	assert.InDelta(t, 1.25, best.Rate, 0.01)
}

func TestSearchRateStopsAtMaxAndOnError(t *testing.T) {
	best, steps, err := SearchRate(context.Background(), Search{Start: 1, Max: 4}, limit(100))
	require.NoError(t, err)
	assert.Len(t, steps, 4) // 1, 2, 4, 8 (above Max)
	assert.Equal(t, 8.0, best.Rate)

	boom := fmt.Errorf("the stack died")
	_, _, err = SearchRate(context.Background(), Search{Start: 1}, func(context.Context, float64) (Step, error) { return Step{}, boom })
	assert.ErrorIs(t, err, boom)
	_, _, err = SearchRate(context.Background(), Search{}, limit(1))
	assert.ErrorContains(t, err, "start rate")
}

func TestStepPass(t *testing.T) {
	ok := Step{Put: 3, Done: 3, P99: time.Second}
	assert.True(t, ok.Pass(2*time.Second))
	assert.False(t, ok.Pass(time.Second), "p99 must be under the bound")
	assert.False(t, Step{Put: 3, Done: 2, P99: time.Second}.Pass(2*time.Second), "a version not done fails the step")
	assert.False(t, Step{}.Pass(2*time.Second), "nothing put proves nothing")
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	assert.Equal(t, 50*time.Millisecond, Percentile(d, 50))
	assert.Equal(t, 99*time.Millisecond, Percentile(d, 99))
	assert.Equal(t, 100*time.Millisecond, Percentile(d, 100))
	assert.Equal(t, time.Duration(0), Percentile(nil, 50))
	assert.Equal(t, 100*time.Millisecond, d[0], "the input is not reordered")
}

func TestPacedKeepsTheRate(t *testing.T) {
	var started [20]time.Time
	var n atomic.Int32
	took, err := Paced(context.Background(), 200, len(started), 4, func(_ context.Context, i int) error {
		started[i] = time.Now()
		n.Add(1)
		return nil
	})
	require.NoError(t, err)
	assert.EqualValues(t, 20, n.Load())
	// Op 19 is due 95 ms after op 0: never earlier.
	assert.GreaterOrEqual(t, started[19].Sub(started[0]), 94*time.Millisecond)
	assert.GreaterOrEqual(t, took, 94*time.Millisecond)

	boom := fmt.Errorf("put refused")
	_, err = Paced(context.Background(), 1000, 50, 2, func(_ context.Context, i int) error {
		if i == 3 {
			return boom
		}
		return nil
	})
	assert.ErrorIs(t, err, boom)
	_, err = Paced(context.Background(), 0, 1, 1, nil)
	assert.Error(t, err)
}

func TestParallelStopsAtTheFirstError(t *testing.T) {
	var ran atomic.Int32
	boom := fmt.Errorf("get failed")
	err := Parallel(context.Background(), 1000, 2, func(ctx context.Context, i int) error {
		ran.Add(1)
		if i == 5 {
			return boom
		}
		return nil
	})
	assert.ErrorIs(t, err, boom)
	assert.Less(t, ran.Load(), int32(1000), "no op is started after the error")
}

func TestParseStat(t *testing.T) {
	line := "4242 (a (weird) name) S 1 4200 4200 0 -1 4194560 100 0 0 0 150 25 7 3 20 0 1 0 100 0 0\n"
	st, err := parseStat(line)
	require.NoError(t, err)
	assert.Equal(t, procStat{pid: 4242, pgrp: 4200, utime: 150, stime: 25, cutime: 7, cstime: 3}, st)
	_, err = parseStat("garbage")
	assert.Error(t, err)
	_, err = parseStat("1 (x) S 1 2")
	assert.ErrorContains(t, err, "fields")
}

func TestGroupCPUCountsTheGroup(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	before, err := GroupCPU(os.Getpid())
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		for end := time.Now().Add(20 * time.Millisecond); time.Now().Before(end); { // burn CPU
		}
		after, err := GroupCPU(os.Getpid())
		return err == nil && after > before
	}, 30*time.Second, time.Millisecond, "this process's CPU time grows as it spins")
	_, err = GroupCPU(1 << 30)
	assert.ErrorContains(t, err, "no process")

	// A group leader whose child burns CPU: the child's time counts while it runs.
	cmd := exec.Command("sh", "-c", "sh -c 'while :; do :; done' & wait")
	cmd.SysProcAttr = groupLeader()
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { killGroup(cmd.Process.Pid); cmd.Wait() })
	m := NewCPUMeter(map[string]int{"spinner": cmd.Process.Pid})
	require.Eventually(t, func() bool { return m.Since().ByName["spinner"] >= 100*time.Millisecond }, 30*time.Second, 50*time.Millisecond)
	u := m.Since()
	assert.Contains(t, u.String(), "spinner ")
	assert.GreaterOrEqual(t, u.Machine, u.ByName["spinner"]-2*clockTick, "the machine used at least what the spinner did")
	assert.Contains(t, u.String(), "(the whole machine: ")
}

func TestMachineCPU(t *testing.T) {
	if _, err := os.Stat("/proc/stat"); err != nil {
		t.Skip("no /proc")
	}
	a, err := MachineCPU()
	require.NoError(t, err)
	assert.Positive(t, a)
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteTable(&b, []Row{
		{Group: "4 KiB", Name: "(a) copy", Reference: true, ObjectsPerSec: 800, MBPerSec: 3.3},
		{Group: "4 KiB", Name: "(d) engine", ObjectsPerSec: 40, P50: 150 * time.Millisecond, P99: 1900 * time.Millisecond, Note: "p99 < 2s"},
		{Group: "64 MiB", Name: "(a) copy", Reference: true, ObjectsPerSec: 4, MBPerSec: 268},
		{Group: "64 MiB", Name: "(c) backfill", ObjectsPerSec: 3, MBPerSec: 201},
	}))
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	require.Len(t, lines, 5)
	assert.Regexp(t, `^workload\s+measure\s+objects/s\s+MB/s\s+vs \(a\)\s+p50\s+p99\s+note$`, lines[0])
	assert.Regexp(t, `^4 KiB\s+\(a\) copy\s+800\s+3\.30\s+100\.0%\s+-\s+-\s*$`, lines[1])
	assert.Regexp(t, `^4 KiB\s+\(d\) engine\s+40\s+-\s+5\.0%\s+150ms\s+1\.9s\s+p99 < 2s$`, lines[2])
	assert.Regexp(t, `^64 MiB\s+\(c\) backfill\s+3\.00\s+201\s+75\.0%`, lines[4])
}

// TestCopyLoopAndRclone copies objects between two buckets of a real s3server with the
// raw loop and with rclone (when installed) and checks the copies.
func TestCopyLoopAndRclone(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an s3server")
	}
	ctx := context.Background()
	p := s3test.Start(t)
	c := NewClient(p.URL, s3test.User.AccessKey, s3test.User.SecretKey)
	for _, b := range []string{"src", "copy", "rclone"} {
		require.NoError(t, MakeBucket(ctx, c, b, b == "src"))
	}
	keys, err := Fill(ctx, c, "src", "obj/", 12, 70<<10, 4)
	require.NoError(t, err)
	require.Len(t, keys, 12)
	assert.Equal(t, "obj/000011", keys[11])

	tp, err := CopyLoop(ctx, c, "src", "copy", keys, 4)
	require.NoError(t, err)
	assert.Equal(t, 12, tp.Objects)
	assert.EqualValues(t, 12*70<<10, tp.Bytes)
	assert.Positive(t, tp.ObjectsPerSec())
	sameObjects(t, c, "src", "copy", keys)

	_, err = CopyLoop(ctx, c, "src", "copy", []string{"obj/none"}, 1)
	assert.ErrorContains(t, err, "copy loop: get src/obj/none")

	if _, err := exec.LookPath("rclone"); err != nil {
		t.Skip("rclone is not installed (scripts/deps.sh rclone)")
	}
	t.Setenv("AWS_CA_BUNDLE", "/nonexistent/ca.pem") // rclone must not see it
	took, err := Rclone{Endpoint: p.URL, AccessKey: s3test.User.AccessKey, SecretKey: s3test.User.SecretKey, Transfers: 4}.
		Copy(ctx, "src/obj", "rclone/obj")
	require.NoError(t, err)
	assert.Positive(t, took)
	sameObjects(t, c, "src", "rclone", keys)

	_, err = Rclone{Endpoint: p.URL, AccessKey: s3test.User.AccessKey, SecretKey: "wrong"}.Copy(ctx, "src/obj", "rclone/again")
	assert.ErrorContains(t, err, "rclone copy :s3:src/obj :s3:rclone/again")
}

// sameObjects checks that dst holds every key of src with the same size and ETag.
func sameObjects(t *testing.T, c *s3.Client, src, dst string, keys []string) {
	t.Helper()
	for _, k := range keys {
		a, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(src), Key: aws.String(k)})
		require.NoError(t, err)
		b, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(dst), Key: aws.String(k)})
		require.NoError(t, err, "%s/%s", dst, k)
		assert.Equal(t, aws.ToInt64(a.ContentLength), aws.ToInt64(b.ContentLength), k)
		assert.Equal(t, aws.ToString(a.ETag), aws.ToString(b.ETag), k)
	}
}
