package bbproto

import "time"

// PendingVersion is a version whose replication waits (PENDING or PROCESSING), as the
// pending route lists it.
type PendingVersion struct {
	Bucket         string    `json:"bucket"`
	Key            string    `json:"key"`
	VersionID      string    `json:"versionId"`
	IsDeleteMarker bool      `json:"isDeleteMarker,omitempty"`
	LastModified   time.Time `json:"lastModified"`
	Status         Status    `json:"status"`
	// StatusTime is the stored Replication.StatusTime (zero when not recorded): sent
	// back to the redrive route so that a version changed since is left alone.
	StatusTime time.Time `json:"statusTime,omitzero"`
	// Since is when the version started waiting: Replication.PendingSince, else
	// StatusTime, else LastModified (versions written before those were recorded).
	// Re-drives do not reset it.
	Since time.Time `json:"since"`
}

// PendingPage is one page of the pending route.
type PendingPage struct {
	// Versions waiting for longer than olderThan, in bucket, key, newest-version order.
	Versions []PendingVersion `json:"versions"`
	// Oldest is, per bucket, the Since of the longest-waiting PENDING or PROCESSING
	// version examined by this page (whatever olderThan), and Waiting their count.
	Oldest  map[string]time.Time `json:"oldest"`
	Waiting map[string]int       `json:"waiting"`
	// Scanned counts the versions examined: the waiting ones (PENDING or PROCESSING,
	// whatever olderThan), read from s3server's index of waiting versions.
	Scanned int `json:"scanned"`
	// Next continues the listing (the after of the next call); "" when done.
	Next string `json:"next,omitempty"`
}

// MaxRedrive is the most versions one redrive request may name.
const MaxRedrive = 1000

// RedriveRef names a waiting version to re-drive, as the pending route listed it.
type RedriveRef struct {
	Bucket    string `json:"bucket"`
	Key       string `json:"key"`
	VersionID string `json:"versionId"`
	// StatusTime is PendingVersion.StatusTime: the version is re-driven only if its
	// status time is still that (zero matches a version without one).
	StatusTime time.Time `json:"statusTime,omitzero"`
}

// RedriveBody is the body of POST redrive.
type RedriveBody struct {
	Versions []RedriveRef `json:"versions"`
}

// Outcomes of a re-drive (RedriveResult.Outcome).
const (
	RedriveDone    = "redriven" // journaled PENDING again
	RedriveChanged = "changed"  // no longer waiting, or its status was written since
	RedriveGone    = "gone"     // the bucket, key or version is gone
)

// RedriveResult is what the redrive route did to one version.
type RedriveResult struct {
	Bucket    string `json:"bucket"`
	Key       string `json:"key"`
	VersionID string `json:"versionId"`
	Outcome   string `json:"outcome"`
}

// RedriveAnswer is the answer of POST redrive: one result per version, in order.
type RedriveAnswer struct {
	Results []RedriveResult `json:"results"`
}

// Ref names v for the redrive route.
func (v PendingVersion) Ref() RedriveRef {
	return RedriveRef{Bucket: v.Bucket, Key: v.Key, VersionID: v.VersionID, StatusTime: v.StatusTime}
}

// CountOutcomes adds the outcomes of results to the counts of re-driven, changed and
// gone versions, and returns them.
func CountOutcomes(results []RedriveResult, redriven, changed, gone int) (int, int, int) {
	for _, r := range results {
		switch r.Outcome {
		case RedriveDone:
			redriven++
		case RedriveChanged:
			changed++
		default:
			gone++
		}
	}
	return redriven, changed, gone
}
