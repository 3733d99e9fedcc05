package apilog

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/supportdesk/supportdesk/pkg/bus"
	"github.com/supportdesk/supportdesk/pkg/events"
)

// maxRefusalKeys bounds the clients counted apart within one minute: past
// it, the refusals of further clients are counted together, with an empty
// address, so that a flood from many addresses costs bounded memory and
// bounded events too.
const maxRefusalKeys = 10_000

// refusalKey is what refusals are counted by.
type refusalKey struct {
	ip, method, route string
	status            int
	user              events.Actor
}

// refusal is the count of one key within a minute.
type refusal struct {
	count    int64
	from, to time.Time
}

// refusals counts the requests the gateway's rate limits refused, per key
// and minute.
type refusals struct {
	mu      sync.Mutex
	minutes map[time.Time]map[refusalKey]*refusal // by the minute's start
}

func newRefusals() *refusals {
	return &refusals{minutes: map[time.Time]map[refusalKey]*refusal{}}
}

// add counts one refusal at time at.
func (rs *refusals) add(k refusalKey, at time.Time) {
	minute := at.Truncate(time.Minute)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	counts := rs.minutes[minute]
	if counts == nil {
		counts = map[refusalKey]*refusal{}
		rs.minutes[minute] = counts
	}
	r := counts[k]
	if r == nil {
		if len(counts) >= maxRefusalKeys {
			k.ip, k.user = "", events.Actor{}
			r = counts[k]
		}
		if r == nil {
			r = &refusal{from: at}
			counts[k] = r
		}
	}
	r.count++
	r.to = at
}

// counted is the count of one key within one minute.
type counted struct {
	key refusalKey
	*refusal
}

// take removes and returns the counts of the minutes over at now, or of
// every minute when all is set.
func (rs *refusals) take(now time.Time, all bool) []counted {
	current := now.Truncate(time.Minute)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var out []counted
	for minute, counts := range rs.minutes {
		if !all && !minute.Before(current) {
			continue
		}
		delete(rs.minutes, minute)
		for k, r := range counts {
			out = append(out, counted{k, r})
		}
	}
	return out
}

// refusalMessages turns the counted refusals of the minutes over (or of
// all of them) into support.api.refused events, ready to publish.
func (r *Recorder) refusalMessages(now time.Time, all bool) []*nats.Msg {
	var out []*nats.Msg
	for _, c := range r.refused.take(now, all) {
		k := c.key
		data := events.APIRefused{Method: k.method, Route: k.route, StatusCode: k.status, IPAddress: k.ip,
			Role: k.user.Role, Count: c.count, From: c.from.UTC(), To: c.to.UTC()}
		if id, err := strconv.ParseInt(k.user.ID, 10, 64); err == nil {
			data.UserID = &id
		}
		ev, err := events.New(context.Background(), events.SourceGateway, events.TypeAPIRefused, k.route, k.user, data)
		if err != nil {
			r.logger.Error("refusal event not built", "err", err)
			continue
		}
		msg, err := bus.Message(context.Background(), ev)
		if err != nil {
			r.logger.Error("refusal event not encoded", "event_id", ev.ID, "err", err)
			continue
		}
		msg.Header.Set(jetstream.MsgIDHeader, ev.ID)
		out = append(out, msg)
	}
	return out
}
