// Package e2e drives the whole system like a client would: the four service
// binaries run as processes against real PostgreSQL, a real JetStream server
// and FerretDB, and every request goes through the gateway.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/supportdesk/supportdesk/pkg/freeport"
	"github.com/supportdesk/supportdesk/pkg/mongotest"
	"github.com/supportdesk/supportdesk/pkg/natstest"
	"github.com/supportdesk/supportdesk/pkg/pgtest"
	"github.com/supportdesk/supportdesk/services/gateway/internal/docs"
)

// secretKey is the SECRET_KEY of the systems the tests start, so that
// tests can forge tokens the way an attacker who knew it could.
var secretKey = strings.Repeat("e2e-secret-", 4)

// The seed's bootstrap accounts, which every system starts with.
const (
	adminEmail    = "admin@company.com"
	adminPassword = "SecureAdminPass123!"
)

// system is a running instance of the whole support system.
type system struct {
	t           *testing.T
	baseURL     string
	client      *http.Client
	databaseURL string
	natsURL     string
	ports       map[string]string   // service -> port
	procs       map[string]*process // service -> its process
	env         []string            // the services' environment
}

// restart starts a stopped service again with the same environment and
// waits until it reports itself ready.
func (s *system) restart(name string) {
	s.t.Helper()
	s.procs[name] = startService(s.t, filepath.Join(binDir, name), s.env)
	s.waitFor(name+" to be ready again", 30*time.Second, func() bool {
		resp, err := http.Get("http://127.0.0.1:" + s.ports[name] + "/health/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// process is a running service binary.
type process struct {
	cmd    *exec.Cmd
	exited chan error // receives the exit status once
	status error
	done   bool
}

// wait waits up to d for the process to exit and reports whether it did,
// and its exit status.
func (p *process) wait(d time.Duration) (bool, error) {
	if p.done {
		return true, p.status
	}
	select {
	case p.status = <-p.exited:
		p.done = true
		return true, p.status
	case <-time.After(d):
		return false, nil
	}
}

// stop sends SIGTERM to a service and waits for it to exit, returning its
// exit status.
func (s *system) stop(name string) error {
	s.t.Helper()
	p := s.procs[name]
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	ok, status := p.wait(20 * time.Second)
	if !ok {
		s.t.Fatalf("%s did not stop within 20s of SIGTERM", name)
	}
	return status
}

// kill sends SIGKILL to a service, as a crash would, and waits for it to
// die.
func (s *system) kill(name string) {
	s.t.Helper()
	p := s.procs[name]
	_ = p.cmd.Process.Kill()
	if ok, _ := p.wait(10 * time.Second); !ok {
		s.t.Fatalf("%s did not die within 10s of SIGKILL", name)
	}
	p.status = nil // it died as the test meant
}

// binDir holds the service binaries, built once by TestMain.
var binDir string

// apiSpec finds the operation of a request in the gateway's OpenAPI
// document; call validates every response against it.
var apiSpec routers.Router

func TestMain(m *testing.M) {
	doc, err := docs.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// The systems under test listen on random ports: operations are found
	// by method and path alone.
	doc.Servers = nil
	if apiSpec, err = gorillamux.NewRouter(doc); err != nil {
		fmt.Fprintln(os.Stderr, "openapi router:", err)
		os.Exit(1)
	}
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	build := exec.Command("go", "build", "-o", dir+"/", "./services/auth", "./services/tickets", "./services/audit", "./services/gateway", "./services/webhooks")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build services: %v\n%s", err, out)
		return 1
	}
	binDir = dir
	return m.Run()
}

// repoRoot finds the folder holding go.work.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("go.work not found above %s", dir)
		}
		dir = parent
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	port, err := freeport.Get()
	if err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(port)
}

// startSystem builds the services and starts them on fresh infrastructure:
// a new database and an embedded JetStream server. The audit log is kept in
// the same database, as `make run` keeps it, unless extraEnv holds a
// MONGODB_URL (see withMongo).
func startSystem(t *testing.T, extraEnv ...string) *system {
	t.Helper()
	return startSystemOn(t, pgtest.NewDatabase(t), natstest.Start(t), extraEnv...)
}

// startSystemOn is startSystem on a database and a NATS server the test
// provides, for tests that stop and restart them.
func startSystemOn(t *testing.T, databaseURL, natsURL string, extraEnv ...string) *system {
	t.Helper()
	ports := map[string]string{}
	for _, svc := range []string{"gateway", "gateway-admin", "auth", "tickets", "audit", "webhooks"} {
		ports[svc] = freePort(t)
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"SECRET_KEY=" + secretKey,
		"DATABASE_URL=" + databaseURL,
		"NATS_URL=" + natsURL,
		"AUDIT_DATABASE_URL=" + databaseURL,
		"MONGODB_DATABASE=audit_e2e",
		"LOG_LEVEL=debug",
		"OTEL_BSP_SCHEDULE_DELAY=100", // export spans every 100 ms (milliseconds)
		"INITIAL_ADMIN_EMAIL=" + adminEmail,
		"INITIAL_ADMIN_PASSWORD=" + adminPassword,
		"INITIAL_STAFF_EMAIL=staff@company.com",
		"INITIAL_STAFF_PASSWORD=SecureStaffPass123!",
		"INITIAL_USER_EMAIL=user@company.com",
		"INITIAL_USER_PASSWORD=SecureUserPass123!",
		"GATEWAY_ADDR=127.0.0.1:" + ports["gateway"],
		"GATEWAY_ADMIN_ADDR=127.0.0.1:" + ports["gateway-admin"], // its metrics: not on the public port
		"AUTH_ADDR=127.0.0.1:" + ports["auth"],
		"TICKETS_ADDR=127.0.0.1:" + ports["tickets"],
		"AUDIT_ADDR=127.0.0.1:" + ports["audit"],
		"WEBHOOKS_ADDR=127.0.0.1:" + ports["webhooks"],
		"AUTH_URL=http://127.0.0.1:" + ports["auth"],
		"TICKETS_URL=http://127.0.0.1:" + ports["tickets"],
		"AUDIT_URL=http://127.0.0.1:" + ports["audit"],
		"WEBHOOKS_URL=http://127.0.0.1:" + ports["webhooks"],
	}
	// auth migrates and bootstraps first, so that the others start on a
	// ready database; then the rest, in any order.
	for _, kv := range extraEnv {
		if strings.HasPrefix(kv, "MONGODB_URL=") {
			env = slices.DeleteFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "AUDIT_DATABASE_URL=") })
		}
	}
	env = append(env, extraEnv...)
	procs := map[string]*process{}
	for _, svc := range []string{"auth", "tickets", "audit", "webhooks", "gateway"} {
		procs[svc] = startService(t, filepath.Join(binDir, svc), env)
	}

	s := &system{t: t, baseURL: "http://127.0.0.1:" + ports["gateway"], client: &http.Client{Timeout: 10 * time.Second},
		databaseURL: databaseURL, natsURL: natsURL, ports: ports, procs: procs, env: env}
	s.waitForState("a healthy system", 60*time.Second, func() (bool, string) {
		resp, body := s.call("GET", "/health", "", nil)
		healthy := resp.StatusCode == 200 && strings.Contains(string(body), `"status":"healthy"`)
		return healthy, fmt.Sprintf("the gateway's /health answered %d %s", resp.StatusCode, body)
	})
	return s
}

