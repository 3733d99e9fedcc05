package docs_test

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	swaggerfiles "github.com/swaggo/files/v2"

	"github.com/supportdesk/supportdesk/pkg/problem"
	"github.com/supportdesk/supportdesk/pkg/token"
	"github.com/supportdesk/supportdesk/pkg/web"
	"github.com/supportdesk/supportdesk/services/gateway/internal/docs"
	"github.com/supportdesk/supportdesk/services/gateway/internal/edge"
	"github.com/supportdesk/supportdesk/services/gateway/internal/route"
)

// engine builds the gateway's router as main.go does, with upstreams that
// are never called.
func engine(t testing.TB) *gin.Engine {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	e := web.NewEngine(logger, prometheus.NewRegistry())
	e.Use(edge.Middleware()...)
	e.GET("/health", func(c *gin.Context) {})
	web.HealthRoutes(e, nil)
	if err := docs.Routes(e); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse("http://127.0.0.1:9")
	upstreams := map[route.Upstream]*url.URL{route.Auth: u, route.Tickets: u, route.Audit: u, route.Webhooks: u}
	tokens := token.NewManager([]byte(strings.Repeat("k", 32)), time.Minute)
	if err := edge.New(tokens, upstreams, http.DefaultTransport, nil, logger).Routes(e, route.Table()); err != nil {
		t.Fatal(err)
	}
	return e
}

func load(t testing.TB) *openapi3.T {
	t.Helper()
	doc, err := docs.Load()
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestDocumentIsValidOpenAPI31(t *testing.T) {
	doc := load(t)
	if doc.OpenAPI != "3.1.0" || !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	// Load validated already; this states the options the claim rests on.
	if err := doc.Validate(t.Context(), openapi3.EnableExamplesValidation(), openapi3.EnableSchemaPatternValidation()); err != nil {
		t.Fatal(err)
	}
}

// undocumented are the routes every engine serves for operators, outside
// the public API.
func undocumented(path string) bool {
	switch path {
	case "/metrics", "/health/live", "/health/ready", "/openapi.json", "/docs":
		return true
	}
	return strings.HasPrefix(path, "/docs/")
}

var ginParam = regexp.MustCompile(`[:*]([A-Za-z0-9_]+)`)

// TestDocumentMatchesRouter fails on a route the gateway serves that the
// document does not describe, and on an operation the document describes
// that the gateway does not serve.
func TestDocumentMatchesRouter(t *testing.T) {
	doc := load(t)
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	served := map[string]bool{}
	for _, r := range engine(t).Routes() {
		if undocumented(r.Path) {
			continue
		}
		key := r.Method + " " + ginParam.ReplaceAllString(r.Path, "{$1}")
		served[key] = true
		if !documented[key] {
			t.Errorf("%s is served but not in openapi.yaml", key)
		}
	}
	for key := range documented {
		if !served[key] {
			t.Errorf("%s is in openapi.yaml but the gateway does not serve it", key)
		}
	}
	if len(served) < len(route.Table())+1 {
		t.Errorf("the router serves %d documented routes, want the %d of the table and /health", len(served), len(route.Table()))
	}
}

// TestDocumentMatchesGuards checks each operation against the route table:
// public routes are marked so, and guarded ones document the answers of
// their guards.
func TestDocumentMatchesGuards(t *testing.T) {
	doc := load(t)
	for _, r := range route.Table() {
		path := ginParam.ReplaceAllString(r.Path, "{$1}")
		item := doc.Paths.Value(path)
		if item == nil || item.GetOperation(r.Method) == nil {
			continue // reported by TestDocumentMatchesRouter
		}
		op := item.GetOperation(r.Method)
		t.Run(r.Method+" "+path, func(t *testing.T) {
			if public := op.Security != nil && len(*op.Security) == 0; public != r.Public {
				t.Errorf("documented as public: %v, but the route is public: %v", public, r.Public)
			}
			if !r.Public {
				if resp := op.Responses.Status(http.StatusUnauthorized); resp == nil || resp.Value.Headers["WWW-Authenticate"] == nil {
					t.Error("no 401 with WWW-Authenticate")
				}
			}
			if r.Permission != "" && op.Responses.Status(http.StatusForbidden) == nil {
				t.Errorf("needs %s but documents no 403", r.Permission)
			}
			if strings.Contains(path, "{id}") && (op.Responses.Status(http.StatusNotFound) == nil || op.Responses.Status(http.StatusUnprocessableEntity) == nil) {
				t.Error("takes an id but documents no 404 or no 422")
			}
		})
	}
}

// TestErrorsAreProblems checks that every error answer of the API is
// application/problem+json with the shared Problem schema, and that 429
// tells when to retry.
func TestErrorsAreProblems(t *testing.T) {
	doc := load(t)
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for code, resp := range op.Responses.Map() {
				if code < "400" || (path == "/health" && code == "503") {
					continue
				}
				ref := resp.Value.Content.Get(problem.ContentType)
				if len(resp.Value.Content) != 1 || ref == nil || !strings.HasPrefix(ref.Schema.Ref, "#/components/schemas/") ||
					!slices.Contains([]string{"Problem", "ValidationProblem"}, strings.TrimPrefix(ref.Schema.Ref, "#/components/schemas/")) {
					t.Errorf("%s %s %s: not an application/problem+json Problem", method, path, code)
				}
				if code == "429" && resp.Value.Headers["Retry-After"] == nil {
					t.Errorf("%s %s 429: no Retry-After", method, path)
				}
			}
		}
	}
}

