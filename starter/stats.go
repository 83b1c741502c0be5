package starter

import (
	"context"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/backbeat-temporal/backbeat/bbproto"
)

// Stats is what stats reports (stats --output json: one object per refresh).
type Stats struct {
	// Time is when the report was made.
	Time time.Time `json:"time"`
	// Buckets: one entry per source bucket and destination (bucket ARN of the rule that
	// matched each version).
	Buckets []BucketStats `json:"buckets"`
	// Partitions: each partition workflow's backlog, paused flag and counters.
	Partitions []PartitionStats `json:"partitions"`
	// Errors: what could not be read (a partition workflow that did not answer...).
	Errors []string `json:"errors,omitempty"`
}

// BucketStats counts the versions of a source bucket by replication status, for one
// destination.
type BucketStats struct {
	Bucket      string `json:"bucket"`
	Destination string `json:"destination"`
	Pending     int    `json:"pending"`
	Completed   int    `json:"completed"`
	Failed      int    `json:"failed"`
	// OldestPending is the last-modified time of the oldest PENDING version; nil when
	// none is PENDING. OldestPendingSeconds is its age when the report was made.
	OldestPending        *time.Time `json:"oldestPending,omitempty"`
	OldestPendingSeconds float64    `json:"oldestPendingSeconds"`
}

// PartitionStats is a partition workflow's part of Stats.
type PartitionStats struct {
	Partition int32 `json:"partition"`
	Backlog   int   `json:"backlog"`
	Paused    bool  `json:"paused"`
	Completed int64 `json:"completed"`
	Failed    int64 `json:"failed"`
	// InFlightSeconds is how long the oldest entry in flight has been in its phase
	// (replicate or set-status, retries included); 0 when none is in flight.
	InFlightSeconds float64 `json:"inFlightSeconds"`
	// Error says why the workflow did not answer (then the other fields are zero).
	Error string `json:"error,omitempty"`
}

// statsOptions are the flags of stats.
type statsOptions struct {
	bucket, output string
	watch          bool
	interval       time.Duration
	count          int
}

