package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/supportdesk/supportdesk/pkg/lifecycle"
	"github.com/supportdesk/supportdesk/pkg/service"
	"github.com/supportdesk/supportdesk/pkg/telemetry"
)

// flagSet returns the flag set of the one-off command name, which prints
// its help to out.
func flagSet(name string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	return fs
}

// parseFlags parses the arguments of a one-off command into fs: -h prints
// its flags (done); a flag it does not define, or an argument left over,
// fails with the usage.
func parseFlags(fs *flag.FlagSet, args []string) (done bool, err error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return true, nil
		}
		return false, fmt.Errorf("%s: %w; %s", fs.Name(), err, usage)
	}
	if fs.NArg() > 0 {
		return false, fmt.Errorf("%s: unexpected arguments %q; %s", fs.Name(), fs.Args(), usage)
	}
	return false, nil
}

// tool is what a one-off command (replay, import) works with: the
// configuration, a logger, and the configured store, which Stop closes
// with whatever else the command adds.
type tool struct {
	*lifecycle.Parts
	cfg    Config
	logger *slog.Logger
	store  *openedStore
}

// openTool reads the configuration and opens the configured store. The
// caller defers Stop.
func openTool(ctx context.Context, getenv func(string) string, stdout io.Writer) (*tool, error) {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	logger := telemetry.NewLogger(stdout, cfg.LogLevel, cfg.ServiceName)
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	t := &tool{Parts: lifecycle.New(logger, service.StopTimeout), cfg: cfg, logger: logger, store: st}
	t.Add(st.name, st.close)
	return t, nil
}
