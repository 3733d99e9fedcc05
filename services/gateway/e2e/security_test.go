//go:build security

package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/natstest"
	"github.com/supportdesk/supportdesk/pkg/pgtest"
	"github.com/supportdesk/supportdesk/services/gateway/internal/route"
)

// The OWASP API Security Top 10 (2023) categories the battery covers.
const (
	catObject     = "API1 object level authorization"
	catAuth       = "API2 authentication"
	catProperty   = "API3 object property level (mass assignment)"
	catResources  = "API4 resource consumption"
	catFunction   = "API5 function level authorization"
	catFlows      = "API6 sensitive business flows"
	catSSRF       = "API7 server side request forgery"
	catMisconfig  = "API8 security misconfiguration"
	catInventory  = "API9 inventory management"
	catDownstream = "API10 unsafe consumption of APIs"
)

var categories = []string{catObject, catAuth, catProperty, catResources, catFunction, catFlows, catSSRF, catMisconfig, catInventory, catDownstream}

// TestSecurity is the attack battery: the OWASP API Security Top 10 (2023)
// as concrete cases through the gateway, on a system of its own (its own
// PostgreSQL cluster, which the last cases stop). Every response is also
// checked for leaked internals. It prints the number of cases per
// category. Run it with `make test-security`.
func TestSecurity(t *testing.T) {
	cluster := pgtest.StartCluster(t)
	s := startSystemOn(t, cluster.NewDatabase(t, "security"), natstest.Start(t), "UPSTREAM_TIMEOUT=3s")
	b := &battery{s: s, counts: map[string]int{}}

	// Slow clients take the server's timeouts to answer: they run
	// alongside the rest.
	slow := make(chan func(), 2)
	go func() { slow <- b.slowHeaders() }()
	go func() { slow <- b.slowBody() }()

	b.admin = s.login(adminEmail, adminPassword)
	b.staff = s.login("staff@company.com", "SecureStaffPass123!")
	b.aliceID, b.alice = b.register("alice@example.com", "Al1ceSecretPass")
	b.bobID, b.bob = b.register("bob@example.com", "B0bSecretPassword")
	_, ticket := s.json(201, "POST", "/user_request/", b.alice, map[string]any{"text": "Alice's private printer problem", "title": "Printer"})
	b.ticket = fmt.Sprint(ticket["display_id"])
	b.ticketNumber = fmt.Sprint(ticket["id"])
	s.json(201, "POST", "/user_request/"+b.ticket+"/comments", b.alice, map[string]any{"body": "more detail"})

	b.objectLevel()
	b.authentication()
	b.massAssignment()
	b.resources()
	b.functionLevel()
	b.businessFlows()
	b.ssrf()
	b.misconfiguration()
	b.inventory()
	b.downstream()
	for range 2 {
		(<-slow)()
	}
	b.databaseDown(cluster)

	var table strings.Builder
	table.WriteString("| category | cases |\n|---|---:|\n")
	total := 0
	for _, c := range categories {
		fmt.Fprintf(&table, "| %s | %d |\n", c, b.counts[c])
		total += b.counts[c]
	}
	fmt.Fprintf(&table, "| total | %d |\n", total)
	t.Log("\n" + table.String())
	for _, c := range categories {
		if c != catSSRF && b.counts[c] == 0 {
			t.Errorf("no case in %s", c)
		}
	}
}

// battery holds the actors and the case counts.
type battery struct {
	s              *system
	counts         map[string]int
	admin, staff   string // access tokens
	alice, bob     string
	aliceID, bobID string
	ticket         string // alice's ticket, as REQ…
	ticketNumber   string // and as a number
}

// check counts one case of category and fails the test unless ok.
func (b *battery) check(category, name string, ok bool, format string, args ...any) {
	b.s.t.Helper()
	b.counts[category]++
	if !ok {
		b.s.t.Errorf("%s: %s: %s", category, name, fmt.Sprintf(format, args...))
	}
}

// eventually counts one case of category: cond must hold within d.
func (b *battery) eventually(category, name string, d time.Duration, cond func() bool) {
	b.s.t.Helper()
	deadline := time.Now().Add(d)
	ok := cond()
	for !ok && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		ok = cond()
	}
	b.check(category, name, ok, "did not hold within %v", d)
}

