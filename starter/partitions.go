package starter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/spf13/cobra"

	"github.com/backbeat-temporal/backbeat/contract"
	"github.com/backbeat-temporal/backbeat/internal/tclient"
)

// PartitionStatus is one partition workflow's state (partitions --output json): the
// answer of its status query (contract.Status) plus where it runs.
type PartitionStatus struct {
	Partition  int32  `json:"partition"`
	WorkflowID string `json:"workflowId"`
	RunID      string `json:"runId,omitempty"`
	// Running is false for a partition listed by --partitions whose workflow is not
	// running (it starts with the partition's first entry).
	Running bool `json:"running"`
	// Status is the status query's answer; nil when not running or when the query
	// failed (Error).
	Status *contract.Status `json:"status,omitempty"`
	Error  string           `json:"error,omitempty"`
}

// temporalClient dials Temporal, bounded by --timeout.
func (a *app) temporalClient(ctx context.Context) (client.Client, error) {
	dctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	o := tclient.Options{Address: a.temporalAddress, Namespace: a.namespace, TLS: a.temporalTLS}
	co, err := tclient.ClientOptions(o)
	if err != nil {
		return nil, usagef("%v", err)
	}
	co.Logger = tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	c, err := client.DialContext(dctx, co)
	if err != nil {
		return nil, a.temporalError(tclient.HandshakeCause(err, o))
	}
	return c, nil
}

const temporalHint = "is the Temporal server running? (make demo starts it; the address is --temporal-address/" + EnvTemporalAddress + ")"

// temporalError explains an error of a Temporal call.
func (a *app) temporalError(err error) error {
	if errors.Is(err, context.Canceled) {
		return failf("interrupted")
	}
	if msg := a.connError(err, "Temporal", a.temporalAddress, temporalHint); msg != "" {
		return failf("%s", msg)
	}
	var nf *serviceerror.NamespaceNotFound
	if errors.As(err, &nf) {
		return failf("namespace %q does not exist at Temporal %s: check --namespace/%s", a.namespace, a.temporalAddress, EnvNamespace)
	}
	var un *serviceerror.Unavailable
	if errors.As(err, &un) || errors.Is(err, context.DeadlineExceeded) {
		return failf("cannot reach Temporal at %s (%v): %s", a.temporalAddress, err, temporalHint)
	}
	return failf("Temporal at %s: %v", a.temporalAddress, err)
}

// partitionOf returns the partition of a workflow ID of the topic.
func (a *app) partitionOf(id string) (int32, bool) {
	rest, ok := strings.CutPrefix(id, contract.WorkflowIDPrefix+"/"+a.topic+"/")
	if !ok {
		return 0, false
	}
	p, err := strconv.ParseInt(rest, 10, 32)
	return int32(p), err == nil && p >= 0
}

// partitionWorkflows returns the partition workflows of the topic: with --partitions N,
// the workflows of partitions 0..N-1 (running or not); otherwise the running ones,
// listed through the visibility API. Sorted by partition.
func (a *app) partitionWorkflows(ctx context.Context, c client.Client) ([]PartitionStatus, error) {
	var out []PartitionStatus
	if a.partitions > 0 {
		for p := int32(0); p < int32(a.partitions); p++ {
			ps, err := a.describePartition(ctx, c, p)
			if err != nil {
				return nil, err
			}
			out = append(out, ps)
		}
		return out, nil
	}
	query := fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running'", contract.WorkflowName)
	var token []byte
	for {
		lctx, cancel := context.WithTimeout(ctx, a.timeout)
		res, err := c.ListWorkflow(lctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: a.namespace, Query: query, NextPageToken: token})
		cancel()
		var ia *serviceerror.InvalidArgument
		if errors.As(err, &ia) {
			return nil, failf("Temporal at %s cannot list workflows with the query %q (%v): give the topic's partition count with --partitions N to query the workflows by ID",
				a.temporalAddress, query, err)
		}
		if err != nil {
			return nil, a.temporalError(err)
		}
		for _, e := range res.GetExecutions() {
			id := e.GetExecution().GetWorkflowId()
			p, ok := a.partitionOf(id)
			if !ok {
				continue // another topic's
			}
			out = append(out, PartitionStatus{Partition: p, WorkflowID: id, RunID: e.GetExecution().GetRunId(), Running: true})
		}
		if token = res.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Partition < out[j].Partition })
	return out, nil
}

