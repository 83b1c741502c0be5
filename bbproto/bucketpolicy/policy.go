// Package bucketpolicy parses and evaluates the subset of AWS's bucket policy language
// that s3server supports: the grants a destination bucket's owner gives other accounts
// to replicate into it. s3server enforces policies with it and starter checks consent
// with it, so it lives beside bbproto: standard library only (and replrule), no I/O.
//
// A policy is a JSON document:
//
//	{"Version": "2012-10-17",
//	 "Statement": [{"Sid": "bob-replicates-here", "Effect": "Allow",
//	   "Principal": {"AWS": "arn:aws:iam::bob:root"},
//	   "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
//	   "Resource": "arn:aws:s3:::alice-target/*"}]}
//
// Version is "2012-10-17" or "2008-10-17" (optional). Statement is one statement or a
// list. Effect is Allow or Deny (a matching Deny wins over any Allow). Principal is "*"
// (every account) or {"AWS": P} where P is one value or a list, each an account name of
// the accounts file, its 12-digit id, or either as "arn:aws:iam::ACCOUNT:root".
// Action is one value or a list of s3:ReplicateObject, s3:ReplicateDelete,
// s3:ReplicateTags, s3:Replicate* and s3:ObjectOwnerOverrideToBucketOwner (accepted;
// replicas are always owned by the destination bucket's owner here). Resource is one
// value or a list of arn:aws:s3:::BUCKET and arn:aws:s3:::BUCKET/* (or a key prefix
// followed by *), BUCKET being the policy's bucket. Anything else (NotPrincipal,
// NotAction, Condition, other actions...) is refused as MalformedPolicy: this server has
// no other use for bucket policies.
package bucketpolicy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/backbeat-temporal/backbeat/bbproto/replrule"
)

// Replication actions a policy can grant.
const (
	ActionReplicateObject = "s3:ReplicateObject"
	ActionReplicateDelete = "s3:ReplicateDelete"
	ActionReplicateTags   = "s3:ReplicateTags"
	actionReplicateAll    = "s3:Replicate*"
	actionOwnerOverride   = "s3:ObjectOwnerOverrideToBucketOwner"
)

// MaxSize is the largest policy document accepted (AWS's limit: 20 KB).
const MaxSize = 20 << 10

// Error is a policy that cannot be accepted: answered 400 MalformedPolicy.
type Error struct{ Message string }

func (e *Error) Error() string { return "MalformedPolicy: " + e.Message }

func malformed(format string, args ...any) error {
	return &Error{Message: fmt.Sprintf(format, args...)}
}

// Policy is a parsed bucket policy.
type Policy struct {
	Statements []Statement
}

// Statement is one parsed statement.
type Statement struct {
	Sid   string
	Allow bool // Effect Allow; false is Deny
	// Principals are account names or ids ("*" for every account).
	Principals []string
	Actions    []string
	// Keys are the key patterns of the resources: "" for the bucket itself (which grants
	// no replication), "*" for every object, "prefix*" for the objects under prefix, or
	// one key.
	Keys []string
}

// stringOrList decodes a JSON string or list of strings.
type stringOrList []string

func (s *stringOrList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("want a string or a list of strings")
	}
	*s = many
	return nil
}

type rawStatement struct {
	Sid          string          `json:"Sid"`
	Effect       string          `json:"Effect"`
	Principal    json.RawMessage `json:"Principal"`
	Action       stringOrList    `json:"Action"`
	Resource     stringOrList    `json:"Resource"`
	NotPrincipal json.RawMessage `json:"NotPrincipal"`
	NotAction    json.RawMessage `json:"NotAction"`
	NotResource  json.RawMessage `json:"NotResource"`
	Condition    json.RawMessage `json:"Condition"`
}

