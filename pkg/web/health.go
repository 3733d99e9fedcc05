package web

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// Check reports whether one dependency works.
type Check func(ctx context.Context) error

// Component is the health of one dependency.
type Component struct {
	Status string `json:"status"` // "up" or "down"
	Error  string `json:"error,omitempty"`
}

// Health is the answer of /health/ready.
type Health struct {
	Status     string               `json:"status"` // "healthy" or "unhealthy"
	Components map[string]Component `json:"components"`
}

// RunChecks runs checks concurrently, each with a short deadline.
func RunChecks(ctx context.Context, checks map[string]Check) Health {
	h := Health{Status: "healthy", Components: make(map[string]Component, len(checks))}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, check := range checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			comp := Component{Status: "up"}
			if err := check(cctx); err != nil {
				comp = Component{Status: "down", Error: err.Error()}
			}
			mu.Lock()
			defer mu.Unlock()
			h.Components[name] = comp
			if comp.Status != "up" {
				h.Status = "unhealthy"
			}
		})
	}
	wg.Wait()
	return h
}

// HealthRoutes serves /health/live (the process answers) and /health/ready
// (every check passes; 503 otherwise).
func HealthRoutes(e *gin.Engine, checks map[string]Check) {
	e.GET("/health/live", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"status": "alive"})
	})
	e.GET("/health/ready", func(c *gin.Context) {
		h := RunChecks(c.Request.Context(), checks)
		status := http.StatusOK
		if h.Status != "healthy" {
			status = http.StatusServiceUnavailable
		}
		c.JSON(status, h)
	})
}
