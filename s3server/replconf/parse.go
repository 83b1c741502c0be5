package replconf

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/backbeat-temporal/backbeat/bbproto/replrule"
)

// Limits, as S3.
const (
	// MaxRules is the largest number of rules of one configuration.
	MaxRules = 1000
	// MaxIDLength is the longest rule ID, in characters.
	MaxIDLength = 255
	// MaxPrefixLength is the longest filter prefix, in bytes (a key's length).
	MaxPrefixLength = 1024
	maxTagKeyLen    = 128
	maxTagValueLen  = 256
)

// S3 error codes of ValidationError.Code.
const (
	CodeMalformedXML    = "MalformedXML"
	CodeInvalidRequest  = "InvalidRequest"
	CodeInvalidArgument = "InvalidArgument"
)

// malformedMessage is S3's message for MalformedXML.
const malformedMessage = "The XML you provided was not well-formed or did not validate against our published schema"

func malformed(detail string, args ...any) *ValidationError {
	return &ValidationError{Code: CodeMalformedXML, Message: malformedMessage + " (" + fmt.Sprintf(detail, args...) + ")"}
}

func invalidRequest(format string, args ...any) *ValidationError {
	return &ValidationError{Code: CodeInvalidRequest, Message: fmt.Sprintf(format, args...)}
}

func invalidArgument(format string, args ...any) *ValidationError {
	return &ValidationError{Code: CodeInvalidArgument, Message: fmt.Sprintf(format, args...)}
}

func parse(data []byte) (*Config, error) {
	var x xmlConfig
	if err := xml.Unmarshal(data, &x); err != nil {
		return nil, malformed("%v", err)
	}
	if x.Role == nil {
		return nil, malformed("Role is required")
	}
	if !validRoleARN(*x.Role) {
		return nil, invalidArgument("Invalid ReplicationConfiguration Role ARN: %q", *x.Role)
	}
	if len(x.Rules) == 0 {
		return nil, malformed("at least one Rule is required")
	}
	if len(x.Rules) > MaxRules {
		return nil, invalidRequest("Number of rules in the replication configuration exceeds the maximum of %d", MaxRules)
	}
	c := &Config{Role: *x.Role, Rules: make([]Rule, 0, len(x.Rules))}
	ids := make(map[string]bool, len(x.Rules))
	for i := range x.Rules {
		r, err := parseRule(&x.Rules[i])
		if err != nil {
			return nil, err
		}
		if r.ID != "" {
			if ids[r.ID] {
				return nil, invalidArgument("Rule Id must be unique. Found same ID for more than one rule: %q", r.ID)
			}
			ids[r.ID] = true
		}
		c.Rules = append(c.Rules, r)
	}
	// Rules without an ID get one, as S3 makes one; ours derive from the rule's position
	// and content so that parsing is deterministic.
	for i := range c.Rules {
		if c.Rules[i].ID == "" {
			c.Rules[i].ID = generateID(i, &x.Rules[i], ids)
			ids[c.Rules[i].ID] = true
		}
	}
	byPriority := map[int]string{}
	for _, r := range c.Rules {
		if !r.V2 {
			continue
		}
		if other, dup := byPriority[r.Priority]; dup {
			return nil, invalidRequest("Found duplicate priority %d for rules %q and %q: the priority of every rule must be unique", r.Priority, other, r.ID)
		}
		byPriority[r.Priority] = r.ID
	}
	return c, nil
}

// parseRule checks one rule of the XML and returns it: its identity (ID, Status,
// Priority), its scope (prefix or filter, delete-marker replication, V2's requirements),
// its destination, and the source-side settings kept for GET.
func parseRule(x *xmlRule) (Rule, error) {
	var r Rule
	ruleName, err := parseRuleIdentity(x, &r)
	if err != nil {
		return r, err
	}
	if err := parseRuleScope(x, &r, ruleName); err != nil {
		return r, err
	}
	if err := parseDestination(x.Destination, &r, ruleName); err != nil {
		return r, err
	}
	if err := parseSourceSettings(x, &r, ruleName); err != nil {
		return r, err
	}
	return r, nil
}

