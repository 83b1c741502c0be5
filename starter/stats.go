package starter

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/internal/flagenv"
	"github.com/backbeat-temporal/backbeat/internal/kafkaconf"
)

// Stats is what stats reports (stats --output json: one object per refresh).
type Stats struct {
	// Time is when the report was made.
	Time time.Time `json:"time"`
	// Buckets: one entry per source bucket and destination (bucket ARN of the rule that
	// matched each version).
	Buckets []BucketStats `json:"buckets"`
	// Partitions: each partition's workflow backlog, paused flags, counters and Kafka lag.
	Partitions []PartitionStats `json:"partitions"`
	// Throughput: rates and put->COMPLETED latency from the processes' metrics
	// (--metrics-url); absent when no worker's metrics could be read twice (see Errors).
	Throughput *Throughput `json:"throughput,omitempty"`
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

// PartitionStats is a partition's part of Stats: its workflow's status, its Kafka lag
// and whether a bridge paused it.
type PartitionStats struct {
	Partition int32 `json:"partition"`
	// NoWorkflow is set when Kafka has the partition but no workflow of it runs (then
	// the workflow's fields are zero).
	NoWorkflow bool `json:"noWorkflow,omitempty"`
	Backlog    int  `json:"backlog"`
	// Paused is the workflow's pause (starter pause); BridgePaused the bridge's
	// (backpressure: the workflow's backlog reached --high-water), from the bridges'
	// metrics.
	Paused       bool  `json:"paused"`
	BridgePaused bool  `json:"bridgePaused"`
	Completed    int64 `json:"completed"`
	Failed       int64 `json:"failed"`
	// Kafka is the partition's lag behind the bridge's consumer group; nil when Kafka
	// could not be read (see Errors).
	Kafka *KafkaLag `json:"kafka,omitempty"`
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
	metricsURLs    []string
	rateWindow     time.Duration
	brokers, group string
	kafka          kafkaconf.Security
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
"How fast": the COMPLETED and FAILED statuses written per second, the bytes replicated
per second and the put->COMPLETED p50/p99, from the processes' Prometheus metrics
(--metrics-url, repeatable; the worker's is the one that counts), scraped twice: at
least --rate-window apart for one report, between two reports with --watch. The
percentiles are of the completions in that window, or since the workers started when
none completed in it. Per partition, the Kafka lag (the topic's high watermark minus
the bridge consumer group's committed offset, from --kafka-brokers and --group, with
the --kafka-tls*/--kafka-sasl-* flags of ingest and bridge) and whether a bridge paused
it (backpressure, from the bridges' metrics).
Needs the replication identity (--replication-profile, as failed list).
--watch refreshes every --interval: in place on a terminal (like top), one report after
the other otherwise (--output json: one JSON object per line).
A source that cannot be read (Temporal, Kafka, a metrics URL) is said in the report's
errors and the rest is shown.
Exit code 0 when everything was read, 1 otherwise (the report says what is missing).`,
		Args: cobra.NoArgs,
		RunE: wrapRun(func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(o.output); err != nil {
				return err
			}
			if o.interval <= 0 {
				return usagef("--interval must be positive")
			}
			if o.rateWindow <= 0 {
				return usagef("--rate-window must be positive")
			}
			if err := o.kafka.Validate(); err != nil {
				return usagef("%v", err)
			}
			for i, u := range o.metricsURLs {
				o.metricsURLs[i] = metricsURL(u)
			}
			return a.stats(cmd.Context(), cmd.OutOrStdout(), o)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&o.bucket, "bucket", "", "only this source bucket (default: every bucket with an Enabled replication rule)")
	f.BoolVar(&o.watch, "watch", false, "refresh every --interval until interrupted (or --count reports)")
	f.DurationVar(&o.interval, "interval", 2*time.Second, "time between two reports with --watch")
	f.IntVar(&o.count, "count", 0, "with --watch: stop after this many reports (0: until interrupted)")
	f.StringSliceVar(&o.metricsURLs, "metrics-url", DefaultMetricsURLs,
		"a process's /metrics (http://HOST:PORT/metrics or HOST:PORT), repeatable or comma-separated (default: the demo's ingest, bridge and worker)")
	f.DurationVar(&o.rateWindow, "rate-window", time.Second, "without --watch: the least time between the two scrapes of the metrics the rates are computed over")
	f.StringVar(&o.brokers, "kafka-brokers", DefaultKafkaBrokers, "Kafka bootstrap brokers, comma-separated (for the lag)")
	f.StringVar(&o.group, "group", DefaultGroup, "the bridge's Kafka consumer group (for the lag)")
	flagenv.Bind(f, "metrics-url", "kafka-brokers", "group")
	kafkaconf.AddPFlags(f, &o.kafka)
	a.outputFlag(cmd, &o.output)
	return cmd
}

// stats prints one report, or with --watch one per interval.
func (a *app) stats(ctx context.Context, w io.Writer, o statsOptions) error {
	inPlace := o.watch && o.output != OutputJSON && isTerminal(w)
	var sample *metricsSample // the last scrape: the next report's rates start there
	for n := 1; ; n++ {
		st, cur, err := a.collectStats(ctx, o, sample)
		if cur != nil {
			sample = cur
		}
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

// collectStats reads the buckets' versions, the partition workflows, the Kafka lag and
// the metrics, whose rates are computed since prev (nil: a scrape made now, and the
// second one at least --rate-window later). It returns the last scrape too.
func (a *app) collectStats(ctx context.Context, o statsOptions, prev *metricsSample) (*Stats, *metricsSample, error) {
	if prev == nil {
		prev, _ = a.scrapeMetrics(ctx, o.metricsURLs) // its errors are the second scrape's
	}
	src, bb, buckets, err := a.failedSetup(ctx, o.bucket, true)
	if err != nil {
		return nil, nil, err
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
			return nil, nil, err
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

	a.collectPartitions(ctx, st)
	lags, err := a.kafkaLag(ctx, o)
	if err != nil {
		st.Errors = append(st.Errors, err.Error())
	}

	// The second scrape, at least --rate-window after the first.
	select {
	case <-ctx.Done():
		return nil, nil, failf("interrupted")
	case <-time.After(time.Until(prev.at.Add(o.rateWindow))):
	}
	cur, errs := a.scrapeMetrics(ctx, o.metricsURLs)
	st.Errors = append(st.Errors, errs...)
	if st.Throughput, err = throughput(prev, cur); err != nil {
		st.Errors = append(st.Errors, err.Error())
	}
	mergePartitions(st, lags, bridgePaused(cur))
	return st, cur, nil
}

// mergePartitions adds the Kafka lags and the bridges' pauses to the partitions of st
// (a partition Kafka has and no workflow runs of gets a line of its own).
func mergePartitions(st *Stats, lags []KafkaLag, paused map[int32]bool) {
	byPart := map[int32]int{}
	for i, p := range st.Partitions {
		byPart[p.Partition] = i
	}
	for _, l := range lags {
		i, ok := byPart[l.Partition]
		if !ok {
			st.Partitions = append(st.Partitions, PartitionStats{Partition: l.Partition, NoWorkflow: true})
			i = len(st.Partitions) - 1
			byPart[l.Partition] = i
		}
		st.Partitions[i].Kafka = &l
	}
	for i := range st.Partitions {
		st.Partitions[i].BridgePaused = paused[st.Partitions[i].Partition]
	}
	sort.Slice(st.Partitions, func(i, j int) bool { return st.Partitions[i].Partition < st.Partitions[j].Partition })
}

// collectPartitions adds the running partition workflows' status to st.
func (a *app) collectPartitions(ctx context.Context, st *Stats) {
	c, err := a.temporalClient(ctx)
	if err != nil {
		st.Errors = append(st.Errors, err.Error())
		return
	}
	defer c.Close()
	parts, err := a.partitionWorkflows(ctx, c)
	if err != nil {
		st.Errors = append(st.Errors, err.Error())
		return
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
	printThroughput(w, st.Throughput)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "PARTITION\tKAFKA-LAG\tBACKLOG\tPAUSED\tBRIDGE-PAUSED\tIN-FLIGHT\tCOMPLETED\tFAILED\tERROR\n")
	for _, p := range st.Partitions {
		inFlight := "-"
		if p.InFlightSeconds > 0 {
			inFlight = (time.Duration(p.InFlightSeconds) * time.Second).String()
		}
		lag := "-"
		if p.Kafka != nil {
			lag = fmt.Sprint(p.Kafka.Lag)
		}
		errText := oneLine(p.Error)
		if p.NoWorkflow {
			errText = "no workflow running"
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%s\t%d\t%d\t%s\n", p.Partition, lag, p.Backlog, yesNo(p.Paused), yesNo(p.BridgePaused),
			inFlight, p.Completed, p.Failed, errText)
	}
	if len(st.Partitions) == 0 {
		fmt.Fprintf(tw, "(no partition workflow running)\t\t\t\t\t\t\t\t\n")
	}
	tw.Flush()
	for _, e := range st.Errors {
		fmt.Fprintf(w, "\nnot read: %s", oneLine(e))
	}
	if len(st.Errors) > 0 {
		fmt.Fprintln(w)
	}
}

// printThroughput prints the rates and latencies (or that they are unknown).
func printThroughput(w io.Writer, t *Throughput) {
	if t == nil {
		fmt.Fprintf(w, "throughput: unknown (no worker metrics read: see below)\n\n")
		return
	}
	fmt.Fprintf(w, "throughput over %s (metrics of %s)\n", (time.Duration(t.WindowSeconds*10) * time.Second / 10).String(), strings.Join(t.Sources, ", "))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "COMPLETED/S\tFAILED/S\tBYTES/S\tPUT->COMPLETED P50\tP99\tOF\n")
	p50, p99, of := "-", "-", "no completion yet"
	if l := t.PutToCompleted; l != nil {
		p50, p99 = seconds(l.P50Seconds), seconds(l.P99Seconds)
		of = fmt.Sprintf("%d completions (%s)", l.Count, l.Window)
	}
	fmt.Fprintf(tw, "%.1f\t%.1f\t%s\t%s\t%s\t%s\n", t.CompletedPerSecond, t.FailedPerSecond, byteRate(t.BytesPerSecond), p50, p99, of)
	tw.Flush()
	fmt.Fprintln(w)
}

// seconds prints a duration in seconds rounded to the millisecond.
func seconds(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Millisecond).String()
}

// byteRate prints bytes per second with a binary unit.
func byteRate(b float64) string {
	units := []string{"B/s", "KiB/s", "MiB/s", "GiB/s"}
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %s", b, units[i])
}
