// Package replconf parses, validates and evaluates S3 bucket replication configurations
// (PutBucketReplication XML): V1 rules with Prefix and V2 rules with Filter
// (Prefix, Tag, And), Status, Priority, Destination (bucket ARN, StorageClass),
// DeleteMarkerReplication, and the Role.
package replconf

// Config is a parsed, validated replication configuration.
type Config struct {
	Role  string
	Rules []Rule
}

// Rule is one replication rule.
type Rule struct {
	ID       string
	Priority int
	// Status is "Enabled" or "Disabled".
	Status string
	// V2 is true when the rule used Filter (V2 schema) rather than a top-level Prefix.
	V2 bool
	// Prefix from the V1 Prefix or the V2 Filter (Prefix or And/Prefix).
	Prefix string
	// Tags from the V2 Filter (Tag or And/Tag): all must match.
	Tags map[string]string
	// DestinationBucket is the destination bucket ARN (arn:aws:s3:::name).
	DestinationBucket string
	StorageClass      string
	// DeleteMarkerReplication: V1 rules replicate delete markers; V2 rules only when
	// DeleteMarkerReplication Status is Enabled.
	DeleteMarkerReplication bool

	// x keeps what S3 accepts and returns but replication here does not act on
	// (destination account, source selection criteria...), so that GetBucketReplication
	// returns it as it was put.
	x ruleExtra
}

// Match is the outcome of evaluating a configuration for one version.
type Match struct {
	RuleID            string
	Role              string
	DestinationBucket string // ARN
	StorageClass      string
}

// ValidationError is a configuration that S3 would refuse. Code is the S3 error code
// (MalformedXML, InvalidRequest, InvalidArgument); Message says what is wrong.
type ValidationError struct {
	Code    string
	Message string
}

func (e *ValidationError) Error() string { return "replication configuration: " + e.Message }

// Parse parses and validates configuration XML (see parse.go).
func Parse(data []byte) (*Config, error) { return parse(data) }

// Match returns the Enabled rule (highest priority for V2; first for V1) matching a
// version of key with tags; for a delete marker only rules that replicate delete markers
// match (and tag-filtered rules never match a delete marker, as S3).
func (c *Config) Match(key string, tags map[string]string, deleteMarker bool) (Match, bool) {
	return c.match(key, tags, deleteMarker)
}

// XML renders the configuration as S3 returns it from GetBucketReplication: the XML
// declaration, then a ReplicationConfiguration document in the S3 namespace.
func (c *Config) XML() ([]byte, error) { return c.render() }
