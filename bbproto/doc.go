// Package bbproto is the wire protocol between s3server and the replication engine: the
// journal record, the JSON of a version, the replication statuses, operations and
// content kinds, the routes under /_/backbeat/ and their headers, the JSON error body and
// the escaping of keys in route paths. It is the one definition both sides import (as
// franz-go's kmsg is for a Kafka client and a fake broker): s3server imports no other
// code of the engine, and the engine no code of s3server.
//
// It imports only the standard library and does no I/O, so the workflow code may use
// its types. The signed client of the routes is package bbproto/bbclient. The route
// table, with each route's parameters and answers, is in s3server/backbeat.go.
package bbproto
