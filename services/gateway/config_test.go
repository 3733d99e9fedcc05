package main

import (
	"slices"
	"strings"
	"testing"
)

func TestConfigProxiesAndAdminListener(t *testing.T) {
	key := strings.Repeat("g", 40)
	load := func(env map[string]string) (Config, error) {
		env["SECRET_KEY"] = key
		return loadConfig(func(k string) string { return env[k] })
	}
	cfg, err := load(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TrustedProxies != nil || cfg.AdminAddr != "127.0.0.1:8010" {
		t.Errorf("defaults: trusted %q, admin %q; want none and 127.0.0.1:8010", cfg.TrustedProxies, cfg.AdminAddr)
	}
	cfg, err = load(map[string]string{"TRUSTED_PROXIES": " 10.0.0.0/8, 192.0.2.10 ,fd00::/8", "GATEWAY_ADMIN_ADDR": "off"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"10.0.0.0/8", "192.0.2.10", "fd00::/8"}; !slices.Equal(cfg.TrustedProxies, want) || cfg.AdminAddr != "" {
		t.Errorf("trusted %q, admin %q; want %q and none", cfg.TrustedProxies, cfg.AdminAddr, want)
	}
	if _, err := load(map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8,lb.example.com"}); err == nil || !strings.Contains(err.Error(), "lb.example.com") {
		t.Errorf("a host name in TRUSTED_PROXIES: err = %v", err)
	}
}
