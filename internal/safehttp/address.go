package safehttp

import (
	"net/netip"
)

// Address classes a fetch may never reach, for the admin's error message.
const (
	classPrivate       = "a private-network address"
	classLoopback      = "a loopback address"
	classLinkLocal     = "a link-local address"
	classDocumentation = "a documentation address"
	classMulticast     = "a multicast address"
	classReserved      = "a reserved address"
)

type deniedRange struct {
	prefix netip.Prefix
	class  string
}

func ranges(rs ...string) []deniedRange {
	out := make([]deniedRange, 0, len(rs)/2)
	for i := 0; i < len(rs); i += 2 {
		out = append(out, deniedRange{netip.MustParsePrefix(rs[i]), rs[i+1]})
	}
	return out
}

// deniedV4 are the IPv4 special-purpose ranges that are not globally
// reachable (IANA IPv4 Special-Purpose Address Registry, RFC 6890), plus
// multicast and the reserved 240/4.
var deniedV4 = ranges(
	"0.0.0.0/8", "a \"this network\" address",
	"10.0.0.0/8", classPrivate,
	"100.64.0.0/10", "a carrier-grade NAT address",
	"127.0.0.0/8", classLoopback,
	"169.254.0.0/16", classLinkLocal+" (where cloud metadata services live)",
	"172.16.0.0/12", classPrivate,
	"192.0.0.0/24", "an IETF protocol-assignment address",
	"192.0.2.0/24", classDocumentation,
	"192.88.99.0/24", "a 6to4 relay address",
	"192.168.0.0/16", classPrivate,
	"198.18.0.0/15", "a benchmarking address",
	"198.51.100.0/24", classDocumentation,
	"203.0.113.0/24", classDocumentation,
	"224.0.0.0/4", classMulticast,
	"240.0.0.0/4", classReserved, // includes 255.255.255.255
)

// deniedV6 are the IPv6 ranges named for a clearer message; anything
// outside global unicast 2000::/3 is refused anyway (IANA IPv6
// Special-Purpose Address Registry). ::ffff:0:0/96, 64:ff9b::/96 and
// 2002::/16 embed an IPv4 address, which is classified instead.
var deniedV6 = ranges(
	"::/128", "the unspecified address",
	"::1/128", classLoopback,
	"::/96", "an IPv4-compatible address (deprecated)",
	"64:ff9b:1::/48", "a local-use NAT64 address",
	"100::/64", "a discard-only address",
	"2001::/23", "an IETF protocol-assignment address", // Teredo, benchmarking, ORCHID
	"2001:db8::/32", classDocumentation,
	"3fff::/20", classDocumentation,
	"fc00::/7", "a unique-local (private-network) address",
	"fe80::/10", classLinkLocal,
	"fec0::/10", "a site-local address (deprecated)",
	"ff00::/8", classMulticast,
)

var (
	globalUnicastV6 = netip.MustParsePrefix("2000::/3")
	nat64           = netip.MustParsePrefix("64:ff9b::/96") // RFC 6052
	sixToFour       = netip.MustParsePrefix("2002::/16")    // RFC 3056
)

// classify reports whether a is a public internet address and, if not,
// what it is ("a loopback address"). It does no I/O.
func classify(a netip.Addr) (class string, public bool) {
	if !a.IsValid() {
		return "not an IP address", false
	}
	a = a.WithZone("").Unmap()
	if a.Is4() {
		for _, r := range deniedV4 {
			if r.prefix.Contains(a) {
				return r.class, false
			}
		}
		return "", true
	}
	b := a.As16()
	switch {
	case nat64.Contains(a):
		return classifyEmbedded(netip.AddrFrom4([4]byte(b[12:16])), "NAT64")
	case sixToFour.Contains(a):
		return classifyEmbedded(netip.AddrFrom4([4]byte(b[2:6])), "6to4")
	}
	for _, r := range deniedV6 {
		if r.prefix.Contains(a) {
			return r.class, false
		}
	}
	if !globalUnicastV6.Contains(a) {
		return classReserved, false
	}
	return "", true
}

func classifyEmbedded(v4 netip.Addr, form string) (string, bool) {
	class, public := classify(v4)
	if public {
		return "", true
	}
	return form + " form of " + class, false
}
