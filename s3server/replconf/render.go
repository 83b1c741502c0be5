package replconf

import (
	"encoding/xml"
	"fmt"
	"sort"
	"strconv"
)

func (c *Config) render() ([]byte, error) {
	role := c.Role
	x := xmlConfig{Xmlns: namespace, Role: &role, Rules: make([]xmlRule, 0, len(c.Rules))}
	for i := range c.Rules {
		x.Rules = append(x.Rules, c.Rules[i].toXML())
	}
	out, err := xml.Marshal(x)
	if err != nil {
		return nil, fmt.Errorf("replconf: render configuration: %w", err)
	}
	return append([]byte(xml.Header), out...), nil
}

func (r *Rule) toXML() xmlRule {
	x := xmlRule{
		Status:                    r.Status,
		SourceSelectionCriteria:   r.x.selection,
		ExistingObjectReplication: r.x.existing,
		Destination: &xmlDestination{
			Bucket:                   r.DestinationBucket,
			Account:                  r.x.account,
			AccessControlTranslation: r.x.acl,
			EncryptionConfiguration:  r.x.encryption,
			ReplicationTime:          r.x.rtc,
			Metrics:                  r.x.metrics,
		},
	}
	if r.ID != "" {
		x.ID = ptr(r.ID)
	}
	if r.StorageClass != "" {
		x.Destination.StorageClass = ptr(r.StorageClass)
	}
	if !r.V2 {
		x.Prefix = ptr(r.Prefix)
		if r.Priority != 0 {
			x.Priority = ptr(strconv.Itoa(r.Priority))
		}
		if !r.DeleteMarkerReplication {
			x.DeleteMarkerReplication = &xmlStatus{Status: "Disabled"}
		}
		return x
	}
	x.Priority = ptr(strconv.Itoa(r.Priority))
	x.DeleteMarkerReplication = &xmlStatus{Status: "Disabled"}
	if r.DeleteMarkerReplication {
		x.DeleteMarkerReplication.Status = "Enabled"
	}
	x.Filter = r.filterXML()
	return x
}

// filterXML renders the V2 filter in the form it was put, when that form can still
// express Prefix and Tags; otherwise in the simplest form that can.
func (r *Rule) filterXML() *xmlFilter {
	tags := make([]xmlTag, 0, len(r.Tags))
	for k, v := range r.Tags {
		tags = append(tags, xmlTag{Key: k, Value: v})
	}
	sort.Slice(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key })
	form := r.x.filterForm
	switch {
	case form == formEmpty && r.Prefix == "" && len(tags) == 0:
	case form == formPrefix && len(tags) == 0:
	case form == formTag && r.Prefix == "" && len(tags) == 1:
	case form == formAnd:
	case len(tags) == 0:
		form = formPrefix
	case r.Prefix == "" && len(tags) == 1:
		form = formTag
	default:
		form = formAnd
	}
	switch form {
	case formPrefix:
		return &xmlFilter{Prefix: ptr(r.Prefix)}
	case formTag:
		return &xmlFilter{Tag: tags}
	case formAnd:
		a := &xmlAnd{Tags: tags}
		if r.Prefix != "" {
			a.Prefix = ptr(r.Prefix)
		}
		return &xmlFilter{And: a}
	}
	return &xmlFilter{}
}

func ptr[T any](v T) *T { return &v }
