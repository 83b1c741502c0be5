package starter

import (
	"context"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/spf13/cobra"
)

// VersionStatus is the replication status of one version (status --output json).
type VersionStatus struct {
	Bucket         string    `json:"bucket"`
	Key            string    `json:"key"`
	VersionID      string    `json:"versionId"`
	IsLatest       bool      `json:"isLatest"`
	IsDeleteMarker bool      `json:"isDeleteMarker"`
	LastModified   time.Time `json:"lastModified"`
	// SourceStatus is the source version's replication status (PENDING, PROCESSING,
	// COMPLETED, FAILED, REPLICA), "" when it has none (no rule matched), "?" for a
	// delete marker read without the replication identity (HeadObject cannot read one).
	SourceStatus string `json:"sourceStatus"`
	// Reason of a FAILED version (read with the replication identity only).
	Reason string `json:"reason,omitempty"`
	// Target is where the replica of this version is expected.
	Target TargetStatus `json:"target"`
}

// TargetStatus is the state of a version's replica on the target.
type TargetStatus struct {
	Bucket   string `json:"bucket,omitempty"`
	Endpoint string `json:"endpoint,omitempty"`
	// Present: the target bucket holds a version with the same id.
	Present bool `json:"present"`
	// Status is the replica's replication status (REPLICA), "" when absent or a delete
	// marker.
	Status string `json:"status,omitempty"`
	// Error says why the target could not be read.
	Error string `json:"error,omitempty"`
}