func get(t *testing.T, h http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s = %d, want 200", path, rec.Code)
	}
	return rec
}

func TestServesTheDocumentAsJSON(t *testing.T) {
	rec := get(t, engine(t), "/openapi.json")
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	served, err := openapi3.NewLoader().LoadFromData(rec.Body.Bytes())
	if err != nil {
		t.Fatalf("/openapi.json does not load: %v", err)
	}
	if err := served.Validate(t.Context()); err != nil {
		t.Fatalf("/openapi.json does not validate: %v", err)
	}
	// The same document as the YAML, in the order it was written.
	doc := load(t)
	a, _ := json.Marshal(served)
	b, _ := json.Marshal(doc)
	if !bytes.Equal(a, b) {
		t.Error("/openapi.json differs from openapi.yaml")
	}
	body := rec.Body.String()
	if strings.Index(body, `"/health"`) > strings.Index(body, `"/admin/logs/stats"`) {
		t.Error("/openapi.json does not keep the order of openapi.yaml")
	}
}

func TestServesSwaggerUIFromTheBinary(t *testing.T) {
	e := engine(t)
	page := get(t, e, "/docs")
	if ct := page.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("/docs Content-Type = %q, want text/html", ct)
	}
	if body := page.Body.String(); strings.Contains(body, "http://") || strings.Contains(body, "https://") {
		t.Errorf("/docs loads something from another host:\n%s", body)
	}
	if get(t, e, "/docs/").Body.String() != page.Body.String() {
		t.Error("/docs/ is not the /docs page")
	}
	// Every file the page loads is served, with its type, from the
	// embedded assets or as the gateway's own initializer.
	refs := regexp.MustCompile(`(?:src|href)="(/docs/[^"]+)"`).FindAllStringSubmatch(page.Body.String(), -1)
	if len(refs) < 3 {
		t.Fatalf("the page references %d files", len(refs))
	}
	types := map[string]string{".css": "text/css", ".js": "text/javascript", ".png": "image/png"}
	for _, ref := range refs {
		path := ref[1]
		rec := get(t, e, path)
		ext := path[strings.LastIndex(path, "."):]
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, types[ext]) {
			t.Errorf("GET %s: Content-Type = %q, want %s", path, ct, types[ext])
		}
		if path == "/docs/swagger-initializer.js" {
			if body := rec.Body.String(); !strings.Contains(body, `"/openapi.json"`) || !strings.Contains(body, "validatorUrl: null") {
				t.Errorf("the initializer does not load /openapi.json alone:\n%s", body)
			}
			continue
		}
		want, err := fs.ReadFile(swaggerfiles.FS, strings.TrimPrefix(path, "/docs/"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(rec.Body.Bytes(), want) {
			t.Errorf("GET %s is not the embedded file", path)
		}
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/docs/no-such-file.js", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("GET /docs/no-such-file.js = %d, want 404", rec.Code)
	}
}
