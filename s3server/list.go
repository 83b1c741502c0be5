package s3server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/backbeat-temporal/backbeat/s3server/store"
)

// maxListKeys is the largest page of every listing, and its default size.
const maxListKeys = 1000

// listOptions are the options common to the listings.
type listOptions struct {
	prefix    string
	delimiter string
	max       int  // max-keys or max-uploads, capped at maxListKeys
	urlEncode bool // encoding-type=url
}

func parseListOptions(q url.Values, maxParam string) (listOptions, error) {
	o := listOptions{prefix: q.Get("prefix"), delimiter: q.Get("delimiter"), max: maxListKeys}
	if v, ok := q[maxParam]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v[0]))
		if err != nil || n < 0 {
			return o, errf("InvalidArgument", http.StatusBadRequest, "Provided %s not an integer or within integer range", maxParam)
		}
		o.max = min(n, maxListKeys)
	}
	switch q.Get("encoding-type") {
	case "":
	case "url":
		o.urlEncode = true
	default:
		return o, errf("InvalidArgument", http.StatusBadRequest, "Invalid Encoding Method specified in Request")
	}
	return o, nil
}

// enc applies encoding-type=url to a key or prefix of the answer: S3's form of URL
// encoding, which keeps '/' and writes a space as '+'.
func (o listOptions) enc(s string) string {
	if !o.urlEncode || s == "" {
		return s
	}
	return strings.ReplaceAll(url.QueryEscape(s), "%2F", "/")
}

func (o listOptions) encodingType() string {
	if o.urlEncode {
		return "url"
	}
	return ""
}

// commonPrefixOf returns the common prefix key rolls up into, or "" when it does not.
func (o listOptions) commonPrefixOf(key string) string {
	if o.delimiter == "" || !strings.HasPrefix(key, o.prefix) {
		return ""
	}
	rest := key[len(o.prefix):]
	i := strings.Index(rest, o.delimiter)
	if i < 0 {
		return ""
	}
	return o.prefix + rest[:i+len(o.delimiter)]
}

// listItem is one entry of a listing page: a version, or a common prefix.
type listItem struct {
	v      *store.Version
	prefix string // set for a common prefix
}

// walkPage collects up to o.max items of the bucket's versions selected by want, in
// key order from (after, afterVersion), rolling keys up into common prefixes. A common
// prefix that is not after `after` (it was on an earlier page) is skipped, and so are
// the keys under a common prefix once it is listed. truncated tells whether more items
// follow the page.
func (s *Server) walkPage(ctx context.Context, bucket string, o listOptions, after, afterVersion string, want func(*store.Version) bool) (items []listItem, truncated bool, err error) {
	if o.max == 0 {
		return nil, false, nil
	}
	opts := store.WalkOptions{Prefix: o.prefix, After: after, AfterVersion: afterVersion}
	skipped := "" // the common prefix whose keys are being passed over
	for {
		jump := "" // set to restart the walk after every key under this common prefix
		done := false
		err := s.store.WalkVersions(ctx, bucket, opts, func(v *store.Version) bool {
			if !want(v) {
				return true
			}
			cp := o.commonPrefixOf(v.Key)
			if cp != "" && (cp == skipped || (after != "" && cp <= after)) {
				if cp == skipped {
					return true // keys that sort after the jump target (invalid UTF-8): go on one by one
				}
				jump = cp
				return false
			}
			if len(items) == o.max {
				truncated, done = true, true
				return false
			}
			if cp != "" {
				items = append(items, listItem{prefix: cp})
				jump = cp
				return false
			}
			items = append(items, listItem{v: v})
			return true
		})
		if err != nil {
			return nil, false, err
		}
		if done || jump == "" {
			return items, truncated, nil
		}
		// "\xff" never occurs in UTF-8: every key under jump sorts before jump+"\xff".
		skipped = jump
		opts = store.WalkOptions{Prefix: o.prefix, After: jump + "\xff"}
	}
}

// objectXML is a Contents entry of ListObjects.
type objectXML struct {
	Key               string           `xml:"Key"`
	LastModified      string           `xml:"LastModified"`
	ETag              *listingETagXML  `xml:"ETag"`
	ChecksumAlgorithm []string         `xml:"ChecksumAlgorithm,omitempty"`
	Size              int64            `xml:"Size"`
	Owner             *listingOwnerXML `xml:"Owner,omitempty"`
	StorageClass      string           `xml:"StorageClass"`
}

type commonPrefixXML struct {
	Prefix string `xml:"Prefix"`
}

