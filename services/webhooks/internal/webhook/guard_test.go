package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/supportdesk/supportdesk/pkg/fault"
)

func TestRefused(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1": true, "127.8.9.10": true, "::1": true, // loopback
		"10.1.2.3": true, "172.16.0.1": true, "192.168.1.1": true, "fd00::1": true, // private
		"169.254.169.254": true, "fe80::1": true, // link-local (cloud metadata)
		"224.0.0.1": true, "ff02::1": true, "ff01::1": true, // multicast
		"0.0.0.0": true, "::": true, "0.1.2.3": true, // unspecified, "this network"
		"100.64.0.1": true, "255.255.255.255": true, // shared address space, broadcast
		"::ffff:10.0.0.1": true, "::ffff:127.0.0.1": true, "64:ff9b::a00:1": true, // IPv4 in IPv6
		"203.0.113.7": false, "198.51.100.1": false, "2001:db8::1": false, "93.184.215.14": false, // public (documentation ranges)
	} {
		if got := Refused(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Refused(%s) = %t, want %t", addr, got, want)
		}
	}
}

// fakeResolver answers from a table: no DNS traffic leaves the test.
type fakeResolver map[string][]netip.Addr

func (r fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if addrs, ok := r[host]; ok {
		return addrs, nil
	}
	return nil, errors.New("no such host")
}

func TestCheckURL(t *testing.T) {
	g := Guard{Resolver: fakeResolver{
		"hooks.example.com": {netip.MustParseAddr("203.0.113.7")},
		"intranet.example":  {netip.MustParseAddr("10.0.0.8")},
		"split.example.com": {netip.MustParseAddr("203.0.113.8"), netip.MustParseAddr("192.168.0.9")},
		"metadata.example":  {netip.MustParseAddr("169.254.169.254")},
		"localhost.example": {netip.MustParseAddr("::1")},
	}}
	ctx := context.Background()
	for _, ok := range []string{"https://hooks.example.com/support", "http://203.0.113.7:8080/x?y=1", "https://[2001:db8::1]/h"} {
		if _, err := g.CheckURL(ctx, ok); err != nil {
			t.Errorf("CheckURL(%q) = %v, want accepted", ok, err)
		}
	}
	for raw, want := range map[string]string{
		"http://10.0.0.1/hook":                               "10.0.0.1",
		"http://127.0.0.1:8080/":                             "127.0.0.1",
		"http://[::1]/":                                      "::1",
		"http://169.254.169.254/latest/":                     "169.254.169.254",
		"http://[::ffff:192.168.1.1]/":                       "192.168.1.1",
		"http://0.0.0.0/":                                    "0.0.0.0",
		"https://intranet.example/":                          "10.0.0.8",
		"https://split.example.com/":                         "192.168.0.9", // one bad address is enough
		"https://metadata.example/":                          "169.254.169.254",
		"https://localhost.example/":                         "::1",
		"https://nowhere.example/":                           "does not resolve",
		"ftp://hooks.example.com/":                           "http or https",
		"/relative":                                          "http or https",
		"https://user:pw@hooks.example.com/":                 "credentials",
		"https://hooks.example.com/#frag":                    "fragment",
		"https://" + strings.Repeat("a", 2000) + ".example/": "at most",
	} {
		_, err := g.CheckURL(ctx, raw)
		fe, isFault := errors.AsType[*fault.Error](err)
		if !isFault || len(fe.Fields) != 1 || fe.Fields[0].Field != "url" || !strings.Contains(fe.Fields[0].Message, want) {
			t.Errorf("CheckURL(%.60q) = %v, want a url field error saying %q", raw, err, want)
		}
	}
	if _, err := (Guard{AllowPrivate: true}).CheckURL(ctx, "http://127.0.0.1:9000/hook"); err != nil {
		t.Errorf("with AllowPrivate, loopback = %v", err)
	}
}

// The dial hook refuses a refused address before any connection: a
// listener on loopback sees nothing when the guard is on.
func TestControlRefusesBeforeConnecting(t *testing.T) {
	for _, addr := range []string{"10.0.0.1:80", "[fd00::1]:443", "169.254.169.254:80", "127.0.0.1:8080", "[::ffff:10.1.1.1]:80"} {
		if err := (Guard{}).Control("tcp", addr, nil); err == nil {
			t.Errorf("Control(%s) allowed", addr)
		}
	}
	if err := (Guard{}).Control("tcp", "203.0.113.7:443", nil); err != nil {
		t.Errorf("Control(a public address) = %v", err)
	}

	var accepted atomic.Int32
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	e := Endpoint{ID: "e", URL: "http://" + ln.Addr().String() + "/hook", Secret: mustSecret(t)}
	if _, err := NewSender(Guard{}).Send(context.Background(), e, "ev-1", []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("a delivery to loopback with the guard on = %v, want refused", err)
	}
	time.Sleep(50 * time.Millisecond)
	if n := accepted.Load(); n != 0 {
		t.Errorf("the loopback listener accepted %d connections", n)
	}
}

func mustSecret(t *testing.T) string {
	t.Helper()
	s, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
	if !strings.HasPrefix(s, "whsec_") || err != nil || len(raw) < 24 {
		t.Fatalf("secret %q: not whsec_ and the base64 of at least 24 bytes", s)
	}
	return s
}

// A delivery is signed as the Standard Webhooks specification says: the
// reference library verifies it, and so does the formula written out.
func TestSendSignsPerStandardWebhooks(t *testing.T) {
	secret := mustSecret(t)
	body := []byte(`{"specversion":"1.0","id":"ev-42","type":"support.ticket.created.v1"}`)
	got := make(chan *http.Request, 1)
	var gotBody []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotBody, _ = io.ReadAll(r.Body)
		got <- r
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	e := Endpoint{ID: "e", URL: srv.URL + "/hook", Secret: secret}
	status, err := NewSender(Guard{AllowPrivate: true}).Send(context.Background(), e, "ev-42", body)
	if err != nil || status != 204 {
		t.Fatalf("Send = %d, %v", status, err)
	}
	r := <-got
	if r.Method != "POST" || r.Header.Get("webhook-id") != "ev-42" || string(gotBody) != string(body) || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("request %s id %q type %q body %s", r.Method, r.Header.Get("webhook-id"), r.Header.Get("Content-Type"), gotBody)
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(gotBody, r.Header); err != nil {
		t.Errorf("the reference library does not verify it: %v", err)
	}
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("ev-42." + r.Header.Get("webhook-timestamp") + "." + string(body)))
	if want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)); r.Header.Get("webhook-signature") != want {
		t.Errorf("webhook-signature %q, want %q", r.Header.Get("webhook-signature"), want)
	}
}

func TestSendFailures(t *testing.T) {
	secret := mustSecret(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/ok":
			w.WriteHeader(http.StatusOK)
		case "/slow":
			time.Sleep(500 * time.Millisecond)
		default:
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	s := newSender(Guard{AllowPrivate: true}, 200*time.Millisecond)
	for path, want := range map[string]int{"/redirect": 302, "/fail": 500, "/slow": 0} {
		status, err := s.Send(context.Background(), Endpoint{URL: srv.URL + path, Secret: secret}, "ev", []byte(`{}`))
		if err == nil || status != want {
			t.Errorf("%s = %d, %v; want %d and an error", path, status, err, want)
		}
	}
}
