package mongostore_test

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
	"github.com/supportdesk/supportdesk/services/audit/internal/mongostore"
)

// TestEnsureRetentionOnFerretDB checks the detection against the real
// server of the tests: FerretDB has no TTL index, so the store falls back to
// the periodic purge and no TTL index is left behind.
func TestEnsureRetentionOnFerretDB(t *testing.T) {
	ctx, s, db := newStore(t)
	save(t, ctx, s, entry("e1", audit.ActionCreateRequest, 1, "1", base)) // the collection exists
	how, err := s.EnsureRetention(ctx, 90*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if how != audit.ByPurge {
		t.Errorf("retention on FerretDB = %v, want %v", how, audit.ByPurge)
	}
	specs, err := db.Collection(mongostore.EventsCollection).Indexes().ListSpecifications(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, sp := range specs {
		if sp.ExpireAfterSeconds != nil || sp.Name == mongostore.TTLIndexName {
			t.Errorf("index %s (expireAfterSeconds %v) left behind", sp.Name, sp.ExpireAfterSeconds)
		}
	}
	how, err = s.EnsureRetention(ctx, 0)
	if err != nil || how != audit.KeepForever {
		t.Errorf("retention 0 = %v, %v; want %v", how, err, audit.KeepForever)
	}
}

// TestPurgeDeletesOnlyOldEntries runs the purge path against FerretDB.
func TestPurgeDeletesOnlyOldEntries(t *testing.T) {
	ctx, s, db := newStore(t)
	now := base
	keep := 90 * 24 * time.Hour
	old := []audit.Entry{
		entry("old-1", audit.ActionCreateRequest, 1, "1", now.Add(-keep-time.Millisecond)),
		entry("old-2", "", 0, "1", now.Add(-keep-24*time.Hour)),
		entry("old-3", audit.ActionAddComment, 2, "2", now.Add(-400*24*time.Hour)),
	}
	young := []audit.Entry{
		entry("new-1", audit.ActionCreateRequest, 1, "1", now.Add(-keep)), // exactly at the limit: kept
		entry("new-2", "", 0, "1", now.Add(-time.Hour)),
		entry("new-3", audit.ActionAddComment, 2, "2", now),
	}
	save(t, ctx, s, append(old, young...)...)

	p := &audit.Purger{Store: s, Keep: keep, Every: time.Hour, Now: func() time.Time { return now },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	n, err := p.PurgeOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(old)) {
		t.Errorf("purged %d, want %d", n, len(old))
	}
	cur, err := db.Collection(mongostore.EventsCollection).Find(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var docs []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, d := range docs {
		got[d.ID] = true
	}
	if diff := cmp.Diff(map[string]bool{"new-1": true, "new-2": true, "new-3": true}, got); diff != "" {
		t.Errorf("documents left (-want +got):\n%s", diff)
	}
	if n, err := p.PurgeOnce(ctx); err != nil || n != 0 {
		t.Errorf("second purge = %d, %v; want 0, nil", n, err)
	}
}