// Parse validates the policy document of bucket.
func Parse(data []byte, bucket string) (*Policy, error) {
	if len(data) > MaxSize {
		return nil, malformed("Policies must be at most %d bytes.", MaxSize)
	}
	var doc struct {
		Version   string          `json:"Version"`
		ID        string          `json:"Id"`
		Statement json.RawMessage `json:"Statement"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, malformed("The policy is not a JSON document of the form {\"Version\":\"2012-10-17\",\"Statement\":[...]}: %v", err)
	}
	switch doc.Version {
	case "", "2012-10-17", "2008-10-17":
	default:
		return nil, malformed("The policy must contain a valid version string (2012-10-17), not %q", doc.Version)
	}
	var raws []rawStatement
	st := bytes.TrimSpace(doc.Statement)
	switch {
	case len(st) == 0:
		return nil, malformed("Missing required field Statement")
	case st[0] == '[':
		if err := strictUnmarshal(st, &raws); err != nil {
			return nil, malformed("Statement: %v", err)
		}
	default:
		var one rawStatement
		if err := strictUnmarshal(st, &one); err != nil {
			return nil, malformed("Statement: %v", err)
		}
		raws = []rawStatement{one}
	}
	if len(raws) == 0 {
		return nil, malformed("Missing required field Statement")
	}
	p := &Policy{}
	for i, r := range raws {
		s, err := parseStatement(r, bucket)
		if err != nil {
			name := r.Sid
			if name == "" {
				name = fmt.Sprintf("#%d", i+1)
			}
			return nil, malformed("Statement %s: %v", name, err)
		}
		p.Statements = append(p.Statements, s)
	}
	return p, nil
}

func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func parseStatement(r rawStatement, bucket string) (Statement, error) {
	s := Statement{Sid: r.Sid}
	switch {
	case r.NotPrincipal != nil, r.NotAction != nil, r.NotResource != nil:
		return s, fmt.Errorf("NotPrincipal, NotAction and NotResource are not supported")
	case r.Condition != nil:
		return s, fmt.Errorf("Condition is not supported")
	}
	switch r.Effect {
	case "Allow":
		s.Allow = true
	case "Deny":
	default:
		return s, fmt.Errorf("Effect must be Allow or Deny, not %q", r.Effect)
	}
	princ, err := parsePrincipal(r.Principal)
	if err != nil {
		return s, err
	}
	s.Principals = princ
	if len(r.Action) == 0 {
		return s, fmt.Errorf("Missing required field Action")
	}
	for _, a := range r.Action {
		switch a {
		case ActionReplicateObject, ActionReplicateDelete, ActionReplicateTags, actionReplicateAll, actionOwnerOverride:
			s.Actions = append(s.Actions, a)
		default:
			return s, fmt.Errorf("Action %q is not supported: bucket policies here only grant replication (s3:ReplicateObject, s3:ReplicateDelete, s3:ReplicateTags, s3:Replicate*, s3:ObjectOwnerOverrideToBucketOwner)", a)
		}
	}
	if len(r.Resource) == 0 {
		return s, fmt.Errorf("Missing required field Resource")
	}
	arn := replrule.BucketARN(bucket)
	for _, res := range r.Resource {
		switch {
		case res == arn:
			s.Keys = append(s.Keys, "")
		case strings.HasPrefix(res, arn+"/"):
			k := strings.TrimPrefix(res, arn+"/")
			if i := strings.IndexByte(k, '*'); i >= 0 && i != len(k)-1 {
				return s, fmt.Errorf("Resource %q: a wildcard is supported only at the end", res)
			}
			s.Keys = append(s.Keys, k)
		default:
			return s, fmt.Errorf("Policy has invalid resource %q: it must be %s or %s/* (the policy's own bucket)", res, arn, arn)
		}
	}
	return s, nil
}

// parsePrincipal reads "*" or {"AWS": value or list}.
func parsePrincipal(raw json.RawMessage) ([]string, error) {
	if raw == nil {
		return nil, fmt.Errorf("Missing required field Principal")
	}
	var star string
	if json.Unmarshal(raw, &star) == nil {
		if star != "*" {
			return nil, fmt.Errorf("Invalid principal in policy: %q (want \"*\" or {\"AWS\": \"arn:aws:iam::ACCOUNT:root\"})", star)
		}
		return []string{"*"}, nil
	}
	var m map[string]stringOrList
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("Invalid principal in policy: want \"*\" or {\"AWS\": \"arn:aws:iam::ACCOUNT:root\" or a list}")
	}
	var out []string
	for k, vals := range m {
		if k != "AWS" {
			return nil, fmt.Errorf("Invalid principal in policy: only AWS principals (accounts) are supported, not %q", k)
		}
		for _, v := range vals {
			acct := v
			if strings.HasPrefix(v, "arn:aws:iam::") {
				acct = strings.TrimSuffix(strings.TrimPrefix(v, "arn:aws:iam::"), ":root")
				if acct == "" || strings.Contains(acct, ":") || strings.Contains(acct, "/") {
					return nil, fmt.Errorf("Invalid principal in policy: %q (only accounts: arn:aws:iam::ACCOUNT:root)", v)
				}
			}
			if acct == "" {
				return nil, fmt.Errorf("Invalid principal in policy: empty account")
			}
			out = append(out, acct)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("Invalid principal in policy: no account named")
	}
	return out, nil
}

// Decision is the outcome of evaluating a policy.
type Decision int

// Decisions.
const (
	NotGranted Decision = iota // no statement matches
	Allowed                    // an Allow matches and no Deny
	Denied                     // a Deny matches
)

// Evaluate decides whether the account (named by any of names: its name and, when
// known, its id) may perform action on the object key of the policy's bucket; key ""
// asks for every object of the bucket (a Resource BUCKET/*). A Resource naming the
// bucket itself grants no object action, as in AWS.
func (p *Policy) Evaluate(names []string, action, key string) (d Decision, sid string) {
	if p == nil {
		return NotGranted, ""
	}
	for _, s := range p.Statements {
		if !s.matches(names, action, key) {
			continue
		}
		if !s.Allow {
			return Denied, s.Sid
		}
		if d == NotGranted {
			d, sid = Allowed, s.Sid
		}
	}
	return d, sid
}

func (s *Statement) matches(names []string, action, key string) bool {
	princ := slices.ContainsFunc(s.Principals, func(p string) bool {
		return p == "*" || slices.Contains(names, p)
	})
	act := slices.ContainsFunc(s.Actions, func(a string) bool {
		return a == action || (a == actionReplicateAll && strings.HasPrefix(action, "s3:Replicate"))
	})
	res := slices.ContainsFunc(s.Keys, func(k string) bool {
		if key == "" { // every object of the bucket
			return k == "*"
		}
		if pre, ok := strings.CutSuffix(k, "*"); ok {
			return strings.HasPrefix(key, pre)
		}
		return k == key
	})
	return princ && act && res
}

// GrantExample returns the statement an owner adds to grant account the replication
// actions on bucket: used in the messages of refusals.
func GrantExample(bucket, account string, actions ...string) string {
	if len(actions) == 0 {
		actions = []string{ActionReplicateObject, ActionReplicateDelete, ActionReplicateTags}
	}
	a, _ := json.Marshal(actions)
	return fmt.Sprintf(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":%s,"Resource":"arn:aws:s3:::%s/*"}`, account, a, bucket)
}

// GrantPolicy returns a whole policy document with the one statement of GrantExample:
// what the owner of bucket puts (aws s3api put-bucket-policy) when the bucket has no
// policy yet.
func GrantPolicy(bucket, account string, actions ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + GrantExample(bucket, account, actions...) + `]}`
}
