package replconf

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// awsV1 is the V1 example of the S3 developer guide.
const awsV1 = `<?xml version="1.0" encoding="UTF-8"?>
<ReplicationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Role>arn:aws:iam::35667example:role/CrossRegionReplicationRoleForS3</Role>
  <Rule>
    <ID>rule1</ID>
    <Prefix>TaxDocs</Prefix>
    <Status>Enabled</Status>
    <Destination>
      <Bucket>arn:aws:s3:::exampletargetbucket</Bucket>
      <StorageClass>STANDARD</StorageClass>
    </Destination>
  </Rule>
</ReplicationConfiguration>`

// awsV2 is the V2 example of the PutBucketReplication API reference.
const awsV2 = `<ReplicationConfiguration>
  <Role>arn:aws:iam::35667example:role/CrossRegionReplicationRoleForS3</Role>
  <Rule>
    <ID>rule1</ID>
    <Status>Enabled</Status>
    <Priority>1</Priority>
    <DeleteMarkerReplication>
       <Status>Disabled</Status>
    </DeleteMarkerReplication>
    <Filter>
       <And>
          <Prefix>TaxDocs</Prefix>
          <Tag>
             <Key>key1</Key>
             <Value>value1</Value>
          </Tag>
          <Tag>
             <Key>key2</Key>
             <Value>value2</Value>
          </Tag>
       </And>
    </Filter>
    <Destination>
      <Bucket>arn:aws:s3:::exampletargetbucket</Bucket>
    </Destination>
  </Rule>
</ReplicationConfiguration>`

// cliV1 is what the AWS CLI sends for the quickstart's JSON configuration.
const cliV1 = `<ReplicationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Role>arn:aws:iam::000000000000:role/backbeat</Role><Rule><ID>all</ID><Prefix></Prefix><Status>Enabled</Status><Destination><Bucket>arn:aws:s3:::target-bucket</Bucket></Destination></Rule></ReplicationConfiguration>`

// full uses every element S3 accepts.
const full = `<ReplicationConfiguration>
  <Role>arn:aws:iam::123456789012:role/src,arn:aws:iam::123456789012:role/dst</Role>
  <Rule>
    <ID>everything</ID>
    <Priority>7</Priority>
    <Filter><Prefix>logs/</Prefix></Filter>
    <Status>Enabled</Status>
    <SourceSelectionCriteria>
      <SseKmsEncryptedObjects><Status>Enabled</Status></SseKmsEncryptedObjects>
      <ReplicaModifications><Status>Disabled</Status></ReplicaModifications>
    </SourceSelectionCriteria>
    <ExistingObjectReplication><Status>Enabled</Status></ExistingObjectReplication>
    <Destination>
      <Bucket>arn:aws:s3:::dst</Bucket>
      <Account>123456789012</Account>
      <StorageClass>STANDARD_IA</StorageClass>
      <AccessControlTranslation><Owner>Destination</Owner></AccessControlTranslation>
      <EncryptionConfiguration><ReplicaKmsKeyID>arn:aws:kms:us-east-1:123456789012:key/k</ReplicaKmsKeyID></EncryptionConfiguration>
      <ReplicationTime><Status>Enabled</Status><Time><Minutes>15</Minutes></Time></ReplicationTime>
      <Metrics><Status>Enabled</Status><EventThreshold><Minutes>15</Minutes></EventThreshold></Metrics>
    </Destination>
    <DeleteMarkerReplication><Status>Enabled</Status></DeleteMarkerReplication>
  </Rule>
  <Rule>
    <ID>tagged</ID>
    <Priority>3</Priority>
    <Filter><Tag><Key>replicate</Key><Value>yes</Value></Tag></Filter>
    <Status>Disabled</Status>
    <Destination><Bucket>arn:aws:s3:::dst2</Bucket></Destination>
    <DeleteMarkerReplication><Status>Disabled</Status></DeleteMarkerReplication>
  </Rule>
  <Rule>
    <ID>all</ID>
    <Priority>1</Priority>
    <Filter/>
    <Status>Enabled</Status>
    <Destination><Bucket>arn:aws:s3:::dst3</Bucket></Destination>
    <DeleteMarkerReplication><Status>Disabled</Status></DeleteMarkerReplication>
  </Rule>
</ReplicationConfiguration>`

