package pgtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/supportdesk/supportdesk/pkg/pgtest"
)

// TestClusterRestarts: a cluster of the test's own keeps its data over a
// stop and a start on the same port.
func TestClusterRestarts(t *testing.T) {
	c := pgtest.StartCluster(t)
	url := c.NewDatabase(t, "restarts")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	exec := func(sql string) {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	exec("CREATE TABLE kept (n int); INSERT INTO kept VALUES (1)")
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := pgx.Connect(ctx, url); err == nil {
		t.Fatal("connected to a stopped cluster")
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	exec("DO $$ BEGIN IF (SELECT count(*) FROM kept) <> 1 THEN RAISE 'lost'; END IF; END $$")
}
