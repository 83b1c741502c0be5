package replconf

import "strings"

func (c *Config) match(key string, tags map[string]string, deleteMarker bool) (Match, bool) {
	best := -1
	for i := range c.Rules {
		r := &c.Rules[i]
		if r.Status != "Enabled" || !r.matches(key, tags, deleteMarker) {
			continue
		}
		// The highest priority wins; among equal priorities (V1 rules have none), the
		// first rule.
		if best < 0 || r.Priority > c.Rules[best].Priority {
			best = i
		}
	}
	if best < 0 {
		return Match{}, false
	}
	r := &c.Rules[best]
	return Match{RuleID: r.ID, Role: c.Role, DestinationBucket: r.DestinationBucket, StorageClass: r.StorageClass}, true
}

// matches tells whether the rule's filter selects the version.
func (r *Rule) matches(key string, tags map[string]string, deleteMarker bool) bool {
	if !strings.HasPrefix(key, r.Prefix) {
		return false
	}
	if deleteMarker {
		// A delete marker has no tags: a tag-filtered rule never selects it.
		return r.DeleteMarkerReplication && len(r.Tags) == 0
	}
	for k, v := range r.Tags {
		if got, ok := tags[k]; !ok || got != v {
			return false
		}
	}
	return true
}