// leak matches what no response may show: stack traces, source positions,
// SQL and driver messages.
var leak = regexp.MustCompile(`(?i)goroutine \d|panic:|\.go:\d|runtime\.|SQLSTATE|pgx|pgconn|pq: |syntax error at|relation "|duplicate key|mongo|ferret|nats: |dial tcp|connection refused|/root/|/home/`)

// call sends a request through the gateway and checks the answer for
// leaks; an error answer must be problem+json.
func (b *battery) call(category, method, path, bearer string, body any, headers ...string) (*http.Response, []byte) {
	b.s.t.Helper()
	resp, raw := b.s.call(method, path, bearer, body, headers...)
	b.hygiene(category, method+" "+path, resp, raw)
	return resp, raw
}

func (b *battery) hygiene(category, what string, resp *http.Response, raw []byte) {
	b.s.t.Helper()
	if m := leak.Find(raw); m != nil {
		b.s.t.Errorf("%s: %s = %d leaks %q: %.300s", category, what, resp.StatusCode, m, raw)
	}
	// A 431 is written by net/http itself, before any handler runs.
	if resp.StatusCode >= 400 && resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge && resp.Header.Get("Content-Type") != "application/problem+json" {
		b.s.t.Errorf("%s: %s = %d with Content-Type %q, want problem+json", category, what, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

// expect calls and checks the status is one of want.
func (b *battery) expect(category, name, method, path, bearer string, body any, want ...int) []byte {
	b.s.t.Helper()
	resp, raw := b.call(category, method, path, bearer, body)
	b.check(category, name, slices.Contains(want, resp.StatusCode), "%s %s = %d, want %v: %.300s", method, path, resp.StatusCode, want, raw)
	return raw
}

func (b *battery) register(email, password string) (id, token string) {
	b.s.t.Helper()
	_, u := b.s.json(201, "POST", "/auth/register", "", map[string]any{"email": email, "password": password})
	return fmt.Sprint(u["id"]), b.s.login(email, password)
}

// objectLevel: every ticket and comment route on alice's ticket, as bob,
// by both forms of its id; the ticket is unchanged after.
func (b *battery) objectLevel() {
	bodies := map[string]any{
		"PUT /user_request/:id":           map[string]any{"text": "bob was here"},
		"POST /user_request/:id/comments": map[string]any{"body": "bob was here"},
	}
	for _, r := range route.Table() {
		if !strings.HasPrefix(r.Path, "/user_request/:id") {
			continue
		}
		for _, id := range []string{b.ticket, b.ticketNumber} {
			path := strings.Replace(r.Path, ":id", id, 1)
			b.expect(catObject, "another user's ticket", r.Method, path, b.bob, bodies[r.Method+" "+r.Path], 403, 404)
		}
	}
	_, mine := b.s.json(200, "GET", "/user_request/my", b.bob, nil)
	items, _ := mine["items"].([]any)
	b.check(catObject, "another user's ticket in my list", len(items) == 0, "bob's list holds %d tickets", len(items))
	_, own := b.s.json(200, "GET", "/user_request/"+b.ticket, b.alice, nil)
	b.check(catObject, "ticket unchanged", own["text"] == "Alice's private printer problem", "alice's ticket now %v", own)
	_, thread := b.s.json(200, "GET", "/user_request/"+b.ticket+"/comments", b.alice, nil)
	b.check(catObject, "thread unchanged", thread["total"] == float64(1), "alice's thread now %v", thread)
	// Another user's profile and account by id: only the admin routes
	// take an id, and they refuse a user.
	b.expect(catObject, "another user's account", "DELETE", "/admin/users/"+b.aliceID, b.bob, nil, 403)
}

// authentication: forged and misused tokens, passwords, sessions.
func (b *battery) authentication() {
	_, login := b.s.json(200, "POST", "/auth/login", "", map[string]string{"email": "bob@example.com", "password": "B0bSecretPassword"})
	good, refresh := login["access_token"].(string), login["refresh_token"].(string)
	for name, raw := range tokenAttacks(b.s.t, b.bobID, good, refresh) {
		for _, path := range []string{"/auth/profile", "/admin/users"} {
			resp, body := b.call(catAuth, "GET", path, raw, nil)
			b.check(catAuth, "token: "+name, resp.StatusCode == 401 && resp.Header.Get("WWW-Authenticate") == "Bearer",
				"GET %s = %d %s, want 401 with a Bearer challenge", path, resp.StatusCode, body)
		}
	}
	b.expect(catAuth, "no token", "GET", "/auth/profile", "", nil, 401)
	b.expect(catAuth, "malformed bearer", "GET", "/auth/profile", "not.a.token", nil, 401)

	// One answer for an unknown email and a wrong password.
	_, unknown := b.call(catAuth, "POST", "/auth/login", "", map[string]string{"email": "nobody@example.com", "password": "Wr0ngPassw0rd!"})
	_, wrong := b.call(catAuth, "POST", "/auth/login", "", map[string]string{"email": "alice@example.com", "password": "Wr0ngPassw0rd!"})
	b.check(catAuth, "no account enumeration", detail(unknown) == detail(wrong), "unknown email %q, wrong password %q", unknown, wrong)

	for _, pw := range []string{"short1A", "password123", "alllowercaseletters", "carol@example.com1A", "12345678901"} {
		b.expect(catAuth, "weak password "+pw, "POST", "/auth/register", "", map[string]any{"email": "carol@example.com", "password": pw}, 400, 422)
	}

	// A used refresh token presented again ends its whole session.
	_, s1 := b.s.json(200, "POST", "/auth/login", "", map[string]string{"email": "bob@example.com", "password": "B0bSecretPassword"})
	first := s1["refresh_token"].(string)
	b.expect(catAuth, "refresh once", "POST", "/auth/refresh", "", map[string]string{"refresh_token": first}, 200)
	b.expect(catAuth, "refresh token replayed", "POST", "/auth/refresh", "", map[string]string{"refresh_token": first}, 401)
	b.eventually(catAuth, "replay revokes the session", 5*time.Second, func() bool {
		resp, _ := b.s.call("GET", "/auth/profile", s1["access_token"].(string), nil)
		return resp.StatusCode == 401
	})

	// A logged-out token stops working at the gateway.
	_, s2 := b.s.json(200, "POST", "/auth/login", "", map[string]string{"email": "bob@example.com", "password": "B0bSecretPassword"})
	b.expect(catAuth, "logout", "POST", "/auth/logout", s2["access_token"].(string), nil, 200, 204)
	b.eventually(catAuth, "logout revokes the token", 5*time.Second, func() bool {
		resp, _ := b.s.call("GET", "/auth/profile", s2["access_token"].(string), nil)
		return resp.StatusCode == 401
	})

	// A stolen token cannot guess the password: wrong current passwords
	// are throttled.
	statuses := []int{}
	for range 6 {
		resp, _ := b.call(catAuth, "POST", "/auth/change-password", good,
			map[string]string{"current_password": "Gu3ssedPassword", "new_password": "N3wSecretPassw0rd"})
		statuses = append(statuses, resp.StatusCode)
	}
	b.check(catAuth, "change-password guessing throttled", statuses[5] == 429, "statuses %v, want the sixth 429", statuses)
}

// detail is the detail member of a problem, or the body.
func detail(raw []byte) string {
	m := decode(raw)
	if d, ok := m["detail"].(string); ok {
		return d
	}
	return string(raw)
}

// massAssignment: fields a caller may not set, in every body that could
// carry them, are refused or ignored; the stored state shows neither.
func (b *battery) massAssignment() {
	for _, extra := range []map[string]any{{"role": "admin"}, {"id": 1}, {"is_active": false}, {"created_at": "2020-01-01T00:00:00Z"}} {
		body := map[string]any{"email": "mallory@example.com", "password": "Mall0rySecretPass"}
		for k, v := range extra {
			body[k] = v
		}
		b.expect(catProperty, fmt.Sprintf("register with %v", extra), "POST", "/auth/register", "", body, 422)
	}
	for _, extra := range []map[string]any{{"role": "admin"}, {"email": "x@example.com"}, {"id": 1}, {"password_hash": "x"}, {"Role": "admin"}} {
		b.expect(catProperty, fmt.Sprintf("profile with %v", extra), "PUT", "/auth/profile", b.bob, extra, 422)
	}
	_, profile := b.s.json(200, "GET", "/auth/profile", b.bob, nil)
	b.check(catProperty, "profile unchanged", profile["role"] == "user" && profile["email"] == "bob@example.com", "bob's profile now %v", profile)

	for _, extra := range []map[string]any{
		{"owner_id": 1}, {"status": "completed"}, {"staff_id": 2}, {"id": 99}, {"display_id": "REQ999999"},
		{"created_at": "2020-01-01T00:00:00Z"}, {"updated_at": "2020-01-01T00:00:00Z"}, {"version": 7}, {"actor_id": "1"},
	} {
		body := map[string]any{"text": "mass assignment"}
		for k, v := range extra {
			body[k] = v
		}
		b.expect(catProperty, fmt.Sprintf("create ticket with %v", extra), "POST", "/user_request/", b.bob, body, 422)
		b.expect(catProperty, fmt.Sprintf("update ticket with %v", extra), "PUT", "/user_request/"+b.ticket, b.alice, body, 422)
	}
	b.expect(catProperty, "status change with an owner", "PUT", "/staff/requests/"+b.ticket+"/status", b.staff,
		map[string]any{"status": "in_progress", "owner_id": b.bobID}, 422)
	b.expect(catProperty, "role in two letter cases", "PUT", "/admin/users/"+b.bobID+"/role", b.admin,
		rawJSON(`{"role":"staff","Role":"admin"}`), 422)
	b.expect(catProperty, "role repeated", "PUT", "/admin/users/"+b.bobID+"/role", b.admin,
		rawJSON(`{"role":"staff","role":"admin"}`), 422)
	_, own := b.s.json(200, "GET", "/user_request/"+b.ticket, b.alice, nil)
	b.check(catProperty, "ticket unchanged", own["status"] == "new" && own["staff_member"] == nil, "alice's ticket now %v", own)
	_, bob := b.s.json(200, "GET", "/auth/profile", b.bob, nil)
	b.check(catProperty, "role unchanged", bob["role"] == "user", "bob's role now %v", bob["role"])
}

// resources: oversized and deep input, huge pages, slow clients.
func (b *battery) resources() {
	big := strings.Repeat("a", 2<<20)
	b.expect(catResources, "2 MiB body", "POST", "/user_request/", b.bob, map[string]any{"text": big}, 413)
	b.expect(catResources, "deep JSON", "POST", "/user_request/", b.bob, rawJSON(strings.Repeat("[", 100000)+strings.Repeat("]", 100000)), 400, 422)
	b.expect(catResources, "deep object", "PUT", "/auth/profile", b.bob, rawJSON(strings.Repeat(`{"a":`, 20000)+"1"+strings.Repeat("}", 20000)), 400, 422)
	b.expect(catResources, "syntax error inside an array (once looped forever)", "POST", "/auth/login", "", rawJSON(`{"email":[1 2]}`), 400, 422)
	b.expect(catResources, "long text", "POST", "/user_request/", b.bob, map[string]any{"text": strings.Repeat("b", 100000)}, 422)
	b.expect(catResources, "NUL in text", "POST", "/user_request/", b.bob, map[string]any{"text": "a\u0000b"}, 422)
	// Sent past s.call: net/http answers 431 itself, on any route, so
	// the OpenAPI document does not list it.
	req, _ := http.NewRequest("GET", b.s.baseURL+"/auth/profile", nil)
	req.Header.Set("Authorization", "Bearer "+b.bob)
	req.Header.Set("X-Padding", strings.Repeat("h", 64<<10))
	resp, err := b.s.client.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	b.check(catResources, "64 KiB header", err == nil && resp.StatusCode == 431, "= %v (%v), want 431", resp, err)
	for _, q := range []string{
		"/admin/requests?size=1000000", "/admin/requests?page=1000000&size=100", "/admin/requests?page=-1",
		"/admin/users?size=100000", "/admin/logs/api-logs?size=100000", "/admin/logs/api-logs?page=100000&size=1000",
		"/admin/logs/api-logs?hours_ago=100000", "/admin/logs/request-actions?size=0",
	} {
		b.expect(catResources, "huge page "+q, "GET", q, b.admin, nil, 422)
	}
}

// slowHeaders sends half a request line and waits: the server closes the
// connection after its header timeout, without a request reaching an
// upstream. It returns the check to run on the test's goroutine.
func (b *battery) slowHeaders() func() {
	conn, err := net.Dial("tcp", strings.TrimPrefix(b.s.baseURL, "http://"))
	if err != nil {
		return func() { b.check(catResources, "slow headers", false, "dial: %v", err) }
	}
	defer conn.Close()
	start := time.Now()
	_, _ = io.WriteString(conn, "GET /auth/profile HTTP/1.1\r\nHost: x\r\n")
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err = io.ReadAll(conn)
	took := time.Since(start)
	return func() {
		b.check(catResources, "slow headers", err == nil && took < 15*time.Second, "the connection stayed open %v (%v)", took, err)
	}
}

// slowBody announces a body and sends a tenth of it: 408 problem+json
// after the server's read timeout, and the upstream never saw it.
func (b *battery) slowBody() func() {
	conn, err := net.Dial("tcp", strings.TrimPrefix(b.s.baseURL, "http://"))
	if err != nil {
		return func() { b.check(catResources, "slow body", false, "dial: %v", err) }
	}
	defer conn.Close()
	_, _ = fmt.Fprintf(conn, "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\":")
	_ = conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return func() { b.check(catResources, "slow body", false, "no answer: %v", err) }
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return func() {
		b.hygiene(catResources, "slow body", resp, raw)
		b.check(catResources, "slow body", resp.StatusCode == 408, "= %d %s, want 408", resp.StatusCode, raw)
	}
}

// functionLevel: every route of the table as every role that lacks its
// permission, and without a token.
func (b *battery) functionLevel() {
	tokens := map[access.Role]string{access.RoleUser: b.bob, access.RoleStaff: b.staff, access.RoleAdmin: b.admin}
	for _, r := range route.Table() {
		path := strings.NewReplacer(":id", "1").Replace(r.Path)
		if !r.Public {
			b.expect(catFunction, "no token", r.Method, path, "", nil, 401)
		}
		if r.Permission == "" {
			continue
		}
		for role, tok := range tokens {
			if access.Has(role, r.Permission) {
				continue
			}
			b.expect(catFunction, string(role)+" without "+string(r.Permission), r.Method, path, tok, nil, 403)
		}
	}
}

// businessFlows: guessing a password from one address does not lock the
// owner out; a double submit creates one ticket.
func (b *battery) businessFlows() {
	for range 5 {
		b.call(catFlows, "POST", "/auth/login", "", map[string]string{"email": "alice@example.com", "password": "Gu3ssedPassword"})
	}
	resp, _ := b.call(catFlows, "POST", "/auth/login", "", map[string]string{"email": "alice@example.com", "password": "Al1ceSecretPass"})
	b.check(catFlows, "guesser throttled", resp.StatusCode == 429 && resp.Header.Get("Retry-After") != "", "= %d, want 429 with Retry-After", resp.StatusCode)
	// The owner, from another address (another loopback address), logs in.
	status, err := loginFrom(b.s.baseURL, "127.0.0.2", "alice@example.com", "Al1ceSecretPass")
	b.check(catFlows, "owner not locked out", err == nil && status == 200, "= %d (%v), want 200", status, err)

	key := "double-submit-1"
	_, first := b.call(catFlows, "POST", "/user_request/", b.bob, map[string]any{"text": "once"}, "Idempotency-Key", key)
	_, second := b.call(catFlows, "POST", "/user_request/", b.bob, map[string]any{"text": "once"}, "Idempotency-Key", key)
	b.check(catFlows, "double submit", decode(first)["id"] != nil && decode(first)["id"] == decode(second)["id"], "first %s, second %s", first, second)
}

// loginFrom logs in through the gateway from a chosen local address.
func loginFrom(baseURL, local, email, password string) (int, error) {
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dialer.DialContext}}
	resp, err := client.Post(baseURL+"/auth/login", "application/json",
		strings.NewReader(fmt.Sprintf(`{"email":%q,"password":%q}`, email, password)))
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// ssrf: no route takes a URL to fetch yet; the gateway routes by its own
// table, never by the Host a client names (a loopback address here, so
// that a failure could not reach beyond the machine).
func (b *battery) ssrf() {
	resp, raw := b.call(catSSRF, "GET", "/auth/profile", b.bob, nil, "Host", "127.0.0.9:1")
	b.check(catSSRF, "Host header", resp.StatusCode == 200 && decode(raw)["email"] == "bob@example.com", "= %d %s", resp.StatusCode, raw)
	resp, raw = b.call(catSSRF, "GET", "/auth/profile", b.bob, nil, "X-Forwarded-Host", "127.0.0.9:1")
	b.check(catSSRF, "X-Forwarded-Host header", resp.StatusCode == 200, "= %d %s", resp.StatusCode, raw)
	// Webhooks may not point inside: refused at registration by the
	// address written. IP literals only: nothing is resolved or dialed.
	for _, u := range []string{"http://127.0.0.1:9/", "http://10.0.0.1/hook", "http://169.254.169.254/latest/meta-data/",
		"http://[::1]/", "http://[fd00::1]/", "http://0.0.0.0/", "http://[::ffff:192.168.0.1]/", "http://100.64.0.1/", "http://224.0.0.1/"} {
		resp, raw := b.call(catSSRF, "POST", "/admin/webhooks", b.admin, map[string]any{"url": u, "event_types": []string{"support.ticket.created.v1"}})
		b.check(catSSRF, "webhook to "+u, resp.StatusCode == 422 && strings.Contains(string(raw), `"field":"url"`), "= %d %s", resp.StatusCode, raw)
	}
}

// misconfiguration: security headers once, no banners, CORS closed,
// methods and errors as documented.
func (b *battery) misconfiguration() {
	resp, _ := b.call(catMisconfig, "GET", "/auth/profile", b.bob, nil, "Origin", "https://evil.example")
	for name, want := range map[string]string{
		"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
		"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'", "Referrer-Policy": "no-referrer",
	} {
		got := resp.Header.Values(name)
		b.check(catMisconfig, "header "+name, len(got) == 1 && got[0] == want, "%s = %q, want once %q", name, got, want)
	}
	for _, name := range []string{"Server", "X-Powered-By", "Access-Control-Allow-Origin", "Access-Control-Allow-Credentials"} {
		b.check(catMisconfig, "no "+name, resp.Header.Get(name) == "", "%s = %q", name, resp.Header.Get(name))
	}
	for _, m := range []string{"TRACE", "PROPFIND"} {
		b.expect(catMisconfig, m+" method", m, "/auth/profile", b.bob, nil, 404, 405, 501)
	}
	b.expect(catMisconfig, "malformed JSON", "POST", "/auth/login", "", rawJSON(`{"email":`), 400, 422)
	b.expect(catMisconfig, "wrong content type", "POST", "/user_request/", b.bob, rawJSON(`text=x`), 400, 415, 422)
}

// inventory: nothing answers beyond the documented table.
func (b *battery) inventory() {
	for _, path := range []string{
		"/v2/user_request/my", "/internal/users", "/.env", "/debug/pprof/", "/admin/requests/export.csv",
		"/swagger.json", "/actuator/env", "/api/users", "/admin", "/user_request/my/all",
	} {
		b.expect(catInventory, "undocumented "+path, "GET", path, b.bob, nil, 404)
	}
	b.expect(catInventory, "a service's own path", "GET", "/events", b.admin, nil, 404)
}

// downstream: forged identity headers and actor fields do not change who
// acts, and the audit log records the real actor; exported cells are safe
// for spreadsheets.
func (b *battery) downstream() {
	forged := []string{"X-User-Id", "1", "X-User-Role", "admin", "X-Auth-User", "admin@company.com", "X-Forwarded-User", "admin", "X-Actor-Id", "1", "X-Remote-User", "admin"}
	resp, raw := b.call(catDownstream, "GET", "/auth/profile", b.bob, nil, forged...)
	b.check(catDownstream, "forged identity headers", resp.StatusCode == 200 && decode(raw)["email"] == "bob@example.com", "= %d %s", resp.StatusCode, raw)
	resp, _ = b.call(catDownstream, "GET", "/admin/users", b.bob, nil, forged...)
	b.check(catDownstream, "forged identity headers on an admin route", resp.StatusCode == 403, "= %d", resp.StatusCode)
	resp, raw = b.call(catDownstream, "POST", "/user_request/", b.bob, map[string]any{"text": "=1+1"}, forged...)
	created := decode(raw)
	b.check(catDownstream, "forged headers on a write", resp.StatusCode == 201, "= %d %s", resp.StatusCode, raw)

	// The audit log names bob as the actor of his ticket.
	q := url.Values{"request_id": {fmt.Sprint(created["id"])}, "hours_ago": {"1"}}
	var actors []string
	b.s.waitFor("the creation in the request-actions log", 30*time.Second, func() bool {
		_, page := b.s.json(200, "GET", "/admin/logs/request-actions?"+q.Encode(), b.admin, nil)
		actors = actors[:0]
		items, _ := page["items"].([]any)
		for _, it := range items {
			actors = append(actors, fmt.Sprint(it.(map[string]any)["user_id"]))
		}
		return len(actors) > 0
	})
	b.check(catDownstream, "audit shows the real actor", !slices.ContainsFunc(actors, func(a string) bool { return a != b.bobID }),
		"actors %v, want only bob (%s)", actors, b.bobID)

	// Formulas in exported cells are neutralised, at the start of a cell
	// and after a separator a spreadsheet might split on.
	b.s.json(201, "POST", "/user_request/", b.bob, map[string]any{"text": "a;=HYPERLINK(1)", "title": "@SUM(1)"})
	resp, raw = b.call(catDownstream, "GET", "/admin/requests/export", b.admin, nil)
	export := string(raw)
	for _, cell := range []string{"'=1+1", "a;'=HYPERLINK(1)", "'@SUM(1)"} {
		b.check(catDownstream, "CSV cell "+cell, resp.StatusCode == 200 && strings.Contains(export, cell), "export lacks %q", cell)
	}
	for _, bad := range []string{",=1+1", ";=HYPERLINK", ",@SUM"} {
		b.check(catDownstream, "CSV without "+bad, !strings.Contains(export, bad), "export holds %q", bad)
	}
	// A request id that could forge a log line is replaced.
	resp, _ = b.call(catDownstream, "GET", "/auth/profile", b.bob, nil, "X-Request-Id", "x\"}{\"admin\":true")
	b.check(catDownstream, "request id injection", resp.Header.Get("X-Request-Id") != "x\"}{\"admin\":true", "echoed %q", resp.Header.Get("X-Request-Id"))
}

// databaseDown stops the system's PostgreSQL: the routes that need it
// answer 503 problem+json at once, with nothing of the database's errors.
func (b *battery) databaseDown(cluster *pgtest.Cluster) {
	if err := cluster.Stop(); err != nil {
		b.s.t.Fatal(err)
	}
	for _, c := range []struct {
		method, path, bearer string
		body                 any
	}{
		{"POST", "/auth/login", "", map[string]string{"email": "bob@example.com", "password": "B0bSecretPassword"}},
		{"POST", "/auth/register", "", map[string]string{"email": "dan@example.com", "password": "D4nSecretPassword"}},
		{"GET", "/auth/profile", b.bob, nil},
		{"GET", "/user_request/my", b.bob, nil},
		{"POST", "/user_request/", b.bob, map[string]any{"text": "while the database is down"}},
		{"GET", "/admin/users", b.admin, nil},
		{"GET", "/admin/requests", b.admin, nil},
		{"GET", "/admin/statistics", b.admin, nil},
	} {
		start := time.Now()
		resp, raw := b.call(catMisconfig, c.method, c.path, c.bearer, c.body)
		b.check(catMisconfig, "database down: "+c.method+" "+c.path, resp.StatusCode == 503 && time.Since(start) < 5*time.Second,
			"= %d after %v: %.300s, want a prompt 503", resp.StatusCode, time.Since(start), raw)
	}
}

func decode(raw []byte) map[string]any {
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return m
}
