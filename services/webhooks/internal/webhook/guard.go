package webhook

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"

	"github.com/supportdesk/supportdesk/pkg/fault"
)

// refusedPrefixes are ranges no webhook may reach, beyond what netip's
// predicates name: "this network", shared address space (carrier-grade
// NAT), IPv4 broadcast, and the IPv4-mapped and NAT64 forms that would
// smuggle an IPv4 address in IPv6.
var refusedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("255.255.255.255/32"),
	netip.MustParsePrefix("64:ff9b::/96"),
}

// Refused reports whether addr is one a webhook must not reach: loopback,
// private, link-local, multicast or unspecified (the server's own network,
// cloud metadata services, the intranet).
func Refused(addr netip.Addr) bool {
	addr = addr.Unmap()
	if addr.IsLoopback() || addr.IsPrivate() || addr.IsLinkLocalUnicast() || addr.IsLinkLocalMulticast() ||
		addr.IsInterfaceLocalMulticast() || addr.IsMulticast() || addr.IsUnspecified() || !addr.IsValid() {
		return true
	}
	for _, p := range refusedPrefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Guard checks webhook URLs and the addresses deliveries dial.
type Guard struct {
	// AllowPrivate lets webhooks reach refused addresses
	// (WEBHOOK_ALLOW_PRIVATE; development only).
	AllowPrivate bool
	// Resolver looks host names up; nil is net.DefaultResolver.
	Resolver interface {
		LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
	}
}

func urlError(msg string) error { return fault.Fields(fault.FieldError{Field: "url", Message: msg}) }

// MaxURLLength bounds a webhook URL.
const MaxURLLength = 2000

// CheckURL validates a webhook URL: absolute http(s), no credentials, a
// host that resolves, and, unless AllowPrivate, to no refused address. It
// returns the URL as it will be called.
func (g Guard) CheckURL(ctx context.Context, raw string) (string, error) {
	if len(raw) > MaxURLLength {
		return "", urlError(fmt.Sprintf("must be at most %d characters", MaxURLLength))
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "":
		return "", urlError("must be an absolute http or https URL")
	case u.User != nil:
		return "", urlError("must not hold credentials: the signature authenticates the sender")
	case u.Fragment != "":
		return "", urlError("must not have a fragment")
	}
	if g.AllowPrivate {
		return u.String(), nil
	}
	host := u.Hostname()
	addrs := []netip.Addr{}
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = append(addrs, a)
	} else {
		r := g.Resolver
		if r == nil {
			r = net.DefaultResolver
		}
		if addrs, err = r.LookupNetIP(ctx, "ip", host); err != nil || len(addrs) == 0 {
			return "", urlError(fmt.Sprintf("host %q does not resolve", host))
		}
	}
	for _, a := range addrs {
		if Refused(a) {
			return "", urlError(fmt.Sprintf("resolves to %s, a loopback, private, link-local, multicast or unspecified address", a.Unmap()))
		}
	}
	return u.String(), nil
}

// Control is a net.Dialer Control hook that refuses, before connecting, an
// address CheckURL would refuse: a host that resolved to a public address
// when the webhook was registered may resolve elsewhere since (DNS
// rebinding), so every dial is checked on the address actually dialed.
func (g Guard) Control(_, address string, _ syscall.RawConn) error {
	if g.AllowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhook dial: %w", err)
	}
	if Refused(ap.Addr()) {
		return fmt.Errorf("webhook dial to %s refused: a loopback, private, link-local, multicast or unspecified address", ap.Addr().Unmap())
	}
	return nil
}