// describePartition returns the workflow of a partition, running or not.
func (a *app) describePartition(ctx context.Context, c client.Client, p int32) (PartitionStatus, error) {
	ps := PartitionStatus{Partition: p, WorkflowID: contract.WorkflowID(a.topic, p)}
	dctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	d, err := c.DescribeWorkflowExecution(dctx, ps.WorkflowID, "")
	var nf *serviceerror.NotFound
	switch {
	case errors.As(err, &nf):
	case err != nil:
		return ps, a.temporalError(err)
	default:
		info := d.GetWorkflowExecutionInfo()
		ps.RunID = info.GetExecution().GetRunId()
		ps.Running = info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	}
	return ps, nil
}

// queryStatus asks a running partition workflow for its status.
func (a *app) queryStatus(ctx context.Context, c client.Client, ps *PartitionStatus) {
	qctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	v, err := c.QueryWorkflow(qctx, ps.WorkflowID, "", contract.QueryStatus)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.As(err, new(*serviceerror.DeadlineExceeded)) {
			ps.Error = fmt.Sprintf("the status query got no answer within %s: is the worker running?", a.timeout)
		} else {
			ps.Error = "status query: " + err.Error()
		}
		return
	}
	var st contract.Status
	if err := v.Get(&st); err != nil {
		ps.Error = "decode the status: " + err.Error()
		return
	}
	ps.Status = &st
}

func (a *app) partitionsCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "partitions",
		Short: "Show each partition workflow's backlog, counters and paused flag",
		Long: `partitions lists the partition workflows of the topic (the running workflows of type
` + contract.WorkflowName + ` whose ID is ` + contract.WorkflowIDPrefix + `/TOPIC/N, through Temporal's visibility API; or,
with --partitions N, the workflows of partitions 0..N-1 by ID) and asks each for its
status (query "` + contract.QueryStatus + `"): backlog, entry in flight, processed, completed, failed
and skipped counts, paused flag, last error.
Exit code 0 when every running workflow answered, 1 otherwise (Temporal unreachable, a
query without answer: is the worker running?).`,
		Args: cobra.NoArgs,
		RunE: wrapRun(func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			ctx := cmd.Context()
			c, err := a.temporalClient(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			parts, err := a.partitionWorkflows(ctx, c)
			if err != nil {
				return err
			}
			failed := 0
			for i := range parts {
				if parts[i].Running {
					a.queryStatus(ctx, c, &parts[i])
					if parts[i].Error != "" {
						failed++
					}
				}
			}
			a.printPartitions(cmd.OutOrStdout(), parts, output)
			if failed > 0 {
				return failf("%d partition workflow(s) did not answer the status query: %s", failed, firstError(parts))
			}
			return nil
		}),
	}
	a.outputFlag(cmd, &output)
	return cmd
}

func firstError(parts []PartitionStatus) string {
	for _, p := range parts {
		if p.Error != "" {
			return fmt.Sprintf("partition %d: %s", p.Partition, p.Error)
		}
	}
	return ""
}

func (a *app) printPartitions(w io.Writer, parts []PartitionStatus, output string) {
	if output == OutputJSON {
		if parts == nil {
			parts = []PartitionStatus{}
		}
		writeJSON(w, parts)
		return
	}
	if len(parts) == 0 {
		fmt.Fprintf(w, "no running partition workflow of topic %s in namespace %s at %s (a partition's workflow starts with its first entry)\n",
			a.topic, a.namespace, a.temporalAddress)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "PARTITION\tBACKLOG\tCURRENT\tPROCESSED\tCOMPLETED\tFAILED\tSKIPPED\tPAUSED\tLAST ERROR\n")
	for _, p := range parts {
		switch {
		case !p.Running:
			fmt.Fprintf(tw, "%d\t-\tnot running\t-\t-\t-\t-\t-\t-\n", p.Partition)
		case p.Status == nil:
			fmt.Fprintf(tw, "%d\t?\t?\t?\t?\t?\t?\t?\t%s\n", p.Partition, p.Error)
		default:
			s := p.Status
			fmt.Fprintf(tw, "%d\t%d\t%s\t%d\t%d\t%d\t%d\t%s\t%s\n", p.Partition, s.Backlog, currentWord(s.Current),
				s.Processed, s.Completed, s.Failed, s.Skipped, yesNo(s.Paused), oneLine(s.LastError))
		}
	}
	tw.Flush()
}

