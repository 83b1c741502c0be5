// Package activities does the S3 work of replication: copy one source object version
// (data and/or metadata, or a delete marker) from the source s3server to a target site,
// and write the source version's replication status. Replicator is the S3 logic, free of
// Temporal; Activities wraps it as the Temporal activities of the partition workflow
// (heartbeats, resume from heartbeat details, error types, metrics).
//
// Targets are sites (see Sites): an s3server (kind "s3server") receives replicas through
// its privileged /_/backbeat/replica route, which keeps the source's version id and
// last-modified time and marks the version REPLICA; any other S3 (kind "s3") gets plain
// PutObject / multipart uploads / DeleteObject, with the source version id and
// last-modified time kept in the user metadata MetaSourceVersionID and
// MetaSourceLastModified.
//
// Idempotency: before writing, the target is asked what it holds. On an s3server, the
// version route with the source version id: a version of the same size and ETag means
// the data is there. On plain S3, the target version carrying the source version id in
// MetaSourceVersionID (and of the same size) holds the data: a HEAD of the key finds it
// when it is the latest, a listing of the key's versions otherwise (see s3Target); a
// plain S3 target is never moved back in time (an older version, or one deleted after
// it on the source, that the target does not hold fails with a reason). Only what
// differs is written: nothing, the metadata (tags, user metadata, content headers), or
// the data.
// A metadata-only entry never copies data that the target already holds (BB-269).
//
// Data is streamed from a GET of the source version to the target, never held whole in
// memory. Objects of Site.MultipartThreshold bytes or more, and objects that were
// multipart on the source, go in parts (the source's part sizes when it was multipart,
// so an s3server replica gets the source's ETag; Site.PartSize otherwise), each part read
// with a ranged GET. Finished parts are reported to Progress, and a later attempt that is
// given the same Checkpoint resumes the upload: the target's own part list says which
// parts are stored, and only the others are sent.
package activities

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/bbproto/bbclient"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/backbeat-temporal/backbeat/contract"
	"github.com/backbeat-temporal/backbeat/internal/tlsconf"
)

// Defaults of Config.
const (
	// DefaultMaxAttempts is the number of tries of one request by the aws-sdk-go-v2
	// clients (their own retries, within one activity attempt).
	DefaultMaxAttempts = 3
	// DefaultProgressEvery is the number of bytes streamed between Progress.Alive calls.
	DefaultProgressEvery = 1 << 20
)

// Config configures a Replicator.
type Config struct {
	// Source is the source s3server and the replication identity (the account marked
	// "replication" in its accounts file): Endpoint, Region, AccessKey/SecretKey or
	// Profile. Required.
	Source Site
	// Sites are the targets. Default DefaultSites(Source): the source endpoint itself.
	Sites *Sites
	// HTTPClient serves the requests to the source. Default: tlsconf.HTTPClient's (no
	// overall timeout: requests end with their context; many idle connections kept).
	HTTPClient *http.Client
	// TargetHTTPClient serves the requests to every target. Default HTTPClient.
	// A site (the source included) with a CAFile gets its own client trusting that
	// bundle instead.
	TargetHTTPClient *http.Client
	// MaxAttempts of one request by the aws-sdk-go-v2 clients. Default
	// DefaultMaxAttempts; 1 disables the SDK's retries.
	MaxAttempts int
	// ProgressEvery is the number of bytes streamed between Progress.Alive calls.
	// Default DefaultProgressEvery.
	ProgressEvery int64
	// Logger receives the replication log. Default slog.Default().
	Logger *slog.Logger
}

// Replicator copies object versions from the source s3server to target sites. It is
// safe for concurrent use.
type Replicator struct {
	cfg     Config
	source  Site
	srcBB   *bbclient.Client
	srcS3   *s3.Client
	sites   *Sites
	targets map[string]target
	log     *slog.Logger
}

