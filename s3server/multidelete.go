package s3server

import (
	"encoding/xml"
	"errors"
	"net/http"
	"unicode/utf8"

	"github.com/backbeat-temporal/backbeat/s3server/store"
)

// maxDeleteObjects is the largest number of keys of one DeleteObjects request.
const maxDeleteObjects = 1000

// deleteRequest is the DeleteObjects body.
type deleteRequest struct {
	XMLName xml.Name `xml:"Delete"`
	Quiet   bool     `xml:"Quiet"`
	Objects []struct {
		Key       string `xml:"Key"`
		VersionID string `xml:"VersionId"`
	} `xml:"Object"`
}

// deleteResult is the DeleteObjects answer.
type deleteResult struct {
	XMLName xml.Name         `xml:"DeleteResult"`
	Xmlns   string           `xml:"xmlns,attr"`
	Deleted []deletedXML     `xml:"Deleted"`
	Errors  []deleteErrorXML `xml:"Error"`
}

type deletedXML struct {
	Key                   string `xml:"Key"`
	VersionID             string `xml:"VersionId,omitempty"`
	DeleteMarker          bool   `xml:"DeleteMarker,omitempty"`
	DeleteMarkerVersionID string `xml:"DeleteMarkerVersionId,omitempty"`
}

type deleteErrorXML struct {
	Key       string `xml:"Key"`
	VersionID string `xml:"VersionId,omitempty"`
	Code      string `xml:"Code"`
	Message   string `xml:"Message"`
}

// deleteObjects serves DeleteObjects (POST ?delete): each key is deleted as DeleteObject
// would, in the order given; failures are reported per key.
func (s *Server) deleteObjects(rq *request) error {
	data, err := readBucketBody(rq, maxDeleteBody)
	if err != nil {
		return err
	}
	var in deleteRequest
	if err := xml.Unmarshal(data, &in); err != nil {
		return errMalformedXML
	}
	if len(in.Objects) == 0 || len(in.Objects) > maxDeleteObjects {
		return errMalformedXML
	}
	out := deleteResult{Xmlns: s3Namespace}
	for _, ob := range in.Objects {
		res, err := s.deleteObjectOfMany(rq, ob.Key, ob.VersionID)
		if err != nil {
			ae := toAPIError(err)
			if ae == errInternal {
				s.log.Error("internal error in DeleteObjects", "bucket", rq.bucket, "key", ob.Key, "versionId", ob.VersionID, "requestId", rq.id, "err", err)
			}
			out.Errors = append(out.Errors, deleteErrorXML{Key: ob.Key, VersionID: ob.VersionID, Code: ae.Code, Message: ae.Message})
			continue
		}
		if in.Quiet {
			continue
		}
		d := deletedXML{Key: ob.Key, VersionID: ob.VersionID}
		if res.DeleteMarker {
			d.DeleteMarker = true
			d.DeleteMarkerVersionID = res.VersionID
		}
		out.Deleted = append(out.Deleted, d)
	}
	return writeXML(rq, out)
}

func (s *Server) deleteObjectOfMany(rq *request, key, versionID string) (store.DeleteResult, error) {
	switch {
	case key == "":
		return store.DeleteResult{}, errf("UserKeyMustBeSpecified", http.StatusBadRequest, "The request was missing a required key.")
	case len(key) > store.MaxKeyLength:
		return store.DeleteResult{}, errf("KeyTooLongError", http.StatusBadRequest, "Your key is too long")
	case !utf8.ValidString(key):
		return store.DeleteResult{}, errInvalidURI
	}
	if versionID != "" {
		if _, err := checkVersionID(versionID); err != nil {
			return store.DeleteResult{}, err
		}
		if err := s.checkVersionKnown(rq, key, versionID); err != nil {
			return store.DeleteResult{}, err
		}
	}
	res, err := s.store.DeleteObject(rq.r.Context(), rq.bucket, key, versionID)
	if errors.Is(err, store.ErrInvalidKey) {
		return res, errf("InvalidArgument", http.StatusBadRequest, "Invalid key: %v", err)
	}
	return res, err
}