// parseRuleIdentity sets the rule's ID, Status and Priority and returns the name errors
// give the rule (its ID, or "(no ID)").
func parseRuleIdentity(x *xmlRule, r *Rule) (ruleName string, err error) {
	if x.ID != nil {
		r.ID = *x.ID
		if utf8.RuneCountInString(r.ID) > MaxIDLength {
			return "", invalidArgument("ID length should not exceed allowed limit of %d", MaxIDLength)
		}
	}
	ruleName = r.ID
	if ruleName == "" {
		ruleName = "(no ID)"
	}
	switch x.Status {
	case "Enabled", "Disabled":
		r.Status = x.Status
	default:
		return "", malformed("rule %s: Status must be Enabled or Disabled", ruleName)
	}
	if x.Priority != nil {
		p, err := strconv.Atoi(strings.TrimSpace(*x.Priority))
		if err != nil || p < 0 {
			return "", malformed("rule %s: Priority must be a non-negative integer", ruleName)
		}
		r.Priority = p
	}
	return ruleName, nil
}

// parseRuleScope sets which objects the rule covers: the V1 Prefix or the V2 Filter, and
// whether delete markers replicate (V1: always); a V2 rule must give Priority and
// DeleteMarkerReplication, and cannot replicate delete markers with a Tag filter.
func parseRuleScope(x *xmlRule, r *Rule, ruleName string) error {
	if x.Prefix != nil && x.Filter != nil {
		return malformed("rule %s: Prefix and Filter cannot both be specified in a rule", ruleName)
	}
	if x.Filter != nil {
		r.V2 = true
		if err := parseFilter(x.Filter, r, ruleName); err != nil {
			return err
		}
	} else if x.Prefix != nil {
		r.Prefix = *x.Prefix
	}
	if len(r.Prefix) > MaxPrefixLength {
		return invalidArgument("rule %s: the prefix is longer than %d bytes", ruleName, MaxPrefixLength)
	}

	if x.DeleteMarkerReplication != nil {
		switch x.DeleteMarkerReplication.Status {
		case "Enabled":
			r.DeleteMarkerReplication = true
		case "Disabled":
		default:
			return malformed("rule %s: DeleteMarkerReplication Status must be Enabled or Disabled", ruleName)
		}
	} else if !r.V2 {
		r.DeleteMarkerReplication = true // V1 rules replicate delete markers
	}
	if r.V2 {
		if x.Priority == nil {
			return invalidRequest("Priority must be specified for this version of Cross Region Replication configuration schema. Please refer to S3 Developer Guide for more information.")
		}
		if x.DeleteMarkerReplication == nil {
			return invalidRequest("DeleteMarkerReplication must be specified for this version of Cross Region Replication configuration schema. Please refer to S3 Developer Guide for more information.")
		}
		if r.DeleteMarkerReplication && len(r.Tags) > 0 {
			return invalidRequest("Delete marker replication is not supported if any Tag filter is specified. Please refer to S3 Developer Guide for more information.")
		}
	}
	return nil
}

// parseDestination sets the rule's destination bucket (an S3 bucket ARN) and storage
// class, and checks and keeps the destination's other settings (account, owner
// translation, encryption, replication time, metrics) for GET.
func parseDestination(d *xmlDestination, r *Rule, ruleName string) error {
	if d == nil || d.Bucket == "" {
		return malformed("rule %s: Destination Bucket is required", ruleName)
	}
	if _, err := replrule.ParseBucketARN(d.Bucket); err != nil {
		return invalidArgument("Invalid bucket ARN: %q (want arn:aws:s3:::bucket-name)", d.Bucket)
	}
	r.DestinationBucket = d.Bucket
	if d.StorageClass != nil {
		r.StorageClass = *d.StorageClass
	}
	r.x.account = d.Account
	r.x.acl = d.AccessControlTranslation
	if r.x.acl != nil {
		if r.x.acl.Owner != "Destination" {
			return malformed("rule %s: AccessControlTranslation Owner must be Destination", ruleName)
		}
		if d.Account == nil {
			return invalidRequest("Destination Account must be specified when AccessControlTranslation is specified")
		}
	}
	r.x.encryption = d.EncryptionConfiguration
	r.x.rtc = d.ReplicationTime
	if r.x.rtc != nil && !validStatus(r.x.rtc.Status) {
		return malformed("rule %s: ReplicationTime Status must be Enabled or Disabled", ruleName)
	}
	r.x.metrics = d.Metrics
	if r.x.metrics != nil && !validStatus(r.x.metrics.Status) {
		return malformed("rule %s: Metrics Status must be Enabled or Disabled", ruleName)
	}
	return nil
}

