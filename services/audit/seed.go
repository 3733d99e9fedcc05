package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/supportdesk/supportdesk/pkg/bus"
	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/ids"
	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
)

// seedBatch is how many entries each insert of a seed writes.
const seedBatch = 1000

// seed runs `audit seed --events=N`: it writes N synthetic but realistic
// entries straight into the configured store (not through the stream), for
// benchmarks and for trying the log queries at volume. Four in five are API
// calls of about 1,000 users; the rest are ticket changes; all spread over
// the --span before --at (default: the 30 days before now). The same --seed and --at write
// the same log. With --publish it publishes the same events on the stream
// instead, for the audit consumer to store (the drain benchmark compares
// the two).
func seed(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) (err error) {
	fs := flagSet("seed", stdout)
	n := fs.Int("events", 0, "how many entries to write")
	users := fs.Int("users", 1000, "how many users make the calls")
	span := fs.Duration("span", 30*24*time.Hour, "how far back from --at the entries spread, e.g. 720h or 20m")
	seedValue := fs.Uint64("seed", 1, "the random seed")
	at := fs.String("at", "", "the RFC 3339 time the entries end at (default now)")
	publish := fs.Bool("publish", false, "publish the events on the stream (NATS_URL) instead of storing them")
	if done, err := parseFlags(fs, args); done || err != nil {
		return err
	}
	if *n < 1 || *users < 1 || *span <= 0 {
		return fmt.Errorf("seed: --events, --users and --span must be positive; %s", usage)
	}
	end := time.Now().UTC()
	if *at != "" {
		if end, err = time.Parse(time.RFC3339Nano, *at); err != nil {
			return fmt.Errorf("seed: --at: %w", err)
		}
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	g := newGenerator(*seedValue, *users, end.UTC(), *span)
	if *publish {
		return publishSeed(ctx, cfg, g, *n, stdout)
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, st.close(context.WithoutCancel(ctx))) }()
	start := time.Now()
	batch := make([]audit.Entry, 0, seedBatch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		saved, err := st.SaveBatch(ctx, batch, time.Time{})
		if err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		for _, s := range saved {
			if s.Err != nil {
				return fmt.Errorf("seed: %w", s.Err)
			}
		}
		batch = batch[:0]
		return nil
	}
	for range *n {
		e, err := g.entry()
		if err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		batch = append(batch, e)
		if len(batch) == seedBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	took := time.Since(start) // the inserts' rate, what the drain benchmark compares with
	// The entries are of the past: the summaries of their minutes and hours,
	// if any, predate them. Touched once at the end rather than with each
	// batch; a summary computed meanwhile is out of date after this.
	if err := st.Touch(ctx, g.stretches()); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if err := st.afterLoad(ctx); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	fmt.Fprintf(stdout, "seed: %d entries in %s (%.0f/s)\n", *n, took.Round(time.Millisecond), float64(*n)/took.Seconds())
	return nil
}

// generator makes synthetic entries.
type generator struct {
	rnd     *rand.Rand
	users   int
	now     time.Time
	span    time.Duration
	tickets int64
	seq     uint64
}

func newGenerator(seed uint64, users int, now time.Time, span time.Duration) *generator {
	return &generator{rnd: rand.New(rand.NewPCG(seed, seed^0x5eed)), users: users, now: now, span: span}
}

// stretches returns a time in every minute the entries may fall in.
func (g *generator) stretches() []time.Time {
	var out []time.Time
	for t := g.now.Add(-g.span).Truncate(time.Minute); !t.After(g.now); t = t.Add(time.Minute) {
		out = append(out, t)
	}
	return out
}

// pick returns the index of a weight, drawn in proportion.
func (g *generator) pick(weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	r := g.rnd.IntN(total)
	for i, w := range weights {
		if r < w {
			return i
		}
		r -= w
	}
	return len(weights) - 1
}

// user returns a user id and role: most are users, a few staff and admins.
func (g *generator) user() (int64, string) {
	id := int64(g.rnd.IntN(g.users) + 1)
	switch {
	case id%50 == 0:
		return id, "admin"
	case id%10 == 0:
		return id, "staff"
	}
	return id, "user"
}

var seedRoutes = []struct {
	method, route string
	weight        int
	anonymous     bool
}{
	{"GET", "/user_request/my", 30, false},
	{"GET", "/user_request/:id", 25, false},
	{"POST", "/user_request/", 10, false},
	{"GET", "/staff/requests", 10, false},
	{"PUT", "/staff/requests/:id/status", 5, false},
	{"POST", "/auth/login", 8, true},
	{"GET", "/auth/profile", 6, false},
	{"GET", "/admin/requests", 3, false},
	{"POST", "/user_request/:id/comments", 2, false},
	{"DELETE", "/user_request/:id", 1, false},
}

var seedStatuses = []struct {
	code, weight int
}{{200, 880}, {404, 40}, {422, 25}, {401, 20}, {403, 15}, {409, 8}, {500, 5}, {503, 2}, {304, 5}}

var seedAgents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
	"HelpdeskMobile/3.4 (Android 14)",
	"python-requests/2.32.3",
	"curl/8.5.0",
}

