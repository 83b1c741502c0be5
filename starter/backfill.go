package starter

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/backbeat-temporal/backbeat/bbproto"
)

// BackfillReport counts what backfill did (backfill --output json).
type BackfillReport struct {
	Bucket string `json:"bucket"`
	Prefix string `json:"prefix"`
	DryRun bool   `json:"dryRun"`
	// Scanned versions and delete markers under the prefix.
	Scanned int `json:"scanned"`
	// Marked PENDING (with --dry-run: would be marked).
	Marked int `json:"marked"`
	// AlreadyHadStatus counts the versions skipped because they have a replication
	// status, by status.
	AlreadyHadStatus map[string]int `json:"alreadyHadStatus"`
	// NoMatchingRule counts the versions no Enabled rule selects (prefix, tags, delete
	// markers): left alone.
	NoMatchingRule int `json:"noMatchingRule"`
	// Gone counts versions deleted between the listing and their marking.
	Gone int `json:"gone,omitempty"`
}

func (a *app) backfillCommand() *cobra.Command {
	var bucket, prefix, output string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "backfill --bucket BUCKET [--prefix PREFIX] [--dry-run]",
		Short: "Mark existing versions that have no replication status PENDING",
		Long: `backfill replicates what was written before replication was set up (S3 batch
replication's job): every version and delete marker of the bucket (under --prefix) that
has no replication status and that an Enabled rule of the bucket selects is marked
PENDING through s3server's privileged bulk status route: up to 1000 versions per request,
checked (no status yet, a rule selects it) and marked in one store transaction, so a
million versions take minutes, not hours. s3server applies the matching rule
(destination, site) and journals the change, so the version flows through
ingest -> Kafka -> bridge -> partition workflow like a new write. Versions that already
have a status (PENDING, COMPLETED, FAILED, REPLICA...) are skipped: use failed retry for
FAILED ones. Running it twice marks nothing the second time.

Needs versioning Enabled and an Enabled replication rule on the bucket, the source
profile (to list the versions) and the replication identity (--replication-profile, or
` + replicationKeys + `).
Exit code 0 when every selected version was marked, 1 otherwise.`,
		Args: cobra.NoArgs,
		RunE: wrapRun(func(cmd *cobra.Command, _ []string) error {
			if err := required("bucket", bucket); err != nil {
				return err
			}
			if err := checkOutput(output); err != nil {
				return err
			}
			return a.backfill(cmd.Context(), cmd.OutOrStdout(), bucket, prefix, dryRun, output)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&bucket, "bucket", "", "source bucket (required)")
	f.StringVar(&prefix, "prefix", "", "only the keys that start with this prefix (default: every key)")
	f.BoolVar(&dryRun, "dry-run", false, "count what would be marked, change nothing")
	a.outputFlag(cmd, &output)
	return cmd
}

func (a *app) backfill(ctx context.Context, w io.Writer, bucket, prefix string, dryRun bool, output string) error {
	src, bb, _, err := a.failedSetup(ctx, bucket, false)
	if err != nil {
		return err
	}
	vs, err := a.versioning(ctx, src, bucket)
	if err != nil {
		return err
	}
	if vs != "Enabled" {
		return failf("versioning is %s on %s at %s: s3server replicates only versioned buckets: run `starter setup` or `aws s3api put-bucket-versioning --bucket %s --versioning-configuration Status=Enabled --endpoint-url %s`",
			versioningWord(vs), bucket, src.url, bucket, src.url)
	}
	rules, _, err := a.replicationRules(ctx, src, bucket)
	if err != nil {
		return err
	}
	if matchAnyEnabled(rules) == 0 {
		return failf("%s at %s has no Enabled replication rule: nothing would be replicated; run `starter setup --source-bucket %s --target-bucket TARGET` first",
			bucket, src.url, bucket)
	}
	rep := &BackfillReport{Bucket: bucket, Prefix: prefix, DryRun: dryRun, AlreadyHadStatus: map[string]int{}}
	verb := "marked"
	if dryRun {
		verb = "would be marked"
	}
	p := a.progress(output, "backfill "+bucket+": versions scanned")
	var chunk []listedVersion
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		err := a.markChunk(ctx, bb, bucket, chunk, rep)
		chunk = chunk[:0]
		return err
	}
	err = a.listVersions(ctx, src, bucket, prefix, false, func(v listedVersion) (bool, error) {
		rep.Scanned++
		defer func() { p.add(1, fmt.Sprintf("%d %s PENDING", rep.Marked, verb)) }()
		if !dryRun {
			// s3server checks and marks a whole chunk in one transaction.
			chunk = append(chunk, v)
			if len(chunk) == bbproto.MaxBulkStatuses {
				return true, flush()
			}
			return true, nil
		}
		bv, err := bb.getVersion(ctx, bucket, v.key, v.id)
		if err != nil {
			return false, err
		}
		if st := bv.ReplicationStatus(); st != "" {
			rep.AlreadyHadStatus[string(st)]++
			return true, nil
		}
		if matchRule(rules, v.key, bv.Meta.Tags, v.marker) == nil {
			rep.NoMatchingRule++
			return true, nil
		}
		rep.Marked++
		return true, nil
	})
	if err == nil {
		err = flush()
	}
	p.finish()
	if output == OutputJSON {
		if werr := writeJSON(w, rep); werr != nil && err == nil {
			err = werr
		}
	} else {
		fmt.Fprintln(w, rep.text())
	}
	return err
}