// parseSourceSettings checks and keeps the rule's SourceSelectionCriteria and
// ExistingObjectReplication for GET.
func parseSourceSettings(x *xmlRule, r *Rule, ruleName string) error {
	r.x.selection = x.SourceSelectionCriteria
	if s := r.x.selection; s != nil {
		if (s.SseKmsEncryptedObjects != nil && !validStatus(s.SseKmsEncryptedObjects.Status)) ||
			(s.ReplicaModifications != nil && !validStatus(s.ReplicaModifications.Status)) {
			return malformed("rule %s: SourceSelectionCriteria statuses must be Enabled or Disabled", ruleName)
		}
	}
	r.x.existing = x.ExistingObjectReplication
	if r.x.existing != nil && !validStatus(r.x.existing.Status) {
		return malformed("rule %s: ExistingObjectReplication Status must be Enabled or Disabled", ruleName)
	}
	return nil
}

func validStatus(s string) bool { return s == "Enabled" || s == "Disabled" }

func parseFilter(f *xmlFilter, r *Rule, ruleName string) error {
	n := 0
	if f.Prefix != nil {
		n++
	}
	if len(f.Tag) > 0 {
		n++
	}
	if f.And != nil {
		n++
	}
	if n > 1 || len(f.Tag) > 1 {
		return malformed("rule %s: Filter must have exactly one of Prefix, Tag or And", ruleName)
	}
	var tags []xmlTag
	switch {
	case f.Prefix != nil:
		r.x.filterForm = formPrefix
		r.Prefix = *f.Prefix
	case len(f.Tag) == 1:
		r.x.filterForm = formTag
		tags = f.Tag
	case f.And != nil:
		r.x.filterForm = formAnd
		if f.And.Prefix != nil {
			r.Prefix = *f.And.Prefix
		}
		tags = f.And.Tags
	default:
		r.x.filterForm = formEmpty
	}
	if len(tags) == 0 {
		return nil
	}
	r.Tags = make(map[string]string, len(tags))
	for _, t := range tags {
		if t.Key == "" || utf8.RuneCountInString(t.Key) > maxTagKeyLen {
			return invalidArgument("The TagKey you have provided is invalid")
		}
		if utf8.RuneCountInString(t.Value) > maxTagValueLen {
			return invalidArgument("The TagValue you have provided is invalid")
		}
		if _, dup := r.Tags[t.Key]; dup {
			return invalidRequest("Duplicate Tag Keys are not allowed.")
		}
		r.Tags[t.Key] = t.Value
	}
	return nil
}

// validRoleARN accepts an IAM role ARN, arn:PARTITION:iam::ACCOUNT:role/NAME, or a
// comma-separated pair of them (Zenko's source and destination roles).
func validRoleARN(role string) bool {
	parts := strings.Split(role, ",")
	if len(parts) > 2 {
		return false
	}
	for _, p := range parts {
		f := strings.SplitN(p, ":", 6)
		if len(f) != 6 || f[0] != "arn" || f[1] == "" || f[2] != "iam" || f[3] != "" ||
			!strings.HasPrefix(f[5], "role/") || len(f[5]) == len("role/") || strings.ContainsAny(p, " \t\r\n") {
			return false
		}
	}
	return true
}

// generateID makes the ID of the i-th rule, which had none: the base64 of a UUID-shaped
// digest of the rule, as S3's generated IDs look, distinct from every ID in taken.
func generateID(i int, x *xmlRule, taken map[string]bool) string {
	content, _ := xml.Marshal(x) // a decoded rule always encodes
	for n := 0; ; n++ {
		sum := sha256.Sum256(fmt.Appendf(nil, "%d\x00%d\x00%s", i, n, content))
		u := fmt.Sprintf("%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
		id := base64.StdEncoding.EncodeToString([]byte(u))
		if !taken[id] {
			return id
		}
	}
}
