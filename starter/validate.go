package starter

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/spf13/cobra"

	"github.com/backbeat-temporal/backbeat/bbproto/replrule"
)

// Check names of validate (Check.Name).
const (
	CheckSourceVersioning = "source-versioning"
	CheckReplicationRule  = "replication-rule"
	CheckTargetReachable  = "target-reachable"
	CheckTargetVersioning = "target-versioning"
	CheckTargetConsent    = "target-consent"
)

// Check is one result of validate.
type Check struct {
	// Name is one of the Check* constants.
	Name     string `json:"name"`
	Bucket   string `json:"bucket"`
	Endpoint string `json:"endpoint"`
	OK       bool   `json:"ok"`
	// Message says what was found; Fix, for a failed check, how to repair it.
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"`
}

// ValidateReport is the result of validate (its --output json).
type ValidateReport struct {
	// OK is true when every check passed.
	OK           bool     `json:"ok"`
	SourceBucket string   `json:"sourceBucket"`
	Targets      []string `json:"targetBuckets"`
	Checks       []Check  `json:"checks"`
}

func (a *app) validateCommand() *cobra.Command {
	var source, target, output string
	cmd := &cobra.Command{
		Use:   "validate --source-bucket BUCKET [--target-bucket BUCKET]",
		Short: "Check that replication from a source bucket is set up and can work",
		Long: `validate checks, and says precisely what is wrong and how to fix it:
  - versioning is Enabled on the source bucket (source profile, source endpoint);
  - the source bucket has an Enabled replication rule whose destination is the target
    bucket (any Enabled rule's destination when --target-bucket is not given);
  - each target bucket is reachable with the target profile at the target endpoint
    (HeadBucket), and its versioning is Enabled;
  - each target bucket's owner consents to replicas from the source bucket's owner: the
    same account, or a bucket policy granting s3:ReplicateObject, s3:ReplicateTags (and
    s3:ReplicateDelete when the rule replicates delete markers); otherwise the fix shows
    the policy to put.
Exit code 0 when every check passes, 1 otherwise (each problem is also written to stderr).`,
		Args: cobra.NoArgs,
		RunE: wrapRun(func(cmd *cobra.Command, _ []string) error {
			if err := required("source-bucket", source); err != nil {
				return err
			}
			if err := checkOutput(output); err != nil {
				return err
			}
			ctx := cmd.Context()
			src, err := a.source(ctx)
			if err != nil {
				return err
			}
			dst, err := a.target(ctx, src)
			if err != nil {
				return err
			}
			rep := a.validate(ctx, src, dst, source, target)
			return a.printValidate(cmd.OutOrStdout(), rep, output)
		}),
	}
	cmd.Flags().StringVar(&source, "source-bucket", "", "source bucket (required)")
	cmd.Flags().StringVar(&target, "target-bucket", "", "target bucket (default: every Enabled rule's destination)")
	a.outputFlag(cmd, &output)
	return cmd
}

// setupHint is the setup command line that fixes a bucket pair, with --site when site
// is not "".
func setupHint(source, target, site string) string {
	if target == "" {
		target = "TARGET"
	}
	if site != "" {
		site = " --site " + site
	}
	return fmt.Sprintf("`starter setup --source-bucket %s --target-bucket %s%s`", source, target, site)
}

// validate runs the checks of validate: the source's versioning, then its replication
// rules, then each target's reachability, versioning and consent.
func (a *app) validate(ctx context.Context, src, dst *endpoint, source, target string) *ValidateReport {
	v := &validation{a: a, src: src, dst: dst, source: source, ruleOf: map[string]*rule{}}
	rep := &ValidateReport{SourceBucket: source, Checks: []Check{}}
	c, err := v.versioningCheck(ctx, CheckSourceVersioning, src, source, "replication needs Enabled", target)
	rep.add(c)
	if err != nil {
		return rep.finish()
	}
	c, rep.Targets = v.ruleCheck(ctx, target)
	rep.add(c)
	for _, t := range rep.Targets {
		v.targetChecks(ctx, rep, t)
	}
	return rep.finish()
}