// New builds a Replicator: it checks the configuration and resolves credentials
// (profiles are read here), but sends no request.
func New(ctx context.Context, cfg Config) (*Replicator, error) {
	if cfg.Source.Endpoint == "" {
		return nil, errors.New("activities: the source endpoint is required")
	}
	if cfg.Source.Name == "" {
		cfg.Source.Name = DefaultSourceSite
	}
	cfg.Source.Kind = KindS3Server
	cfg.Source = cfg.Source.withDefaults()
	if err := cfg.Source.validate(); err != nil {
		return nil, fmt.Errorf("activities: source: %w", err)
	}
	if cfg.Sites == nil {
		cfg.Sites = DefaultSites(cfg.Source)
	}
	if err := cfg.Sites.Validate(); err != nil {
		return nil, fmt.Errorf("activities: sites: %w", err)
	}
	if cfg.HTTPClient == nil {
		hc, err := tlsconf.HTTPClient(tlsconf.Client{})
		if err != nil {
			return nil, fmt.Errorf("activities: HTTP client: %w", err)
		}
		cfg.HTTPClient = hc
	}
	if cfg.TargetHTTPClient == nil {
		cfg.TargetHTTPClient = cfg.HTTPClient
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.ProgressEvery <= 0 {
		cfg.ProgressEvery = DefaultProgressEvery
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := &Replicator{cfg: cfg, source: cfg.Source, sites: cfg.Sites, targets: map[string]target{}, log: cfg.Logger}
	creds, err := credentialsFor(ctx, cfg.Source)
	if err != nil {
		return nil, fmt.Errorf("activities: source: %w", err)
	}
	if cfg.HTTPClient, err = siteHTTPClient(cfg.Source, cfg.HTTPClient, "--s3-ca-file (or AWS_CA_BUNDLE)"); err != nil {
		return nil, fmt.Errorf("activities: source: %w", err)
	}
	if r.srcBB, err = bbclient.New(bbclient.Config{Endpoint: cfg.Source.Endpoint, Region: cfg.Source.Region, Credentials: creds, HTTP: cfg.HTTPClient}); err != nil {
		return nil, fmt.Errorf("activities: source: %w", err)
	}
	r.srcS3 = newS3Client(cfg.Source, creds, cfg.HTTPClient, cfg.MaxAttempts)
	for _, st := range cfg.Sites.Sites {
		creds, err := credentialsFor(ctx, st)
		if err != nil {
			return nil, fmt.Errorf("activities: site %q: %w", st.Name, err)
		}
		hc, err := siteHTTPClient(st, cfg.TargetHTTPClient, fmt.Sprintf("caFile of site %q in the sites file", st.Name))
		if err != nil {
			return nil, fmt.Errorf("activities: site %q: %w", st.Name, err)
		}
		switch st.Kind {
		case KindS3Server:
			bb, err := bbclient.New(bbclient.Config{Endpoint: st.Endpoint, Region: st.Region, Credentials: creds, HTTP: hc})
			if err != nil {
				return nil, fmt.Errorf("activities: site %q: %w", st.Name, err)
			}
			r.targets[st.Name] = &s3serverTarget{bb: bb}
		case KindS3:
			r.targets[st.Name] = &s3Target{c: newS3Client(st, creds, hc, cfg.MaxAttempts), src: r.srcS3}
		}
	}
	return r, nil
}

// siteHTTPClient is the client of a site: def, or one trusting the site's CAFile (whose
// certificate errors name caFlag, the setting to fix).
func siteHTTPClient(st Site, def *http.Client, caFlag string) (*http.Client, error) {
	if st.CAFile == "" {
		return def, nil
	}
	hc, err := tlsconf.HTTPClient(tlsconf.Client{CAFile: st.CAFile, CAFlag: caFlag})
	if err != nil {
		return nil, fmt.Errorf("CA bundle: %w", err)
	}
	return hc, nil
}

// credentialsFor returns the static credentials of a site, or those of its profile.
func credentialsFor(ctx context.Context, st Site) (aws.CredentialsProvider, error) {
	if st.AccessKey != "" {
		return credentials.NewStaticCredentialsProvider(st.AccessKey, st.SecretKey, ""), nil
	}
	ac, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithSharedConfigProfile(st.Profile), awsconfig.WithRegion(st.Region))
	if err != nil {
		return nil, fmt.Errorf("load AWS profile %q: %w", st.Profile, err)
	}
	return aws.NewCredentialsCache(ac.Credentials), nil
}

// newS3Client is an aws-sdk-go-v2 client of a site. Bodies are streamed unsigned
// (UNSIGNED-PAYLOAD) with their Content-Length, and no flexible checksum is computed
// unless an operation requires one: a non-seekable body cannot be signed nor
// checksummed ahead over plain HTTP.
func newS3Client(st Site, creds aws.CredentialsProvider, hc *http.Client, attempts int) *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint:               endpointOrNil(st.Endpoint),
		Region:                     st.Region,
		UsePathStyle:               *st.PathStyle,
		Credentials:                creds,
		HTTPClient:                 hc,
		RetryMaxAttempts:           attempts,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

func endpointOrNil(ep string) *string {
	if ep == "" {
		return nil
	}
	return aws.String(ep)
}

// unsignedPayloadOption makes an operation send its body as UNSIGNED-PAYLOAD.
func unsignedPayloadOption(o *s3.Options) {
	o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
}

// Actions of a Result.
const (
	// ActionCopied: the data (and metadata) was written.
	ActionCopied = "copied"
	// ActionMetadata: only tags / user metadata / content headers were written.
	ActionMetadata = "metadata"
	// ActionDeleteMarker: a delete marker was written.
	ActionDeleteMarker = "delete-marker"
	// ActionAlreadyPresent: the target held the version already; nothing was written.
	ActionAlreadyPresent = "already-present"
)

// Result tells what one Replicate did.
type Result struct {
	// Site and TargetBucket are where the version went.
	Site, TargetBucket string
	// Action is one of the Action* constants.
	Action string
	// Bytes of object data sent to the target by this call (on failure: streamed
	// before it failed).
	Bytes int64
	// Multipart: the data went by parts.
	Multipart bool
	// PartsUploaded by this call, and PartsSkipped because a previous attempt had
	// stored them (resume).
	PartsUploaded, PartsSkipped int
}

// Progress receives the progress of a copy and hands a previous attempt's progress
// back. Activities implements it with Temporal heartbeats; tests record it.
type Progress interface {
	// Resume returns the checkpoint saved by a previous attempt of the same entry, nil
	// when none.
	Resume() *Checkpoint
	// Save records cp: called when a multipart upload starts and after each finished
	// part.
	Save(cp Checkpoint)
	// Alive says that data is moving: called every Config.ProgressEvery bytes streamed
	// to the target, and at least every second while bytes move, with the bytes
	// streamed by this call so far. It may be called from the HTTP transport's
	// goroutine.
	Alive(bytes int64)
}

// NopProgress is a Progress that resumes nothing and records nothing.
type NopProgress struct{}

// Resume implements Progress.
func (NopProgress) Resume() *Checkpoint { return nil }

// Save implements Progress.
func (NopProgress) Save(Checkpoint) {}

// Alive implements Progress.
func (NopProgress) Alive(int64) {}

// Checkpoint is the resumable state of a multipart copy.
type Checkpoint struct {
	// Site, Bucket (target), Key and VersionID (source) say what the upload is for: a
	// checkpoint of another version is ignored.
	Site      string `json:"site"`
	Bucket    string `json:"bucket"`
	Key       string `json:"key"`
	VersionID string `json:"versionId"`
	// UploadID is the target's multipart upload.
	UploadID string `json:"uploadId"`
	// PartSize (the first part's) and PartCount describe the layout; a checkpoint made
	// with another layout is ignored.
	PartSize  int64 `json:"partSize"`
	PartCount int   `json:"partCount"`
	// Parts are the finished parts, by number. Heartbeats leave the list out above
	// MaxHeartbeatParts parts (PartsDone still counts them): the target's own part
	// list is what a resumed attempt trusts.
	Parts []PartDone `json:"parts,omitempty"`
	// PartsDone is the number of finished parts.
	PartsDone int `json:"partsDone"`
	// Bytes streamed by the attempt that saved it.
	Bytes int64 `json:"bytes,omitempty"`
}

// PartDone is a part stored on the target.
type PartDone struct {
	Number int    `json:"number"`
	ETag   string `json:"etag"`
	Size   int64  `json:"size"`
}

// job is one Replicate call.
type job struct {
	r            *Replicator
	rec          bbproto.Record
	site         Site
	bucket       string // target bucket
	key          string
	src          *bbproto.Version
	metadataOnly bool
	progress     Progress
	log          *slog.Logger
	streamed     atomic.Int64 // bytes sent to the target by this call (read by the transport's goroutine)
}

// Replicate copies the version of rec (a PENDING journal record: a new version, a delete
// marker or a metadata change) to its target site, writing only what the target lacks.
// Errors are *Error: check Retryable (or KindOf) before trying again.
func (r *Replicator) Replicate(ctx context.Context, rec bbproto.Record, progress Progress) (Result, error) {
	if progress == nil {
		progress = NopProgress{}
	}
	j, err := r.newJob(rec, progress)
	if err != nil {
		r.log.Warn("replication entry refused", "bucket", rec.Bucket, "key", rec.Key, "versionId", rec.VersionID, "error", err)
		return Result{}, err
	}
	res := Result{Site: j.site.Name, TargetBucket: j.bucket}
	start := time.Now()
	src, err := r.sourceVersion(ctx, rec.Bucket, rec.Key, rec.VersionID)
	if err != nil {
		j.log.Warn("cannot read the source version", "error", err)
		return res, err
	}
	j.src = src
	t := r.targets[j.site.Name]
	var out Result
	if src.IsDeleteMarker {
		out, err = t.deleteMarker(ctx, j)
	} else {
		out, err = t.replicate(ctx, j)
	}
	out.Site, out.TargetBucket = res.Site, res.TargetBucket
	if err != nil {
		out.Bytes = j.streamed.Load()
		j.log.Warn("replication failed", "bytes", j.streamed.Load(), "retryable", KindOf(err) == contract.KindRetryable, "error", err)
		return out, err
	}
	j.log.Info("replicated", "action", out.Action, "bytes", out.Bytes, "multipart", out.Multipart,
		"partsUploaded", out.PartsUploaded, "partsSkipped", out.PartsSkipped, "took", time.Since(start))
	return out, nil
}

// newJob checks rec and resolves its target.
func (r *Replicator) newJob(rec bbproto.Record, progress Progress) (*job, error) {
	invalid := func(format string, args ...any) error {
		return newError(contract.KindInvalidEntry, fmt.Sprintf(format, args...), nil)
	}
	switch {
	case rec.Bucket == "" || rec.Key == "" || rec.VersionID == "":
		return nil, invalid("the journal record (seq %d) lacks its bucket, key or versionId", rec.Seq)
	case rec.Replication == nil:
		return nil, invalid("the journal record (seq %d) carries no replication info", rec.Seq)
	}
	switch rec.Op {
	case bbproto.OpPut, bbproto.OpDeleteMarker, bbproto.OpMetadata, bbproto.OpStatus:
	default:
		return nil, invalid("journal op %q (seq %d) is not replicated", rec.Op, rec.Seq)
	}
	bucket, err := BucketFromARN(rec.Replication.Destination)
	if err != nil {
		return nil, err
	}
	site, err := r.sites.Lookup(rec.Replication.Site)
	if err != nil {
		return nil, err
	}
	metaOnly := rec.Op == bbproto.OpMetadata || rec.Replication.MetadataOnly()
	return &job{
		r: r, rec: rec, site: site, bucket: bucket, key: rec.Key, metadataOnly: metaOnly, progress: progress,
		log: r.log.With("bucket", rec.Bucket, "key", rec.Key, "versionId", rec.VersionID, "op", rec.Op,
			"site", site.Name, "targetBucket", bucket),
	}, nil
}

// sourceVersion reads a source version (or delete marker) through the version route.
func (r *Replicator) sourceVersion(ctx context.Context, bucket, key, versionID string) (*bbproto.Version, error) {
	v, err := r.srcBB.Version(ctx, bucket, key, versionID)
	if err != nil {
		return nil, classify(err, side{source: true, site: r.source, bucket: bucket}, fmt.Sprintf("read source version %s of %s/%s", versionID, bucket, key))
	}
	return v, nil
}

// MaxStatusReason is the longest FAILED reason SetStatus sends, in bytes: a longer one
// is cut on a rune boundary and ends with "…".
const MaxStatusReason = 2048

// statusReason makes reason fit the status route: valid UTF-8 (a byte that is not, such
// as a multi-byte rune cut by a truncation upstream, becomes U+FFFD) and at most
// MaxStatusReason bytes, cut on a rune boundary. Control characters are kept: the
// JSON encoder escapes them.
func statusReason(reason string) string {
	reason = strings.ToValidUTF8(reason, "\uFFFD")
	if len(reason) <= MaxStatusReason {
		return reason
	}
	const ellipsis = "…"
	n := MaxStatusReason - len(ellipsis)
	for n > 0 && !utf8.RuneStart(reason[n]) {
		n--
	}
	return reason[:n] + ellipsis
}

// SetStatus writes the replication status (bbproto.StatusCompleted, StatusFailed...)
// of a source version, with the reason of a failure (made valid UTF-8 and cut to
// MaxStatusReason bytes), and returns the version's last-modified time. Errors are
// *Error.
func (r *Replicator) SetStatus(ctx context.Context, bucket, key, versionID string, status bbproto.Status, reason string) (time.Time, error) {
	v, err := r.srcBB.SetStatus(ctx, bucket, key, versionID, status, statusReason(reason))
	if err != nil {
		return time.Time{}, classify(err, side{source: true, site: r.source, bucket: bucket}, fmt.Sprintf("set status %s of %s/%s version %s", status, bucket, key, versionID))
	}
	r.log.Debug("status set", "bucket", bucket, "key", key, "versionId", versionID, "status", status, "reason", reason)
	return v.LastModified, nil
}

// target writes replicas to one site.
type target interface {
	// replicate writes what the target lacks of j.src (data and metadata).
	replicate(ctx context.Context, j *job) (Result, error)
	// deleteMarker writes the delete marker j.src.
	deleteMarker(ctx context.Context, j *job) (Result, error)
}

// targetSide is where the target requests of j go, for classify.
func (j *job) targetSide() side { return side{site: j.site, bucket: j.bucket} }

// sourceSide is where the source requests of j go, for classify.
func (j *job) sourceSide() side { return side{source: true, site: j.r.source, bucket: j.rec.Bucket} }

// layout returns the part sizes of the copy of j.src, nil for a single PUT.
func (j *job) layout() []int64 {
	src := j.src
	if len(src.Parts) > 1 || (len(src.Parts) == 1 && isMultipartETag(src.ETag)) {
		sizes := make([]int64, len(src.Parts))
		var sum int64
		ok := len(sizes) <= MaxParts
		for i, p := range src.Parts {
			sizes[i] = p.Size
			sum += p.Size
			if i < len(sizes)-1 && p.Size < MinPartSize {
				ok = false
			}
		}
		if ok && sum == src.Size {
			return sizes
		}
	}
	if src.Size < j.site.MultipartThreshold || src.Size == 0 {
		return nil
	}
	ps := max(j.site.PartSize, (src.Size+MaxParts-1)/MaxParts)
	var sizes []int64
	for off := int64(0); off < src.Size; off += ps {
		sizes = append(sizes, min(ps, src.Size-off))
	}
	return sizes
}

// isMultipartETag tells whether an ETag is S3's multipart form "hex-N".
func isMultipartETag(etag string) bool { return strings.Contains(etag, "-") }

// openSource opens the source data of j.src: n bytes from off (the whole object when
// off is 0 and n its size), streamed.
func (j *job) openSource(ctx context.Context, off, n int64) (io.ReadCloser, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(j.rec.Bucket), Key: aws.String(j.key), VersionId: aws.String(j.src.VersionID)}
	if off != 0 || n != j.src.Size {
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", off, off+n-1))
	}
	out, err := j.r.srcS3.GetObject(ctx, in)
	if err != nil {
		return nil, classify(err, j.sourceSide(), fmt.Sprintf("read source data of %s/%s version %s", j.rec.Bucket, j.key, j.src.VersionID))
	}
	if out.ContentLength == nil || *out.ContentLength != n {
		out.Body.Close()
		return nil, newError(contract.KindRetryable, fmt.Sprintf("read source data of %s/%s version %s: asked %d bytes at %d, the source answers %v", j.rec.Bucket, j.key, j.src.VersionID, n, off, aws.ToInt64(out.ContentLength)), nil)
	}
	if et := strings.Trim(aws.ToString(out.ETag), `"`); et != "" && et != j.src.ETag {
		out.Body.Close()
		return nil, newError(contract.KindRetryable, fmt.Sprintf("read source data of %s/%s version %s: ETag %s, expected %s", j.rec.Bucket, j.key, j.src.VersionID, et, j.src.ETag), nil)
	}
	return out.Body, nil
}

