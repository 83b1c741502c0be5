package bbproto

import "fmt"

// Error codes of the privileged routes that callers act on (the others are S3's).
const (
	CodeJournalTruncated = "JournalTruncated" // 410: records were removed by retention
	CodeNotFound         = "NotFound"         // 404: no such route
	CodeMethodNotAllowed = "MethodNotAllowed" // 405: another method of a known route
	CodeInvalidArgument  = "InvalidArgument"  // 400: a bad parameter or header
	CodeMalformedJSON    = "MalformedJSON"    // 400: a body that is not the route's JSON

	// Codes of one item of PUT status (bulk) with IfUnset (backfill): nothing was written.
	CodeStatusAlreadySet = "StatusAlreadySet" // the version has a status (BulkStatusResult.Current)
	CodeNoMatchingRule   = "NoMatchingRule"   // PENDING asked, no Enabled rule selects the version
)

// Error is the JSON body of an error answer of a privileged route, with the HTTP status
// it came with: {"code":"...","message":"...","requestId":"..."}, plus, for a 410
// JournalTruncated, "after", "oldest" and "journalId".
type Error struct {
	// Status is the HTTP status (not in the body).
	Status    int    `json:"-"`
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"requestId,omitempty"`
	// After, Oldest and JournalID (410 JournalTruncated): the seq read after, the
	// oldest seq still kept, and the journal.
	After     uint64 `json:"after,omitempty"`
	Oldest    uint64 `json:"oldest,omitempty"`
	JournalID string `json:"journalId,omitempty"`
	// Route names the route that answered (not in the body; set by clients).
	Route string `json:"-"`
}

func (e *Error) Error() string {
	route := e.Route
	if route == "" {
		route = "backbeat"
	}
	if e.Status == 403 {
		return fmt.Sprintf("%s route refused the credentials (403 %s): use the account marked \"replication\" in s3server's accounts file: %s", route, e.Code, e.Message)
	}
	return fmt.Sprintf("%s route answered %d %s: %s", route, e.Status, e.Code, e.Message)
}
