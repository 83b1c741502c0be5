package s3server

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"sort"
	"unicode/utf8"
)

// Tag limits, as S3.
const (
	maxObjectTags  = 10
	maxBucketTags  = 50
	maxTagKeyLen   = 128
	maxTagValueLen = 256
)

// tagging is the Tagging XML document (object and bucket tagging).
type tagging struct {
	XMLName xml.Name `xml:"Tagging"`
	Xmlns   string   `xml:"xmlns,attr,omitempty"`
	TagSet  []tagXML `xml:"TagSet>Tag"`
}

type tagXML struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

// newTagging renders tags sorted by key.
func newTagging(tags map[string]string) tagging {
	t := tagging{Xmlns: s3Namespace, TagSet: []tagXML{}}
	for k, v := range tags {
		t.TagSet = append(t.TagSet, tagXML{Key: k, Value: v})
	}
	sort.Slice(t.TagSet, func(i, j int) bool { return t.TagSet[i].Key < t.TagSet[j].Key })
	return t
}

// s3Namespace is the XML namespace of S3 documents.
const s3Namespace = "http://s3.amazonaws.com/doc/2006-03-01/"

// parseTaggingXML parses a Tagging document with at most max tags.
func parseTaggingXML(data []byte, max int) (map[string]string, error) {
	var t tagging
	if err := xml.Unmarshal(data, &t); err != nil {
		return nil, errMalformedXML
	}
	tags := make(map[string]string, len(t.TagSet))
	for _, tg := range t.TagSet {
		if _, dup := tags[tg.Key]; dup {
			return nil, errf("InvalidTag", http.StatusBadRequest, "Cannot provide multiple Tags with the same key")
		}
		tags[tg.Key] = tg.Value
	}
	return tags, validateTags(tags, max)
}

// parseTaggingHeader parses the x-amz-tagging header (URL query encoding).
func parseTaggingHeader(h string) (map[string]string, error) {
	if h == "" {
		return nil, nil
	}
	vals, err := url.ParseQuery(h)
	if err != nil {
		return nil, errf("InvalidArgument", http.StatusBadRequest, "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.")
	}
	tags := make(map[string]string, len(vals))
	for k, v := range vals {
		if len(v) != 1 {
			return nil, errf("InvalidArgument", http.StatusBadRequest, "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.")
		}
		tags[k] = v[0]
	}
	return tags, validateTags(tags, maxObjectTags)
}

// encodeTaggingHeader renders tags as x-amz-tagging does (sorted keys).
func encodeTaggingHeader(tags map[string]string) string {
	v := url.Values{}
	for k, val := range tags {
		v.Set(k, val)
	}
	return v.Encode()
}

func validateTags(tags map[string]string, max int) error {
	if len(tags) > max {
		if max == maxObjectTags {
			return errf("BadRequest", http.StatusBadRequest, "Object tags cannot be greater than %d", max)
		}
		return errf("InvalidTag", http.StatusBadRequest, "Bucket tag count cannot be greater than %d", max)
	}
	for k, v := range tags {
		if k == "" || utf8.RuneCountInString(k) > maxTagKeyLen {
			return errf("InvalidTag", http.StatusBadRequest, "The TagKey you have provided is invalid")
		}
		if utf8.RuneCountInString(v) > maxTagValueLen {
			return errf("InvalidTag", http.StatusBadRequest, "The TagValue you have provided is invalid")
		}
	}
	return nil
}
