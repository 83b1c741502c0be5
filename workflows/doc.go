// Package workflows is the per-partition replication workflow: one long-lived Temporal
// workflow per Kafka partition of the replication topic replays that partition's
// entries as activity calls: several objects at once, the versions of one object one
// after another in arrival (journal) order.
//
// # Who talks to it
//
// The names and payloads this documentation cites (WorkflowID, WorkflowName, TaskQueue,
// the signals, QueryStatus, the activities, Params, Entry, Config, State, Status, the
// error kinds, the search attributes) are those of package contract, which the bridge,
// the starter and the activities import; only the worker imports this package, to
// register PartitionWorkflow.
//
// The bridge sends each claimed partition's messages with SignalWithStartWorkflow:
// workflow ID WorkflowID(topic, partition) ("backbeat-replication/<topic>/<partition>"),
// type WorkflowName, task queue TaskQueue, input Params{Topic, Partition}, signal
// SignalEntries with an EntriesSignal (at most MaxEntriesPerSignal contiguous entries).
// It commits the Kafka offset once Temporal accepted the signal, and reads QueryStatus
// to keep each partition's Status.Backlog under DefaultHighWater (and
// Status.BacklogBytes under DefaultHighWaterBytes). The worker registers
// PartitionWorkflow under WorkflowName and the activities under ActivityReplicate and
// ActivitySetStatus; the starter CLI sends SignalPause / SignalResume and reads
// QueryStatus.
//
// # State machine
//
// The State (queue, next expected offset, paused flag, counters, last error) is one
// serializable struct, carried whole across ContinueAsNew. One coroutine runs the loop
// below, waiting in a selector on the three signal channels, the activities in flight
// and cancellation; signals are handled while activities run. Each entry goes through
// this chain on its own:
//
//	            entries signal: already accepted → dropped (Duplicates; see Deduplication)
//	                            other topic/partition → dropped (Misrouted, LastError)
//	                            else → appended to Queue, position recorded
//
//	queued ── not paused, a place in the window, no earlier entry of its object left
//	  │       (see "The window" below)
//	  ▼
//	record PENDING? ──no── version PENDING but op not replicable ──► set FAILED "not replicable: …"
//	  │ yes          └── not PENDING / no version ──► skipped (no S3 work) ───┐
//	  ▼                                                                      │
//	ReplicateVersion (Config.Retry) ─ok─► SetReplicationStatus COMPLETED ────┤
//	  │ ▲ burst failed retryably: waits (State.Retries), timer, next burst   │
//	  │ └─ (out of the window; until Config.RetryBudget, see "Retries")      │
//	  │ failed for good (budget spent or non-retryable)                      │
//	  ├─ NoSuchVersion (source version gone) ──► skipped, no status ─────────┤
//	  └──────────────► SetReplicationStatus FAILED, reason = the error ──────┤
//	                   (Config.StatusRetry bursts, retried without end)      ▼
//	                                                     finished: leaves the Queue
//
// An entry leaves the queue only when its status is written (or it is skipped), so a
// version never stays PENDING because of the workflow (BB-826): an unreplicable entry
// ends FAILED with its reason and the queue moves on; FAILED versions are retried by
// `starter failed retry`, which makes them PENDING again (a "status" record that ingest
// forwards and this workflow replicates like any other). Metadata-only entries
// (replication content ["METADATA"]) go to the same activity, which decides what to
// copy. Records that ingest should have filtered are handled defensively: a version
// whose record says PENDING but whose op cannot be replicated (e.g. delete-version) is
// marked FAILED "not replicable: …"; a record that is not PENDING (e.g. an op "status"
// to COMPLETED, or no replication info) is counted as Skipped and left alone, since
// writing FAILED there would overwrite a status that is not the workflow's to change.
//
// # The window: concurrency with per-object order
//
// The ordering guarantee is FIFO per object (bucket and key), not per partition: ingest
// puts every version of a key in the same partition, in journal order. Up to
// Config.MaxConcurrent entries (default 8) are in flight at once. Whenever there is room
// (an entry finished, a signal brought entries, a resume), the loop scans the queue in
// arrival order (offset order, but after an offset reset) and starts the first entry
// that is not in flight and whose object has no earlier entry still queued or in
// flight; it repeats until the window is full or no entry qualifies. So an object's
// versions run strictly one after another, in journal order — a version whose replication is retried, then marked FAILED, holds back that
// object's later versions until its status is written, and no other object — while
// different objects overlap and may finish out of offset order. MaxConcurrent 1 is
// strictly sequential: the head entry, then the next. Skipped entries take no place.
// The in-flight entries are kept in queue order and their futures are added to the
// selector in that order; the map used by the scan only answers membership. The window
// bounds what one partition asks of the worker (activity slots, source and target
// connections); a hot key (one object rewritten again and again) still goes one version
// at a time.
//
// With batches (batch.go), the window counts a batch as one activity. Runs begun after
// the "partial-batches" change also bound the partial batches in flight
// (Config.PartialBatches, default 2): with that many running, new entries wait for one of
// them to finish (and go together in the next batch) unless they fill a batch. Idle, an
// entry starts at once; under load the batches grow instead of multiplying, and the
// Temporal server, whose work is per activity and per workflow task, keeps up.
//
// SignalPause stops the loop from starting entries (the ones in flight finish, their
// whole chain); SignalResume lets it start them again. The paused flag is part of the
// State. Pause and resume are separate signal channels, so two of them sent at the same
// moment have no defined order: send one, read Status.Paused, then send the other.
//
// # Retries
//
// Durable retries (runs begun after the "durable-retry" change; retry.go): a phase
// (replication, status write) first runs as one activity with its Temporal policy — a
// short burst (Config.Retry: 1 s, ×2, 3 retries; Config.StatusRetry: 4 retries). When
// the burst fails retryably the entry leaves the window and waits (State.Retries,
// Status.Waiting): the loop keeps ONE timer for the earliest wake-up of all waiting
// entries, and the entry's next attempt — a single attempt per activity — comes after
// the same backoff continued (8, 16, 32 s... capped at MaximumInterval, 5 min). Other
// objects' entries go on meanwhile; only the same object's later versions wait. A
// replication is retried until Config.RetryBudget (24 h) has passed since its first
// failure, then marked FAILED "… (gave up after N attempts over D)"; a status write is
// retried without end (a version must not stay PENDING). History grows by one activity
// per attempt of a waiting entry and one timer per retry period, and the retry state is
// carried across ContinueAsNew, so a day-long outage stays far below the history limit.
//
// Circuit breakers (State.Breakers, Status.Breakers): each target — "site:<name>" of
// the rule, "source" for status writes — counts consecutive failed bursts; at
// Config.BreakerThreshold (5) it opens: the target's entries wait (their budget counting
// from the first hold) while one probe entry at a time runs when the probe is due (the
// backoff continued); probes rotate among the waiting entries. A success, or a
// non-retryable answer (the target is reachable), closes it and its entries are due at
// once; a failed probe past the budget marks the held entries FAILED.
//
// Configuration: a run reads the worker's configuration (local activity
// ActivityWorkflowConfig; bin/worker's --retry-*, --retries, --retry-budget,
// --breaker-threshold, --max-concurrent) when it starts, so after every ContinueAsNew:
// the fields it sets override Params.Config, which is carried as received. Status.Config
// shows the configuration in effect.
//
// Runs begun before the change (DefaultVersion) keep the rules below until they
// continue as new.
//
// ActivityReplicate retries server-side with Config.Retry (the old defaults: 1 s,
// ×1.5, at most 300 s, 5 retries = 6 attempts; StartToClose Config.ActivityTimeout
// (1 h), heartbeat timeout Config.HeartbeatTimeout (60 s)), so heartbeat details of one
// attempt (finished multipart parts) reach the next one and a retry resumes instead of
// starting over. The error types of ReplicateNonRetryableErrorTypes (AccessDenied,
// InvalidConfig, NoSuchBucket, NoSuchVersion, InvalidEntry, NonRetryable) fail at once,
// as does any error the activity marks non-retryable. The FAILED reason is the error's
// type (when one of those) and message, plus "(not retried)" or "(gave up after N
// attempts)". The attempt number and last failure of the activity in flight are shown
// by the Web UI and `temporal workflow describe` (pending activities), not by the
// workflow, which only sees the final outcome.
//
// ActivitySetStatus is not optional — skipping it would leave the version PENDING —
// so before durable retries it retried forever inside one activity (Config.StatusRetry
// then: 1 s, ×2, capped at 60 s, unlimited attempts; StartToClose 30 s): while the source endpoint is down the
// partition waits rather than moves on. Only SetStatusNonRetryableErrorTypes (no such
// bucket or version: nothing left to mark, or NonRetryable) end it; the entry is then
// counted in StatusErrors besides Completed/Failed, with LastError set.
//
// The status write (a small PUT, a few ms) runs as a local activity by default
// (Config.LocalStatus): called by its registered name ActivitySetStatus, it runs in the
// worker that runs the workflow task, which saves an activity task and a workflow task
// dispatch per entry; its result is a marker in the history. Same StartToClose
// (StatusTimeout), same policy (StatusRetry) and no ScheduleToClose in effect (the SDK
// would otherwise stop retrying after StatusTimeout): the SDK retries in the worker while
// the backoff fits in the workflow task timeout (10 s; the workflow task is kept open
// meanwhile, so other entries wait for it too), then with a workflow timer per retry.
// Its attempts are not listed as pending activities. Config.LocalStatus false runs it as
// a regular activity. The choice is guarded by workflow.GetVersion ("local-status"): a
// run whose history began before keeps the regular activity until it continues as new.
//
// # Deduplication
//
// Kafka delivery is at least once and SignalWithStart does not dedupe (BB-441): after a
// rebalance or a crash the bridge re-sends entries from its last committed offset. Each
// entry carries its journal position (Entry.JournalID, Entry.Seq: the headers ingest
// sets); the workflow keeps the highest accepted seq of each journal ID
// (State.JournalSeqs) and drops every entry at or below it, within one signal and across
// signals and runs. Kafka offsets play no part, so offsets that restart from 0 (a
// recreated topic, `docker compose down`) lose nothing and replay nothing; the queue is
// kept in arrival order (an object's new version, at a low offset, waits for its older
// one still queued at a high offset). An entry without a journal position (a bridge that
// predates them) is deduped by offset: dropped below NextOffset (one past the last
// accepted offset). The rule is guarded by workflow.GetVersion ("journal-dedupe"): a run
// whose history began before dedupes every entry by offset until it continues as new.
//
// Replay tests (replay_test.go) replay histories recorded on a real Temporal server
// (testdata/histories: v1 the code before the journal dedupe, v2 with it, v3 durable
// retries, v4 batches and the dedupe of held versions, v5 the bound on partial batches);
// record new ones with
// BACKBEAT_RECORD_HISTORIES=<version> go test -run TestRecordHistories/<scenario>.
//
// # ContinueAsNew and limits
//
// A run continues as new when Temporal suggests it (history size or length), after
// Config.ContinueAsNewAfter processed entries (1000) or after Config.MaxSignalsPerRun
// signals (5000, half of Temporal's 10 000 signals per run) — never with an activity in
// flight. Once it is due, no entry starts (a window kept full would postpone it
// forever); the entries in flight finish (so a run may process up to
// ContinueAsNewAfter + MaxConcurrent − 1 entries), signals keep being accepted. When
// none is left in flight, the run drains every signal already delivered with
// ReceiveAsync — a signal left in a channel would be lost with the run — then passes
// Params{Topic, Partition, Config, State} to the new run: the carried queue holds only
// unfinished entries, none of them started. Setting Config.ContinueAsNewAfter to 1
// forces a ContinueAsNew after every entry on any server; the testsuite's
// SetContinueAsNewSuggested exercises the suggestion.
//
// Payloads are limited by Temporal to 2 MB each. A journal record is at most ~8 KB of
// JSON (1 KB key, 2 KB user metadata, 10 tags), so a signal of MaxEntriesPerSignal (100)
// entries stays under 1 MB. The carried State holds the backlog, which the workflow
// never trims or drops: the bridge keeps it below DefaultHighWater entries (500) and
// DefaultHighWaterBytes (512 KiB) by pausing the partition's consumption, so it
// normally carries a few hundred KB. If it grows past Config.MaxCarryBytes (1 MiB)
// anyway, ContinueAsNew is postponed (with a warning) and entries keep starting until
// enough are done; the history limit (50 MB / 51 200 events) leaves ample room for that.
//
// # Visibility
//
// QueryStatus answers a Status: backlog (the entries in flight included) and its bytes,
// the entries in flight (InFlight, in queue order, each with its phase; Current is the
// oldest of them), counters since the first run, last error, paused, last accepted
// offset, run number. The search attributes of SearchAttributes() (BackbeatPartition,
// BackbeatTopic, BackbeatBacklog, BackbeatPaused, BackbeatProcessed) let the Web UI list
// e.g. `BackbeatPaused = true` or `BackbeatBacklog > 100`; they are upserted only when
// they changed, only after an entry started or finished, on pause/resume or while idle —
// never for a signal received while entries are in flight — and only when the loop is
// about to wait, so the completions and signals handled in one workflow task make one
// upsert: at most about one upsert (one history event) per entry, and BackbeatBacklog can
// lag the query. The namespace must define them (`temporal server start-dev
// --search-attribute BackbeatPartition=Int …`), or Config.DisableSearchAttributes must be
// set: an upsert of an unknown attribute fails every workflow task.
// workflow.SetCurrentDetails shows a one-line summary in the Web UI: "partition 3 of
// backbeat-replication · backlog 12 · processed 340 · failed 1 · now: `bucket/key@version`
// (replicate since …)", or with several in flight "now: 5 in flight: `b/k@v` (replicate
// since …), … , +2 more" (the three oldest, names trimmed).
//
// # Rules for changing this code
//
// The workflow is deterministic: no I/O, no clocks but workflow.Now, no goroutines but
// the selector loop, no map iteration, logs through workflow.GetLogger. A change to the
// commands it issues (activities, their order or options, upserts) must be guarded with
// workflow.GetVersion once released, or running histories stop replaying. The window was
// introduced before any release, without a version marker; from now on any change to
// which entries start and when (the scan, the per-object rule, MaxConcurrent's default
// or meaning, the ContinueAsNew drain, the upsert timing) must use workflow.GetVersion. Do not cancel
// or terminate a partition workflow: its queued entries (whose Kafka offsets are
// committed) would stay PENDING until `starter backfill`; pause it instead.
package workflows