// listBucketResult is the ListObjects (V1) and ListObjectsV2 answer.
type listBucketResult struct {
	XMLName               xml.Name          `xml:"ListBucketResult"`
	Xmlns                 string            `xml:"xmlns,attr"`
	Name                  string            `xml:"Name"`
	Prefix                string            `xml:"Prefix"`
	Marker                *string           `xml:"Marker"`                          // V1
	NextMarker            string            `xml:"NextMarker,omitempty"`            // V1
	ContinuationToken     *string           `xml:"ContinuationToken"`               // V2
	NextContinuationToken string            `xml:"NextContinuationToken,omitempty"` // V2
	StartAfter            string            `xml:"StartAfter,omitempty"`            // V2
	KeyCount              *int              `xml:"KeyCount"`                        // V2
	MaxKeys               int               `xml:"MaxKeys"`
	Delimiter             string            `xml:"Delimiter,omitempty"`
	EncodingType          string            `xml:"EncodingType,omitempty"`
	IsTruncated           bool              `xml:"IsTruncated"`
	Contents              []objectXML       `xml:"Contents"`
	CommonPrefixes        []commonPrefixXML `xml:"CommonPrefixes"`
}

func listingStorageClass(v *store.Version) string {
	if v.Meta.StorageClass != "" {
		return v.Meta.StorageClass
	}
	return "STANDARD"
}

