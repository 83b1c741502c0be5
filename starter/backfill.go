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
PENDING through s3server's privileged status route. s3server applies the matching rule
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
	err = a.listVersions(ctx, src, bucket, prefix, false, func(v listedVersion) (bool, error) {
		rep.Scanned++
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
		if !dryRun {
			nv, err := bb.setStatus(ctx, bucket, v.key, v.id, bbproto.StatusPending)
			if err != nil {
				return false, err
			}
			if nv.ReplicationStatus() != bbproto.StatusPending || nv.Replication.Destination == "" {
				return false, failf("%s/%s@%s: s3server did not apply a replication rule (status %q, no destination): was the configuration changed meanwhile?",
					bucket, v.key, v.id, nv.ReplicationStatus())
			}
		}
		rep.Marked++
		return true, nil
	})
	if output == OutputJSON {
		if werr := writeJSON(w, rep); werr != nil && err == nil {
			err = werr
		}
	} else {
		fmt.Fprintln(w, rep.text())
	}
	return err
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
	return s + fmt.Sprintf(", %d matched no Enabled rule", r.NoMatchingRule)
}
