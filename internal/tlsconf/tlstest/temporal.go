package tlstest

import (
	"context"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// frontend answers the only calls the Temporal SDK makes when it dials (the gRPC health
// check, GetSystemInfo): enough to check a TLS handshake and that calls go through it.
// Every other call is answered Unimplemented.
type frontend struct {
	workflowservice.UnimplementedWorkflowServiceServer
}

// GetSystemInfo answers an empty capability set.
func (frontend) GetSystemInfo(context.Context, *workflowservice.GetSystemInfoRequest) (*workflowservice.GetSystemInfoResponse, error) {
	return &workflowservice.GetSystemInfoResponse{ServerVersion: "tlstest"}, nil
}

// TemporalFrontend serves a stand-in of Temporal's frontend over TLS with a certificate
// of ca for "temporal.test" and 127.0.0.1 (mutual TLS when clientCAs is not nil), until
// the test ends, and returns its host:port. Temporal's dev server serves no TLS.
func TemporalFrontend(t testing.TB, ca, clientCAs *CA) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(ca.ServerConfig(t, clientCAs, "temporal.test", "127.0.0.1"))))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	workflowservice.RegisterWorkflowServiceServer(srv, frontend{})
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return ln.Addr().String()
}
