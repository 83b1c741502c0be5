package starter

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/spf13/cobra"

	"github.com/backbeat-temporal/backbeat/bbproto/replrule"
	"github.com/backbeat-temporal/backbeat/internal/flagenv"
)

// RuleIDPrefix starts the ID of the rule setup puts: "backbeat-" + target bucket.
const RuleIDPrefix = "backbeat-"

// setupOptions are the flags of setup.
type setupOptions struct {
	source, target, prefix, site, role string
	deleteMarkers                      bool
}

func (a *app) setupCommand() *cobra.Command {
	var o setupOptions
	cmd := &cobra.Command{
		Use:   "setup --source-bucket BUCKET --target-bucket BUCKET",
		Short: "Create the buckets, enable versioning and put the replication configuration",
		Long: `setup prepares replication from a source bucket to a target bucket, as Backbeat's
setupReplication.js does:
  1. creates each bucket when absent (source bucket with the source profile at the source
     endpoint, target bucket with the target profile at the target endpoint);
  2. enables versioning on both;
  3. puts the replication configuration on the source bucket: Role --role, one V2 rule
     with ID "` + RuleIDPrefix + `TARGET", Priority 1, Filter Prefix --prefix, Status Enabled,
     Destination arn:aws:s3:::TARGET, StorageClass --site, DeleteMarkerReplication
     Enabled (as Backbeat, which replicates deletes; --delete-markers=false: Disabled,
     AWS's V2 default).
     Without --site the target bucket is a bucket of the source s3server (the target
     endpoint must be the source endpoint); a target on another endpoint needs --site,
     the name of the worker's site for that endpoint (its sites file).
     A target bucket of another account must grant the source bucket's owner the
     replicate actions in its bucket policy; when it does not, setup says which policy
     its owner must put.
     setup owns the source bucket's replication configuration: a different configuration
     is replaced (the replaced rules are named in the output).
Every step says whether it changed something or found it already in place, so running
setup twice is harmless. Then validate runs; the exit code is validate's.`,
		Args: cobra.NoArgs,
		RunE: wrapRun(func(cmd *cobra.Command, _ []string) error {
			if err := required("source-bucket", o.source, "target-bucket", o.target); err != nil {
				return err
			}
			return a.setup(cmd.Context(), cmd.OutOrStdout(), o)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&o.source, "source-bucket", "", "source bucket (required)")
	f.StringVar(&o.target, "target-bucket", "", "target bucket (required)")
	f.StringVar(&o.prefix, "prefix", "", "replicate only the keys that start with this prefix (default: every key)")
	f.BoolVar(&o.deleteMarkers, "delete-markers", true, "replicate delete markers (DeleteMarkerReplication Enabled); --delete-markers=false leaves them on the source (Disabled)")
	f.StringVar(&o.site, "site", "", "the rule's StorageClass: the name of the worker's site that receives the replicas; required when the target endpoint is not the source endpoint (default: none, a target bucket on the source s3server)")
	f.StringVar(&o.role, "role", DefaultRole, "Role of the replication configuration")
	flagenv.Bind(f, "role")
	return cmd
}

func (a *app) setup(ctx context.Context, w io.Writer, o setupOptions) error {
	src, err := a.source(ctx)
	if err != nil {
		return err
	}
	dst, err := a.target(ctx, src)
	if err != nil {
		return err
	}
	if err := checkRoute(o, src, dst); err != nil {
		return err
	}
	for _, b := range []struct {
		ep   *endpoint
		name string
	}{{src, o.source}, {dst, o.target}} {
		if err := a.ensureBucket(ctx, w, b.ep, b.name); err != nil {
			return err
		}
		if err := a.ensureVersioning(ctx, w, b.ep, b.name); err != nil {
			return err
		}
	}
	if err := a.ensureReplication(ctx, w, src, dst, o); err != nil {
		return err
	}
	fmt.Fprintf(w, "validating %s -> %s\n", o.source, o.target)
	return a.printValidate(w, a.validate(ctx, src, dst, o.source, o.target), OutputText)
}

// checkRoute refuses, before any change, what the source s3server would refuse or
// replicate elsewhere than meant. A rule without a site names a bucket of the source
// s3server: a target on another endpoint needs --site, the worker's name of that
// endpoint (which s3server takes as "checked there"); and a bucket of the source
// s3server cannot replicate into itself.
func checkRoute(o setupOptions, src, dst *endpoint) error {
	if o.site != "" {
		return nil
	}
	if src.url != dst.url {
		return usagef("the target endpoint %s is not the source endpoint %s: pass --site NAME, the name of the worker's site whose endpoint is %s "+
			"(in the worker's sites file, --sites): the rule's StorageClass tells the worker where to write, and s3server that the target bucket is on another endpoint. "+
			"Without --site the target bucket is a bucket of the source s3server: then leave --target-endpoint (%s) unset", dst.url, src.url, dst.url, EnvTargetEndpoint)
	}
	if o.source == o.target {
		return usagef("--target-bucket %s is the source bucket: a bucket cannot replicate into itself; choose another target bucket", o.target)
	}
	return nil
}

// ensureBucket creates bucket when it does not exist.
func (a *app) ensureBucket(ctx context.Context, w io.Writer, ep *endpoint, bucket string) error {
	hctx, cancel := context.WithTimeout(ctx, a.timeout)
	_, err := ep.s3.HeadBucket(hctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	cancel()
	if err == nil {
		fmt.Fprintf(w, "in place: bucket %s exists at %s\n", bucket, ep.url)
		return nil
	}
	if apiCode(err) != "NotFound" && apiCode(err) != "NoSuchBucket" {
		if httpStatus(err) == 403 {
			return a.headBucket(ctx, ep, bucket)
		}
		return a.explain(err, ep, "HeadBucket", bucket)
	}
	cctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	_, err = ep.s3.CreateBucket(cctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	switch apiCode(err) {
	case "":
		if err != nil {
			return a.explain(err, ep, "CreateBucket", bucket)
		}
		fmt.Fprintf(w, "created: bucket %s at %s as %s\n", bucket, ep.url, ep.id.label)
		return nil
	case "BucketAlreadyOwnedByYou":
		fmt.Fprintf(w, "in place: bucket %s exists at %s\n", bucket, ep.url)
		return nil
	case "BucketAlreadyExists":
		return failf("bucket %s at %s belongs to another account: choose another name, or use the owner's profile", bucket, ep.url)
	}
	return a.explain(err, ep, "CreateBucket", bucket)
}

// ensureVersioning enables versioning on bucket when it is not.
func (a *app) ensureVersioning(ctx context.Context, w io.Writer, ep *endpoint, bucket string) error {
	vs, err := a.versioning(ctx, ep, bucket)
	if err != nil {
		return err
	}
	if vs == "Enabled" {
		fmt.Fprintf(w, "in place: versioning Enabled on %s\n", bucket)
		return nil
	}
	pctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	_, err = ep.s3.PutBucketVersioning(pctx, &s3.PutBucketVersioningInput{Bucket: aws.String(bucket),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}})
	if err != nil {
		return a.explain(err, ep, "PutBucketVersioning", bucket)
	}
	fmt.Fprintf(w, "enabled: versioning on %s (was %s)\n", bucket, versioningWord(vs))
	return nil
}

// desiredReplication is the configuration setup puts.
func desiredReplication(o setupOptions) *s3types.ReplicationConfiguration {
	dm := s3types.DeleteMarkerReplicationStatusDisabled
	if o.deleteMarkers {
		dm = s3types.DeleteMarkerReplicationStatusEnabled
	}
	return &s3types.ReplicationConfiguration{
		Role: aws.String(o.role),
		Rules: []s3types.ReplicationRule{{
			ID:                      aws.String(RuleIDPrefix + o.target),
			Priority:                aws.Int32(1),
			Status:                  s3types.ReplicationRuleStatusEnabled,
			Filter:                  &s3types.ReplicationRuleFilter{Prefix: aws.String(o.prefix)},
			DeleteMarkerReplication: &s3types.DeleteMarkerReplication{Status: dm},
			Destination: &s3types.Destination{Bucket: aws.String(replrule.BucketARN(o.target)),
				StorageClass: s3types.StorageClass(o.site)},
		}},
	}
}

// sameReplication tells whether the bucket's configuration is the one setup puts.
func sameReplication(have *s3types.ReplicationConfiguration, want *s3types.ReplicationConfiguration) bool {
	if have == nil || aws.ToString(have.Role) != aws.ToString(want.Role) || len(have.Rules) != 1 {
		return false
	}
	h, w := rulesOf(have)[0], rulesOf(want)[0]
	return h.ID == w.ID && h.Enabled && h.V2 && h.Priority == w.Priority && h.Prefix == w.Prefix &&
		len(h.Tags) == 0 && h.DestARN == w.DestARN && h.Site == w.Site && h.DeleteMarkers == w.DeleteMarkers
}

// ensureReplication puts the replication configuration on the source bucket unless it
// is already there.
func (a *app) ensureReplication(ctx context.Context, w io.Writer, src, dst *endpoint, o setupOptions) error {
	want := desiredReplication(o)
	r := rulesOf(want)[0]
	desc := describeRule(o.source, &r)
	if o.deleteMarkers {
		desc += ", delete markers included"
	} else {
		desc += ", delete markers not replicated"
	}
	rules, have, err := a.replicationRules(ctx, src, o.source)
	if err != nil {
		return err
	}
	if sameReplication(have, want) {
		fmt.Fprintf(w, "in place: replication configuration on %s: %s\n", o.source, desc)
		return nil
	}
	pctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	_, err = src.s3.PutBucketReplication(pctx, &s3.PutBucketReplicationInput{Bucket: aws.String(o.source), ReplicationConfiguration: want})
	if apiCode(err) == "AccessDenied" && strings.Contains(err.Error(), "s3:Replicate") {
		return a.consentRefused(ctx, src, dst, o.source, o.target, err)
	}
	if code := apiCode(err); code == "InvalidArgument" || code == "InvalidRequest" || code == "MalformedXML" {
		return failf("%s refused the replication configuration of %s: %s: %v (check --role, --prefix, --site)", src.url, o.source, code, err)
	}
	if err != nil {
		return a.explain(err, src, "PutBucketReplication", o.source)
	}
	if have == nil {
		fmt.Fprintf(w, "put: replication configuration on %s: %s\n", o.source, desc)
	} else {
		var old []string
		for _, r := range rules {
			old = append(old, fmt.Sprintf("%q -> %s", r.ID, r.DestARN))
		}
		fmt.Fprintf(w, "replaced: replication configuration on %s (had %s; role %s): %s\n", o.source,
			strings.Join(old, ", "), aws.ToString(have.Role), desc)
	}
	return nil
}