// markChunk marks a chunk of listed versions PENDING (those without a status that a
// rule selects) and counts the results into rep.
func (a *app) markChunk(ctx context.Context, bb *bbClient, bucket string, chunk []listedVersion, rep *BackfillReport) error {
	res, err := bb.markPending(ctx, bucket, chunk)
	if err != nil {
		return err
	}
	if len(res) != len(chunk) {
		return failf("s3server at %s answered %d results for %d versions: is it the same version as starter?", bb.url, len(res), len(chunk))
	}
	for i, r := range res {
		v := chunk[i]
		switch r.Code {
		case "":
			if r.Status != bbproto.StatusPending {
				return failf("%s/%s@%s: s3server answered status %q for a PENDING mark: is it the same version as starter?", bucket, v.key, v.id, r.Status)
			}
			rep.Marked++
		case bbproto.CodeStatusAlreadySet:
			rep.AlreadyHadStatus[string(r.Current)]++
		case bbproto.CodeNoMatchingRule:
			rep.NoMatchingRule++
		case "NoSuchVersion", "NoSuchKey":
			rep.Gone++ // deleted since it was listed: nothing to replicate
		default:
			return failf("%s/%s@%s at %s: %s: %s", bucket, v.key, v.id, bb.url, r.Code, r.Message)
		}
	}
	return nil
}

func matchAnyEnabled(rules []rule) int {
	n := 0
	for _, r := range rules {
		if r.Enabled {
			n++
		}
	}
	return n
}

// text is the report's one-line summary.
func (r *BackfillReport) text() string {
	verb := "marked PENDING"
	if r.DryRun {
		verb = "would be marked PENDING (dry run: nothing changed)"
	}
	var had []string
	total := 0
	for st, n := range r.AlreadyHadStatus {
		had = append(had, fmt.Sprintf("%s %d", st, n))
		total += n
	}
	sort.Strings(had)
	s := fmt.Sprintf("backfill %s (prefix %q): %d scanned, %d %s, %d already had a status", r.Bucket, r.Prefix, r.Scanned, r.Marked, verb, total)
	if len(had) > 0 {
		s += " (" + strings.Join(had, ", ") + ")"
	}
	s += fmt.Sprintf(", %d matched no Enabled rule", r.NoMatchingRule)
	if r.Gone > 0 {
		s += fmt.Sprintf(", %d deleted meanwhile", r.Gone)
	}
	return s
}