func currentWord(e *contract.EntryRef) string {
	if e == nil {
		return "-"
	}
	return fmt.Sprintf("%s/%s@%s (%s, offset %d)", e.Bucket, e.Key, e.VersionID, e.Phase, e.Offset)
}

// pauseCommand is pause or resume (signal contract.SignalPause or SignalResume).
func (a *app) pauseCommand(signal string) *cobra.Command {
	var partition int
	verb, past := "pause", "paused"
	short := "Pause the partition workflows (the entry in flight finishes)"
	if signal == contract.SignalResume {
		verb, past = "resume", "resumed"
		short = "Resume paused partition workflows"
	}
	cmd := &cobra.Command{
		Use:   verb + " [--partition N]",
		Short: short,
		Long: verb + ` sends the "` + signal + `" signal to the running partition workflow of --partition, or to
every running partition workflow of the topic (listed as partitions lists them), and
reports which were signaled. A paused workflow finishes the entry in flight and starts no
other until resumed; its entries keep queuing (the bridge stops sending above the
high-water mark). Exit code 0 when at least one workflow was signaled and none failed.`,
		Args: cobra.NoArgs,
		RunE: wrapRun(func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			w := cmd.OutOrStdout()
			if cmd.Flags().Changed("partition") && partition < 0 {
				return usagef("--partition must be 0 or more, not %d", partition)
			}
			c, err := a.temporalClient(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			var parts []PartitionStatus
			if cmd.Flags().Changed("partition") {
				p, err := a.describePartition(ctx, c, int32(partition))
				if err != nil {
					return err
				}
				if !p.Running {
					return failf("partition %d's workflow %s is not running in namespace %s at %s (it starts with the partition's first entry): nothing to %s",
						partition, p.WorkflowID, a.namespace, a.temporalAddress, verb)
				}
				parts = []PartitionStatus{p}
			} else if parts, err = a.partitionWorkflows(ctx, c); err != nil {
				return err
			}
			signaled, problems := 0, 0
			for _, p := range parts {
				if !p.Running {
					fmt.Fprintf(w, "skipped partition %d: workflow %s is not running\n", p.Partition, p.WorkflowID)
					continue
				}
				sctx, cancel := context.WithTimeout(ctx, a.timeout)
				err := c.SignalWorkflow(sctx, p.WorkflowID, "", signal, nil)
				cancel()
				var nf *serviceerror.NotFound
				switch {
				case errors.As(err, &nf):
					fmt.Fprintf(w, "skipped partition %d: workflow %s ended meanwhile\n", p.Partition, p.WorkflowID)
				case err != nil:
					problems++
					fmt.Fprintf(a.stderr, "starter: %s partition %d: %v\n", verb, p.Partition, a.temporalError(err))
				default:
					signaled++
					fmt.Fprintf(w, "%s partition %d (workflow %s)\n", past, p.Partition, p.WorkflowID)
				}
			}
			switch {
			case problems > 0:
				return failf("%d partition workflow(s) could not be signaled (see above)", problems)
			case signaled == 0:
				return failf("no running partition workflow of topic %s in namespace %s at %s: nothing to %s",
					a.topic, a.namespace, a.temporalAddress, verb)
			}
			return nil
		}),
	}
	cmd.Flags().IntVar(&partition, "partition", -1, "only this partition (default: every running partition workflow)")
	return cmd
}
