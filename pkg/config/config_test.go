package config_test

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/supportdesk/supportdesk/pkg/config"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestReader(t *testing.T) {
	r := config.NewReader(env(map[string]string{
		"NAME": " svc ", "N": "7", "B": "TRUE", "D": "3s",
		"BAD_N": "x", "BAD_B": "maybe", "BAD_D": "soon",
	}))
	if got := r.String("NAME", "def"); got != "svc" {
		t.Errorf("String = %q, want svc", got)
	}
	if got := r.String("UNSET", "def"); got != "def" {
		t.Errorf("String default = %q", got)
	}
	if got := r.Int("N", 1); got != 7 {
		t.Errorf("Int = %d", got)
	}
	if got := r.Bool("B", false); !got {
		t.Errorf("Bool = false")
	}
	if got := r.Duration("D", 0); got != 3*time.Second {
		t.Errorf("Duration = %v", got)
	}
	if err := r.Err(); err != nil {
		t.Fatalf("unexpected error: %v", err)
	}

	r.Int("BAD_N", 0)
	r.Bool("BAD_B", false)
	r.Duration("BAD_D", 0)
	r.Required("MISSING")
	err := r.Err()
	if err == nil {
		t.Fatal("want errors")
	}
	for _, key := range []string{"BAD_N", "BAD_B", "BAD_D", "MISSING"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error %q does not mention %s", err, key)
		}
	}
}

func TestSecretIsMasked(t *testing.T) {
	s := config.Secret("super-secret-value")
	var buf strings.Builder
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("cfg", "key", s)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %s", s, s), buf.String()} {
		if strings.Contains(out, "super-secret-value") {
			t.Errorf("secret leaked: %s", out)
		}
	}
	if s.Reveal() != "super-secret-value" {
		t.Error("Reveal lost the value")
	}
}

func TestCheckSecretKey(t *testing.T) {
	strong := config.Secret(strings.Repeat("k", 40))
	tests := []struct {
		name    string
		key     config.Secret
		debug   bool
		wantErr bool
	}{
		{"empty", "", false, true},
		{"empty in debug", "", true, true},
		{"short", "short", false, true},
		{"short in debug", "short", true, false},
		{"example", "dev-only-insecure-secret-key-change-me-0123456789", false, true},
		{"example in debug: refused in every mode", "dev-only-insecure-secret-key-change-me-0123456789", true, true},
		{".env.example's value in debug", "change-me-to-a-long-random-string-of-at-least-32-bytes", true, true},
		{"strong", strong, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := config.CheckSecretKey(tt.key, tt.debug)
			if (err != nil) != tt.wantErr {
				t.Fatalf("CheckSecretKey() error = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}

func TestCommon(t *testing.T) {
	key := strings.Repeat("s", 40)
	r := config.NewReader(env(map[string]string{"SECRET_KEY": key, "ACCESS_TOKEN_EXPIRE_MINUTES": "5", "LOG_LEVEL": "debug", "AUTH_ADMIN_ADDR": "127.0.0.1:9001"}))
	c := r.Common("auth", ":8001", "")
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if c.ServiceName != "auth" || c.TokenTTL != 5*time.Minute || c.LogLevel != slog.LevelDebug || c.SecretKey.Reveal() != key ||
		c.Addr != ":8001" || c.AdminAddr != "127.0.0.1:9001" {
		t.Errorf("Common = %+v", c)
	}
	if c := config.NewReader(env(map[string]string{"SECRET_KEY": key, "TICKETS_ADDR": "127.0.0.1:9002"})).Common("tickets", ":8002", ""); c.Addr != "127.0.0.1:9002" {
		t.Errorf("TICKETS_ADDR read as %q", c.Addr)
	}
	for value, want := range map[string]string{"": "127.0.0.1:8010", "off": "", "10.1.2.3:9000": "10.1.2.3:9000"} {
		c := config.NewReader(env(map[string]string{"SECRET_KEY": key, "GATEWAY_ADMIN_ADDR": value})).Common("gateway", ":8000", "127.0.0.1:8010")
		if c.AdminAddr != want {
			t.Errorf("GATEWAY_ADMIN_ADDR=%q read as %q, want %q", value, c.AdminAddr, want)
		}
	}

	r = config.NewReader(env(map[string]string{"SECRET_KEY": "short", "ALGORITHM": "RS256", "LOG_LEVEL": "loud", "ACCESS_TOKEN_EXPIRE_MINUTES": "0"}))
	r.Common("auth", ":8001", "")
	err := r.Err()
	for _, want := range []string{"SECRET_KEY", "ALGORITHM", "LOG_LEVEL", "ACCESS_TOKEN_EXPIRE_MINUTES"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %s", err, want)
		}
	}
}

func TestCheckArgs(t *testing.T) {
	for _, c := range []struct {
		args      []string
		done, bad bool
	}{
		{nil, false, false}, {[]string{"serve"}, false, false}, {[]string{"migrate", "up"}, false, false},
		{[]string{"--help"}, true, false}, {[]string{"-h"}, true, false},
		{[]string{"serve", "now"}, false, true}, {[]string{"--port=1"}, false, true},
	} {
		var out strings.Builder
		done, err := config.CheckArgs(c.args, "usage: x", &out, "migrate")
		if done != c.done || (err != nil) != c.bad || done != (out.String() == "usage: x\n") {
			t.Errorf("CheckArgs(%q) = %v, %v, printed %q", c.args, done, err, out.String())
		}
	}
}

// A setting may come from the file X_FILE names, as mounted secrets are;
// X itself wins, and an unreadable file is reported.
func TestSettingsFromFiles(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "secret_key")
	if err := os.WriteFile(key, []byte(strings.Repeat("f", 40)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := config.NewReader(env(map[string]string{"SECRET_KEY_FILE": key, "NATS_URL_FILE": filepath.Join(dir, "missing"),
		"LOG_LEVEL": "warn", "LOG_LEVEL_FILE": key}))
	c := r.Common("auth", ":8001", "")
	if c.SecretKey.Reveal() != strings.Repeat("f", 40) || c.LogLevel != slog.LevelWarn {
		t.Errorf("SECRET_KEY from its file = %q, LOG_LEVEL = %v", c.SecretKey.Reveal(), c.LogLevel)
	}
	if err := r.Err(); err == nil || !strings.Contains(err.Error(), "NATS_URL_FILE") {
		t.Errorf("an unreadable NATS_URL_FILE: err = %v", err)
	}
}
