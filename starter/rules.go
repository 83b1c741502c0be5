package starter

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// rule is a replication rule as starter reads it (s3server's replconf semantics).
type rule struct {
	ID       string
	Enabled  bool
	V2       bool
	Priority int32
	Prefix   string
	Tags     map[string]string
	// DestARN is the destination bucket ARN; Dest the bucket name in it.
	DestARN, Dest string
	// Site is the destination StorageClass (a site name of the worker's sites file).
	Site string
	// DeleteMarkers: V1 rules always replicate delete markers, V2 rules when
	// DeleteMarkerReplication is Enabled.
	DeleteMarkers bool
}

// bucketOfARN returns the bucket of "arn:aws:s3:::NAME" (the string itself when it is
// not an ARN).
func bucketOfARN(arn string) string {
	if i := strings.LastIndex(arn, ":"); i >= 0 && strings.HasPrefix(arn, "arn:") {
		return arn[i+1:]
	}
	return arn
}

// bucketARN is the destination ARN of bucket.
func bucketARN(bucket string) string { return "arn:aws:s3:::" + bucket }

// rulesOf reads the rules of a replication configuration.
func rulesOf(c *s3types.ReplicationConfiguration) []rule {
	if c == nil {
		return nil
	}
	var out []rule
	for _, r := range c.Rules {
		x := rule{ID: aws.ToString(r.ID), Enabled: r.Status == s3types.ReplicationRuleStatusEnabled, Tags: map[string]string{}}
		if r.Destination != nil {
			x.DestARN = aws.ToString(r.Destination.Bucket)
			x.Dest = bucketOfARN(x.DestARN)
			x.Site = string(r.Destination.StorageClass)
		}
		if r.Filter != nil {
			x.V2 = true
			x.Priority = aws.ToInt32(r.Priority)
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
	var best *rule
	for i := range rules {
		r := &rules[i]
		if !r.Enabled || !strings.HasPrefix(key, r.Prefix) {
			continue
		}
		if deleteMarker && (!r.DeleteMarkers || len(r.Tags) > 0) {
			continue
		}
		ok := true
		for k, v := range r.Tags {
			if got, has := tags[k]; !has || got != v {
				ok = false
			}
		}
		if ok && (best == nil || r.Priority > best.Priority) {
			best = r
		}
	}
	return best
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
