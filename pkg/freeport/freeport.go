// Package freeport finds free TCP ports on the loopback interface, for the
// servers that tests and benchmarks start.
//
// A port the kernel picks (a listener on port 0) comes from the ephemeral
// range, which outgoing connections draw from too: between the probe's
// close and the server's bind, a client's connection to PostgreSQL or NATS
// may take it ("address already in use"). Ports here are drawn at random
// outside that range, where the kernel assigns none by itself.
package freeport

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
)

// given holds the ports Get handed out in this process: a port is never
// given twice, even when its first server has not bound it yet.
var given = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// Get returns a port that was free on 127.0.0.1 a moment ago, that no
// outgoing connection will be given and that Get has not returned before
// in this process.
func Get() (int, error) {
	lo, hi := outsideEphemeral()
	given.Lock()
	defer given.Unlock()
	for range 100 {
		port := lo + rand.IntN(hi-lo)
		if given.ports[port] {
			continue
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue // taken: draw again
		}
		ln.Close()
		given.ports[port] = true
		return port, nil
	}
	return 0, errors.New("freeport: 100 ports drawn outside the ephemeral range were all taken or given")
}

// outsideEphemeral returns the range [lo, hi) ports are drawn from: the
// 10 000 ports below the kernel's ephemeral range (Linux: 32768-60999, in
// /proc/sys/net/ipv4/ip_local_port_range), or above it when it starts low.
func outsideEphemeral() (lo, hi int) {
	first, last := 32768, 60999
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var f, l int
		if n, _ := fmt.Sscan(string(b), &f, &l); n == 2 && f <= l {
			first, last = f, l
		}
	}
	if first >= 11024 {
		return first - 10000, first
	}
	return last + 1, min(last+10001, 65536)
}
