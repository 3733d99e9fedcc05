package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/supportdesk/supportdesk/pkg/config"
	"github.com/supportdesk/supportdesk/services/audit/internal/mongostore"
)

// importBatch is how many entries each step of an import copies.
const importBatch = 1000

// importLog runs `audit import --from=<MongoDB URL>`: it copies every entry
// of the MongoDB-wire store at that URL (for instance an older `make run`'s
// FerretDB folder, served by bin/ferretdb) into the configured store,
// skipping those stored already, and prints what it did. Running it again
// is safe.
func importLog(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) (err error) {
	fs := flagSet("import", stdout)
	from := fs.String("from", "", "the MongoDB URL of the store to copy, e.g. mongodb://127.0.0.1:27018/")
	database := fs.String("database", "app_logs", "the database of that store")
	if done, err := parseFlags(fs, args); done || err != nil {
		return err
	}
	if *from == "" {
		return fmt.Errorf("import: --from is required; %s", usage)
	}
	t, err := openTool(ctx, getenv, stdout)
	if err != nil {
		return err
	}
	defer t.Stop(&err)

	srcCfg := t.cfg
	srcCfg.MongoURL, srcCfg.MongoDatabase = config.Secret(*from), *database
	client, err := connectMongo(ctx, srcCfg)
	if err != nil {
		return err
	}
	t.Add("source mongodb", client.Disconnect)
	src := mongostore.New(client.Database(*database))

	var read, stored int
	after := ""
	importedAt := time.Now()
	for {
		entries, err := src.Scan(ctx, after, importBatch)
		if err != nil {
			return err
		}
		if len(entries) == 0 {
			break
		}
		// Every imported entry is late: the summaries of its minute and
		// hour, if any, predate it.
		saved, err := t.store.SaveBatch(ctx, entries, importedAt)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		for _, s := range saved {
			read++
			if s.New {
				stored++
			}
		}
		after = entries[len(entries)-1].EventID
	}
	fmt.Fprintf(stdout, "import from %s: %d read, %d stored, %d already stored\n", redactURL(*from), read, stored, read-stored)
	return nil
}
