package mongostore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/supportdesk/supportdesk/pkg/mongotest"
	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
	"github.com/supportdesk/supportdesk/services/audit/internal/mongostore"
	"github.com/supportdesk/supportdesk/services/audit/internal/storetest"
)

// TestQueriesCarryTheirDeadline: a log query's deadline reaches the server
// as maxTimeMS on each command (the count and the find, the summaries and
// the rollups), so a query whose client went away stops there too; without
// a deadline, none is sent.
func TestQueriesCarryTheirDeadline(t *testing.T) {
	var mu sync.Mutex
	maxTime := map[string][]bool{} // command -> whether each carried maxTimeMS
	monitor := &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		_, err := e.Command.LookupErr("maxTimeMS")
		mu.Lock()
		maxTime[e.CommandName] = append(maxTime[e.CommandName], err == nil)
		mu.Unlock()
	}}
	client, err := mongo.Connect(options.Client().ApplyURI(mongotest.Start(t)).SetMonitor(monitor))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	s := mongostore.New(client.Database("deadline"))
	storetest.Save(t, s, storetest.Entry("a", audit.ActionCreateRequest, 1, "1", storetest.Base))

	q := audit.Query{Log: audit.ActionEntries, Limit: 10, CountUpTo: 100}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	mu.Lock()
	clear(maxTime)
	mu.Unlock()
	if _, err := s.List(ctx, q); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Summarize(ctx, storetest.Base.Add(-time.Hour), storetest.Base); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Rollups(ctx, time.Hour, storetest.Base.Add(-time.Hour), storetest.Base); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	// CountDocuments is an aggregate; a summary is two; a page and the
	// rollups are a find each.
	for cmd, n := range map[string]int{"aggregate": 3, "find": 2} {
		got := maxTime[cmd]
		carried := 0
		for _, ok := range got {
			if ok {
				carried++
			}
		}
		if len(got) != n || carried != n {
			t.Errorf("%s under a deadline: maxTimeMS sent %v, want %d times", cmd, got, n)
		}
	}
	clear(maxTime)
	mu.Unlock()
	if _, err := s.List(context.Background(), q); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := maxTime["find"]; len(got) != 1 || got[0] {
		t.Errorf("find without a deadline: maxTimeMS sent %v, want not", got)
	}
}