// stream wraps a body sent to the target: it counts the bytes and calls
// Progress.Alive every Config.ProgressEvery bytes.
func (j *job) stream(r io.Reader) io.Reader {
	return &aliveReader{r: r, j: j, next: j.streamed.Load() + j.r.cfg.ProgressEvery, last: time.Now()}
}

type aliveReader struct {
	r    io.Reader
	j    *job
	next int64     // bytes at which to call Alive
	last time.Time // of the last Alive
}

// aliveInterval is the longest time between Alive calls while any byte moves (a slow
// link must still heartbeat within the HeartbeatTimeout).
const aliveInterval = time.Second

func (a *aliveReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	total := a.j.streamed.Add(int64(n))
	if total >= a.next || (n > 0 && time.Since(a.last) >= aliveInterval) {
		a.j.progress.Alive(total)
		a.last = time.Now()
		for a.next <= total {
			a.next += a.j.r.cfg.ProgressEvery
		}
	}
	return n, err
}

// multipartWriter is the multipart protocol of one target kind.
type multipartWriter interface {
	create(ctx context.Context, j *job) (uploadID string, err error)
	// listParts returns the parts stored in the upload; errUploadGone when the upload
	// no longer exists.
	listParts(ctx context.Context, j *job, uploadID string) ([]PartDone, error)
	// putPart stores a part; md5hex is the hex MD5 of body, known once body is read.
	putPart(ctx context.Context, j *job, uploadID string, number int, body io.Reader, size int64, md5hex func() string) (etag string, err error)
	complete(ctx context.Context, j *job, uploadID string, parts []PartDone) error
	abort(ctx context.Context, j *job, uploadID string) error
}

