package httpserver

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ParsePrefixes parses a comma- or space-separated list of CIDR prefixes or
// single addresses (a /32 or /128), as GATEHOUSE_TRUSTED_PROXIES is written.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not a CIDR prefix", f)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address or CIDR prefix", f)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

type clientIPKey struct{}

// TrustProxies resolves each request's client address once, for ClientIP.
// A request from an address in trusted (a reverse proxy or load balancer
// of ours) is from the rightmost X-Forwarded-For address that is not in
// trusted: every proxy appends the address it received from, and only
// what our own proxies appended can be believed. A request from anywhere
// else is from its peer address, whatever it claims (RFC 7239 §8.2).
// With trusted empty, X-Forwarded-For is never read. Put it outermost.
func TrustProxies(trusted []netip.Prefix) Middleware {
	return func(next http.Handler) http.Handler {
		if len(trusted) == 0 {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ip := resolveClient(r, trusted)
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientIPKey{}, ip)))
		})
	}
}

func resolveClient(r *http.Request, trusted []netip.Prefix) string {
	a, peer := peerAddr(r)
	if !a.IsValid() || !inAny(a, trusted) {
		return peer
	}
	client := peer
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			h, err := netip.ParseAddr(strings.Trim(strings.TrimSpace(parts[j]), "[]"))
			if err != nil {
				// Garbage from beyond our proxies: the last trusted hop is
				// all we know.
				return client
			}
			h = h.Unmap().WithZone("")
			client = h.String()
			if !inAny(h, trusted) {
				return client
			}
		}
	}
	return client
}

func inAny(a netip.Addr, prefixes []netip.Prefix) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// peerAddr is r's peer address, unmapped and without zone, and its
// spelling. The address is invalid when RemoteAddr holds none; the
// spelling is then RemoteAddr's host as it is.
func peerAddr(r *http.Request) (netip.Addr, string) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, host
	}
	// One spelling for logs, audit and the throttle: a v4-mapped peer
	// (::ffff:198.51.100.7) is 198.51.100.7 everywhere.
	a = a.Unmap().WithZone("")
	return a, a.String()
}

// ClientIP is the address of the client that sent r: the one place that
// decides it, so that logs, audit events and throttling agree. It is the
// peer address unless TrustProxies resolved it from X-Forwarded-For.
func ClientIP(r *http.Request) string {
	if ip, ok := r.Context().Value(clientIPKey{}).(string); ok {
		return ip
	}
	_, peer := peerAddr(r)
	return peer
}

// ClientNetwork is ClientIP as a throttle keys it: an IPv6 client by its
// /64 (one subscriber's allocation, whose addresses it may rotate
// freely), an IPv4 client by its address.
func ClientNetwork(r *http.Request) string {
	return networkOf(ClientIP(r))
}

// networkOf is ClientNetwork of the client address ip.
func networkOf(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