// withMongo is the environment that keeps the audit log in MongoDB, as
// production does: a FerretDB server of the test's own.
func withMongo(t *testing.T) string { return "MONGODB_URL=" + mongotest.Start(t) }

// startService runs one binary, stops it with SIGTERM when the test ends,
// and shows its log when the test failed.
func startService(t *testing.T, path string, env []string) *process {
	t.Helper()
	name := filepath.Base(path)
	logFile, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &process{cmd: cmd, exited: make(chan error, 1)}
	go func() { p.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if !p.done {
			_ = cmd.Process.Signal(syscall.SIGTERM)
		}
		if ok, err := p.wait(15 * time.Second); !ok {
			_ = cmd.Process.Kill()
			t.Errorf("%s did not stop within 15s of SIGTERM", name)
		} else if err != nil {
			t.Errorf("%s did not stop cleanly: %v", name, err)
		}
		if t.Failed() {
			log, _ := os.ReadFile(logFile.Name())
			t.Logf("---- %s log ----\n%s", name, tail(string(log), 60))
		}
		logFile.Close()
	})
	return p
}

func tail(s string, lines int) string {
	all := strings.Split(s, "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// rawJSON is a request body sent exactly as written, for malformed JSON.
type rawJSON string

// call sends a request to the gateway and returns the response and its
// body. A body is sent as JSON; a rawJSON body as it is.
func (s *system) call(method, path, bearer string, body any, headers ...string) (*http.Response, []byte) {
	s.t.Helper()
	var rd io.Reader
	if raw, ok := body.(rawJSON); ok {
		rd = strings.NewReader(string(raw))
	} else if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, s.baseURL+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "Host" {
			req.Host = headers[i+1]
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return &http.Response{StatusCode: 0, Header: http.Header{}}, []byte(err.Error())
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}

	// Every answer must be one the OpenAPI document describes: a documented
	// status with a body of its schema (a CSV body by its content type
	// only). A path or method the document does not know must be the
	// gateway's 404 or 405.
	ct := resp.Header.Get("Content-Type")
	op, params, err := apiSpec.FindRoute(req)
	switch {
	case err != nil && (resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed) && ct == "application/problem+json":
		return resp, out
	case err != nil:
		err = fmt.Errorf("the route is not in openapi.yaml: %w", err)
	default:
		input := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: op},
			Status:                 resp.StatusCode,
			Header:                 resp.Header,
			Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
		}
		input.SetBodyBytes(out)
		if strings.HasPrefix(ct, "text/csv") {
			input.Options.ExcludeResponseBody = true
			if r := op.Operation.Responses.Status(resp.StatusCode); r != nil && r.Value.Content.Get(ct) == nil {
				err = fmt.Errorf("status %d is not documented as %s", resp.StatusCode, ct)
				break
			}
		}
		err = openapi3filter.ValidateResponse(req.Context(), input)
	}
	if err != nil {
		s.t.Errorf("%s %s = %d: the response does not match openapi.yaml: %v\nbody: %.2000s", method, path, resp.StatusCode, err, out)
	}
	return resp, out
}

