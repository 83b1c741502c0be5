package replconf

import "encoding/xml"

// namespace is the XML namespace of S3 documents.
const namespace = "http://s3.amazonaws.com/doc/2006-03-01/"

// xmlConfig is the ReplicationConfiguration document, for decoding and encoding.
// Optional elements are pointers so that absence and emptiness can be told apart.
type xmlConfig struct {
	XMLName xml.Name  `xml:"ReplicationConfiguration"`
	Xmlns   string    `xml:"xmlns,attr,omitempty"`
	Role    *string   `xml:"Role"`
	Rules   []xmlRule `xml:"Rule"`
}

// xmlRule is one Rule, its elements in the order of the S3 API's ReplicationRule.
type xmlRule struct {
	ID                        *string         `xml:"ID"`
	Priority                  *string         `xml:"Priority"`
	Prefix                    *string         `xml:"Prefix"`
	Filter                    *xmlFilter      `xml:"Filter"`
	Status                    string          `xml:"Status"`
	SourceSelectionCriteria   *xmlSelection   `xml:"SourceSelectionCriteria"`
	ExistingObjectReplication *xmlStatus      `xml:"ExistingObjectReplication"`
	Destination               *xmlDestination `xml:"Destination"`
	DeleteMarkerReplication   *xmlStatus      `xml:"DeleteMarkerReplication"`
}

// xmlFilter is a V2 rule's Filter: exactly one of Prefix, Tag or And (or none).
type xmlFilter struct {
	Prefix *string  `xml:"Prefix"`
	Tag    []xmlTag `xml:"Tag"`
	And    *xmlAnd  `xml:"And"`
}

type xmlAnd struct {
	Prefix *string  `xml:"Prefix"`
	Tags   []xmlTag `xml:"Tag"`
}

type xmlTag struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

// xmlStatus is an element holding a Status (Enabled or Disabled).
type xmlStatus struct {
	Status string `xml:"Status"`
}

type xmlSelection struct {
	SseKmsEncryptedObjects *xmlStatus `xml:"SseKmsEncryptedObjects"`
	ReplicaModifications   *xmlStatus `xml:"ReplicaModifications"`
}

type xmlDestination struct {
	Bucket                   string            `xml:"Bucket"`
	Account                  *string           `xml:"Account"`
	StorageClass             *string           `xml:"StorageClass"`
	AccessControlTranslation *xmlOwner         `xml:"AccessControlTranslation"`
	EncryptionConfiguration  *xmlEncryption    `xml:"EncryptionConfiguration"`
	ReplicationTime          *xmlTimedStatus   `xml:"ReplicationTime"`
	Metrics                  *xmlMetricsStatus `xml:"Metrics"`
}

type xmlOwner struct {
	Owner string `xml:"Owner"`
}

type xmlEncryption struct {
	ReplicaKmsKeyID *string `xml:"ReplicaKmsKeyID"`
}

type xmlMinutes struct {
	Minutes *string `xml:"Minutes"`
}

type xmlTimedStatus struct {
	Status string      `xml:"Status"`
	Time   *xmlMinutes `xml:"Time"`
}

type xmlMetricsStatus struct {
	Status         string      `xml:"Status"`
	EventThreshold *xmlMinutes `xml:"EventThreshold"`
}

// Filter forms, kept so that GetBucketReplication answers the filter as it was put.
const (
	formDerived = iota // not parsed: derive from Prefix and Tags
	formEmpty          // <Filter/>
	formPrefix         // <Filter><Prefix>
	formTag            // <Filter><Tag>
	formAnd            // <Filter><And>
)

// ruleExtra holds the parts of a rule that are accepted and returned as they were put
// but do not change what replication does here.
type ruleExtra struct {
	filterForm int
	selection  *xmlSelection
	existing   *xmlStatus
	account    *string
	acl        *xmlOwner
	encryption *xmlEncryption
	rtc        *xmlTimedStatus
	metrics    *xmlMetricsStatus
}