// validation is one run of validate: the endpoints, the source bucket and, per target
// bucket, the Enabled rule that replicates to it (once the rules are read).
type validation struct {
	a        *app
	src, dst *endpoint
	source   string
	ruleOf   map[string]*rule // target bucket -> its rule
}

// add appends c to the report's checks.
func (r *ValidateReport) add(c Check) { r.Checks = append(r.Checks, c) }

// hint is setupHint with the site of target's rule; a target on another endpoint needs
// one.
func (v *validation) hint(target string) string {
	site := ""
	if r := v.ruleOf[target]; r != nil {
		site = r.Site
	}
	if site == "" && v.src.url != v.dst.url {
		site = "SITE"
	}
	return setupHint(v.source, target, site)
}

// versioningCheck checks that bucket at ep has versioning Enabled; need says who needs it
// ("replication needs Enabled"); the fix names target's setup. err is the error that
// kept versioning from being read.
func (v *validation) versioningCheck(ctx context.Context, name string, ep *endpoint, bucket, need, target string) (Check, error) {
	vs, err := v.a.versioning(ctx, ep, bucket)
	c := Check{Name: name, Bucket: bucket, Endpoint: ep.url}
	switch {
	case err != nil:
		c.Message = err.Error()
	case vs != "Enabled":
		c.Message = fmt.Sprintf("versioning is %s on %s at %s (%s)", versioningWord(vs), bucket, ep.url, need)
		c.Fix = fmt.Sprintf("run %s or `aws s3api put-bucket-versioning --bucket %s --versioning-configuration Status=Enabled --endpoint-url %s`",
			v.hint(target), bucket, ep.url)
	default:
		c.OK, c.Message = true, fmt.Sprintf("versioning is Enabled on %s at %s", bucket, ep.url)
	}
	return c, err
}

// ruleCheck checks that the source has an Enabled replication rule: to target if given,
// else any. It returns the targets to check next (target, or every Enabled rule's
// destination) and records each target's rule in ruleOf.
func (v *validation) ruleCheck(ctx context.Context, target string) (Check, []string) {
	source, src := v.source, v.src
	targets := []string{}
	if target != "" {
		targets = append(targets, target)
	}
	rules, _, err := v.a.replicationRules(ctx, src, source)
	c := Check{Name: CheckReplicationRule, Bucket: source, Endpoint: src.url}
	var enabled []rule
	for _, r := range rules {
		if r.Enabled {
			enabled = append(enabled, r)
		}
	}
	switch {
	case err != nil:
		c.Message = err.Error()
	case rules == nil:
		c.Message = fmt.Sprintf("%s at %s has no replication configuration", source, src.url)
		c.Fix = "run " + v.hint(target)
	case len(enabled) == 0:
		c.Message = fmt.Sprintf("every replication rule of %s at %s is Disabled (%s)", source, src.url, ruleIDs(rules))
		c.Fix = "run " + v.hint(target) + ", or enable a rule with `aws s3api put-bucket-replication`"
	case target != "":
		var dests []string
		for i := range enabled {
			if enabled[i].Dest == target {
				c.OK, c.Message = true, describeRule(source, &enabled[i])
				v.ruleOf[target] = &enabled[i]
				break
			}
			dests = append(dests, enabled[i].DestARN)
		}
		if !c.OK {
			c.Message = fmt.Sprintf("no Enabled replication rule of %s at %s has the destination %s (they replicate to %s)",
				source, src.url, replrule.BucketARN(target), strings.Join(dests, ", "))
			c.Fix = "run " + v.hint(target)
		}
	default:
		seen := map[string]bool{}
		var msgs []string
		for i := range enabled {
			msgs = append(msgs, describeRule(source, &enabled[i]))
			if !seen[enabled[i].Dest] {
				seen[enabled[i].Dest] = true
				v.ruleOf[enabled[i].Dest] = &enabled[i]
				targets = append(targets, enabled[i].Dest)
			}
		}
		c.OK, c.Message = true, strings.Join(msgs, "; ")
	}
	return c, targets
}