func listingChecksumAlgorithms(v *store.Version) []string {
	if len(v.Meta.Checksums) == 0 {
		return nil
	}
	out := make([]string, 0, len(v.Meta.Checksums))
	for a := range v.Meta.Checksums {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// listObjects serves ListObjects, or ListObjectsV2 with list-type=2: the latest version
// of each key that is not a delete marker.
func (s *Server) listObjects(rq *request) error {
	o, err := parseListOptions(rq.q, "max-keys")
	if err != nil {
		return err
	}
	v2 := rq.q.Get("list-type") == "2"
	res := listBucketResult{Xmlns: s3Namespace, Name: rq.bucket, Prefix: o.enc(o.prefix), MaxKeys: o.max,
		Delimiter: o.enc(o.delimiter), EncodingType: o.encodingType()}
	var after string
	if v2 {
		after = rq.q.Get("start-after")
		res.StartAfter = o.enc(after)
		if tok, ok := rq.q["continuation-token"]; ok {
			// An empty token is echoed and lists from the start (or start-after).
			res.ContinuationToken = &tok[0]
			if tok[0] != "" {
				var ok bool
				if after, ok = s.parseListToken(rq.bucket, tok[0]); !ok {
					return errf("InvalidArgument", http.StatusBadRequest, "The continuation token provided is incorrect")
				}
			}
		}
	} else {
		after = rq.q.Get("marker")
		m := o.enc(after)
		res.Marker = &m
	}
	items, truncated, err := s.walkPage(rq.r.Context(), rq.bucket, o, after, "", func(v *store.Version) bool {
		return v.IsLatest && !v.IsDeleteMarker
	})
	if err != nil {
		return err
	}
	fetchOwner := !v2 || rq.q.Get("fetch-owner") == "true"
	res.Contents = make([]objectXML, 0, len(items))
	for _, it := range items {
		if it.v == nil {
			res.CommonPrefixes = append(res.CommonPrefixes, commonPrefixXML{Prefix: o.enc(it.prefix)})
			continue
		}
		ob := objectXML{Key: o.enc(it.v.Key), LastModified: xmlTimestamp(it.v.LastModified), ETag: listingETag(it.v.ETag),
			ChecksumAlgorithm: listingChecksumAlgorithms(it.v), Size: it.v.Size, StorageClass: listingStorageClass(it.v)}
		if fetchOwner {
			ob.Owner = listingOwner(it.v.Owner)
		}
		res.Contents = append(res.Contents, ob)
	}
	res.IsTruncated = truncated
	if truncated {
		last := items[len(items)-1]
		lastName := last.prefix
		if last.v != nil {
			lastName = last.v.Key
		}
		if v2 {
			res.NextContinuationToken = s.listToken(rq.bucket, lastName)
		} else if o.delimiter != "" {
			res.NextMarker = o.enc(lastName)
		}
	}
	if v2 {
		n := len(items)
		res.KeyCount = &n
	}
	return writeXML(rq, res)
}

// versionXML is a Version or DeleteMarker entry of ListObjectVersions (XMLName tells
// which), so that both kinds are rendered interleaved in listing order.
type versionXML struct {
	XMLName           xml.Name
	Key               string           `xml:"Key"`
	VersionID         string           `xml:"VersionId"`
	IsLatest          bool             `xml:"IsLatest"`
	LastModified      string           `xml:"LastModified"`
	ETag              *listingETagXML  `xml:"ETag,omitempty"`
	ChecksumAlgorithm []string         `xml:"ChecksumAlgorithm,omitempty"`
	Size              *int64           `xml:"Size,omitempty"`
	Owner             *listingOwnerXML `xml:"Owner"`
	StorageClass      string           `xml:"StorageClass,omitempty"`
}

// listVersionsResult is the ListObjectVersions answer.
type listVersionsResult struct {
	XMLName             xml.Name          `xml:"ListVersionsResult"`
	Xmlns               string            `xml:"xmlns,attr"`
	Name                string            `xml:"Name"`
	Prefix              string            `xml:"Prefix"`
	KeyMarker           string            `xml:"KeyMarker"`
	VersionIDMarker     string            `xml:"VersionIdMarker"`
	NextKeyMarker       string            `xml:"NextKeyMarker,omitempty"`
	NextVersionIDMarker string            `xml:"NextVersionIdMarker,omitempty"`
	MaxKeys             int               `xml:"MaxKeys"`
	Delimiter           string            `xml:"Delimiter,omitempty"`
	EncodingType        string            `xml:"EncodingType,omitempty"`
	IsTruncated         bool              `xml:"IsTruncated"`
	Versions            []versionXML      // element names from XMLName
	CommonPrefixes      []commonPrefixXML `xml:"CommonPrefixes"`
}

func (s *Server) listObjectVersions(rq *request) error {
	o, err := parseListOptions(rq.q, "max-keys")
	if err != nil {
		return err
	}
	keyMarker, versionMarker := rq.q.Get("key-marker"), rq.q.Get("version-id-marker")
	if versionMarker != "" && keyMarker == "" {
		return errf("InvalidArgument", http.StatusBadRequest, "A version-id marker cannot be specified without a key marker.")
	}
	res := listVersionsResult{Xmlns: s3Namespace, Name: rq.bucket, Prefix: o.enc(o.prefix), KeyMarker: o.enc(keyMarker),
		VersionIDMarker: versionMarker, MaxKeys: o.max, Delimiter: o.enc(o.delimiter), EncodingType: o.encodingType()}
	items, truncated, err := s.walkPage(rq.r.Context(), rq.bucket, o, keyMarker, versionMarker, func(*store.Version) bool { return true })
	if err != nil {
		return err
	}
	res.Versions = make([]versionXML, 0, len(items))
	for _, it := range items {
		if it.v == nil {
			res.CommonPrefixes = append(res.CommonPrefixes, commonPrefixXML{Prefix: o.enc(it.prefix)})
			continue
		}
		v := it.v
		e := versionXML{XMLName: xml.Name{Local: "Version"}, Key: o.enc(v.Key), VersionID: v.VersionID, IsLatest: v.IsLatest,
			LastModified: xmlTimestamp(v.LastModified), Owner: listingOwner(v.Owner)}
		if v.IsDeleteMarker {
			e.XMLName.Local = "DeleteMarker"
		} else {
			size := v.Size
			e.ETag, e.ChecksumAlgorithm, e.Size, e.StorageClass = listingETag(v.ETag), listingChecksumAlgorithms(v), &size, listingStorageClass(v)
		}
		res.Versions = append(res.Versions, e)
	}
	res.IsTruncated = truncated
	if truncated {
		last := items[len(items)-1]
		if last.v == nil {
			res.NextKeyMarker = o.enc(last.prefix)
		} else {
			res.NextKeyMarker, res.NextVersionIDMarker = o.enc(last.v.Key), last.v.VersionID
		}
	}
	return writeXML(rq, res)
}

// listedUploadXML is an Upload entry of ListMultipartUploads.
type listedUploadXML struct {
	Key          string           `xml:"Key"`
	UploadID     string           `xml:"UploadId"`
	Initiator    *listingOwnerXML `xml:"Initiator"`
	Owner        *listingOwnerXML `xml:"Owner"`
	StorageClass string           `xml:"StorageClass"`
	Initiated    string           `xml:"Initiated"`
}

// listUploadsResult is the ListMultipartUploads answer.
type listUploadsResult struct {
	XMLName            xml.Name          `xml:"ListMultipartUploadsResult"`
	Xmlns              string            `xml:"xmlns,attr"`
	Bucket             string            `xml:"Bucket"`
	KeyMarker          string            `xml:"KeyMarker"`
	UploadIDMarker     string            `xml:"UploadIdMarker"`
	NextKeyMarker      string            `xml:"NextKeyMarker,omitempty"`
	NextUploadIDMarker string            `xml:"NextUploadIdMarker,omitempty"`
	Delimiter          string            `xml:"Delimiter,omitempty"`
	Prefix             string            `xml:"Prefix"`
	MaxUploads         int               `xml:"MaxUploads"`
	EncodingType       string            `xml:"EncodingType,omitempty"`
	IsTruncated        bool              `xml:"IsTruncated"`
	Uploads            []listedUploadXML `xml:"Upload"`
	CommonPrefixes     []commonPrefixXML `xml:"CommonPrefixes"`
}

func (s *Server) listMultipartUploads(rq *request) error {
	o, err := parseListOptions(rq.q, "max-uploads")
	if err != nil {
		return err
	}
	keyMarker, idMarker := rq.q.Get("key-marker"), rq.q.Get("upload-id-marker")
	if keyMarker == "" {
		idMarker = "" // S3 ignores an upload-id-marker without a key-marker
	}
	all, err := s.store.ListUploads(rq.r.Context(), rq.bucket)
	if err != nil {
		return err
	}
	res := listUploadsResult{Xmlns: s3Namespace, Bucket: rq.bucket, KeyMarker: o.enc(keyMarker), UploadIDMarker: idMarker,
		Delimiter: o.enc(o.delimiter), Prefix: o.enc(o.prefix), MaxUploads: o.max, EncodingType: o.encodingType()}
	var (
		count           int
		lastKey, lastID string
		lastCP          string
		passedMarker    bool // the upload named by upload-id-marker was seen
	)
	for _, u := range all {
		if !strings.HasPrefix(u.Key, o.prefix) {
			continue
		}
		if keyMarker != "" {
			if u.Key < keyMarker {
				continue
			}
			if u.Key == keyMarker {
				// key-marker alone: uploads of later keys only; with upload-id-marker:
				// the uploads of key-marker after that one too.
				if idMarker == "" || !passedMarker {
					passedMarker = passedMarker || u.ID == idMarker
					continue
				}
			}
		}
		cp := o.commonPrefixOf(u.Key)
		if cp != "" && (cp == lastCP || (keyMarker != "" && cp <= keyMarker)) {
			continue
		}
		if o.max == 0 {
			break
		}
		if count == o.max {
			res.IsTruncated = true
			break
		}
		count++
		if cp != "" {
			res.CommonPrefixes = append(res.CommonPrefixes, commonPrefixXML{Prefix: o.enc(cp)})
			lastCP, lastKey, lastID = cp, cp, ""
			continue
		}
		sc := u.Meta.StorageClass
		if sc == "" {
			sc = "STANDARD"
		}
		res.Uploads = append(res.Uploads, listedUploadXML{Key: o.enc(u.Key), UploadID: u.ID, Initiator: listingOwner(u.Owner),
			Owner: listingOwner(u.Owner), StorageClass: sc, Initiated: xmlTimestamp(u.Initiated)})
		lastKey, lastID = u.Key, u.ID
	}
	if res.IsTruncated {
		res.NextKeyMarker, res.NextUploadIDMarker = o.enc(lastKey), lastID
	}
	return writeXML(rq, res)
}

// listTokenMACSize is the length of the MAC that prefixes a continuation token.
const listTokenMACSize = 12

// listTokenMAC authenticates a continuation token of bucket resuming after key, keyed by
// the journal ID (fixed for a data directory, so tokens survive restarts).
func (s *Server) listTokenMAC(bucket, after string) []byte {
	m := hmac.New(sha256.New, []byte("s3server list token "+s.store.JournalID()))
	m.Write([]byte(bucket))
	m.Write([]byte{0})
	m.Write([]byte(after))
	return m.Sum(nil)[:listTokenMACSize]
}

// listToken is the ListObjectsV2 continuation token resuming bucket's listing after key.
func (s *Server) listToken(bucket, after string) string {
	return base64.RawURLEncoding.EncodeToString(append(s.listTokenMAC(bucket, after), after...))
}

// parseListToken returns the key a continuation token resumes after; ok is false for a
// token this server did not issue for bucket (S3 answers InvalidArgument).
func (s *Server) parseListToken(bucket, token string) (after string, ok bool) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) < listTokenMACSize {
		return "", false
	}
	after = string(raw[listTokenMACSize:])
	return after, hmac.Equal(raw[:listTokenMACSize], s.listTokenMAC(bucket, after))
}
