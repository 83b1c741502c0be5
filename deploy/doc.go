// Package deploy checks the Docker deployment files at the repository root —
// docker-compose.yml and the Dockerfile — without a Docker engine: the compose file is
// loaded and validated with the compose-spec loader (github.com/compose-spec/compose-go),
// and compared with what the commands really read and default to (their -h output), with
// the workflows package (task queue, search attributes) and with `make demo` (ports).
// The package has no code of its own; see compose_test.go.
package deploy
