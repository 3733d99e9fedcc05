package postgres_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/supportdesk/supportdesk/pkg/pgtest"
	"github.com/supportdesk/supportdesk/services/tickets/internal/postgres"
	"github.com/supportdesk/supportdesk/services/tickets/internal/ticket"
)

// searchFixture: tickets 1, 2 and 4 are user 3's, ticket 3 is user 4's.
// Ticket 4 mentions the printer only in a public comment, and a vendor only
// in an internal note.
const searchFixture = `
INSERT INTO tickets.requests (owner_id, title, text) VALUES
 (3, 'Printer jams', 'The printer on floor 3 jams every morning'),
 (3, NULL, 'VPN drops when the laptop sleeps'),
 (4, NULL, 'printer toner is empty'),
 (3, NULL, 'Email quota exceeded');
INSERT INTO tickets.comments (request_id, author_id, body, internal) VALUES
 (4, 2, 'Cleared your mailbox; the printer is fine now too', false),
 (4, 2, 'Ask the vendor about the contract', true);`

func TestSearch(t *testing.T) {
	pool, _ := pgtest.New(t, postgres.Migrations)
	store := postgres.NewStore(pool)
	pgtest.Exec(t, pool, searchFixture)
	ctx := context.Background()
	owner := int64(3)
	search := func(f ticket.Filter) []int64 {
		t.Helper()
		views, _, _, err := store.List(ctx, f, ticket.Page{Number: 1, Size: 10})
		if err != nil {
			t.Fatalf("search %+v: %v", f, err)
		}
		var ids []int64
		for _, v := range views {
			ids = append(ids, v.ID)
		}
		return ids
	}

	for _, c := range []struct {
		name string
		f    ticket.Filter
		want []int64
	}{
		{"a word, title first, then a comment", ticket.Filter{Query: "printer", OwnerID: &owner}, []int64{1, 4}},
		{"every word must match", ticket.Filter{Query: "printer morning", OwnerID: &owner}, []int64{1}},
		{"-word excludes", ticket.Filter{Query: "printer -jams", OwnerID: &owner}, []int64{4}},
		{"a phrase in order", ticket.Filter{Query: `"floor 3 jams"`}, []int64{1}},
		{"a phrase out of order", ticket.Filter{Query: `"jams floor 3"`}, nil},
		{"internal notes hidden from users", ticket.Filter{Query: "vendor", OwnerID: &owner}, nil},
		{"internal notes found by staff", ticket.Filter{Query: "vendor", Internal: true}, []int64{4}},
		{"across owners for staff: title, then text, then a comment", ticket.Filter{Query: "printer", Internal: true}, []int64{1, 3, 4}},
		{"nothing but operators", ticket.Filter{Query: `'&|!:*() - "" <->`, OwnerID: &owner}, nil},
		{"no query lists everything, newest first", ticket.Filter{OwnerID: &owner}, []int64{4, 2, 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := search(c.f); !slices.Equal(got, c.want) {
				t.Errorf("found %v, want %v", got, c.want)
			}
		})
	}

	// A search pages by cursor in relevance order, each ticket once.
	f := ticket.Filter{Query: "printer", Internal: true}
	var seen []int64
	page := ticket.Page{Number: 1, Size: 1}
	for range 5 {
		views, _, next, err := store.List(ctx, f, page)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range views {
			seen = append(seen, v.ID)
		}
		if next == nil {
			break
		}
		if next.Rank == nil {
			t.Fatal("a search's cursor holds no rank")
		}
		cur, err := ticket.ParseCursor(next.String())
		if err != nil {
			t.Fatal(err)
		}
		page = ticket.Page{Size: 1, After: &cur}
	}
	if !slices.Equal(seen, []int64{1, 3, 4}) {
		t.Errorf("paged by cursor: %v, want [1 3 4]", seen)
	}

	// Another language rebuilds every vector: english stems plurals.
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if got := search(ticket.Filter{Query: "printers", Internal: true}); got != nil {
		t.Errorf("simple matched a plural: %v", got)
	}
	if err := store.UseSearchLanguage(ctx, "english", quiet); err != nil {
		t.Fatal(err)
	}
	if got := search(ticket.Filter{Query: "printers", Internal: true}); !slices.Equal(got, []int64{1, 3, 4}) {
		t.Errorf("english: printers found %v, want [1 3 4]", got)
	}
	if err := store.UseSearchLanguage(ctx, "klingon", quiet); err == nil || !strings.Contains(err.Error(), "SEARCH_LANGUAGE") {
		t.Errorf("an unknown language: %v", err)
	}
}
