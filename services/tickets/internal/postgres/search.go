package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgconn"
)

// searchBatch is how many tickets one statement of a rebuild rewrites.
const searchBatch = 2000

// UseSearchLanguage makes language (a PostgreSQL text search configuration:
// simple, english, russian, ...) the one tickets' search vectors are built
// in. When it differs from the one they were built in, every ticket's
// vectors are rebuilt, a batch at a time (80 s for a million tickets
// without comments on a 2-core machine); new writes use the new language
// at once. A rebuild cut short is finished at the next start.
func (s *Store) UseSearchLanguage(ctx context.Context, language string, logger *slog.Logger) error {
	const set = `
UPDATE tickets.search_settings SET language = $1::regconfig,
    rebuilt = rebuilt AND language = $1::regconfig
RETURNING rebuilt`
	var rebuilt bool
	err := s.pool.QueryRow(ctx, set, language).Scan(&rebuilt)
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == "42704" { // undefined_object
		return fmt.Errorf("SEARCH_LANGUAGE %q is not a text search configuration of the database (simple, english, ...: \\dF in psql lists them)", language)
	}
	if err != nil {
		return fmt.Errorf("set the search language: %w", err)
	}
	if rebuilt {
		return nil
	}
	logger.InfoContext(ctx, "rebuilding the search vectors of every ticket", "language", language)
	// Each statement rewrites the next batch by id and returns the last id
	// it wrote and how many (NULL and 0 past the end).
	const rebuild = `
WITH batch AS (SELECT id FROM tickets.requests WHERE id > $1 ORDER BY id LIMIT $2),
written AS (
    UPDATE tickets.requests r SET
        search_text = tickets.search_document(r.title, r.text),
        search_public = tickets.search_comments(r.id, false),
        search_internal = tickets.search_comments(r.id, true)
    FROM batch WHERE r.id = batch.id
    RETURNING r.id)
SELECT max(id), count(*) FROM written`
	var last, done int64
	for {
		var batchLast *int64
		var n int64
		if err := s.pool.QueryRow(ctx, rebuild, last, searchBatch).Scan(&batchLast, &n); err != nil {
			return fmt.Errorf("rebuild the search vectors after ticket %d: %w", last, err)
		}
		if batchLast == nil {
			break
		}
		last, done = *batchLast, done+n
	}
	if _, err := s.pool.Exec(ctx, `UPDATE tickets.search_settings SET rebuilt = true WHERE language = $1::regconfig`, language); err != nil {
		return fmt.Errorf("record the rebuilt search vectors: %w", err)
	}
	logger.InfoContext(ctx, "search vectors rebuilt", "language", language, "tickets", done)
	return nil
}