func TestParseV1(t *testing.T) {
	c, err := Parse([]byte(awsV1))
	require.NoError(t, err)
	assert.Equal(t, "arn:aws:iam::35667example:role/CrossRegionReplicationRoleForS3", c.Role)
	require.Len(t, c.Rules, 1)
	r := c.Rules[0]
	assert.Equal(t, "rule1", r.ID)
	assert.Equal(t, "Enabled", r.Status)
	assert.False(t, r.V2)
	assert.Equal(t, "TaxDocs", r.Prefix)
	assert.Empty(t, r.Tags)
	assert.Equal(t, "arn:aws:s3:::exampletargetbucket", r.DestinationBucket)
	assert.Equal(t, "STANDARD", r.StorageClass)
	assert.True(t, r.DeleteMarkerReplication, "V1 rules replicate delete markers")

	c, err = Parse([]byte(cliV1))
	require.NoError(t, err)
	assert.Equal(t, "", c.Rules[0].Prefix)
	assert.Equal(t, "all", c.Rules[0].ID)
}

func TestParseV2(t *testing.T) {
	c, err := Parse([]byte(awsV2))
	require.NoError(t, err)
	require.Len(t, c.Rules, 1)
	r := c.Rules[0]
	assert.True(t, r.V2)
	assert.Equal(t, 1, r.Priority)
	assert.Equal(t, "TaxDocs", r.Prefix)
	assert.Equal(t, map[string]string{"key1": "value1", "key2": "value2"}, r.Tags)
	assert.False(t, r.DeleteMarkerReplication)
	assert.Equal(t, "", r.StorageClass)

	c, err = Parse([]byte(full))
	require.NoError(t, err)
	require.Len(t, c.Rules, 3)
	assert.Equal(t, "logs/", c.Rules[0].Prefix)
	assert.True(t, c.Rules[0].DeleteMarkerReplication)
	assert.Equal(t, map[string]string{"replicate": "yes"}, c.Rules[1].Tags)
	assert.Equal(t, "Disabled", c.Rules[1].Status)
	assert.Equal(t, "", c.Rules[2].Prefix)
}

func TestParseGeneratesIDs(t *testing.T) {
	doc := `<ReplicationConfiguration><Role>arn:aws:iam::1:role/r</Role>
	<Rule><Status>Enabled</Status><Prefix>a</Prefix><Destination><Bucket>arn:aws:s3:::dst</Bucket></Destination></Rule>
	<Rule><ID></ID><Status>Enabled</Status><Prefix>a</Prefix><Destination><Bucket>arn:aws:s3:::dst</Bucket></Destination></Rule>
	</ReplicationConfiguration>`
	c, err := Parse([]byte(doc))
	require.NoError(t, err)
	id0, id1 := c.Rules[0].ID, c.Rules[1].ID
	assert.NotEmpty(t, id0)
	assert.NotEmpty(t, id1)
	assert.NotEqual(t, id0, id1)
	again, err := Parse([]byte(doc))
	require.NoError(t, err)
	assert.Equal(t, id0, again.Rules[0].ID, "generated IDs are deterministic")
	out, err := c.XML()
	require.NoError(t, err)
	back, err := Parse(out)
	require.NoError(t, err)
	assert.Equal(t, c, back, "the rendered IDs are kept")
}

