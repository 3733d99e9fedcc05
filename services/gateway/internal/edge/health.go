package edge

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/supportdesk/supportdesk/pkg/web"
	"github.com/supportdesk/supportdesk/services/gateway/internal/route"
)

// Health aggregates the readiness of the services and of what they depend on.
type Health struct {
	client    *http.Client
	upstreams map[route.Upstream]*url.URL
	nats      web.Check
}

// NewHealth returns a Health asking each upstream's /health/ready, and
// checking the gateway's own NATS connection with nats.
func NewHealth(client *http.Client, upstreams map[route.Upstream]*url.URL, nats web.Check) *Health {
	return &Health{client: client, upstreams: upstreams, nats: nats}
}

// essential components make the system unusable when down: nobody can log
// in or work a ticket. Any other component down only degrades it.
var essential = map[string]bool{"auth": true, "tickets": true, "postgres": true}

// Report is the answer of GET /health.
type Report struct {
	Status     string                   `json:"status"` // healthy, degraded or unhealthy
	Components map[string]web.Component `json:"components"`
}

// Check asks every component and classifies the whole.
func (h *Health) Check(ctx context.Context) Report {
	rep := Report{Status: "healthy", Components: map[string]web.Component{"gateway": {Status: "up"}}}
	var mu sync.Mutex
	set := func(name string, c web.Component) {
		mu.Lock()
		defer mu.Unlock()
		// A dependency seen by several services is down if any sees it down.
		if old, ok := rep.Components[name]; ok && old.Status == "down" {
			return
		}
		rep.Components[name] = c
	}
	var wg sync.WaitGroup
	for name, u := range h.upstreams {
		wg.Go(func() {
			ready, err := h.ready(ctx, u)
			if err != nil {
				set(string(name), web.Component{Status: "down", Error: err.Error()})
				return
			}
			set(string(name), web.Component{Status: "up"})
			for dep, c := range ready.Components {
				if dep != "nats" {
					set(dep, c)
				}
			}
		})
	}
	wg.Go(func() {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := h.nats(cctx); err != nil {
			set("nats", web.Component{Status: "down", Error: err.Error()})
			return
		}
		set("nats", web.Component{Status: "up"})
	})
	wg.Wait()

	for name, c := range rep.Components {
		if c.Status == "up" {
			continue
		}
		if essential[name] {
			rep.Status = "unhealthy"
		} else if rep.Status == "healthy" {
			rep.Status = "degraded"
		}
	}
	return rep
}

// ready fetches an upstream's readiness. A 503 still carries a body that
// says which dependency failed; the service itself is reachable.
func (h *Health) ready(ctx context.Context, base *url.URL) (web.Health, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base.JoinPath("/health/ready").String(), nil)
	if err != nil {
		return web.Health{}, err
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return web.Health{}, fmt.Errorf("unreachable")
	}
	defer resp.Body.Close()
	var body web.Health
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return web.Health{}, fmt.Errorf("answered %s without a health report", resp.Status)
	}
	return body, nil
}

// Handle serves GET /health: 200 when healthy or degraded, 503 when unhealthy.
func (h *Health) Handle(c *gin.Context) {
	rep := h.Check(c.Request.Context())
	status := http.StatusOK
	if rep.Status == "unhealthy" {
		status = http.StatusServiceUnavailable
	}
	c.JSON(status, rep)
}
