package starter

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/backbeat-temporal/backbeat/bbproto/replrule"
)

// rule is a replication rule as starter reads it: what selects versions (replrule's
// semantics, s3server's), and where they go.
type rule struct {
	replrule.Rule
	ID string
	V2 bool
	// DestARN is the destination bucket ARN; Dest the bucket name in it.
	DestARN, Dest string
	// Site is the destination StorageClass (a site name of the worker's sites file).
	Site string
}

// bucketOfARN returns the bucket of a destination ARN (the string itself when it is
// not one, to show it as it is).
func bucketOfARN(arn string) string {
	if b, err := replrule.ParseBucketARN(arn); err == nil {
		return b
	}
	return arn
}

// rulesOf reads the rules of a replication configuration.
func rulesOf(c *s3types.ReplicationConfiguration) []rule {
	if c == nil {
		return nil
	}
	var out []rule
	for _, r := range c.Rules {
		x := rule{ID: aws.ToString(r.ID), Rule: replrule.Rule{Enabled: r.Status == s3types.ReplicationRuleStatusEnabled, Tags: map[string]string{}}}
		if r.Destination != nil {
			x.DestARN = aws.ToString(r.Destination.Bucket)
			x.Dest = bucketOfARN(x.DestARN)
			x.Site = string(r.Destination.StorageClass)
		}
		if r.Filter != nil {
			x.V2 = true
			x.Priority = int(aws.ToInt32(r.Priority))
			x.Prefix = aws.ToString(r.Filter.Prefix)
			if t := r.Filter.Tag; t != nil {
				x.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
			if and := r.Filter.And; and != nil {
				x.Prefix = aws.ToString(and.Prefix)
				for _, t := range and.Tags {
					x.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
				}
			}
			x.DeleteMarkers = r.DeleteMarkerReplication != nil && r.DeleteMarkerReplication.Status == s3types.DeleteMarkerReplicationStatusEnabled
		} else {
			x.Prefix = aws.ToString(r.Prefix)
			x.DeleteMarkers = true
		}
		out = append(out, x)
	}
	return out
}

// matchRule returns the Enabled rule that applies to a version (highest priority; the
// first among equals), as s3server chooses it; nil when none does.
func matchRule(rules []rule, key string, tags map[string]string, deleteMarker bool) *rule {
	if i := replrule.Choose(len(rules), func(i int) replrule.Rule { return rules[i].Rule }, key, tags, deleteMarker); i >= 0 {
		return &rules[i]
	}
	return nil
}

// replicationRules reads the replication rules of bucket: nil, nil when it has no
// replication configuration.
func (a *app) replicationRules(ctx context.Context, ep *endpoint, bucket string) ([]rule, *s3types.ReplicationConfiguration, error) {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	out, err := ep.s3.GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: aws.String(bucket)})
	if apiCode(err) == "ReplicationConfigurationNotFoundError" {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, a.explain(err, ep, "GetBucketReplication", bucket)
	}
	return rulesOf(out.ReplicationConfiguration), out.ReplicationConfiguration, nil
}

// versioning reads the versioning status of bucket: "Enabled", "Suspended" or "" (never
// enabled).
func (a *app) versioning(ctx context.Context, ep *endpoint, bucket string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	out, err := ep.s3.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(bucket)})
	if err != nil {
		return "", a.explain(err, ep, "GetBucketVersioning", bucket)
	}
	return string(out.Status), nil
}
