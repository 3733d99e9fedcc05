package freeport

import (
	"net"
	"strconv"
	"testing"
)

func TestGetGivesAListenablePortOutsideTheEphemeralRange(t *testing.T) {
	lo, hi := outsideEphemeral()
	seen := map[int]bool{}
	for range 20 {
		port, err := Get()
		if err != nil {
			t.Fatal(err)
		}
		if port < lo || port >= hi {
			t.Fatalf("port %d outside [%d, %d)", port, lo, hi)
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			t.Fatalf("port %d: %v", port, err)
		}
		ln.Close()
		seen[port] = true
	}
	if len(seen) < 15 {
		t.Errorf("20 draws gave %d different ports", len(seen))
	}
}

// A port that is taken is not given: with 200 of the range's ports held,
// 200 unchecked draws would hit one about 98 times in 100.
func TestGetSkipsTakenPorts(t *testing.T) {
	lo, hi := outsideEphemeral()
	held := map[int]net.Listener{}
	for port := lo; port < lo+200 && port < hi; port++ {
		if ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
			held[port] = ln
		}
	}
	t.Cleanup(func() {
		for _, ln := range held {
			ln.Close()
		}
	})
	for range 200 {
		port, err := Get()
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := held[port]; ok {
			t.Fatalf("Get gave port %d, which the test holds", port)
		}
	}
}

// Servers are started after all their ports are drawn: two draws must never
// give the same port, though the first is not bound yet.
func TestGetNeverGivesAPortTwice(t *testing.T) {
	seen := map[int]bool{}
	for range 500 {
		port, err := Get()
		if err != nil {
			t.Fatal(err)
		}
		if seen[port] {
			t.Fatalf("port %d given twice", port)
		}
		seen[port] = true
	}
}
