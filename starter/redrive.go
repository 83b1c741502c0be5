package starter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/bbproto/bbclient"
)

// RedriveReport counts what redrive did (redrive --output json).
type RedriveReport struct {
	Bucket    string `json:"bucket"`
	Prefix    string `json:"prefix"`
	OlderThan string `json:"olderThan"`
	DryRun    bool   `json:"dryRun"`
	// Scanned waiting versions and delete markers (PENDING or PROCESSING, whatever their
	// age) under the prefix: the entries of the source's index of waiting versions read.
	Scanned int `json:"scanned"`
	// Waiting is how many are PENDING or PROCESSING, of any age.
	Waiting int `json:"waiting"`
	// Selected is how many waited longer than --older-than.
	Selected int `json:"selected"`
	// Redriven were journaled PENDING again (with --dry-run: would be).
	Redriven int `json:"redriven"`
	// Changed settled or were re-driven by someone else since they were listed: left
	// alone. Gone were removed since.
	Changed int `json:"changed"`
	Gone    int `json:"gone"`
	// Oldest is when the longest-waiting version started waiting (absent: none waits).
	Oldest *time.Time `json:"oldest,omitempty"`
}

func (a *app) redriveCommand() *cobra.Command {
	var bucket, prefix, output string
	var olderThan time.Duration
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "redrive --bucket BUCKET [--prefix PREFIX] [--older-than D] [--dry-run]",
		Short: "Re-drive versions left PENDING (or PROCESSING) through the engine again",
		Long: `redrive finds the versions of --bucket (under --prefix) whose replication status is
PENDING or PROCESSING and was written more than --older-than ago, through s3server's
privileged pending route, and journals PENDING on them again (redrive route), so they
flow through ingest -> Kafka -> bridge -> partition workflow like a new write: what a
partition workflow lost (terminated, cancelled) is replicated. Replication is
idempotent: re-driving a version the engine still holds costs a check on the target.
A version whose status changed since it was listed (COMPLETED meanwhile) is left alone.
The engine's sweeper (ingest --sweep-threshold, default 15m) does the same on its own
for every bucket; redrive is for now.

Needs the replication identity only (--replication-profile, or ` + replicationKeys + `).
Exit code 0 when every selected version was re-driven or left alone, 1 otherwise.`,
		Args: cobra.NoArgs,
		RunE: wrapRun(func(cmd *cobra.Command, _ []string) error {
			if err := required("bucket", bucket); err != nil {
				return err
			}
			if err := checkOutput(output); err != nil {
				return err
			}
			if olderThan < 0 {
				return usagef("--older-than must not be negative")
			}
			return a.redrive(cmd.Context(), cmd.OutOrStdout(), bucket, prefix, olderThan, dryRun, output)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&bucket, "bucket", "", "source bucket (required)")
	f.StringVar(&prefix, "prefix", "", "only the keys that start with this prefix (default: every key)")
	f.DurationVar(&olderThan, "older-than", 0, "only the versions whose status was written longer ago than this (default 0: every waiting version)")
	f.BoolVar(&dryRun, "dry-run", false, "count what would be re-driven, change nothing")
	a.outputFlag(cmd, &output)
	return cmd
}

func (a *app) redrive(ctx context.Context, w io.Writer, bucket, prefix string, olderThan time.Duration, dryRun bool, output string) error {
	rid, err := a.replicationIdentity(ctx, true)
	if err != nil {
		return err
	}
	src, err := a.s3Client(a.sourceEndpoint, rid) // only the replication identity is used
	if err != nil {
		return err
	}
	bb, err := a.newBBClient(src.url, rid)
	if err != nil {
		return err
	}
	jc := bb.bb
	rep := &RedriveReport{Bucket: bucket, Prefix: prefix, OlderThan: olderThan.String(), DryRun: dryRun}
	q := bbclient.PendingQuery{Bucket: bucket, Prefix: prefix, OlderThan: olderThan, Limit: bbproto.MaxRedrive}
	p := a.progress(output, "redrive "+bucket+": versions scanned")
	defer p.finish()
	for {
		cctx, cancel := context.WithTimeout(ctx, a.timeout)
		page, err := jc.Pending(cctx, q)
		cancel()
		if err != nil {
			return a.redriveError(err, bucket, src.url, rid.label)
		}
		rep.Scanned += page.Scanned
		rep.Waiting += page.Waiting[bucket]
		if t, ok := page.Oldest[bucket]; ok && (rep.Oldest == nil || t.Before(*rep.Oldest)) {
			rep.Oldest = &t
		}
		rep.Selected += len(page.Versions)
		if dryRun {
			rep.Redriven += len(page.Versions)
		} else if len(page.Versions) > 0 {
			cctx, cancel := context.WithTimeout(ctx, a.timeout)
			refs := make([]bbproto.RedriveRef, len(page.Versions))
			for i, v := range page.Versions {
				refs[i] = v.Ref()
			}
			res, err := jc.Redrive(cctx, refs)
			cancel()
			if err != nil {
				return a.redriveError(err, bucket, src.url, rid.label)
			}
			rep.Redriven, rep.Changed, rep.Gone = bbproto.CountOutcomes(res, rep.Redriven, rep.Changed, rep.Gone)
		}
		p.add(page.Scanned, fmt.Sprintf("%d waiting, %d selected, %d re-driven", rep.Waiting, rep.Selected, rep.Redriven))
		if page.Next == "" {
			break
		}
		q.After = page.Next
	}
	p.finish()
	if output == OutputJSON {
		return writeJSON(w, rep)
	}
	fmt.Fprintln(w, rep.text())
	return nil
}

// redriveError explains an error of the pending or redrive route.
func (a *app) redriveError(err error, bucket, url, label string) error {
	if errors.Is(err, context.Canceled) {
		return failf("interrupted")
	}
	if msg := a.connError(err, "the S3 endpoint", url, s3Hint); msg != "" {
		return failf("%s", msg)
	}
	var se *bbproto.Error
	if errors.As(err, &se) {
		switch se.Status {
		case 403:
			return failf("%s is not s3server's replication identity at %s (AccessDenied on /_/backbeat/): use the keys of the account marked \"replication\" in its accounts file", label, url)
		case 404:
			if se.Route == bbproto.RoutePending && se.Code != "NoSuchBucket" {
				return failf("%s has no /_/backbeat/pending route (404): redrive needs the project's s3server, at this version or later", url)
			}
			return failf("bucket %s does not exist at %s: create it or run `starter setup`", bucket, url)
		}
	}
	return failf("redrive %s at %s: %v", bucket, url, err)
}

// text is the report's one-line summary.
func (r *RedriveReport) text() string {
	verb := "re-driven (journaled PENDING again)"
	if r.DryRun {
		verb = "would be re-driven (dry run: nothing changed)"
	}
	s := fmt.Sprintf("redrive %s (prefix %q, older than %s): %d scanned, %d waiting, %d %s",
		r.Bucket, r.Prefix, r.OlderThan, r.Scanned, r.Waiting, r.Redriven, verb)
	if r.Changed+r.Gone > 0 {
		s += fmt.Sprintf(", %d changed meanwhile, %d gone", r.Changed, r.Gone)
	}
	if r.Oldest != nil {
		s += fmt.Sprintf("; the longest-waiting version waits since %s", r.Oldest.Format(time.RFC3339))
	}
	return s
}