func TestParseErrors(t *testing.T) {
	const role = `<Role>arn:aws:iam::123456789012:role/r</Role>`
	const dest = `<Destination><Bucket>arn:aws:s3:::dst</Bucket></Destination>`
	const dmr = `<DeleteMarkerReplication><Status>Disabled</Status></DeleteMarkerReplication>`
	doc := func(inner string) string { return "<ReplicationConfiguration>" + inner + "</ReplicationConfiguration>" }
	v1 := func(extra string) string {
		return doc(role + `<Rule><ID>r</ID><Status>Enabled</Status><Prefix></Prefix>` + dest + extra + `</Rule>`)
	}
	v2 := func(filter, extra string) string {
		return doc(role + `<Rule><ID>r</ID><Status>Enabled</Status>` + filter + dest + extra + `</Rule>`)
	}
	manyRules := role
	for i := 0; i <= MaxRules; i++ {
		manyRules += fmt.Sprintf(`<Rule><ID>r%d</ID><Status>Enabled</Status><Prefix>p%d</Prefix>%s</Rule>`, i, i, dest)
	}
	cases := []struct {
		name, doc, code, msg string
	}{
		{"not xml", "{}", CodeMalformedXML, ""},
		{"truncated", "<ReplicationConfiguration><Role>", CodeMalformedXML, ""},
		{"wrong root", "<VersioningConfiguration/>", CodeMalformedXML, ""},
		{"no role", doc(`<Rule><Status>Enabled</Status><Prefix/>` + dest + `</Rule>`), CodeMalformedXML, "Role"},
		{"empty role", strings.Replace(v1(""), role, "<Role></Role>", 1), CodeInvalidArgument, "Role ARN"},
		{"role not arn", strings.Replace(v1(""), role, "<Role>backbeat</Role>", 1), CodeInvalidArgument, "Role ARN"},
		{"role not iam", strings.Replace(v1(""), role, "<Role>arn:aws:s3:::bucket</Role>", 1), CodeInvalidArgument, "Role ARN"},
		{"no rules", doc(role), CodeMalformedXML, "Rule"},
		{"too many rules", doc(manyRules), CodeInvalidRequest, "1000"},
		{"bad status", strings.Replace(v1(""), "Enabled", "On", 1), CodeMalformedXML, "Status"},
		{"no status", strings.Replace(v1(""), "<Status>Enabled</Status>", "", 1), CodeMalformedXML, "Status"},
		{"long id", strings.Replace(v1(""), "<ID>r</ID>", "<ID>"+strings.Repeat("x", 256)+"</ID>", 1), CodeInvalidArgument, "255"},
		{"duplicate id", doc(role + `<Rule><ID>a</ID><Status>Enabled</Status><Prefix>x</Prefix>` + dest + `</Rule><Rule><ID>a</ID><Status>Enabled</Status><Prefix>y</Prefix>` + dest + `</Rule>`), CodeInvalidArgument, "unique"},
		{"prefix and filter", v1(`<Filter><Prefix>a</Prefix></Filter><Priority>1</Priority>` + dmr), CodeMalformedXML, "Prefix and Filter"},
		{"no destination", strings.Replace(v1(""), dest, "", 1), CodeMalformedXML, "Destination"},
		{"empty destination bucket", strings.Replace(v1(""), "arn:aws:s3:::dst", "", 1), CodeMalformedXML, "Destination"},
		{"destination not arn", strings.Replace(v1(""), "arn:aws:s3:::dst", "dst", 1), CodeInvalidArgument, "ARN"},
		{"destination with path", strings.Replace(v1(""), "arn:aws:s3:::dst", "arn:aws:s3:::dst/key", 1), CodeInvalidArgument, "ARN"},
		{"destination not s3", strings.Replace(v1(""), "arn:aws:s3:::dst", "arn:aws:sqs:::dst", 1), CodeInvalidArgument, "ARN"},
		{"destination region", strings.Replace(v1(""), "arn:aws:s3:::dst", "arn:aws:s3:us-east-1::dst", 1), CodeInvalidArgument, "ARN"},
		{"v2 without priority", v2(`<Filter><Prefix>a</Prefix></Filter>`, dmr), CodeInvalidRequest, "Priority must be specified"},
		{"v2 without delete marker replication", v2(`<Priority>1</Priority><Filter><Prefix>a</Prefix></Filter>`, ""), CodeInvalidRequest, "DeleteMarkerReplication must be specified"},
		{"bad priority", v2(`<Priority>high</Priority><Filter/>`, dmr), CodeMalformedXML, "Priority"},
		{"negative priority", v2(`<Priority>-1</Priority><Filter/>`, dmr), CodeMalformedXML, "Priority"},
		{"bad delete marker status", v2(`<Priority>1</Priority><Filter/>`, `<DeleteMarkerReplication><Status>Yes</Status></DeleteMarkerReplication>`), CodeMalformedXML, "DeleteMarkerReplication"},
		{"delete markers with tag filter", v2(`<Priority>1</Priority><Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter>`, `<DeleteMarkerReplication><Status>Enabled</Status></DeleteMarkerReplication>`), CodeInvalidRequest, "Tag filter"},
		{"filter prefix and tag", v2(`<Priority>1</Priority><Filter><Prefix>a</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></Filter>`, dmr), CodeMalformedXML, "exactly one"},
		{"filter two tags", v2(`<Priority>1</Priority><Filter><Tag><Key>k</Key><Value>v</Value></Tag><Tag><Key>j</Key><Value>v</Value></Tag></Filter>`, dmr), CodeMalformedXML, "exactly one"},
		{"filter and with prefix", v2(`<Priority>1</Priority><Filter><Prefix>a</Prefix><And><Prefix>b</Prefix></And></Filter>`, dmr), CodeMalformedXML, "exactly one"},
		{"duplicate tag keys", v2(`<Priority>1</Priority><Filter><And><Tag><Key>k</Key><Value>v</Value></Tag><Tag><Key>k</Key><Value>w</Value></Tag></And></Filter>`, dmr), CodeInvalidRequest, "Duplicate Tag Keys"},
		{"empty tag key", v2(`<Priority>1</Priority><Filter><Tag><Key></Key><Value>v</Value></Tag></Filter>`, dmr), CodeInvalidArgument, "TagKey"},
		{"long tag value", v2(`<Priority>1</Priority><Filter><Tag><Key>k</Key><Value>`+strings.Repeat("v", 257)+`</Value></Tag></Filter>`, dmr), CodeInvalidArgument, "TagValue"},
		{"long prefix", strings.Replace(v1(""), "<Prefix></Prefix>", "<Prefix>"+strings.Repeat("p", 1025)+"</Prefix>", 1), CodeInvalidArgument, "prefix"},
		{"duplicate priority", doc(role + `<Rule><ID>a</ID><Priority>1</Priority><Filter/><Status>Enabled</Status>` + dest + dmr + `</Rule><Rule><ID>b</ID><Priority>1</Priority><Filter><Prefix>x</Prefix></Filter><Status>Enabled</Status>` + dest + dmr + `</Rule>`), CodeInvalidRequest, "duplicate priority 1"},
		{"bad existing object status", v1(`<ExistingObjectReplication><Status>x</Status></ExistingObjectReplication>`), CodeMalformedXML, "ExistingObjectReplication"},
		{"bad selection status", v1(`<SourceSelectionCriteria><ReplicaModifications><Status>x</Status></ReplicaModifications></SourceSelectionCriteria>`), CodeMalformedXML, "SourceSelectionCriteria"},
		{"acl owner", strings.Replace(v1(""), "</Bucket>", "</Bucket><Account>1</Account><AccessControlTranslation><Owner>Me</Owner></AccessControlTranslation>", 1), CodeMalformedXML, "Owner"},
		{"acl without account", strings.Replace(v1(""), "</Bucket>", "</Bucket><AccessControlTranslation><Owner>Destination</Owner></AccessControlTranslation>", 1), CodeInvalidRequest, "Account"},
		{"bad rtc status", strings.Replace(v1(""), "</Bucket>", "</Bucket><ReplicationTime><Status>x</Status></ReplicationTime>", 1), CodeMalformedXML, "ReplicationTime"},
		{"bad metrics status", strings.Replace(v1(""), "</Bucket>", "</Bucket><Metrics><Status>x</Status></Metrics>", 1), CodeMalformedXML, "Metrics"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			var ve *ValidationError
			require.True(t, errors.As(err, &ve), "want a ValidationError, got %v", err)
			assert.Equal(t, tc.code, ve.Code, ve.Message)
			assert.Contains(t, ve.Message, tc.msg)
			assert.Contains(t, err.Error(), "replication configuration")
		})
	}
	// The valid forms the cases above were made from.
	for _, ok := range []string{v1(""), v2(`<Priority>1</Priority><Filter/>`, dmr)} {
		_, err := Parse([]byte(ok))
		require.NoError(t, err, ok)
	}
}