// json calls and decodes the JSON answer, failing unless the status is want.
func (s *system) json(want int, method, path, bearer string, body any, headers ...string) (*http.Response, map[string]any) {
	s.t.Helper()
	resp, raw := s.call(method, path, bearer, body, headers...)
	if resp.StatusCode != want {
		s.t.Fatalf("%s %s = %d, want %d: %s", method, path, resp.StatusCode, want, raw)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		s.t.Fatalf("%s %s: %q is not a JSON object", method, path, raw)
	}
	return resp, out
}

// login returns an access token.
func (s *system) login(email, password string) string {
	s.t.Helper()
	_, body := s.json(200, "POST", "/auth/login", "", map[string]string{"email": email, "password": password})
	tok, _ := body["access_token"].(string)
	if tok == "" {
		s.t.Fatalf("login %s: no access token in %v", email, body)
	}
	return tok
}

// waitFor polls cond until it holds or the deadline passes.
func (s *system) waitFor(what string, within time.Duration, cond func() bool) {
	s.t.Helper()
	s.waitForState(what, within, func() (bool, string) { return cond(), "" })
}

// waitForState is waitFor with a condition that also describes what it
// saw: the last description goes with the failure.
func (s *system) waitForState(what string, within time.Duration, cond func() (bool, string)) {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, seen := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			if seen != "" {
				what += " (last: " + seen + ")"
			}
			s.t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
