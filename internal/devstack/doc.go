// Package devstack starts the real external processes of the system on 127.0.0.1 for
// tests of any package: ZooKeeper (Debian's zookeeper package, run standalone), the
// Kafka-protocol dev broker (cmd/devbroker, built once per test binary) and any other
// command (ingest, bridge, worker…) through the generic [Process]. Every helper takes a
// free port by default (tests of several packages run in parallel: never hard-code
// 2181 or 9092), keeps its data under t.TempDir(), waits for readiness by polling a
// real probe with a deadline, can kill -9 and restart on the same port with the same
// data, and cleans up with t.Cleanup (dumping the process's log tail when the test
// failed).
//
// The helpers that take a testing.TB and return no error (StartZooKeeper,
// StartBroker, and the Stop, Kill and Restart methods of [ZooKeeper] and [Broker])
// fail the test on error, so call them from the test's goroutine; the methods of
// [Process] return errors instead.
//
// Prerequisites: java and /usr/share/java/zookeeper.jar (scripts/deps.sh installs
// them), and the go command (to build cmd/devbroker). StartTemporal installs the
// Temporal CLI (scripts/temporal.sh) or, with TemporalPostgres, PostgreSQL and the
// Temporal server (scripts/temporal-postgres.sh) when missing. With -short, tests that need a
// missing ZooKeeper are skipped; without it they fail with advice.
package devstack
