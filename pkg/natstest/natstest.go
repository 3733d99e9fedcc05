// Package natstest runs an embedded NATS server with JetStream for tests, so
// that no test touches the machine's shared NATS.
package natstest

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/supportdesk/supportdesk/pkg/freeport"
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

// Cluster is n JetStream servers on loopback routed to each other, each
// with its own storage; stopping one and starting it again (Restart) keeps
// its data and ports.
type Cluster struct {
	tb      testing.TB
	Servers []*server.Server
	opts    []*server.Options
}

// StartCluster runs a cluster of n servers and waits until it has a
// JetStream meta leader that sees all n online: a stream created at once
// with n replicas finds room for them. They stop when the test ends.
func StartCluster(tb testing.TB, n int) *Cluster {
	tb.Helper()
	c := &Cluster{tb: tb}
	routes := make([]string, n)
	ports := make([][2]int, n)
	for i := range n {
		ports[i] = [2]int{freePort(tb), freePort(tb)}
		routes[i] = fmt.Sprintf("nats://127.0.0.1:%d", ports[i][1])
	}
	for i := range n {
		c.opts = append(c.opts, &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1",
			Port:       ports[i][0],
			JetStream:  true,
			StoreDir:   tb.TempDir(),
			Cluster:    server.ClusterOpts{Name: "natstest", Host: "127.0.0.1", Port: ports[i][1]},
			Routes:     server.RoutesFromStr(strings.Join(routes, ",")),
			NoLog:      true,
			NoSigs:     true,
		})
		c.Servers = append(c.Servers, nil)
		c.Restart(i)
	}
	tb.Cleanup(func() {
		for i := range c.Servers {
			c.Stop(i)
		}
	})
	c.waitForPeers()
	return c
}

// URL is the client URL of every server, for a client to fail over.
func (c *Cluster) URL() string {
	urls := make([]string, len(c.opts))
	for i, o := range c.opts {
		urls[i] = fmt.Sprintf("nats://127.0.0.1:%d", o.Port)
	}
	return strings.Join(urls, ",")
}

// Stop stops server i.
func (c *Cluster) Stop(i int) {
	if s := c.Servers[i]; s != nil {
		s.Shutdown()
		s.WaitForShutdown()
		c.Servers[i] = nil
	}
}

// Restart starts server i again, on its ports and storage.
func (c *Cluster) Restart(i int) {
	c.tb.Helper()
	s, err := server.NewServer(c.opts[i].Clone())
	if err != nil {
		c.tb.Fatalf("natstest: new server: %v", err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		c.tb.Fatalf("natstest: server %d not ready", i+1)
	}
	c.Servers[i] = s
}

func (c *Cluster) waitForPeers() {
	c.tb.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, s := range c.Servers {
			// Only the leader answers; a peer counts once the leader
			// has its stats, which is when it can place a replica there.
			if s != nil && len(s.JetStreamClusterPeers()) == len(c.Servers) {
				return
			}
		}
	}
	c.tb.Fatalf("natstest: the cluster's JetStream leader did not see its %d servers in 30 s", len(c.Servers))
}

func freePort(tb testing.TB) int {
	tb.Helper()
	port, err := freeport.Get()
	if err != nil {
		tb.Fatal(err)
	}
	return port
}
