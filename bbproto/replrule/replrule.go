// Package replrule holds the semantics of S3 bucket replication rules that s3server and
// the engine must agree on: which rule selects a version, and the destination bucket
// ARN. s3server's replconf parses configurations with it; starter (backfill, status)
// and activities evaluate them with it, so that a version is chosen the same way on
// both sides. Standard library only, no I/O, like package bbproto.
package replrule

import (
	"fmt"
	"strings"
)

// Rule is what a replication rule selects versions by.
type Rule struct {
	// Enabled: only Enabled rules select versions.
	Enabled bool
	// Priority orders V2 rules: the highest wins (V1 rules have 0).
	Priority int
	// Prefix of the keys selected ("" selects every key).
	Prefix string
	// Tags the version must all carry (V2 Filter Tag or And/Tag); none: any tags.
	Tags map[string]string
	// DeleteMarkers: the rule replicates delete markers (V1 rules always; V2 rules when
	// DeleteMarkerReplication is Enabled).
	DeleteMarkers bool
}

// Selects tells whether r, Enabled or not, selects a version of key with tags (a
// delete marker has no tags: a tag-filtered rule never selects one, as in S3).
func (r *Rule) Selects(key string, tags map[string]string, deleteMarker bool) bool {
	if !strings.HasPrefix(key, r.Prefix) {
		return false
	}
	if deleteMarker {
		return r.DeleteMarkers && len(r.Tags) == 0
	}
	for k, v := range r.Tags {
		if got, ok := tags[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// Choose returns the index of the rule that applies to a version: of the Enabled rules
// that select it, the highest priority, the first among equals; -1 when none does.
// rule(i) is the i-th of n rules.
func Choose(n int, rule func(i int) Rule, key string, tags map[string]string, deleteMarker bool) int {
	best, bestPriority := -1, 0
	for i := 0; i < n; i++ {
		r := rule(i)
		if !r.Enabled || !r.Selects(key, tags, deleteMarker) {
			continue
		}
		if best < 0 || r.Priority > bestPriority {
			best, bestPriority = i, r.Priority
		}
	}
	return best
}

// BucketARN is the ARN of bucket as a rule's Destination names it: arn:aws:s3:::BUCKET.
func BucketARN(bucket string) string { return "arn:aws:s3:::" + bucket }

// ParseBucketARN returns the bucket of a destination ARN, arn:PARTITION:s3:::BUCKET.
// The bucket may live on any S3, so its name is checked loosely: 3 to 255 of letters,
// digits, '.', '-', '_'.
func ParseBucketARN(arn string) (string, error) {
	f := strings.Split(arn, ":")
	if len(f) != 6 || f[0] != "arn" || f[1] == "" || f[2] != "s3" || f[3] != "" || f[4] != "" {
		return "", fmt.Errorf("%q is not a bucket ARN (arn:aws:s3:::BUCKET)", arn)
	}
	name := f[5]
	if len(name) < 3 || len(name) > 255 {
		return "", fmt.Errorf("bucket ARN %q: the bucket name must have 3 to 255 characters", arn)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return "", fmt.Errorf("bucket ARN %q: the bucket name may hold only letters, digits, '.', '-' and '_'", arn)
		}
	}
	return name, nil
}
