// Package natstest runs an embedded NATS server with JetStream for tests, so
// that no test touches the machine's shared NATS.
package natstest

import (
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Start runs a JetStream-enabled NATS server on a random loopback port with
// its storage in a temporary folder, stops it when the test ends, and returns
// its client URL.
func Start(tb testing.TB) string {
	tb.Helper()
	s := StartServer(tb, tb.TempDir())
	return s.ClientURL()
}

// StartServer is Start with a chosen storage folder, so a test can stop the
// server and start another on the same data.
func StartServer(tb testing.TB, storeDir string) *server.Server {
	tb.Helper()
	return StartServerOn(tb, storeDir, server.RANDOM_PORT)
}

// StartServerOn is StartServer on a chosen port, so that a test can stop a
// server and start another where its clients reconnect to (read the port
// with Port before the first one stops).
func StartServerOn(tb testing.TB, storeDir string, port int) *server.Server {
	tb.Helper()
	s, err := server.NewServer(&server.Options{
		Host:      "127.0.0.1",
		Port:      port,
		JetStream: true,
		StoreDir:  storeDir,
		NoLog:     true,
		NoSigs:    true,
	})
	if err != nil {
		tb.Fatalf("natstest: new server: %v", err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		tb.Fatal("natstest: server not ready")
	}
	tb.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// Port returns the client port s listens on.
func Port(s *server.Server) int { return s.Addr().(*net.TCPAddr).Port }
