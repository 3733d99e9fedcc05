package mongostore

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
)

// fakeIndexes plays the index commands of a server. No MongoDB server can
// run here, so the TTL path (a server that honours expireAfterSeconds) is
// tested against this fake; FerretDB covers the purge path for real.
type fakeIndexes struct {
	// honoursTTL: the server keeps expireAfterSeconds; otherwise it
	// accepts the index and silently drops the option.
	honoursTTL bool
	createErr  error // the answer to every createIndexes, when set
	dropErr    error // the answer to dropIndexes, when set
	listErr    error
	existing   *int32 // expireAfterSeconds of a TTL index already there

	calls []string
	model mongo.IndexModel // the last model created
}

func (f *fakeIndexes) CreateOne(_ context.Context, m mongo.IndexModel, _ ...options.Lister[options.CreateIndexesOptions]) (string, error) {
	f.model = m
	var o options.IndexOptions
	for _, set := range m.Options.List() {
		_ = set(&o)
	}
	f.calls = append(f.calls, fmt.Sprintf("create %s %d", *o.Name, *o.ExpireAfterSeconds))
	if f.createErr != nil {
		return "", f.createErr
	}
	if f.existing != nil && *f.existing != *o.ExpireAfterSeconds {
		return "", mongo.CommandError{Code: codeIndexOptionsConflict, Name: "IndexOptionsConflict", Message: "an index with the same name exists with different options"}
	}
	secs := *o.ExpireAfterSeconds
	if f.honoursTTL {
		f.existing = &secs
	} else {
		f.existing = new(int32) // kept, without the option
	}
	return *o.Name, nil
}

func (f *fakeIndexes) ListSpecifications(context.Context, ...options.Lister[options.ListIndexesOptions]) ([]mongo.IndexSpecification, error) {
	f.calls = append(f.calls, "list")
	if f.listErr != nil {
		return nil, f.listErr
	}
	specs := []mongo.IndexSpecification{{Name: "_id_"}, {Name: "time_-1__id_-1"}}
	if f.existing != nil {
		sp := mongo.IndexSpecification{Name: TTLIndexName}
		if *f.existing != 0 {
			sp.ExpireAfterSeconds = f.existing
		}
		specs = append(specs, sp)
	}
	return specs, nil
}

func (f *fakeIndexes) DropOne(_ context.Context, name string, _ ...options.Lister[options.DropIndexesOptions]) error {
	f.calls = append(f.calls, "drop "+name)
	if f.dropErr != nil {
		return f.dropErr
	}
	if f.existing == nil {
		return mongo.CommandError{Code: codeIndexNotFound, Name: "IndexNotFound", Message: "index not found with name [" + name + "]"}
	}
	f.existing = nil
	return nil
}

func secs(n int32) *int32 { return &n }

func TestTTLIndexModel(t *testing.T) {
	m := ttlIndex(90 * 24 * time.Hour)
	if diff := cmp.Diff(bson.D{{Key: "time", Value: 1}}, m.Keys); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	var o options.IndexOptions
	for _, set := range m.Options.List() {
		if err := set(&o); err != nil {
			t.Fatal(err)
		}
	}
	if o.Name == nil || *o.Name != "time_ttl" || o.ExpireAfterSeconds == nil || *o.ExpireAfterSeconds != 7_776_000 {
		t.Errorf("options: name %v, expireAfterSeconds %v; want time_ttl, 7776000", o.Name, o.ExpireAfterSeconds)
	}
}

