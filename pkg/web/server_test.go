package web_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/supportdesk/supportdesk/pkg/web"
)

func TestServerTimeouts(t *testing.T) {
	srv := web.NewServer(":0", http.NotFoundHandler())
	for name, d := range map[string]time.Duration{
		"ReadHeaderTimeout": srv.ReadHeaderTimeout, "ReadTimeout": srv.ReadTimeout,
		"WriteTimeout": srv.WriteTimeout, "IdleTimeout": srv.IdleTimeout,
	} {
		if d <= 0 || d > 2*time.Minute {
			t.Errorf("%s = %v, want a bound", name, d)
		}
	}
	if srv.ReadHeaderTimeout > 10*time.Second {
		t.Errorf("ReadHeaderTimeout %v lets a slow client hold a connection too long", srv.ReadHeaderTimeout)
	}
}

// TestServeDropsSlowClients sends half a request header and waits: the
// server hangs up once ReadHeaderTimeout has passed.
func TestServeDropsSlowClients(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- web.Serve(ctx, addr, http.NotFoundHandler(), time.Second, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve = %v", err)
		}
	}()

	var conn net.Conn
	for range 50 {
		if conn, err = net.Dial("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if conn == nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	_, err = bufio.NewReader(conn).ReadByte()
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the server kept a half-sent request open for 15 s")
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the server hung up after %v", took)
	}
}

// TestServeBoundsHeaders: a request whose headers pass MaxHeaderBytes (a
// megabyte User-Agent, say) is refused with 431 before any handler runs;
// one under it is served.
func TestServeBoundsHeaders(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	var handled atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { handled.Add(1) })
	go func() { done <- web.Serve(ctx, addr, h, time.Second, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve = %v", err)
		}
	}()
	get := func(ua string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
		req.Header.Set("User-Agent", ua)
		for range 50 {
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
				return resp.StatusCode
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatal("the server does not answer")
		return 0
	}
	if code := get(strings.Repeat("a", 1<<20)); code != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("a megabyte of headers = %d, want 431", code)
	}
	if code := get(strings.Repeat("a", 4<<10)); code != http.StatusOK {
		t.Errorf("4 KiB of headers = %d, want 200", code)
	}
	if n := handled.Load(); n != 1 {
		t.Errorf("the handler ran %d times, want once", n)
	}
}
