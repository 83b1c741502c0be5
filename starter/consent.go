package starter

// What a destination's owner must do so that a source account may replicate into it:
// s3server (like AWS) writes a replica only into a bucket owned by the source bucket's
// owner or whose bucket policy grants that account the replicate actions.

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/backbeat-temporal/backbeat/bbproto/bucketpolicy"
)

// accountOf returns the account of ep's identity: the Owner of its ListBuckets (the
// account name on s3server).
func (a *app) accountOf(ctx context.Context, ep *endpoint) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	out, err := ep.s3.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		return "", a.explain(err, ep, "ListBuckets", "(all)")
	}
	if out.Owner == nil || aws.ToString(out.Owner.ID) == "" {
		return "", failf("%s did not name the account of %s (ListBuckets has no Owner)", ep.url, ep.id.label)
	}
	return aws.ToString(out.Owner.ID), nil
}

// grantFix says how the owner of target (at dst, with dst's identity) grants account
// the actions: the AWS CLI command with the whole policy.
func grantFix(dst *endpoint, target, account string, actions ...string) string {
	profile := "OWNER_PROFILE"
	if dst.id.profile != "" {
		profile = dst.id.profile
	}
	return fmt.Sprintf("the owner of %s must grant account %s the replicate actions in the bucket's policy (add the statement to the policy it has, if any): "+
		"`aws s3api put-bucket-policy --bucket %s --endpoint-url %s --profile %s --policy '%s'`",
		target, account, target, dst.url, profile, bucketpolicy.GrantPolicy(target, account, actions...))
}

// consentRefused explains a PutBucketReplication refused for missing consent (403
// AccessDenied naming s3:ReplicateObject): who must add which policy.
func (a *app) consentRefused(ctx context.Context, src, dst *endpoint, source, target string, err error) error {
	account, aerr := a.accountOf(ctx, src)
	if aerr != nil {
		return failf("%s refused the replication configuration of %s: target bucket %s belongs to another account, which does not grant the source's account the replicate actions (%v)",
			src.url, source, target, err)
	}
	return failf("%s refused the replication configuration of %s: target bucket %s belongs to another account than the source bucket (account %s), and its owner has not consented to receive its replicas: %s; then run setup again",
		src.url, source, target, account, grantFix(dst, target, account))
}

// consentCheck is the check that the owner of the target bucket (dst's identity, which
// passed the other target checks) consents to replicas from the source bucket's owner
// (src's identity): the same account, or a bucket policy granting s3:ReplicateObject,
// s3:ReplicateTags and, when r replicates delete markers, s3:ReplicateDelete.
func (a *app) consentCheck(ctx context.Context, src, dst *endpoint, target string, r *rule) Check {
	c := Check{Name: CheckTargetConsent, Bucket: target, Endpoint: dst.url}
	from, err := a.accountOf(ctx, src)
	if err != nil {
		c.Message = err.Error()
		return c
	}
	owner, err := a.accountOf(ctx, dst)
	if err != nil {
		c.Message = err.Error()
		return c
	}
	if from == owner {
		c.OK, c.Message = true, fmt.Sprintf("%s belongs to account %s, which owns the source bucket too", target, owner)
		return c
	}
	actions := []string{bucketpolicy.ActionReplicateObject, bucketpolicy.ActionReplicateTags}
	if r == nil || r.DeleteMarkers {
		actions = append(actions, bucketpolicy.ActionReplicateDelete)
	}
	pctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	out, err := dst.s3.GetBucketPolicy(pctx, &s3.GetBucketPolicyInput{Bucket: aws.String(target)})
	var pol *bucketpolicy.Policy
	switch {
	case apiCode(err) == "NoSuchBucketPolicy":
	case err != nil:
		c.Message = a.explain(err, dst, "GetBucketPolicy", target).Error()
		return c
	default:
		if pol, err = bucketpolicy.Parse([]byte(aws.ToString(out.Policy)), target); err != nil {
			c.Message = fmt.Sprintf("the policy of %s at %s cannot be read: %v", target, dst.url, err)
			return c
		}
	}
	var missing, denied []string
	for _, act := range actions {
		switch d, sid := pol.Evaluate([]string{from}, act, ""); d {
		case bucketpolicy.Denied:
			denied = append(denied, fmt.Sprintf("%s (statement %q)", act, sid))
		case bucketpolicy.NotGranted:
			missing = append(missing, act)
		}
	}
	switch {
	case len(denied) > 0:
		c.Message = fmt.Sprintf("%s at %s belongs to account %s, whose policy denies account %s (the source bucket's owner) %s: replicas are refused",
			target, dst.url, owner, from, strings.Join(denied, ", "))
		c.Fix = fmt.Sprintf("the owner of %s must remove that Deny", target)
	case len(missing) > 0:
		what := "has no bucket policy"
		if pol != nil {
			what = "has a policy that does not grant " + strings.Join(missing, ", ")
		}
		c.Message = fmt.Sprintf("%s at %s belongs to account %s and %s to account %s (the source bucket's owner): replicas are refused",
			target, dst.url, owner, what, from)
		c.Fix = grantFix(dst, target, from)
	default:
		c.OK, c.Message = true, fmt.Sprintf("%s (account %s) grants account %s %s", target, owner, from, strings.Join(actions, ", "))
	}
	return c
}