func TestMatch(t *testing.T) {
	c := &Config{Role: "arn:aws:iam::1:role/r", Rules: []Rule{
		{ID: "disabled", Status: "Disabled", V2: true, Priority: 100, Prefix: "", DestinationBucket: "arn:aws:s3:::off", DeleteMarkerReplication: true},
		{ID: "docs", Status: "Enabled", V2: true, Priority: 1, Prefix: "docs/", DestinationBucket: "arn:aws:s3:::docs", StorageClass: "site-a", DeleteMarkerReplication: true},
		{ID: "secret-docs", Status: "Enabled", V2: true, Priority: 5, Prefix: "docs/", Tags: map[string]string{"class": "secret"}, DestinationBucket: "arn:aws:s3:::vault"},
		{ID: "images", Status: "Enabled", V2: true, Priority: 2, Prefix: "img/", DestinationBucket: "arn:aws:s3:::img"},
	}}
	m, ok := c.Match("docs/a.txt", nil, false)
	require.True(t, ok)
	assert.Equal(t, Match{RuleID: "docs", Role: c.Role, DestinationBucket: "arn:aws:s3:::docs", StorageClass: "site-a"}, m)

	m, ok = c.Match("docs/a.txt", map[string]string{"class": "secret", "x": "y"}, false)
	require.True(t, ok)
	assert.Equal(t, "secret-docs", m.RuleID, "the highest priority wins")

	m, ok = c.Match("docs/a.txt", map[string]string{"class": "public"}, false)
	require.True(t, ok)
	assert.Equal(t, "docs", m.RuleID, "a tag of another value does not match")

	_, ok = c.Match("other", nil, false)
	assert.False(t, ok, "the disabled catch-all rule never matches")

	m, ok = c.Match("docs/a.txt", nil, true)
	require.True(t, ok)
	assert.Equal(t, "docs", m.RuleID, "delete markers: the tag rule is skipped")
	_, ok = c.Match("img/a.png", nil, true)
	assert.False(t, ok, "the images rule does not replicate delete markers")
	m, ok = c.Match("img/a.png", nil, false)
	require.True(t, ok)
	assert.Equal(t, "images", m.RuleID)

	// V1: the first matching rule; delete markers always.
	v1 := &Config{Role: "arn:aws:iam::1:role/r", Rules: []Rule{
		{ID: "one", Status: "Enabled", Prefix: "a", DestinationBucket: "arn:aws:s3:::one", DeleteMarkerReplication: true},
		{ID: "two", Status: "Enabled", Prefix: "", DestinationBucket: "arn:aws:s3:::two", DeleteMarkerReplication: true},
	}}
	m, ok = v1.Match("abc", nil, true)
	require.True(t, ok)
	assert.Equal(t, "one", m.RuleID)
	m, ok = v1.Match("zzz", map[string]string{"t": "v"}, false)
	require.True(t, ok)
	assert.Equal(t, "two", m.RuleID)

	// Parsed V1 document: delete markers replicate unless disabled.
	c, err := Parse([]byte(cliV1))
	require.NoError(t, err)
	_, ok = c.Match("anything", nil, true)
	assert.True(t, ok)
	c, err = Parse([]byte(awsV2))
	require.NoError(t, err)
	_, ok = c.Match("TaxDocs/2020", map[string]string{"key1": "value1"}, false)
	assert.False(t, ok, "both tags are required")
	_, ok = c.Match("TaxDocs/2020", map[string]string{"key1": "value1", "key2": "value2"}, false)
	assert.True(t, ok)
	_, ok = c.Match("TaxDocs/2020", nil, true)
	assert.False(t, ok)
}

