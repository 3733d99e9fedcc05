// Package pgdb opens PostgreSQL pools and runs each service's embedded
// golang-migrate migrations, at start-up and as a "migrate" subcommand.
package pgdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"strconv"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/golang-migrate/migrate/v4"
	_ "github.com/golang-migrate/migrate/v4/database/pgx/v5" // registers pgx5://
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Open connects a pool to url, traced with OpenTelemetry, and checks that the
// database answers. Its connections read timestamptz values in UTC, so rows
// scan straight into domain types without converting each time.
func Open(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	cfg.ConnConfig.Tracer = otelpgx.NewTracer()
	cfg.AfterConnect = func(_ context.Context, conn *pgx.Conn) error {
		conn.TypeMap().RegisterType(&pgtype.Type{
			Name: "timestamptz", OID: pgtype.TimestamptzOID,
			Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC},
		})
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ping database %s@%s/%s: %w", cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Database, err)
	}
	return pool, nil
}

// Migrations are a service's embedded SQL files and the name of the table in
// which golang-migrate records how far they were applied. Every service has
// its own table, so their histories are independent in one database.
type Migrations struct {
	FS    fs.FS  // holds the *.up.sql and *.down.sql files
	Dir   string // folder of FS holding them; "" is the root
	Table string // e.g. "auth_schema_migrations"
}

func (m Migrations) open(dbURL string) (*migrate.Migrate, error) {
	dir := m.Dir
	if dir == "" {
		dir = "."
	}
	src, err := iofs.New(m.FS, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	u.Scheme = "pgx5"
	q := u.Query()
	q.Set("x-migrations-table", m.Table)
	u.RawQuery = q.Encode()
	mg, err := migrate.NewWithSourceInstance("iofs", src, u.String())
	if err != nil {
		return nil, fmt.Errorf("open migrations: %w", err)
	}
	return mg, nil
}

func closeMigrate(mg *migrate.Migrate, err error) error {
	srcErr, dbErr := mg.Close()
	return errors.Join(err, srcErr, dbErr)
}

// Up applies every pending migration. It is safe to run from several
// replicas at once: golang-migrate holds an advisory lock meanwhile.
func (m Migrations) Up(dbURL string) error {
	mg, err := m.open(dbURL)
	if err != nil {
		return err
	}
	err = mg.Up()
	if errors.Is(err, migrate.ErrNoChange) {
		err = nil
	}
	if err != nil {
		err = fmt.Errorf("migrate up: %w", err)
	}
	return closeMigrate(mg, err)
}

// Open applies every pending migration, then opens a pool on dbURL: the
// start-up of a service that owns tables.
func (m Migrations) Open(ctx context.Context, dbURL string) (*pgxpool.Pool, error) {
	if err := m.Up(dbURL); err != nil {
		return nil, err
	}
	return Open(ctx, dbURL)
}

// MigrateUsage is the usage of Command.
const MigrateUsage = "migrate up | down [N] | version | force V"

// Command runs "migrate up", "migrate down [N]" (default 1 step),
// "migrate version" or "migrate force V" for a service binary; args are
// what follows "migrate". force records version V as applied and clean
// without running anything: the way out of a dirty version after a
// migration failed half-way and its effects were mended by hand.
func (m Migrations) Command(dbURL string, args []string, out io.Writer) error {
	if len(args) == 0 || len(args) > 2 || (len(args) == 2 && args[0] != "down" && args[0] != "force") {
		return fmt.Errorf("usage: %s", MigrateUsage)
	}
	mg, err := m.open(dbURL)
	if err != nil {
		return err
	}
	switch args[0] {
	case "up":
		err = mg.Up()
		if errors.Is(err, migrate.ErrNoChange) {
			err = nil
		}
	case "down":
		steps := 1
		if len(args) > 1 {
			steps, err = strconv.Atoi(args[1])
			if err != nil || steps < 1 {
				return closeMigrate(mg, fmt.Errorf("down: %q is not a positive number of steps", args[1]))
			}
		}
		err = mg.Steps(-steps)
	case "force":
		if len(args) != 2 {
			return closeMigrate(mg, errors.New("force: give the version to record, e.g. migrate force 2"))
		}
		v, convErr := strconv.Atoi(args[1])
		if convErr != nil || v < 1 {
			return closeMigrate(mg, fmt.Errorf("force: %q is not a version number", args[1]))
		}
		err = mg.Force(v)
	case "version":
	default:
		return closeMigrate(mg, fmt.Errorf("unknown migrate command %q (want up, down, version or force)", args[0]))
	}
	if err == nil {
		v, dirty, verr := mg.Version()
		switch {
		case errors.Is(verr, migrate.ErrNilVersion):
			fmt.Fprintln(out, "version: none")
		case verr != nil:
			err = verr
		default:
			fmt.Fprintf(out, "version: %d dirty: %t\n", v, dirty)
		}
	}
	return closeMigrate(mg, err)
}

// IsUniqueViolation reports whether err is PostgreSQL's unique_violation
// (23505), which stores turn into a Conflict.
func IsUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}