// errUploadGone says that a multipart upload no longer exists on the target.
var errUploadGone = errors.New("the multipart upload no longer exists on the target")

// copyParts copies j.src to the target by parts of the given sizes, resuming the upload
// of a matching Checkpoint.
func (j *job) copyParts(ctx context.Context, w multipartWriter, sizes []int64) (Result, error) {
	res := Result{Action: ActionCopied, Multipart: true}
	cp := Checkpoint{Site: j.site.Name, Bucket: j.bucket, Key: j.key, VersionID: j.src.VersionID,
		PartSize: sizes[0], PartCount: len(sizes)}
	done := map[int]PartDone{}
	if prev := j.progress.Resume(); prev != nil && prev.UploadID != "" && prev.Site == cp.Site &&
		prev.Bucket == cp.Bucket && prev.Key == cp.Key && prev.VersionID == cp.VersionID &&
		prev.PartSize == cp.PartSize && prev.PartCount == cp.PartCount {
		stored, err := w.listParts(ctx, j, prev.UploadID)
		switch {
		case errors.Is(err, errUploadGone):
			j.log.Info("the upload of a previous attempt is gone: starting a new one", "uploadId", prev.UploadID)
		case err != nil:
			return res, err
		default:
			cp.UploadID = prev.UploadID
			for _, p := range stored {
				if p.Number >= 1 && p.Number <= len(sizes) && p.Size == sizes[p.Number-1] {
					done[p.Number] = p
				}
			}
			j.log.Info("resuming the upload of a previous attempt", "uploadId", cp.UploadID,
				"partsStored", len(done), "partsInCheckpoint", len(prev.Parts), "parts", len(sizes))
		}
	}
	if cp.UploadID == "" {
		id, err := w.create(ctx, j)
		if err != nil {
			return res, err
		}
		cp.UploadID = id
	}
	for n := 1; n <= len(sizes); n++ {
		if p, ok := done[n]; ok {
			cp.Parts = append(cp.Parts, p)
		}
	}
	cp.PartsDone = len(cp.Parts)
	j.progress.Save(cp)
	fail := func(err error) (Result, error) {
		if KindOf(err) != contract.KindRetryable {
			// Nothing will resume this upload: free the target's space.
			if aerr := w.abort(context.WithoutCancel(ctx), j, cp.UploadID); aerr != nil {
				j.log.Warn("cannot abort the upload", "uploadId", cp.UploadID, "error", aerr)
			}
		}
		return res, err
	}
	// The parts still to send, Site.PartConcurrency at once. After an error no part
	// starts, the parts in flight finish (and are saved for a later attempt to resume).
	var (
		mu       sync.Mutex // guards cp, res and firstErr (done is read-only now)
		firstErr error
		wg       sync.WaitGroup
		sem      = make(chan struct{}, max(j.site.PartConcurrency, 1))
	)
	failed := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return firstErr != nil
	}
	var off int64
	for i, size := range sizes {
		n, partOff := i+1, off
		off += size
		if _, ok := done[n]; ok {
			res.PartsSkipped++
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil || failed() {
			if ctx.Err() == nil {
				<-sem
			}
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			etag, err := j.copyPart(ctx, w, cp.UploadID, n, partOff, size)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			p := PartDone{Number: n, ETag: etag, Size: size}
			cp.Parts = append(cp.Parts, p)
			slices.SortFunc(cp.Parts, func(a, b PartDone) int { return a.Number - b.Number })
			cp.Bytes = j.streamed.Load()
			cp.PartsDone = len(cp.Parts)
			res.PartsUploaded++
			res.Bytes += size
			j.progress.Save(cp)
		}()
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = classify(ctx.Err(), j.targetSide(), "copy parts")
	}
	if firstErr != nil {
		return fail(firstErr)
	}
	if err := w.complete(ctx, j, cp.UploadID, cp.Parts); err != nil {
		return fail(err)
	}
	return res, nil
}

// copyPart streams one part from a ranged GET of the source.
func (j *job) copyPart(ctx context.Context, w multipartWriter, uploadID string, n int, off, size int64) (string, error) {
	body, err := j.openSource(ctx, off, size)
	if err != nil {
		return "", err
	}
	defer body.Close()
	h := &lockedHash{h: md5.New()}
	return w.putPart(ctx, j, uploadID, n, j.stream(io.TeeReader(body, h)), size, h.hex)
}

// lockedHash is a hash written by the HTTP transport's goroutine and read by the
// caller once the request is answered.
type lockedHash struct {
	mu sync.Mutex
	h  hash.Hash
}

func (l *lockedHash) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.h.Write(p)
}

func (l *lockedHash) hex() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return hex.EncodeToString(l.h.Sum(nil))
}