var seedTicketTypes = []struct {
	typ    string
	weight int
}{
	{events.TypeTicketCreated, 35}, {events.TypeTicketStatusChanged, 35}, {events.TypeTicketCommentAdded, 15},
	{events.TypeTicketAssigned, 10}, {events.TypeTicketUpdated, 5},
}

// entry returns the next entry, derived from its event as the consumer
// derives it.
func (g *generator) entry() (audit.Entry, error) {
	ev, err := g.event()
	if err != nil {
		return audit.Entry{}, err
	}
	return audit.NewEntry(ev, ev.Time.Add(20*time.Millisecond))
}

// event returns the next synthetic event.
func (g *generator) event() (events.Event, error) {
	g.seq++
	at := g.now.Add(-time.Duration(g.rnd.Int64N(int64(g.span))))
	ev := events.Event{
		SpecVersion:     events.SpecVersion,
		ID:              fmt.Sprintf("seed-%016x-%08d", g.rnd.Uint64(), g.seq),
		Time:            at,
		DataContentType: "application/json",
		TraceParent:     fmt.Sprintf("00-%016x%016x-%016x-01", g.rnd.Uint64(), g.rnd.Uint64(), g.rnd.Uint64()),
	}
	var data any
	if g.rnd.IntN(5) > 0 {
		r := seedRoutes[g.pick(routeWeights)]
		status := seedStatuses[g.pick(statusWeights)].code
		if r.method == "POST" && status == 200 {
			status = 201
		}
		path := r.route
		if g.rnd.IntN(2) == 0 {
			path = strings.Replace(path, ":id", ids.Display(ids.Request, g.rnd.Int64N(100_000)+1), 1)
		} else {
			path = strings.Replace(path, ":id", fmt.Sprint(g.rnd.Int64N(100_000)+1), 1)
		}
		call := events.APIRequest{
			Method: r.method, Route: r.route, Path: path, StatusCode: status,
			// Log-normal around 15 ms, as a web API's latencies are.
			ProcessTime: math.Round(math.Exp(math.Log(0.015)+0.8*g.rnd.NormFloat64())*1e6) / 1e6,
			UserAgent:   seedAgents[g.rnd.IntN(len(seedAgents))],
			RequestID:   fmt.Sprintf("%016x", g.rnd.Uint64()),
			TraceID:     ev.TraceParent[3:35],
		}
		if !r.anonymous {
			id, role := g.user()
			call.UserID, call.Role = &id, role
			call.IPAddress = fmt.Sprintf("203.0.%d.%d", id/250, id%250+1)
			ev.ActorID, ev.ActorRole = fmt.Sprint(id), role
		} else {
			call.IPAddress = fmt.Sprintf("198.51.100.%d", g.rnd.IntN(254)+1)
		}
		ev.Source, ev.Type, ev.Subject, data = events.SourceGateway, events.TypeAPIRequest, path, call
	} else {
		typ := seedTicketTypes[g.pick(ticketWeights)].typ
		if typ == events.TypeTicketCreated || g.tickets == 0 {
			typ = events.TypeTicketCreated
			g.tickets++
		}
		id := g.rnd.Int64N(g.tickets) + 1
		owner, _ := g.user()
		staff := int64(g.rnd.IntN(max(1, g.users/10))+1) * 10
		before := events.Ticket{ID: id, DisplayID: ids.Display(ids.Request, id), OwnerID: owner, Text: "Printer on floor 3 shows error E-42",
			Status: "new", Priority: "normal", Version: 1, CreatedAt: at.Add(-time.Hour), UpdatedAt: at.Add(-time.Hour)}
		after := before
		after.Version, after.UpdatedAt = 2, at
		actor, role := fmt.Sprint(staff), "staff"
		var change events.TicketChanged
		switch typ {
		case events.TypeTicketCreated:
			after.Version, after.CreatedAt = 1, at
			data = events.TicketCreated{After: after}
			actor, role = fmt.Sprint(owner), "user"
		case events.TypeTicketStatusChanged:
			after.Status, after.StaffID = "in_progress", &staff
			change = events.TicketChanged{Before: &before, After: &after}
		case events.TypeTicketCommentAdded:
			change = events.TicketChanged{Before: &before, After: &after, Comment: &events.Comment{
				ID: int64(g.seq), TicketID: id, AuthorID: staff, Body: "Restarted the spooler; please try again.", CreatedAt: at}}
		case events.TypeTicketAssigned:
			after.StaffID = &staff
			change = events.TicketChanged{Before: &before, After: &after}
			actor, role = "1", "admin"
		default:
			after.Text = before.Text + " (also on floor 4)"
			change = events.TicketChanged{Before: &before, After: &after}
			actor, role = fmt.Sprint(owner), "user"
		}
		if data == nil {
			data = change
		}
		ev.Source, ev.Type, ev.Subject = events.SourceTickets, typ, before.DisplayID
		ev.ActorID, ev.ActorRole = actor, role
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return events.Event{}, err
	}
	ev.Data = raw
	return ev, nil
}

