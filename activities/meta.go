package activities

import (
	"maps"
	"net/http"
	"net/url"
	"strings"

	"github.com/backbeat-temporal/backbeat/bbproto"
)

// metaEqual tells whether two metadata sets are the same (nil and empty maps are equal;
// the storage class and checksums are not compared).
func metaEqual(m, o bbproto.ObjectMeta) bool {
	return m.ContentType == o.ContentType && m.ContentEncoding == o.ContentEncoding &&
		m.ContentDisposition == o.ContentDisposition && m.ContentLanguage == o.ContentLanguage &&
		m.CacheControl == o.CacheControl && m.Expires == o.Expires &&
		maps.Equal(m.UserMetadata, o.UserMetadata) && maps.Equal(m.Tags, o.Tags)
}

// metaHeader returns the request headers that set m on a PutObject or a replica write.
func metaHeader(m bbproto.ObjectMeta) http.Header {
	h := http.Header{}
	set := func(k, v string) {
		if v != "" {
			h.Set(k, v)
		}
	}
	set("Content-Type", m.ContentType)
	set("Content-Encoding", m.ContentEncoding)
	set("Content-Disposition", m.ContentDisposition)
	set("Content-Language", m.ContentLanguage)
	set("Cache-Control", m.CacheControl)
	set("Expires", m.Expires)
	set("X-Amz-Storage-Class", m.StorageClass)
	for k, v := range m.UserMetadata {
		h.Set("X-Amz-Meta-"+k, v)
	}
	set("X-Amz-Tagging", tagging(m.Tags))
	return h
}

// tagging encodes tags as the x-amz-tagging header ("" for none).
func tagging(tags map[string]string) string {
	if len(tags) == 0 {
		return ""
	}
	v := url.Values{}
	for k, t := range tags {
		v.Set(k, t)
	}
	return strings.ReplaceAll(v.Encode(), "+", "%20")
}
