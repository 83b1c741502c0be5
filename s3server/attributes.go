package s3server

import (
	"cmp"
	"encoding/xml"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/backbeat-temporal/backbeat/s3server/store"
)

// GetObjectAttributes (GET ?attributes): the attributes named in x-amz-object-attributes
// of a version, without its data.

// objectAttributeNames are the values x-amz-object-attributes may list.
var objectAttributeNames = []string{"ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"}

// getObjectAttributesResponse is the GetObjectAttributes answer. Elements not asked for
// are omitted.
type getObjectAttributesResponse struct {
	XMLName      xml.Name             `xml:"GetObjectAttributesResponse"`
	Xmlns        string               `xml:"xmlns,attr"`
	ETag         string               `xml:"ETag,omitempty"` // unquoted, as S3 here
	Checksum     *attributesChecksum  `xml:"Checksum,omitempty"`
	ObjectParts  *attributesPartsList `xml:"ObjectParts,omitempty"`
	StorageClass string               `xml:"StorageClass,omitempty"`
	ObjectSize   *int64               `xml:"ObjectSize,omitempty"`
}

type attributesChecksum struct {
	CRC32        string `xml:"ChecksumCRC32,omitempty"`
	CRC32C       string `xml:"ChecksumCRC32C,omitempty"`
	CRC64NVME    string `xml:"ChecksumCRC64NVME,omitempty"`
	SHA1         string `xml:"ChecksumSHA1,omitempty"`
	SHA256       string `xml:"ChecksumSHA256,omitempty"`
	ChecksumType string `xml:"ChecksumType,omitempty"`
}

type attributesPartsList struct {
	IsTruncated          bool             `xml:"IsTruncated"`
	MaxParts             int              `xml:"MaxParts"`
	NextPartNumberMarker int              `xml:"NextPartNumberMarker"`
	PartNumberMarker     int              `xml:"PartNumberMarker"`
	Parts                []attributesPart `xml:"Part"`
	PartsCount           int              `xml:"PartsCount"`
}

type attributesPart struct {
	PartNumber int   `xml:"PartNumber"`
	Size       int64 `xml:"Size"`
}

// getObjectAttributes serves GetObjectAttributes: x-amz-object-attributes lists what to
// return (InvalidArgument when missing or naming something else); ObjectParts (only for
// objects uploaded in parts) pages with x-amz-max-parts (default 1000) and
// x-amz-part-number-marker. A delete marker answers as GET does (404, or 405 by id).
func (s *Server) getObjectAttributes(rq *request) error {
	want, err := objectAttributes(rq.r.Header)
	if err != nil {
		return err
	}
	maxParts, marker := 1000, 0
	if v := rq.r.Header.Get("x-amz-max-parts"); v != "" {
		if maxParts, err = strconv.Atoi(v); err != nil || maxParts < 0 {
			return errf("InvalidArgument", http.StatusBadRequest, "Argument max-parts must be an integer between 0 and 2147483647")
		}
		maxParts = min(maxParts, 1000)
	}
	if v := rq.r.Header.Get("x-amz-part-number-marker"); v != "" {
		if marker, err = strconv.Atoi(v); err != nil || marker < 0 {
			return errf("InvalidArgument", http.StatusBadRequest, "Argument part-number-marker must be an integer between 0 and 2147483647")
		}
	}
	v, versioning, err := s.requestedVersion(rq)
	if err != nil {
		return err
	}
	res := getObjectAttributesResponse{Xmlns: s3Namespace}
	if want["ETag"] {
		res.ETag = v.ETag
	}
	if want["Checksum"] {
		res.Checksum = versionChecksum(v)
	}
	if want["ObjectParts"] && isMultipart(v) {
		res.ObjectParts = versionParts(v, marker, maxParts)
	}
	if want["StorageClass"] {
		res.StorageClass = cmp.Or(v.Meta.StorageClass, "STANDARD")
	}
	if want["ObjectSize"] {
		size := v.Size
		res.ObjectSize = &size
	}
	h := rq.w.Header()
	h.Set("Last-Modified", httpTime(v.LastModified))
	setVersionID(h, versioning, v.VersionID)
	return writeXML(rq, res)
}

// objectAttributes parses x-amz-object-attributes (comma-separated, possibly repeated).
func objectAttributes(h http.Header) (map[string]bool, error) {
	want := map[string]bool{}
	for _, line := range h.Values("x-amz-object-attributes") {
		for _, a := range strings.Split(line, ",") {
			a = strings.TrimSpace(a)
			if a == "" {
				continue
			}
			if !slices.Contains(objectAttributeNames, a) {
				return nil, errf("InvalidArgument", http.StatusBadRequest, "Invalid attribute name specified.")
			}
			want[a] = true
		}
	}
	if len(want) == 0 {
		return nil, errf("InvalidArgument", http.StatusBadRequest, "The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty")
	}
	return want, nil
}

// versionChecksum is the full-object checksum of v (nil when none was sent).
func versionChecksum(v *store.Version) *attributesChecksum {
	c := v.Meta.Checksums
	if len(c) == 0 {
		return nil
	}
	return &attributesChecksum{CRC32: c["CRC32"], CRC32C: c["CRC32C"], CRC64NVME: c["CRC64NVME"],
		SHA1: c["SHA1"], SHA256: c["SHA256"], ChecksumType: "FULL_OBJECT"}
}

// isMultipart tells whether v was uploaded in parts (its ETag ends in -N).
func isMultipart(v *store.Version) bool { return strings.Contains(v.ETag, "-") && len(v.Parts) > 0 }

// versionParts is the page of v's parts after part number marker, at most maxParts.
func versionParts(v *store.Version, marker, maxParts int) *attributesPartsList {
	l := &attributesPartsList{MaxParts: maxParts, PartNumberMarker: marker, PartsCount: len(v.Parts), Parts: []attributesPart{}}
	for i, p := range v.Parts {
		n := i + 1
		if n <= marker {
			continue
		}
		if len(l.Parts) == maxParts {
			l.IsTruncated = true
			break
		}
		l.Parts = append(l.Parts, attributesPart{PartNumber: n, Size: p.Size})
		l.NextPartNumberMarker = n
	}
	return l
}
