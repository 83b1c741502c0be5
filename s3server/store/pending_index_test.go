package store

import (
	"github.com/backbeat-temporal/backbeat/bbproto"

	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// listPendingScan is ListPending as it was before the index of waiting versions: it
// reads every version of the buckets (pre-filtered on the stored JSON). It is the
// oracle of the index's tests and the "before" of BenchmarkListPending.
func listPendingScan(ctx context.Context, s *Store, o PendingOptions) (*bbproto.PendingPage, error) {
	if o.Limit == 0 {
		o.Limit = DefaultPendingLimit
	}
	if o.MaxScan <= 0 {
		o.MaxScan = DefaultPendingScan
	}
	afterBucket, afterKey, err := decodePendingCursor(o.After)
	if err != nil {
		return nil, err
	}
	cutoff := s.now().Add(-o.OlderThan)
	page := &bbproto.PendingPage{Versions: []bbproto.PendingVersion{}, Oldest: map[string]time.Time{}, Waiting: map[string]int{}}
	err = s.view(ctx, func(tx *bolt.Tx) error {
		buckets := []string{o.Bucket}
		if o.Bucket == "" {
			buckets = nil
			c := tx.Bucket(bktData).Cursor()
			for k, _ := c.Seek([]byte(afterBucket)); k != nil; k, _ = c.Next() {
				buckets = append(buckets, string(k))
			}
		}
		for _, bucket := range buckets {
			d, err := openBucketData(tx.Bucket(bktData), bucket)
			if err != nil {
				return err
			}
			c := d.versions.Cursor()
			prefix := []byte(o.Prefix)
			k, raw := c.Seek(prefix)
			if bucket == afterBucket && bytes.Compare(afterKey, prefix) > 0 {
				k, raw = c.Seek(afterKey)
			}
			for ; k != nil && bytes.HasPrefix(k, prefix); k, raw = c.Next() {
				if page.Scanned >= o.MaxScan || len(page.Versions) >= o.Limit {
					page.Next = encodePendingCursor(bucket, k)
					return nil
				}
				page.Scanned++
				if !slices.ContainsFunc(pendingMarkers, func(m []byte) bool { return bytes.Contains(raw, m) }) {
					continue
				}
				v, err := decodeVersion(raw)
				if err != nil {
					return err
				}
				r := v.Replication
				if r == nil || !waiting(r.Status) {
					continue
				}
				pv := bbproto.PendingVersion{Bucket: bucket, Key: v.Key, VersionID: v.VersionID, IsDeleteMarker: v.IsDeleteMarker,
					LastModified: v.LastModified, Status: r.Status, StatusTime: r.StatusTime, Since: r.PendingSince}
				if pv.Since.IsZero() {
					pv.Since = r.StatusTime
				}
				if pv.Since.IsZero() {
					pv.Since = v.LastModified
				}
				page.Waiting[bucket]++
				if old, ok := page.Oldest[bucket]; !ok || pv.Since.Before(old) {
					page.Oldest[bucket] = pv.Since
				}
				set := r.StatusTime
				if set.IsZero() {
					set = pv.Since
				}
				if !set.After(cutoff) {
					page.Versions = append(page.Versions, pv)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

// allPages lists every page of list from o, trailing pages that examined no waiting
// version dropped (the scan may end with one that the index does not need).
func allPages(t *testing.T, list func(PendingOptions) (*bbproto.PendingPage, error), o PendingOptions) []*bbproto.PendingPage {
	t.Helper()
	var pages []*bbproto.PendingPage
	for {
		page, err := list(o)
		require.NoError(t, err)
		pages = append(pages, page)
		require.Less(t, len(pages), 100000, "the listing ends")
		if page.Next == "" {
			break
		}
		o.After = page.Next
	}
	for len(pages) > 0 && len(pages[len(pages)-1].Versions) == 0 && len(pages[len(pages)-1].Waiting) == 0 {
		pages = pages[:len(pages)-1]
	}
	return pages
}

// pagesSummary is every page's versions, and the waiting count and oldest time per
// bucket over the pages.
func pagesSummary(pages []*bbproto.PendingPage) ([]bbproto.PendingVersion, map[string]int, map[string]time.Time) {
	versions := []bbproto.PendingVersion{}
	count, oldest := map[string]int{}, map[string]time.Time{}
	for _, p := range pages {
		versions = append(versions, p.Versions...)
		for b, n := range p.Waiting {
			count[b] += n
		}
		for b, t := range p.Oldest {
			if old, ok := oldest[b]; !ok || t.Before(old) {
				oldest[b] = t
			}
		}
	}
	return versions, count, oldest
}

// checkPendingIndex asserts that ListPending, for o, lists what a scan of every version
// lists: the same pages when only Limit ends them, the same versions, counts and oldest
// times over the pages otherwise.
func checkPendingIndex(t *testing.T, s *Store, o PendingOptions, step string) {
	t.Helper()
	ctx := context.Background()
	got := allPages(t, func(o PendingOptions) (*bbproto.PendingPage, error) { return s.ListPending(ctx, o) }, o)
	want := allPages(t, func(o PendingOptions) (*bbproto.PendingPage, error) { return listPendingScan(ctx, s, o) }, o)
	for _, p := range got {
		n := 0
		for _, c := range p.Waiting {
			n += c
		}
		require.Equal(t, n, p.Scanned, "%s, %+v: the index holds waiting versions only", step, o)
	}
	if o.MaxScan == 0 {
		require.Equal(t, len(want), len(got), "%s, %+v: pages", step, o)
		for i := range want {
			require.Equal(t, want[i].Versions, got[i].Versions, "%s, %+v: page %d", step, o, i)
			require.Equal(t, want[i].Waiting, got[i].Waiting, "%s, %+v: page %d", step, o, i)
			require.Equal(t, want[i].Oldest, got[i].Oldest, "%s, %+v: page %d", step, o, i)
		}
		return
	}
	wv, wc, wo := pagesSummary(want)
	gv, gc, gob := pagesSummary(got)
	require.Equal(t, wv, gv, "%s, %+v: versions", step, o)
	require.Equal(t, wc, gc, "%s, %+v: waiting", step, o)
	require.Equal(t, wo, gob, "%s, %+v: oldest", step, o)
}

// stripPendingIndex turns the closed store in dir into one written before the index of
// waiting versions: no index bucket, no format.
func stripPendingIndex(t *testing.T, dir string) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, "meta.db"), 0o644, &bolt.Options{Timeout: 5 * time.Second})
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		data := tx.Bucket(bktData)
		var names [][]byte
		if err := data.ForEach(func(k, _ []byte) error { names = append(names, slices.Clone(k)); return nil }); err != nil {
			return err
		}
		for _, name := range names {
			if err := data.Bucket(name).DeleteBucket(bktWaiting); err != nil {
				return err
			}
		}
		return tx.Bucket(bktMeta).Delete(metaFormat)
	}))
}

// pendingModel drives a store through random writes.
type pendingModel struct {
	t   *testing.T
	rng *rand.Rand
	dir string
	clk *fakeClock
	s   *Store
	ctx context.Context
}

var (
	modelBuckets = []string{"a", "b", "c", "u"} // a, b Enabled (b replicates delete markers), c Suspended, u unversioned
	modelKeys    = []string{"k0", "k1", "k2", "p/k3", "p/k4", "skip/k5", "q\x01\u00e9"}
	modelStates  = []bbproto.Status{bbproto.StatusPending, bbproto.StatusProcessing, bbproto.StatusCompleted, bbproto.StatusFailed}
)

func (m *pendingModel) open() {
	opts := testOptions()
	opts.Policy = testPolicy
	opts.Now = m.clk.Now
	s, err := Open(m.dir, opts)
	require.NoError(m.t, err)
	m.s = s
}

func (m *pendingModel) pick(items []string) string { return items[m.rng.IntN(len(items))] }

type modelRef struct{ bucket, key, versionID string }

// versions lists every stored version.
func (m *pendingModel) versions() []modelRef {
	var out []modelRef
	for _, b := range append(slices.Clone(modelBuckets), "r") {
		require.NoError(m.t, m.s.WalkVersions(m.ctx, b, WalkOptions{}, func(v *Version) bool {
			out = append(out, modelRef{b, v.Key, v.VersionID})
			return true
		}))
	}
	return out
}

// someVersion is a random stored version, or a missing one now and then.
func (m *pendingModel) someVersion() modelRef {
	all := m.versions()
	if len(all) == 0 || m.rng.IntN(20) == 0 {
		return modelRef{m.pick(modelBuckets), m.pick(modelKeys), "missing"}
	}
	return all[m.rng.IntN(len(all))]
}

// step makes one random write and names it.
func (m *pendingModel) step() string {
	t, ctx, rng := m.t, m.ctx, m.rng
	var tags map[string]string
	if rng.IntN(6) == 0 {
		tags = map[string]string{"norepl": "1"}
	}
	switch op := rng.IntN(16); op {
	case 0, 1, 2:
		b, k := m.pick(modelBuckets), m.pick(modelKeys)
		_, err := m.s.PutObject(ctx, PutInput{Bucket: b, Key: k, Owner: "alice", ETag: "e", Meta: ObjectMeta{Tags: tags}})
		require.NoError(t, err)
		return "put " + b + "/" + k
	case 3:
		b, k := m.pick(modelBuckets), m.pick(modelKeys)
		_, err := m.s.DeleteObject(ctx, b, k, "")
		require.NoError(t, err)
		return "delete (marker) " + b + "/" + k
	case 4:
		r := m.someVersion()
		_, err := m.s.DeleteObject(ctx, r.bucket, r.key, r.versionID)
		require.NoError(t, err)
		return fmt.Sprintf("delete version %v", r)
	case 5, 6:
		r := m.someVersion()
		st := modelStates[rng.IntN(len(modelStates))]
		_, err := m.s.SetReplicationStatus(ctx, r.bucket, r.key, r.versionID, st, "why")
		if !errors.Is(err, ErrNoSuchVersion) {
			require.NoError(t, err)
		}
		return fmt.Sprintf("status %v %s", r, st)
	case 7, 8:
		var ups []StatusUpdate
		for range 1 + rng.IntN(6) {
			r := m.someVersion()
			ups = append(ups, StatusUpdate{Bucket: r.bucket, Key: r.key, VersionID: r.versionID,
				Status: modelStates[rng.IntN(len(modelStates))], Reason: "bulk", IfUnset: rng.IntN(3) == 0})
		}
		_, err := m.s.SetReplicationStatuses(ctx, ups)
		require.NoError(t, err)
		return fmt.Sprintf("bulk statuses %+v", ups)
	case 9:
		page, err := m.s.ListPending(ctx, PendingOptions{OlderThan: time.Duration(rng.IntN(4)) * time.Minute, Limit: 1 + rng.IntN(5)})
		require.NoError(t, err)
		refs := refsOf(page.Versions)
		if len(refs) > 0 && rng.IntN(2) == 0 {
			refs[0].StatusTime = refs[0].StatusTime.Add(-time.Second) // changed since
		}
		_, err = m.s.Redrive(ctx, refs)
		require.NoError(t, err)
		return fmt.Sprintf("redrive %d", len(refs))
	case 10:
		// A replica: a new one, or the same id again, in the replica bucket or a source bucket.
		b := m.pick([]string{"r", "a"})
		id := fmt.Sprintf("ext-%d", rng.IntN(8))
		if rng.IntN(2) == 0 {
			if src := m.someVersion(); isGenID(src.versionID) {
				id = src.versionID
			}
		}
		k := m.pick(modelKeys)
		in := ReplicaInput{Bucket: b, Key: k, VersionID: id, LastModified: m.clk.Now().Add(-time.Minute), Owner: "alice",
			IsDeleteMarker: rng.IntN(4) == 0, Meta: ObjectMeta{Tags: tags}, SourceBucket: "src",
			Source: &Replication{Status: bbproto.StatusPending, Destination: "arn:aws:s3:::" + b}}
		if rng.IntN(4) == 0 {
			in.MetadataOnly, in.IsDeleteMarker = true, false
		}
		_, err := m.s.PutReplica(ctx, in)
		var conflict *ReplicaConflictError
		if !errors.As(err, &conflict) && !errors.Is(err, ErrNoSuchVersion) && !errors.Is(err, ErrVersioningNotEnabled) {
			require.NoError(t, err)
		}
		return fmt.Sprintf("replica %s/%s@%s metadataOnly=%v", b, k, id, in.MetadataOnly)
	case 11:
		b, k := m.pick(append(slices.Clone(modelBuckets), "r")), m.pick(modelKeys)
		up, err := m.s.CreateUpload(ctx, b, k, "alice", ObjectMeta{Tags: tags})
		require.NoError(t, err)
		p := writeBlob(t, m.s, []byte("part"))
		require.NoError(t, m.s.PutPart(ctx, b, k, up.ID, UploadPart{Number: 1, Blob: p.Blob, Size: p.Size, ETag: p.ETag}))
		var replica *ReplicaInput
		if b == "r" {
			replica = &ReplicaInput{VersionID: fmt.Sprintf("mp-%d", rng.IntN(4)), LastModified: m.clk.Now(), SourceBucket: "src"}
		}
		_, err = m.s.CompleteUpload(ctx, b, k, up.ID, []CompletePart{{Number: 1, ETag: p.ETag}}, replica)
		var conflict *ReplicaConflictError
		if !errors.As(err, &conflict) {
			require.NoError(t, err)
		}
		return "multipart " + b + "/" + k
	case 12:
		r := m.someVersion()
		_, err := m.s.PutTags(ctx, r.bucket, r.key, r.versionID, tags)
		var dm *DeleteMarkerError
		if !errors.As(err, &dm) && !errors.Is(err, ErrNoSuchVersion) {
			require.NoError(t, err)
		}
		return fmt.Sprintf("tags %v %v", r, tags)
	case 13:
		// Toggle c's versioning: later writes there replicate, or write null versions.
		_, err := m.s.UpdateBucket(ctx, "c", func(b *Bucket) error {
			b.Versioning = map[string]string{VersioningEnabled: VersioningSuspended, VersioningSuspended: VersioningEnabled}[b.Versioning]
			return nil
		})
		require.NoError(t, err)
		return "toggle versioning of c"
	case 14:
		// Empty bucket b, delete it, make it again.
		for _, r := range m.versions() {
			if r.bucket == "b" {
				_, err := m.s.DeleteObject(ctx, "b", r.key, r.versionID)
				require.NoError(t, err)
			}
		}
		require.NoError(t, m.s.DeleteBucket(ctx, "b"))
		m.makeBucket("b", VersioningEnabled, map[string]string{"dm": "1"})
		return "recreate bucket b"
	default:
		require.NoError(t, m.s.Close())
		strip := rng.IntN(2) == 0
		if strip {
			stripPendingIndex(t, m.dir)
		}
		m.open()
		return fmt.Sprintf("reopen (as a store without the index: %v)", strip)
	}
}

func (m *pendingModel) makeBucket(name, versioning string, tags map[string]string) {
	_, err := m.s.CreateBucket(m.ctx, name, "alice")
	require.NoError(m.t, err)
	_, err = m.s.UpdateBucket(m.ctx, name, func(b *Bucket) error { b.Versioning, b.Tags = versioning, tags; return nil })
	require.NoError(m.t, err)
}

// TestPendingIndexModel drives stores through random writes of every kind that touches
// a version's replication status and checks, after each, that ListPending (from the
// index) lists what a scan of every version lists.
func TestPendingIndexModel(t *testing.T) {
	steps := 300
	if testing.Short() {
		steps = 80
	}
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			m := &pendingModel{t: t, rng: rand.New(rand.NewPCG(seed, 11)), dir: t.TempDir(), ctx: context.Background(),
				clk: &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}}
			m.open()
			t.Cleanup(func() { m.s.Close() })
			m.makeBucket("a", VersioningEnabled, nil)
			m.makeBucket("b", VersioningEnabled, map[string]string{"dm": "1"})
			m.makeBucket("c", VersioningSuspended, nil)
			m.makeBucket("u", "", nil)
			m.makeBucket("r", VersioningEnabled, nil)
			waited := 0
			for i := range steps {
				m.clk.Add(time.Duration(m.rng.IntN(90)) * time.Second)
				step := fmt.Sprintf("step %d: %s", i, m.step())
				page, err := m.s.ListPending(m.ctx, PendingOptions{})
				require.NoError(t, err)
				waited = max(waited, len(page.Versions))
				for _, o := range []PendingOptions{
					{},
					{OlderThan: time.Duration(m.rng.IntN(5)) * time.Minute},
					{Limit: 1 + m.rng.IntN(4)},
					{Limit: 1 + m.rng.IntN(4), MaxScan: 1 + m.rng.IntN(4), OlderThan: time.Minute},
					{Bucket: m.pick(modelBuckets), Prefix: m.pick([]string{"", "p/", "k"}), Limit: 1 + m.rng.IntN(3)},
				} {
					checkPendingIndex(t, m.s, o, step)
				}
			}
			assert.Greater(t, waited, 3, "the model makes waiting versions")
		})
	}
}

