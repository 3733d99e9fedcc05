package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/supportdesk/supportdesk/pkg/bus"
	"github.com/supportdesk/supportdesk/pkg/lifecycle"
	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
	"github.com/supportdesk/supportdesk/services/audit/internal/consumer"
)

// replay runs `audit replay --since=...`: it stores every event the stream
// still holds from that time on, skipping those already stored, and prints
// what it did. See README.md, "Replay".
func replay(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) (err error) {
	fs := flagSet("replay", stdout)
	sinceFlag := fs.String("since", "", "replay events from this time on: an RFC 3339 time, or a duration before now like 72h")
	if done, err := parseFlags(fs, args); done || err != nil {
		return err
	}
	since, err := parseSince(*sinceFlag, time.Now())
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	t, err := openTool(ctx, getenv, stdout)
	if err != nil {
		return err
	}
	defer t.Stop(&err)

	nc, js, err := bus.Connect(t.cfg.NATSURL, t.cfg.ServiceName+"-replay")
	if err != nil {
		return err
	}
	t.Add("nats", lifecycle.Quiet(nc.Close))

	t.logger.InfoContext(ctx, "replay", "since", since.Format(time.RFC3339Nano), "stream", bus.StreamName)
	res, err := consumer.Replay(ctx, js, bus.StreamName, since, audit.NewService(t.store, time.Now))
	fmt.Fprintf(stdout, "replay since %s: %d read, %d stored, %d already stored, %d invalid\n",
		since.UTC().Format(time.RFC3339), res.Read, res.Stored, res.Existing, res.Invalid)
	return err
}

// parseSince reads the --since of replay: an RFC 3339 time, or a positive
// duration before now.
func parseSince(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, fmt.Errorf("--since is required; %s", usage)
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--since=%s is neither an RFC 3339 time nor a positive duration like 72h", v)
}
