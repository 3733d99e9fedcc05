package mongostore_test

import (
	"testing"
	"time"

	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
	"github.com/supportdesk/supportdesk/services/audit/internal/mongostore"
	"github.com/supportdesk/supportdesk/services/audit/internal/storetest"
)

// TestEnsureRetentionOnFerretDB checks the detection against the real
// server of the tests: FerretDB has no TTL index, so the store falls back to
// the periodic purge and no TTL index is left behind.
func TestEnsureRetentionOnFerretDB(t *testing.T) {
	ctx, s, db := newStore(t)
	save(t, ctx, s, storetest.Entry("e1", audit.ActionCreateRequest, 1, "1", base)) // the collection exists
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
