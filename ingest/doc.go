// Package ingest is the queue populator: it tails s3server's metadata journal, keeps the
// records whose replication status is PENDING, produces them to the Kafka topic
// backbeat-replication (key bucket/key, so every version of an object lands in one
// partition, in journal order) and, only once Kafka acknowledged a batch, stores the
// journal offset in ZooKeeper. One ingest is active per journal (a ZooKeeper lock); others
// wait and take over. Delivery is at-least-once: downstream dedupes.
//
// # ZooKeeper znodes
//
// All paths are under Config.ZKChroot (default /backbeat; the Go client has no chroot, so
// ingest prefixes the paths itself):
//
//   - /queue-populator/logState/<journalID>/logOffset holds the seq of the last journal
//     record ingest is done with (every PENDING record up to it is in Kafka), as the
//     decimal ASCII of the number with nothing else (e.g. "1234"); "0" means nothing
//     read yet. It is created with "0" when missing and written only by the lock holder,
//     with a compare-and-set on the znode version. To replay the journal from seq N+1,
//     stop every ingest and set it to N.
//   - /queue-populator/leader/<journalID>/ holds the lock: one ephemeral sequential child
//     per ingest process; the lowest is the active ingest, the others are in standby.
//
// The journal ID comes from s3server (made with its data directory), so a new data
// directory never inherits an old offset.
//
// # Kafka messages
//
// Each PENDING record is one message of Config.Topic: key bucket/key (see MessageKey),
// value the journal record as JSON, headers contract.HeaderJournalID and contract.HeaderSeq. The topic is
// created with Config.Partitions partitions when missing; an existing topic is used as
// it is.
//
// # Batches and failures
//
// A batch is what one journal read returns: at most Config.BatchSize records, never
// waiting to fill up (the read long-polls, up to Config.PollWait, only when nothing is
// new). The PENDING records of a batch are produced with acks=all by an idempotent
// producer, then the offset is stored. A crash between the two sends that batch again:
// duplicates are bounded by one batch per failure, and per key the first occurrences
// stay in journal order. An error ends the leadership term (the lock is released) and
// ingest starts a new one after a backoff; only a journal truncated past the stored
// offset stops it (the operator must backfill).
//
// ingest knows nothing of Temporal nor of the replication work itself.
package ingest
