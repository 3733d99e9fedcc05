// Command ferretdb runs an embedded FerretDB v1 as a MongoDB wire-protocol
// server for tests and local runs, where no MongoDB server can be installed.
// With -postgresql-url it keeps its data in a PostgreSQL database (the
// backend that holds up at volume; the tests use it); otherwise in SQLite
// files under -dir. FerretDB's own cmd/ferretdb binary does not start
// on these machines, so the library is embedded here instead.
//
// It lives outside go.work on purpose: FerretDB's dependency graph must not
// leak into the services' modules.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ferretdb", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	dir := fs.String("dir", "data/ferretdb", "folder for the SQLite files (without -postgresql-url)")
	pgURL := fs.String("postgresql-url", "", "PostgreSQL database to keep the data in (it must exist), instead of SQLite files")
	debug := fs.Bool("debug", false, "log FerretDB's own messages")
	if err := fs.Parse(args); err != nil {
		return err
	}

	level := slog.LevelWarn
	if *debug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	cfg := &ferretdb.Config{Listener: ferretdb.ListenerConfig{TCP: *listen}, Logger: logger}
	if *pgURL != "" {
		cfg.Handler, cfg.PostgreSQLURL = "postgresql", *pgURL
	} else {
		abs, err := filepath.Abs(*dir)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(abs, 0o750); err != nil {
			return err
		}
		cfg.Handler, cfg.SQLiteURL = "sqlite", "file:"+abs+"/"
	}
	f, err := ferretdb.New(cfg)
	if err != nil {
		return err
	}

	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()

	// MongoDBURI blocks until the listener is bound, so printing it tells a
	// parent process that the server accepts connections.
	fmt.Fprintln(stdout, f.MongoDBURI())

	return <-done
}