func TestEnsureRetentionDecision(t *testing.T) {
	const day = 24 * time.Hour
	down := mongo.CommandError{Code: 0, Labels: []string{"NetworkError"}, Message: "connection refused"}
	notImplemented := mongo.CommandError{Code: 238, Name: "NotImplemented", Message: `Index option "expireAfterSeconds" is not implemented yet`}
	tests := []struct {
		name     string
		fake     *fakeIndexes
		keep     time.Duration
		want     audit.Retention
		wantErr  bool
		calls    []string
		leftOver *int32 // expireAfterSeconds of the TTL index afterwards; nil: none
	}{
		{
			name:     "MongoDB: the TTL index is created and kept",
			fake:     &fakeIndexes{honoursTTL: true},
			keep:     90 * day,
			want:     audit.ByTTL,
			calls:    []string{"create time_ttl 7776000", "list"},
			leftOver: secs(7_776_000),
		},
		{
			name:     "MongoDB, same retention as before: nothing changes",
			fake:     &fakeIndexes{honoursTTL: true, existing: secs(86_400)},
			keep:     day,
			want:     audit.ByTTL,
			calls:    []string{"create time_ttl 86400", "list"},
			leftOver: secs(86_400),
		},
		{
			name:     "MongoDB, retention changed: the index is replaced",
			fake:     &fakeIndexes{honoursTTL: true, existing: secs(86_400)},
			keep:     7 * day,
			want:     audit.ByTTL,
			calls:    []string{"create time_ttl 604800", "drop time_ttl", "create time_ttl 604800", "list"},
			leftOver: secs(604_800),
		},
		{
			name:  "a server that refuses the option (FerretDB): purge",
			fake:  &fakeIndexes{createErr: notImplemented},
			keep:  90 * day,
			want:  audit.ByPurge,
			calls: []string{"create time_ttl 7776000"},
		},
		{
			name:     "a server that accepts the index but drops the option: purge",
			fake:     &fakeIndexes{},
			keep:     90 * day,
			want:     audit.ByPurge,
			calls:    []string{"create time_ttl 7776000", "list"},
			leftOver: nil,
		},
		{
			name:  "keep forever drops the TTL index of an earlier setting",
			fake:  &fakeIndexes{honoursTTL: true, existing: secs(86_400)},
			keep:  0,
			want:  audit.KeepForever,
			calls: []string{"drop time_ttl"},
		},
		{
			name:  "keep forever without a TTL index",
			fake:  &fakeIndexes{},
			keep:  0,
			want:  audit.KeepForever,
			calls: []string{"drop time_ttl"},
		},
		{
			name:    "unreachable server: an error, not a guess",
			fake:    &fakeIndexes{createErr: down},
			keep:    day,
			wantErr: true,
			calls:   []string{"create time_ttl 86400"},
		},
		{
			name:     "unreachable while listing: an error",
			fake:     &fakeIndexes{honoursTTL: true, listErr: down},
			keep:     day,
			wantErr:  true,
			calls:    []string{"create time_ttl 86400", "list"},
			leftOver: secs(86_400),
		},
		{
			name:     "keep forever, unreachable: an error",
			fake:     &fakeIndexes{dropErr: down, existing: secs(60)},
			keep:     0,
			wantErr:  true,
			calls:    []string{"drop time_ttl"},
			leftOver: secs(60),
		},
		{
			name:    "under a second",
			fake:    &fakeIndexes{},
			keep:    time.Millisecond,
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ensureRetention(context.Background(), tt.fake, tt.keep)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ensureRetention error = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Errorf("ensureRetention = %v, want %v", got, tt.want)
			}
			if diff := cmp.Diff(tt.calls, tt.fake.calls); diff != "" {
				t.Errorf("index commands (-want +got):\n%s", diff)
			}
			var left *int32
			if e := tt.fake.existing; e != nil && *e != 0 {
				left = e
			}
			if diff := cmp.Diff(tt.leftOver, left); diff != "" {
				t.Errorf("TTL index afterwards (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRefused(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{mongo.CommandError{Code: 238, Name: "NotImplemented"}, true},
		{fmt.Errorf("wrapped: %w", mongo.CommandError{Code: 67, Name: "CannotCreateIndex"}), true},
		{mongo.CommandError{Labels: []string{"NetworkError"}}, false},
		{context.DeadlineExceeded, false},
		{errors.New("server selection error"), false},
	} {
		if got := refused(tt.err); got != tt.want {
			t.Errorf("refused(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