// TestPendingIndexBuiltForOldStore opens a store written before the index existed: Open
// builds the index once, and ListPending lists what it listed.
func TestPendingIndexBuiltForOldStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clk := &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	opts := testOptions()
	opts.Policy = testPolicy
	opts.Now = clk.Now
	s, err := Open(dir, opts)
	require.NoError(t, err)
	newBucket(t, s, "a", VersioningEnabled)
	newBucket(t, s, "z", VersioningEnabled)
	var want []string
	for i := range 20 {
		v := put(t, s, "a", fmt.Sprintf("k%02d", i), "x")
		if i%3 == 0 {
			_, err := s.SetReplicationStatus(ctx, "a", v.Key, v.VersionID, bbproto.StatusCompleted, "")
			require.NoError(t, err)
			continue
		}
		want = append(want, "a/"+v.Key+"@"+v.VersionID)
	}
	put(t, s, "z", "skip/no-rule", "x")
	page, err := s.ListPending(ctx, PendingOptions{Limit: 5})
	require.NoError(t, err)
	oldCursor := page.Next
	require.NotEmpty(t, oldCursor)
	require.NoError(t, s.Close())
	stripPendingIndex(t, dir)

	s = openStore(t, dir, opts)
	var got []string
	for _, p := range allPages(t, func(o PendingOptions) (*bbproto.PendingPage, error) { return s.ListPending(ctx, o) }, PendingOptions{Limit: 4}) {
		for _, v := range p.Versions {
			got = append(got, v.Bucket+"/"+v.Key+"@"+v.VersionID)
		}
	}
	assert.Equal(t, want, got)
	page, err = s.ListPending(ctx, PendingOptions{After: oldCursor})
	require.NoError(t, err, "a cursor made before the upgrade goes on")
	assert.Len(t, page.Versions, len(want)-5)
	require.NoError(t, s.view(ctx, func(tx *bolt.Tx) error {
		assert.Equal(t, uint64(formatPendingIndex), getU64(tx.Bucket(bktMeta), metaFormat), "the format is recorded: the index is built once")
		return nil
	}))
}

func TestPendingCursorValidated(t *testing.T) {
	s, _ := pendingStore(t)
	for _, c := range []string{"!!", encodePendingCursor("", []byte("k\x00v")), encodePendingCursor("b", []byte("k")), encodePendingCursor("b", []byte("\x00v"))} {
		_, err := s.ListPending(context.Background(), PendingOptions{After: c})
		assert.ErrorIs(t, err, ErrInvalidCursor, "%q", c)
	}
}

// TestVersionWritesKeepTheIndex fails when a version is written or removed other than
// by putVersion and delVersion, which keep the index of waiting versions right.
func TestVersionWritesKeepTheIndex(t *testing.T) {
	direct := regexp.MustCompile(`(?:put|putJSON|del)\(\s*\w+\.versions\b|\.versions\.(?:Put|Delete)\(`)
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == "pending_index.go" {
			continue
		}
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		assert.Empty(t, direct.FindAllString(string(src), -1), "%s writes versions without putVersion/delVersion", f)
	}
}