// publishSeed publishes n events of g on the stream, each under its event
// id, and waits until the stream has acknowledged them all.
func publishSeed(ctx context.Context, cfg Config, g *generator, n int, stdout io.Writer) error {
	nc, err := nats.Connect(cfg.NATSURL, nats.Name(cfg.ServiceName+"-seed"))
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	defer nc.Close()
	var failed atomic.Int64
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096),
		jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) { failed.Add(1) }))
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	start := time.Now()
	for range n {
		ev, err := g.event()
		if err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		msg, err := bus.Message(ctx, ev)
		if err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		if _, err := js.PublishMsgAsync(msg, jetstream.WithMsgID(ev.ID), jetstream.WithStallWait(30*time.Second)); err != nil {
			return fmt.Errorf("seed: publish: %w", err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		return fmt.Errorf("seed: %d publishes not acknowledged within a minute", js.PublishAsyncPending())
	}
	if n := failed.Load(); n > 0 {
		return fmt.Errorf("seed: %d publishes failed", n)
	}
	took := time.Since(start)
	fmt.Fprintf(stdout, "seed: %d events published in %s (%.0f/s)\n", n, took.Round(time.Millisecond), float64(n)/took.Seconds())
	return nil
}

var (
	routeWeights  = weightsOf(len(seedRoutes), func(i int) int { return seedRoutes[i].weight })
	statusWeights = weightsOf(len(seedStatuses), func(i int) int { return seedStatuses[i].weight })
	ticketWeights = weightsOf(len(seedTicketTypes), func(i int) int { return seedTicketTypes[i].weight })
)

func weightsOf(n int, w func(int) int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = w(i)
	}
	return out
}
