package outbox

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// RegisterMetrics exposes the relay's backlog (rows waiting to be
// published), read from the table at scrape time, and its failed publishes
// on reg.
func (r *Relay) RegisterMetrics(reg prometheus.Registerer) {
	reg.MustRegister(r.failed, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "outbox_backlog_events",
		Help:        "Events written to the outbox and not yet published.",
		ConstLabels: prometheus.Labels{"table": r.outbox.Table},
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		n, err := r.Backlog(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	}))
}