func TestXMLRoundTrip(t *testing.T) {
	for name, doc := range map[string]string{"v1": awsV1, "v2": awsV2, "cli": cliV1, "full": full} {
		t.Run(name, func(t *testing.T) {
			c, err := Parse([]byte(doc))
			require.NoError(t, err)
			out, err := c.XML()
			require.NoError(t, err)
			s := string(out)
			assert.True(t, strings.HasPrefix(s, `<?xml version="1.0" encoding="UTF-8"?>`), s)
			assert.Contains(t, s, `<ReplicationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`)
			back, err := Parse(out)
			require.NoError(t, err, s)
			assert.Equal(t, c, back)
			again, err := back.XML()
			require.NoError(t, err)
			assert.Equal(t, s, string(again))
		})
	}
	c, err := Parse([]byte(full))
	require.NoError(t, err)
	out, err := c.XML()
	require.NoError(t, err)
	s := string(out)
	for _, want := range []string{
		"<Account>123456789012</Account>", "<StorageClass>STANDARD_IA</StorageClass>",
		"<AccessControlTranslation><Owner>Destination</Owner></AccessControlTranslation>",
		"<ReplicaKmsKeyID>arn:aws:kms:us-east-1:123456789012:key/k</ReplicaKmsKeyID>",
		"<ReplicationTime><Status>Enabled</Status><Time><Minutes>15</Minutes></Time></ReplicationTime>",
		"<ExistingObjectReplication><Status>Enabled</Status></ExistingObjectReplication>",
		"<SseKmsEncryptedObjects><Status>Enabled</Status></SseKmsEncryptedObjects>",
		"<Filter><Tag><Key>replicate</Key><Value>yes</Value></Tag></Filter>",
		"<Filter></Filter>", "<Filter><Prefix>logs/</Prefix></Filter>",
	} {
		assert.Contains(t, s, want)
	}
	assert.Less(t, strings.Index(s, "<ID>everything</ID>"), strings.Index(s, "<Priority>7</Priority>"))
	assert.Less(t, strings.Index(s, "<Priority>7</Priority>"), strings.Index(s, "<Filter><Prefix>logs/"))

	// V1 rules: Prefix, no Filter, no DeleteMarkerReplication unless disabled.
	c, err = Parse([]byte(awsV1))
	require.NoError(t, err)
	out, err = c.XML()
	require.NoError(t, err)
	assert.Contains(t, string(out), "<Prefix>TaxDocs</Prefix>")
	assert.NotContains(t, string(out), "Filter")
	assert.NotContains(t, string(out), "DeleteMarkerReplication")
}