// targetChecks adds target t's checks to rep: reachable with the target credentials,
// versioning Enabled, then the consent to receive the source's replicas.
func (v *validation) targetChecks(ctx context.Context, rep *ValidateReport, t string) {
	dst := v.dst
	c := Check{Name: CheckTargetReachable, Bucket: t, Endpoint: dst.url}
	if err := v.a.headBucket(ctx, dst, t); err != nil {
		c.Message = err.Error()
		if strings.Contains(c.Message, "does not exist") {
			c.Fix = "run " + v.hint(t) + " (it creates missing buckets), or check --target-endpoint/" + EnvTargetEndpoint
		}
		rep.add(c)
		return
	}
	c.OK, c.Message = true, fmt.Sprintf("%s is reachable at %s with %s", t, dst.url, dst.id.label)
	rep.add(c)
	c, err := v.versioningCheck(ctx, CheckTargetVersioning, dst, t, "replicas need Enabled", t)
	rep.add(c)
	if err == nil {
		rep.add(v.a.consentCheck(ctx, v.src, dst, t, v.ruleOf[t]))
	}
}

func (r *ValidateReport) finish() *ValidateReport {
	r.OK = true
	for _, c := range r.Checks {
		r.OK = r.OK && c.OK
	}
	if r.Targets == nil {
		r.Targets = []string{}
	}
	return r
}

// headBucket checks that bucket exists and that ep's identity may use it. A 403 of
// HeadBucket carries no error code: GetBucketVersioning then tells wrong keys from a
// foreign bucket.
func (a *app) headBucket(ctx context.Context, ep *endpoint, bucket string) error {
	hctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	_, err := ep.s3.HeadBucket(hctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	if err == nil {
		return nil
	}
	if httpStatus(err) == 403 {
		if _, verr := a.versioning(ctx, ep, bucket); verr != nil {
			return verr
		}
	}
	return a.explain(err, ep, "HeadBucket", bucket)
}

func versioningWord(s string) string {
	if s == "" {
		return "not enabled"
	}
	return s
}

func ruleIDs(rules []rule) string {
	var ids []string
	for _, r := range rules {
		ids = append(ids, fmt.Sprintf("%q", r.ID))
	}
	return "rules " + strings.Join(ids, ", ")
}

func describeRule(source string, r *rule) string {
	s := fmt.Sprintf("rule %q replicates %s", r.ID, source)
	if r.Prefix != "" {
		s += fmt.Sprintf(" (prefix %q)", r.Prefix)
	}
	s += " to " + r.DestARN
	if r.Site != "" {
		s += " (site " + r.Site + ")"
	}
	return s
}

// printValidate prints the report and returns the command's error: nil when every
// check passed.
func (a *app) printValidate(w io.Writer, rep *ValidateReport, output string) error {
	if output == OutputJSON {
		if err := writeJSON(w, rep); err != nil {
			return err
		}
	} else {
		for _, c := range rep.Checks {
			mark := "ok  "
			if !c.OK {
				mark = "FAIL"
			}
			fmt.Fprintf(w, "%s  %-18s %s\n", mark, c.Name, c.Message)
			if c.Fix != "" {
				fmt.Fprintf(w, "      %-18s fix: %s\n", "", c.Fix)
			}
		}
	}
	if rep.OK {
		return nil
	}
	var problems []string
	for _, c := range rep.Checks {
		if !c.OK {
			p := c.Message
			if c.Fix != "" {
				p += ": " + c.Fix
			}
			problems = append(problems, "  - "+p)
		}
	}
	n := len(problems)
	plural := "s"
	if n == 1 {
		plural = ""
	}
	return failf("validate found %d problem%s:\n%s", n, plural, strings.Join(problems, "\n"))
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
