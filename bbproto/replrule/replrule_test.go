package replrule

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestChooseHighestPriorityFirstAmongEquals(t *testing.T) {
	rules := []Rule{
		{Enabled: true, Priority: 1, Prefix: "docs/"},
		{Enabled: false, Priority: 9, Prefix: "docs/"},
		{Enabled: true, Priority: 5, Prefix: "docs/", Tags: map[string]string{"team": "a"}},
		{Enabled: true, Priority: 5, Prefix: "docs/"},
		{Enabled: true, Prefix: "", DeleteMarkers: true},
	}
	choose := func(key string, tags map[string]string, dm bool) int {
		return Choose(len(rules), func(i int) Rule { return rules[i] }, key, tags, dm)
	}
	assert.Equal(t, 2, choose("docs/x", map[string]string{"team": "a"}, false), "the first of the highest priority; a disabled rule never")
	assert.Equal(t, 3, choose("docs/x", map[string]string{"team": "b"}, false), "a tag must match")
	assert.Equal(t, 4, choose("logs/x", nil, false))
	assert.Equal(t, 4, choose("docs/x", nil, true), "only a rule replicating delete markers selects one")
	assert.Equal(t, -1, Choose(0, nil, "k", nil, false))
}

func TestTagFilteredRuleNeverSelectsADeleteMarker(t *testing.T) {
	r := Rule{Enabled: true, DeleteMarkers: true, Tags: map[string]string{"a": "b"}}
	assert.False(t, r.Selects("k", map[string]string{"a": "b"}, true))
	assert.True(t, r.Selects("k", map[string]string{"a": "b", "c": "d"}, false))
}

func TestBucketARN(t *testing.T) {
	for arn, want := range map[string]string{"arn:aws:s3:::abc": "abc", "arn:aws:s3:::My_Legacy.Bucket-1": "My_Legacy.Bucket-1", "arn:aws-cn:s3:::abc": "abc"} {
		name, err := ParseBucketARN(arn)
		require.NoError(t, err, arn)
		assert.Equal(t, want, name)
	}
	name, err := ParseBucketARN(BucketARN("target-bucket"))
	require.NoError(t, err)
	assert.Equal(t, "target-bucket", name)
	for _, bad := range []string{"", "target-bucket", "arn:aws:s3:::", "arn:aws:s3:::ab", "arn:aws:s3:::a/b/c", "arn:aws:s3:::a b c",
		"arn:aws:s3::1:abc", "s3:::abc", "arn:aws:iam::1:role/x"} {
		_, err := ParseBucketARN(bad)
		assert.Error(t, err, bad)
	}
}