func (a *app) statsCommand() *cobra.Command {
	var o statsOptions
	cmd := &cobra.Command{
		Use:   "stats [--bucket BUCKET] [--watch]",
		Short: "Replication at a glance: PENDING/COMPLETED/FAILED per bucket and target, oldest PENDING age, partition backlogs",
		Long: `stats answers "how far behind are we": for each source bucket (--bucket, or every bucket of
the source account with an Enabled replication rule) and each destination, the number of
PENDING, COMPLETED and FAILED versions and the age of the oldest PENDING version (read
through s3server's version route: one request per version, so it is for buckets of
thousands of versions, not millions); and for each partition workflow (status query, as
partitions does) its backlog, paused flag, COMPLETED and FAILED counts and how long its
oldest entry in flight has been at it.
Needs the replication identity (--replication-profile, as failed list).
--watch refreshes every --interval: in place on a terminal (like top), one report after
the other otherwise (--output json: one JSON object per line). Rates, latencies and Kafka
lag are Prometheus' (see README "Dashboard").
Exit code 0 when everything was read, 1 otherwise (the report says what is missing).`,
		Args: cobra.NoArgs,
		RunE: wrapRun(func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(o.output); err != nil {
				return err
			}
			if o.interval <= 0 {
				return usagef("--interval must be positive")
			}
			return a.stats(cmd.Context(), cmd.OutOrStdout(), o)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&o.bucket, "bucket", "", "only this source bucket (default: every bucket with an Enabled replication rule)")
	f.BoolVar(&o.watch, "watch", false, "refresh every --interval until interrupted (or --count reports)")
	f.DurationVar(&o.interval, "interval", 2*time.Second, "time between two reports with --watch")
	f.IntVar(&o.count, "count", 0, "with --watch: stop after this many reports (0: until interrupted)")
	a.outputFlag(cmd, &o.output)
	return cmd
}

// stats prints one report, or with --watch one per interval.
func (a *app) stats(ctx context.Context, w io.Writer, o statsOptions) error {
	inPlace := o.watch && o.output != OutputJSON && isTerminal(w)
	for n := 1; ; n++ {
		st, err := a.collectStats(ctx, o.bucket)
		if err != nil && !o.watch {
			return err
		}
		if inPlace {
			fmt.Fprint(w, "\033[H\033[2J") // home, clear: refresh in place
		}
		if err != nil {
			fmt.Fprintf(w, "%s  %v\n", time.Now().UTC().Format(time.RFC3339), err)
		} else if o.output == OutputJSON {
			if err := writeJSON(w, st); err != nil {
				return err
			}
		} else {
			printStats(w, st)
		}
		if !o.watch {
			if len(st.Errors) > 0 {
				return failf("%d part(s) of the report could not be read: %s", len(st.Errors), st.Errors[0])
			}
			return nil
		}
		if o.count > 0 && n >= o.count {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(o.interval):
		}
	}
}

// collectStats reads the buckets' versions and the partition workflows.
func (a *app) collectStats(ctx context.Context, bucket string) (*Stats, error) {
	src, bb, buckets, err := a.failedSetup(ctx, bucket, true)
	if err != nil {
		return nil, err
	}
	st := &Stats{Time: time.Now().UTC(), Buckets: []BucketStats{}, Partitions: []PartitionStats{}}
	for _, b := range buckets {
		byDest := map[string]*BucketStats{}
		err := a.listVersions(ctx, src, b, "", false, func(v listedVersion) (bool, error) {
			bv, err := bb.getVersion(ctx, b, v.key, v.id)
			if err != nil {
				return false, err
			}
			if bv.Replication == nil || bv.ReplicationStatus() == "" {
				return true, nil // not replicated (written before the rule, or no rule matched)
			}
			bs := byDest[bv.Replication.Destination]
			if bs == nil {
				bs = &BucketStats{Bucket: b, Destination: bv.Replication.Destination}
				byDest[bv.Replication.Destination] = bs
			}
			switch bv.ReplicationStatus() {
			case bbproto.StatusPending:
				bs.Pending++
				if bs.OldestPending == nil || v.modified.Before(*bs.OldestPending) {
					t := v.modified.UTC()
					bs.OldestPending = &t
				}
			case bbproto.StatusCompleted:
				bs.Completed++
			case bbproto.StatusFailed:
				bs.Failed++
			}
			return true, nil
		})
		if err != nil {
			return nil, err
		}
		for _, bs := range byDest {
			if bs.OldestPending != nil {
				bs.OldestPendingSeconds = max(st.Time.Sub(*bs.OldestPending).Seconds(), 0)
			}
			st.Buckets = append(st.Buckets, *bs)
		}
	}
	sort.Slice(st.Buckets, func(i, j int) bool {
		x, y := st.Buckets[i], st.Buckets[j]
		return x.Bucket < y.Bucket || x.Bucket == y.Bucket && x.Destination < y.Destination
	})

	c, err := a.temporalClient(ctx)
	if err != nil {
		st.Errors = append(st.Errors, err.Error())
		return st, nil
	}
	defer c.Close()
	parts, err := a.partitionWorkflows(ctx, c)
	if err != nil {
		st.Errors = append(st.Errors, err.Error())
		return st, nil
	}
	for i := range parts {
		if !parts[i].Running {
			continue
		}
		a.queryStatus(ctx, c, &parts[i])
		ps := PartitionStats{Partition: parts[i].Partition, Error: parts[i].Error}
		if s := parts[i].Status; s != nil {
			ps.Backlog, ps.Paused, ps.Completed, ps.Failed = s.Backlog, s.Paused, s.Completed, s.Failed
			if s.Current != nil && !s.Current.Since.IsZero() {
				ps.InFlightSeconds = max(st.Time.Sub(s.Current.Since).Seconds(), 0)
			}
		}
		if ps.Error != "" {
			st.Errors = append(st.Errors, fmt.Sprintf("partition %d: %s", ps.Partition, ps.Error))
		}
		st.Partitions = append(st.Partitions, ps)
	}
	return st, nil
}

func printStats(w io.Writer, st *Stats) {
	fmt.Fprintf(w, "replication stats at %s\n\n", st.Time.Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "BUCKET\tDESTINATION\tPENDING\tOLDEST-PENDING\tCOMPLETED\tFAILED\n")
	for _, b := range st.Buckets {
		age := "-"
		if b.OldestPending != nil {
			age = (time.Duration(b.OldestPendingSeconds) * time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%d\n", b.Bucket, dash(b.Destination), b.Pending, age, b.Completed, b.Failed)
	}
	if len(st.Buckets) == 0 {
		fmt.Fprintf(tw, "(no replicated version)\t\t\t\t\t\n")
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "PARTITION\tBACKLOG\tPAUSED\tIN-FLIGHT\tCOMPLETED\tFAILED\tERROR\n")
	for _, p := range st.Partitions {
		inFlight := "-"
		if p.InFlightSeconds > 0 {
			inFlight = (time.Duration(p.InFlightSeconds) * time.Second).String()
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%d\t%d\t%s\n", p.Partition, p.Backlog, yesNo(p.Paused), inFlight, p.Completed, p.Failed, dash(oneLine(p.Error)))
	}
	if len(st.Partitions) == 0 {
		fmt.Fprintf(tw, "(no partition workflow running)\t\t\t\t\t\t\n")
	}
	tw.Flush()
}
