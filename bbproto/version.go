package bbproto

import "time"

// ObjectMeta is what a client sets on a version: content headers, user metadata, tags.
type ObjectMeta struct {
	ContentType        string            `json:"contentType,omitempty"`
	ContentEncoding    string            `json:"contentEncoding,omitempty"`
	ContentDisposition string            `json:"contentDisposition,omitempty"`
	ContentLanguage    string            `json:"contentLanguage,omitempty"`
	CacheControl       string            `json:"cacheControl,omitempty"`
	Expires            string            `json:"expires,omitempty"`
	UserMetadata       map[string]string `json:"userMetadata,omitempty"` // keys lower-case, without x-amz-meta-
	Tags               map[string]string `json:"tags,omitempty"`
	StorageClass       string            `json:"storageClass,omitempty"`
	// Checksums holds the client-sent full-object checksums by algorithm
	// ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"), base64 as sent.
	Checksums map[string]string `json:"checksums,omitempty"`
}

// Part is one data segment of a version: a blob file of the server and its size.
type Part struct {
	Blob string `json:"blob"`
	Size int64  `json:"size"`
	ETag string `json:"etag"` // hex MD5 of the part, unquoted
}

// Version is the JSON of one object version or delete marker, as the version, status
// and replica routes answer it.
type Version struct {
	Bucket         string       `json:"bucket"`
	Key            string       `json:"key"`
	VersionID      string       `json:"versionId"` // "null" for the null version
	IsDeleteMarker bool         `json:"isDeleteMarker,omitempty"`
	Size           int64        `json:"size"`
	ETag           string       `json:"etag"` // unquoted: hex MD5, or "hex-N" for multipart
	LastModified   time.Time    `json:"lastModified"`
	Owner          string       `json:"owner"`
	Meta           ObjectMeta   `json:"meta"`
	Parts          []Part       `json:"parts,omitempty"`
	Replication    *Replication `json:"replication,omitempty"`
	// UploadID is the multipart upload a client completed into this version.
	UploadID string `json:"uploadId,omitempty"`
	// IsLatest tells whether it is the key's latest version (version and status routes).
	IsLatest *bool `json:"isLatest,omitempty"`
	// BucketOwner and JournalID (version route only) name the account owning the bucket
	// and the server's journal: the engine passes them on as the source of replicas
	// (HeaderSourceAccount, HeaderSourceJournal).
	BucketOwner string `json:"bucketOwner,omitempty"`
	JournalID   string `json:"journalId,omitempty"`
}

// ReplicationStatus is the version's replication status ("" without replication info).
func (v *Version) ReplicationStatus() Status {
	if v.Replication == nil {
		return ""
	}
	return v.Replication.Status
}

// StatusBody is the body of PUT status/BUCKET/KEY?versionId=V.
type StatusBody struct {
	Status Status `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// MaxBulkStatuses is the most statuses one PUT status (bulk) request may carry.
const MaxBulkStatuses = 1000

// BulkStatusBody is the body of PUT status (no bucket nor key in the path): the
// statuses of many versions, written in one store transaction, each as by PUT
// status/BUCKET/KEY (at most MaxBulkStatuses).
type BulkStatusBody struct {
	Statuses []BulkStatusItem `json:"statuses"`
}

// BulkStatusItem is one version's status in a BulkStatusBody.
type BulkStatusItem struct {
	Bucket    string `json:"bucket"`
	Key       string `json:"key"`
	VersionID string `json:"versionId"`
	Status    Status `json:"status"`
	Reason    string `json:"reason,omitempty"`
	// IfUnset writes the status only when the version has none (backfill: PENDING for
	// what was written before replication was set up), and PENDING only when an Enabled
	// replication rule of the bucket selects the version. Otherwise nothing is written
	// and the result's Code is CodeStatusAlreadySet (with Current) or
	// CodeNoMatchingRule. Default false: the status is written whatever the version had.
	IfUnset bool `json:"ifUnset,omitempty"`
}

// BulkStatusAnswer is the answer of PUT status (bulk): one result per item, in the
// request's order.
type BulkStatusAnswer struct {
	Results []BulkStatusResult `json:"results"`
}

// BulkStatusResult is what was done to one version: Status and LastModified when it
// was written, Code and Message (the single route's error codes) when not.
type BulkStatusResult struct {
	Bucket       string    `json:"bucket"`
	Key          string    `json:"key"`
	VersionID    string    `json:"versionId"`
	Status       Status    `json:"status,omitempty"`
	LastModified time.Time `json:"lastModified,omitzero"`
	Code         string    `json:"code,omitempty"`
	Message      string    `json:"message,omitempty"`
	// Current is the status the version already had (Code CodeStatusAlreadySet).
	Current Status `json:"current,omitempty"`
}

// UploadBody is the answer of POST replica/BUCKET/KEY?uploads.
type UploadBody struct {
	UploadID string `json:"uploadId"`
}

// UploadPart is a part in the JSON of the multipart replica routes: the answer of a
// part upload, an element of the part list and of the complete's body.
type UploadPart struct {
	Number       int        `json:"number"`
	ETag         string     `json:"etag"`
	Size         int64      `json:"size,omitempty"`
	LastModified *time.Time `json:"lastModified,omitempty"`
}

// PartList is the answer of GET replica/BUCKET/KEY?uploadId=U.
type PartList struct {
	UploadID string       `json:"uploadId"`
	Parts    []UploadPart `json:"parts"`
}

// CompleteBody is the body of POST replica/BUCKET/KEY?uploadId=U.
type CompleteBody struct {
	Parts []UploadPart `json:"parts"`
}
