package starter

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/spf13/cobra"

	"github.com/backbeat-temporal/backbeat/bbproto"
)

// FailedVersion is a FAILED source version (failed list --output json).
type FailedVersion struct {
	Bucket         string    `json:"bucket"`
	Key            string    `json:"key"`
	VersionID      string    `json:"versionId"`
	IsDeleteMarker bool      `json:"isDeleteMarker"`
	LastModified   time.Time `json:"lastModified"`
	Reason         string    `json:"reason"`
	// Destination is the destination bucket ARN of the version's rule.
	Destination string `json:"destination,omitempty"`
}

// Ref is bucket/key@versionId, the form failed retry takes and failed list prints.
func (f FailedVersion) Ref() string { return f.Bucket + "/" + f.Key + "@" + f.VersionID }

func (a *app) failedCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "failed",
		Short: "List and retry FAILED versions",
		Long: `failed list shows the source versions whose replication FAILED, with the reason;
failed retry re-queues them: their status goes back to PENDING through s3server's
privileged status route, which journals the change, so the version flows through
ingest -> Kafka -> bridge -> partition workflow exactly like a new write.

Both read the versions through s3server's privileged routes and need the replication
identity: --replication-profile PROFILE (env ` + EnvReplicationProfile + `), or
` + replicationKeys + `. The buckets are listed with the source profile.`,
		Args: cobra.NoArgs,
		RunE: wrapRun(func(cmd *cobra.Command, _ []string) error {
			cmd.SetOut(a.stderr)
			cmd.Help()
			return usagef("failed needs a subcommand: list or retry")
		}),
	}
	cmd.AddCommand(a.failedListCommand(), a.failedRetryCommand())
	return cmd
}

func (a *app) failedListCommand() *cobra.Command {
	var bucket, output string
	cmd := &cobra.Command{
		Use:   "list [--bucket BUCKET]",
		Short: "List FAILED versions with their reasons",
		Long: `failed list walks every version (ListObjectVersions) of --bucket, or of every bucket of
the source account that has an Enabled replication rule, reads each version's status
and reason through s3server's version route, and prints the FAILED ones as
bucket/key@versionId with the reason (the form failed retry takes).
Exit code 0 when the buckets were read (FAILED versions or not), 1 otherwise.`,
		Args: cobra.NoArgs,
		RunE: wrapRun(func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			ctx := cmd.Context()
			src, bb, buckets, err := a.failedSetup(ctx, bucket, true)
			if err != nil {
				return err
			}
			p := a.progress(output, "failed list: versions scanned")
			failed, err := a.findFailed(ctx, src, bb, buckets, p)
			p.finish()
			if err != nil {
				return err
			}
			return a.printFailed(cmd.OutOrStdout(), failed, buckets, output)
		}),
	}
	cmd.Flags().StringVar(&bucket, "bucket", "", "only this source bucket (default: every bucket with an Enabled replication rule)")
	a.outputFlag(cmd, &output)
	return cmd
}

func (a *app) failedRetryCommand() *cobra.Command {
	var bucket string
	var all bool
	cmd := &cobra.Command{
		Use:   "retry (--all [--bucket BUCKET] | BUCKET/KEY@VERSION...)",
		Short: "Re-queue FAILED versions (status PENDING again)",
		Long: `failed retry sets the replication status of FAILED versions back to PENDING through
s3server's privileged status route: the change is journaled and the version is replicated
again like a new write. With --all, every FAILED version (of --bucket, or of every bucket
with an Enabled replication rule); otherwise the versions given as BUCKET/KEY@VERSION
(as failed list prints them; the key may hold "/" and "@": the version id is after the
last "@"). A version that is not FAILED any more is skipped and said so.
Exit code 0 when every named version was re-queued or skipped, 1 when one could not be.`,
		RunE: wrapRun(func(cmd *cobra.Command, args []string) error {
			switch {
			case all && len(args) > 0:
				return usagef("give either --all or versions, not both")
			case !all && len(args) == 0:
				return usagef("give the versions to retry (BUCKET/KEY@VERSION, as failed list prints them) or --all")
			case !all && bucket != "":
				return usagef("--bucket goes with --all")
			}
			var refs []FailedVersion
			for _, arg := range args {
				r, err := parseRef(arg)
				if err != nil {
					return err
				}
				refs = append(refs, r)
			}
			return a.retry(cmd.Context(), cmd.OutOrStdout(), all, bucket, refs)
		}),
	}
	cmd.Flags().BoolVar(&all, "all", false, "retry every FAILED version")
	cmd.Flags().StringVar(&bucket, "bucket", "", "with --all: only this source bucket")
	return cmd
}

// parseRef parses BUCKET/KEY@VERSION.
func parseRef(s string) (FailedVersion, error) {
	b, rest, ok := strings.Cut(s, "/")
	at := strings.LastIndex(rest, "@")
	if !ok || b == "" || at <= 0 || at == len(rest)-1 {
		return FailedVersion{}, usagef("%q is not BUCKET/KEY@VERSION", s)
	}
	return FailedVersion{Bucket: b, Key: rest[:at], VersionID: rest[at+1:]}, nil
}