func TestXMLOfBuiltConfig(t *testing.T) {
	// A Config made in code (not parsed) renders in the simplest filter form.
	c := &Config{Role: "arn:aws:iam::1:role/r", Rules: []Rule{
		{ID: "p", Status: "Enabled", V2: true, Priority: 1, Prefix: "a/", DestinationBucket: "arn:aws:s3:::dst", DeleteMarkerReplication: true},
		{ID: "t", Status: "Enabled", V2: true, Priority: 2, Tags: map[string]string{"k": "v"}, DestinationBucket: "arn:aws:s3:::dst"},
		{ID: "pt", Status: "Enabled", V2: true, Priority: 3, Prefix: "b/", Tags: map[string]string{"k": "v", "a": "b"}, DestinationBucket: "arn:aws:s3:::dst"},
		{ID: "v1", Status: "Disabled", Prefix: "c/", DestinationBucket: "arn:aws:s3:::dst", StorageClass: "site"},
	}}
	out, err := c.XML()
	require.NoError(t, err)
	s := string(out)
	assert.Contains(t, s, "<Filter><Prefix>a/</Prefix></Filter>")
	assert.Contains(t, s, "<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter>")
	assert.Contains(t, s, "<Filter><And><Prefix>b/</Prefix><Tag><Key>a</Key><Value>b</Value></Tag><Tag><Key>k</Key><Value>v</Value></Tag></And></Filter>")
	assert.Contains(t, s, "<Prefix>c/</Prefix><Status>Disabled</Status>")
	assert.Contains(t, s, "<DeleteMarkerReplication><Status>Disabled</Status></DeleteMarkerReplication></Rule></ReplicationConfiguration>")
	back, err := Parse(out)
	require.NoError(t, err)
	for i := range c.Rules {
		assert.Equal(t, c.Rules[i].ID, back.Rules[i].ID)
		assert.Equal(t, c.Rules[i].Prefix, back.Rules[i].Prefix)
		assert.Equal(t, len(c.Rules[i].Tags), len(back.Rules[i].Tags))
		assert.Equal(t, c.Rules[i].DeleteMarkerReplication, back.Rules[i].DeleteMarkerReplication)
		assert.Equal(t, c.Rules[i].StorageClass, back.Rules[i].StorageClass)
	}
}

