package replconf

import "github.com/backbeat-temporal/backbeat/bbproto/replrule"

func (c *Config) match(key string, tags map[string]string, deleteMarker bool) (Match, bool) {
	best := replrule.Choose(len(c.Rules), func(i int) replrule.Rule { return c.Rules[i].Filter() }, key, tags, deleteMarker)
	if best < 0 {
		return Match{}, false
	}
	r := &c.Rules[best]
	return Match{RuleID: r.ID, Role: c.Role, DestinationBucket: r.DestinationBucket, StorageClass: r.StorageClass}, true
}

// Filter is what r selects versions by.
func (r *Rule) Filter() replrule.Rule {
	return replrule.Rule{Enabled: r.Status == "Enabled", Priority: r.Priority, Prefix: r.Prefix, Tags: r.Tags,
		DeleteMarkers: r.DeleteMarkerReplication}
}
