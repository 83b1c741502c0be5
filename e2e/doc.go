// Package e2e holds the end-to-end tests of the whole data path: objects written to a
// source s3server travel through ingest, Kafka (the dev broker), the bridge and the
// partition workflows to a target, with every process separate and real
// (internal/enginetest). The tests kill and restart the engine's processes and its
// dependencies (worker, bridge, ingest, Temporal, the target) and check that the target
// ends up equal to the source; the side-by-side benchmark (`make bench`) lives here too.
// The package has no code of its own outside its tests.
package e2e