func TestValidRoleARN(t *testing.T) {
	for _, ok := range []string{"arn:aws:iam::123456789012:role/r", "arn:aws-cn:iam::1:role/path/r", "arn:aws:iam::1:role/a,arn:aws:iam::2:role/b"} {
		assert.True(t, validRoleARN(ok), ok)
	}
	for _, bad := range []string{"", "arn:aws:iam::1:role/", "arn:aws:iam::1:user/u", "arn::iam::1:role/r", "arn:aws:iam:us-east-1:1:role/r", "a,b", "arn:aws:iam::1:role/a,arn:aws:iam::2:role/b,arn:aws:iam::3:role/c", "arn:aws:iam::1:role/a b"} {
		assert.False(t, validRoleARN(bad), bad)
	}
}

// FuzzParse checks that Parse never panics, refuses only with a ValidationError, and that
// what it accepts renders to XML that parses back to the same configuration.
func FuzzParse(f *testing.F) {
	for _, s := range []string{awsV1, awsV2, cliV1, full, "", "<ReplicationConfiguration/>",
		`<ReplicationConfiguration><Role>arn:aws:iam::1:role/r</Role><Rule><Status>Enabled</Status><Filter><And><Tag><Key>a</Key><Value>b</Value></Tag></And></Filter><Priority>2</Priority><DeleteMarkerReplication><Status>Disabled</Status></DeleteMarkerReplication><Destination><Bucket>arn:aws:s3:::abc</Bucket></Destination></Rule></ReplicationConfiguration>`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Parse error is not a ValidationError: %T %v", err, err)
			}
			return
		}
		out, err := c.XML()
		if err != nil {
			t.Fatalf("XML of a parsed configuration: %v", err)
		}
		back, err := Parse(out)
		if err != nil {
			t.Fatalf("rendered XML does not parse: %v\n%s", err, out)
		}
		if !assert.ObjectsAreEqual(c, back) {
			t.Fatalf("round trip changed the configuration:\n%#v\n%#v\n%s", c, back, out)
		}
		for _, r := range c.Rules {
			c.Match(r.Prefix+"k", r.Tags, false)
			c.Match(r.Prefix, nil, true)
		}
	})
}