// failedSetup loads the source client, the replication identity and the buckets to
// walk (bucket, or every bucket with an Enabled replication rule).
func (a *app) failedSetup(ctx context.Context, bucket string, needBuckets bool) (*endpoint, *bbClient, []string, error) {
	src, err := a.source(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	rid, err := a.replicationIdentity(ctx, true)
	if err != nil {
		return nil, nil, nil, err
	}
	bb, err := a.newBBClient(src.url, rid)
	if err != nil {
		return nil, nil, nil, err
	}
	if bucket != "" || !needBuckets {
		return src, bb, []string{bucket}, nil
	}
	buckets, err := a.replicatedBuckets(ctx, src)
	return src, bb, buckets, err
}

// replicatedBuckets lists the source account's buckets that have an Enabled
// replication rule.
func (a *app) replicatedBuckets(ctx context.Context, src *endpoint) ([]string, error) {
	lctx, cancel := context.WithTimeout(ctx, a.timeout)
	res, err := src.s3.ListBuckets(lctx, &s3.ListBucketsInput{})
	cancel()
	if err != nil {
		return nil, a.explain(err, src, "ListBuckets", "(all)")
	}
	var out []string
	for _, b := range res.Buckets {
		name := *b.Name
		rules, _, err := a.replicationRules(ctx, src, name)
		if err != nil {
			return nil, err
		}
		for _, r := range rules {
			if r.Enabled {
				out = append(out, name)
				break
			}
		}
	}
	return out, nil
}

// findFailed walks the buckets and returns their FAILED versions, counting the versions
// scanned on p (nil: no progress).
func (a *app) findFailed(ctx context.Context, src *endpoint, bb *bbClient, buckets []string, p *progress) ([]FailedVersion, error) {
	out := []FailedVersion{}
	for _, b := range buckets {
		err := a.listVersions(ctx, src, b, "", false, func(v listedVersion) (bool, error) {
			bv, err := bb.getVersion(ctx, b, v.key, v.id)
			if err != nil {
				return false, err
			}
			defer func() { p.add(1, fmt.Sprintf("%d FAILED", len(out))) }()
			if bv.ReplicationStatus() == bbproto.StatusFailed {
				f := FailedVersion{Bucket: b, Key: v.key, VersionID: v.id, IsDeleteMarker: v.marker, LastModified: v.modified, Reason: reasonOf(bv)}
				if bv.Replication != nil {
					f.Destination = bv.Replication.Destination
				}
				out = append(out, f)
			}
			return true, nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (a *app) printFailed(w io.Writer, failed []FailedVersion, buckets []string, output string) error {
	if output == OutputJSON {
		return writeJSON(w, failed)
	}
	if len(failed) == 0 {
		fmt.Fprintf(w, "no FAILED version in %s\n", bucketList(buckets))
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "VERSION\tLAST-MODIFIED\tDESTINATION\tREASON\n")
	for _, f := range failed {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Ref(), f.LastModified.UTC().Format(time.RFC3339), dash(f.Destination), oneLine(f.Reason))
	}
	tw.Flush()
	fmt.Fprintf(w, "%d FAILED version(s); re-queue with `starter failed retry --all` or `starter failed retry BUCKET/KEY@VERSION...`\n", len(failed))
	return nil
}

func bucketList(buckets []string) string {
	if len(buckets) == 0 {
		return "any bucket (no bucket of the source account has an Enabled replication rule)"
	}
	return strings.Join(buckets, ", ")
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if s == "" {
		return "-"
	}
	return s
}

// retry re-queues FAILED versions.
func (a *app) retry(ctx context.Context, w io.Writer, all bool, bucket string, refs []FailedVersion) error {
	src, bb, buckets, err := a.failedSetup(ctx, bucket, all)
	if err != nil {
		return err
	}
	p := a.progress(OutputText, "failed retry: versions scanned")
	defer p.finish()
	if all {
		if refs, err = a.findFailed(ctx, src, bb, buckets, p); err != nil {
			return err
		}
		if len(refs) == 0 {
			p.finish()
			fmt.Fprintf(w, "no FAILED version in %s: nothing to retry\n", bucketList(buckets))
			return nil
		}
	}
	var requeued, skipped int
	var problems []string
	p.phase("failed retry: versions done", len(refs))
	// say prints a line of the report (the progress line cleared first, redrawn at the
	// next count).
	say := func(to io.Writer, format string, args ...any) {
		p.finish()
		fmt.Fprintf(to, format, args...)
	}
	for _, r := range refs {
		v, err := bb.getVersion(ctx, r.Bucket, r.Key, r.VersionID)
		switch {
		case err != nil:
			problems = append(problems, err.Error())
			say(a.stderr, "starter: %s: %v\n", r.Ref(), err)
		case v.ReplicationStatus() != bbproto.StatusFailed:
			skipped++
			say(w, "skipped %s: its status is %s, not FAILED\n", r.Ref(), dash(string(v.ReplicationStatus())))
		default:
			if _, err := bb.setStatus(ctx, r.Bucket, r.Key, r.VersionID, bbproto.StatusPending); err != nil {
				problems = append(problems, err.Error())
				say(a.stderr, "starter: %s: %v\n", r.Ref(), err)
				break
			}
			requeued++
			say(w, "re-queued %s (was FAILED: %s)\n", r.Ref(), oneLine(reasonOf(v)))
		}
		p.add(1, fmt.Sprintf("%d re-queued, %d skipped, %d error(s)", requeued, skipped, len(problems)))
	}
	p.finish()
	fmt.Fprintf(w, "%d re-queued (PENDING), %d skipped, %d error(s)\n", requeued, skipped, len(problems))
	if len(problems) > 0 {
		return failf("%d version(s) could not be re-queued (see above)", len(problems))
	}
	return nil
}
