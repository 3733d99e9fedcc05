package token_test

import (
	"strings"
	"testing"
	"time"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/token"
)

// BenchmarkVerify is the gateway's and every service's per-request cost of
// checking an access token: the first time (signature, claims), and again
// (remembered until it expires).
func BenchmarkVerify(b *testing.B) {
	key := []byte(strings.Repeat("k", 32))
	raw, _, err := token.NewManager(key, time.Hour).Issue(42, access.RoleUser, "session-1")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("first", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := token.NewManager(key, time.Hour).Verify(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("again", func(b *testing.B) {
		m := token.NewManager(key, time.Hour)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := m.Verify(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}
