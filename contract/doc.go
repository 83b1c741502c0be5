// Package contract is the engine's contract: what the bridge, the starter, the
// activities and the worker share with the partition workflow (package workflows), the
// way Temporal's root package temporal is shared by clients and workers.
//
// It holds the names (task queue, default Kafka topic, workflow type and ID, signals,
// query, activities, Kafka headers), the payloads (Entry, EntriesSignal, the activities'
// inputs and outputs, Params with its Config and State, Status, the query's answer), the
// one error-kind enum (ErrorKind: the activities classify failures with it, its values
// are the application error types the workflow's retry policies list), the search
// attributes and the object key (ObjectKey: the Kafka message key, and the unit of
// per-object order in the workflow).
//
// Everything here is part of the wire format of running workflows: a renamed constant
// or a changed field breaks their histories (see package workflows, "Rules for changing
// this code"). The package does no I/O and imports neither Temporal nor Kafka nor S3, so
// that every part of the engine (ingest included) may import it; workflow code itself is
// only imported by the worker, which registers it.
package contract