func (a *app) statusCommand() *cobra.Command {
	var bucket, key, versionID, target, output string
	cmd := &cobra.Command{
		Use:   "status --bucket BUCKET --key KEY [--version-id ID]",
		Short: "Show an object's replication status on the source and on the target",
		Long: `status shows, for each version of an object (or the one given by --version-id), the
source version's replication status (x-amz-replication-status of HeadObject with the
source profile: PENDING, PROCESSING, COMPLETED, FAILED) and whether the target bucket holds
the same version id with the status REPLICA (HeadObject with the target profile at the
target endpoint).

With the replication identity (--replication-profile or ` + replicationKeys + `)
the source statuses are read through s3server's version route, which adds the reason of
FAILED versions, the status of delete markers and the exact destination bucket.
The target bucket is --target-bucket, else the version's destination, else the
destination of the source bucket's rule that matches the key.

Exit code 0 when the statuses were read (whatever they are), 1 when the source or the
target could not be read.`,
		Args: cobra.NoArgs,
		RunE: wrapRun(func(cmd *cobra.Command, _ []string) error {
			if err := required("bucket", bucket, "key", key); err != nil {
				return err
			}
			if err := checkOutput(output); err != nil {
				return err
			}
			return a.status(cmd.Context(), cmd.OutOrStdout(), bucket, key, versionID, target, output)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&bucket, "bucket", "", "source bucket (required)")
	f.StringVar(&key, "key", "", "object key (required)")
	f.StringVar(&versionID, "version-id", "", "only this version (default: every version of the key, newest first)")
	f.StringVar(&target, "target-bucket", "", "target bucket (default: from the replication rule)")
	a.outputFlag(cmd, &output)
	return cmd
}

// listedVersion is a version or delete marker of a listing.
type listedVersion struct {
	key, id        string
	latest, marker bool
	modified       time.Time
}

// listVersions calls fn for every version and delete marker of bucket under prefix, in
// key order (newest first per key); fn returns false to stop. exactKey limits the walk
// to that key.
func (a *app) listVersions(ctx context.Context, ep *endpoint, bucket, prefix string, exactKey bool, fn func(listedVersion) (bool, error)) error {
	in := &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String(prefix)}
	for {
		lctx, cancel := context.WithTimeout(ctx, a.timeout)
		res, err := ep.s3.ListObjectVersions(lctx, in)
		cancel()
		if err != nil {
			return a.explain(err, ep, "ListObjectVersions", bucket)
		}
		var page []listedVersion
		for _, v := range res.Versions {
			page = append(page, listedVersion{aws.ToString(v.Key), aws.ToString(v.VersionId), aws.ToBool(v.IsLatest), false, aws.ToTime(v.LastModified)})
		}
		for _, d := range res.DeleteMarkers {
			page = append(page, listedVersion{aws.ToString(d.Key), aws.ToString(d.VersionId), aws.ToBool(d.IsLatest), true, aws.ToTime(d.LastModified)})
		}
		// Versions and delete markers come in two lists: merge them back into key order,
		// newest first per key.
		sort.SliceStable(page, func(i, j int) bool {
			if page[i].key != page[j].key {
				return page[i].key < page[j].key
			}
			if page[i].latest != page[j].latest {
				return page[i].latest
			}
			return page[i].modified.After(page[j].modified)
		})
		for _, v := range page {
			if exactKey && v.key != prefix {
				if v.key > prefix {
					return nil
				}
				continue
			}
			more, err := fn(v)
			if err != nil || !more {
				return err
			}
		}
		if !aws.ToBool(res.IsTruncated) {
			return nil
		}
		in.KeyMarker, in.VersionIdMarker = res.NextKeyMarker, res.NextVersionIdMarker
	}
}

func (a *app) status(ctx context.Context, w io.Writer, bucket, key, versionID, target, output string) error {
	src, err := a.source(ctx)
	if err != nil {
		return err
	}
	rid, err := a.replicationIdentity(ctx, false)
	if err != nil {
		return err
	}
	var bb *bbClient
	if rid != nil {
		if bb, err = a.newBBClient(src.url, rid); err != nil {
			return err
		}
	}
	var versions []listedVersion
	err = a.listVersions(ctx, src, bucket, key, true, func(v listedVersion) (bool, error) {
		if versionID == "" || v.id == versionID {
			versions = append(versions, v)
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	if len(versions) == 0 {
		if versionID != "" {
			return failf("version %s of %s does not exist in bucket %s at %s", versionID, key, bucket, src.url)
		}
		return failf("%s has no version in bucket %s at %s", key, bucket, src.url)
	}

	out := make([]VersionStatus, 0, len(versions))
	var rules []rule
	rulesRead := false
	for _, v := range versions {
		vs := VersionStatus{Bucket: bucket, Key: key, VersionID: v.id, IsLatest: v.latest, IsDeleteMarker: v.marker, LastModified: v.modified}
		dest := ""
		switch {
		case bb != nil:
			bv, err := bb.getVersion(ctx, bucket, key, v.id)
			if err != nil {
				return err
			}
			vs.SourceStatus, vs.Reason = string(bv.ReplicationStatus()), reasonOf(bv)
			if bv.Replication != nil && bv.Replication.Destination != "" {
				dest = bucketOfARN(bv.Replication.Destination)
			}
		case v.marker:
			vs.SourceStatus = "?"
		default:
			hctx, cancel := context.WithTimeout(ctx, a.timeout)
			h, err := src.s3.HeadObject(hctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: aws.String(v.id)})
			cancel()
			if err != nil {
				return a.explain(err, src, "HeadObject", bucket)
			}
			vs.SourceStatus = string(h.ReplicationStatus)
		}
		switch {
		case target != "":
			vs.Target.Bucket = target
		case dest != "":
			vs.Target.Bucket = dest
		default:
			if !rulesRead {
				rulesRead = true
				if rules, _, err = a.replicationRules(ctx, src, bucket); err != nil {
					return err
				}
			}
			if r := matchRule(rules, key, nil, false); r != nil {
				vs.Target.Bucket = r.Dest
			}
		}
		out = append(out, vs)
	}

	targetErr := a.targetStatuses(ctx, src, out, key)
	if output == OutputJSON {
		if err := writeJSON(w, out); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "VERSION\tLATEST\tTYPE\tLAST-MODIFIED\tSOURCE\tTARGET\tREASON\n")
		for _, v := range out {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.VersionID, yesNo(v.IsLatest), kind(v.IsDeleteMarker),
				v.LastModified.UTC().Format(time.RFC3339), dash(v.SourceStatus), targetWord(v.Target), dash(v.Reason))
		}
		tw.Flush()
		if bb == nil {
			fmt.Fprintf(w, "(FAILED reasons and delete-marker statuses need the replication identity: --replication-profile or %s)\n",
				replicationKeys)
		}
	}
	return targetErr
}

// targetStatuses fills in the Target of each version: present on the target, replica
// status. It returns the first error reading a target.
func (a *app) targetStatuses(ctx context.Context, src *endpoint, out []VersionStatus, key string) error {
	var dst *endpoint
	byBucket := map[string]map[string]bool{} // bucket → version id → delete marker
	errs := map[string]error{}
	var first error
	for i := range out {
		t := &out[i].Target
		if t.Bucket == "" {
			t.Error = "no Enabled replication rule of the source bucket matches this key"
			continue
		}
		if dst == nil {
			var err error
			if dst, err = a.target(ctx, src); err != nil {
				return err
			}
		}
		t.Endpoint = dst.url
		if _, done := byBucket[t.Bucket]; !done && errs[t.Bucket] == nil {
			ids := map[string]bool{}
			err := a.listVersions(ctx, dst, t.Bucket, key, true, func(v listedVersion) (bool, error) {
				ids[v.id] = v.marker
				return true, nil
			})
			if err != nil {
				errs[t.Bucket] = err
				if first == nil {
					first = err
				}
			} else {
				byBucket[t.Bucket] = ids
			}
		}
		if err := errs[t.Bucket]; err != nil {
			t.Error = err.Error()
			continue
		}
		marker, ok := byBucket[t.Bucket][out[i].VersionID]
		if !ok {
			continue
		}
		t.Present = true
		if marker {
			continue
		}
		hctx, cancel := context.WithTimeout(ctx, a.timeout)
		h, err := dst.s3.HeadObject(hctx, &s3.HeadObjectInput{Bucket: aws.String(t.Bucket), Key: aws.String(key), VersionId: aws.String(out[i].VersionID)})
		cancel()
		if err != nil {
			e := a.explain(err, dst, "HeadObject", t.Bucket)
			t.Error = e.Error()
			if first == nil {
				first = e
			}
			continue
		}
		t.Status = string(h.ReplicationStatus)
	}
	return first
}

func targetWord(t TargetStatus) string {
	switch {
	case t.Error != "" && t.Bucket == "":
		return "? (no matching rule)"
	case t.Error != "":
		return "? (" + t.Bucket + " unreadable)"
	case !t.Present:
		return "absent from " + t.Bucket
	case t.Status == "":
		return "delete marker in " + t.Bucket
	}
	return t.Status + " in " + t.Bucket
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func kind(marker bool) string {
	if marker {
		return "delete-marker"
	}
	return "object"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
