package safehttp

import (
	"net/netip"
	"strings"
	"testing"
)

// TestClassify (MT-10) checks the address classifier alone: it is the
// only test that names non-loopback addresses, and it sends nothing.
func TestClassify(t *testing.T) {
	refused := map[string]string{
		"0.0.0.0":                  "this network",
		"0.1.2.3":                  "this network",
		"10.0.0.1":                 "private",
		"10.255.255.255":           "private",
		"100.64.0.1":               "carrier-grade NAT",
		"100.127.255.254":          "carrier-grade NAT",
		"127.0.0.1":                "loopback",
		"127.255.0.1":              "loopback",
		"169.254.169.254":          "link-local",
		"169.254.0.1":              "link-local",
		"172.16.0.1":               "private",
		"172.31.255.255":           "private",
		"192.0.0.8":                "IETF",
		"192.0.2.1":                "documentation",
		"192.88.99.1":              "6to4 relay",
		"192.168.1.1":              "private",
		"198.18.0.1":               "benchmarking",
		"198.19.255.1":             "benchmarking",
		"198.51.100.7":             "documentation",
		"203.0.113.9":              "documentation",
		"224.0.0.1":                "multicast",
		"239.255.255.250":          "multicast",
		"240.0.0.1":                "reserved",
		"255.255.255.255":          "reserved",
		"::":                       "unspecified",
		"::1":                      "loopback",
		"::127.0.0.1":              "IPv4-compatible",
		"::ffff:127.0.0.1":         "loopback",
		"::ffff:10.0.0.1":          "private",
		"::ffff:169.254.169.254":   "link-local",
		"::ffff:0.0.0.0":           "this network",
		"64:ff9b::a9fe:a9fe":       "NAT64 form of a link-local",
		"64:ff9b::10.0.0.1":        "NAT64 form of a private",
		"64:ff9b:1::1":             "local-use NAT64",
		"100::1":                   "discard-only",
		"2001::1":                  "IETF",
		"2001:2::1":                "IETF",
		"2001:db8::1":              "documentation",
		"2002:a00:1::1":            "6to4 form of a private",
		"2002:a9fe:a9fe::1":        "6to4 form of a link-local",
		"2002:7f00:1::":            "6to4 form of a loopback",
		"3fff::1":                  "documentation",
		"fc00::1":                  "unique-local",
		"fd12:3456:789a::1":        "unique-local",
		"fe80::1":                  "link-local",
		"fe80::1%eth0":             "link-local",
		"febf::1":                  "link-local",
		"fec0::1":                  "site-local",
		"ff02::1":                  "multicast",
		"5f00::1":                  "reserved",
		"4000::1":                  "reserved",
		"fd00:ec2::254":            "unique-local", // AWS IMDS over IPv6
		"::ffff:192.168.0.1":       "private",
		"64:ff9b::7f00:1":          "NAT64 form of a loopback",
		"2002:c0a8:101::":          "6to4 form of a private",
		"2001:0:4136:e378::1":      "IETF", // Teredo
		"2001:10::1":               "IETF", // ORCHID
		"::ffff:100.64.0.1":        "carrier-grade NAT",
		"0:0:0:0:0:ffff:7f00:0001": "loopback",
	}
	for s, want := range refused {
		a := netip.MustParseAddr(s)
		class, public := classify(a)
		if public || !strings.Contains(class, want) {
			t.Errorf("classify(%s) = %q, %v; want refused as %q", s, class, public, want)
		}
	}
	public := []string{
		"1.1.1.1", "8.8.8.8", "93.184.216.34", "100.63.255.255", "100.128.0.1", "172.15.255.255",
		"172.32.0.1", "192.0.1.1", "192.169.0.1", "198.17.255.255", "198.20.0.1", "223.255.255.255",
		"11.0.0.1", "169.253.255.255", "169.255.0.1",
		"2606:4700:4700::1111", "2a00:1450:4001::200e", "::ffff:8.8.8.8", "64:ff9b::808:808",
		"2002:808:808::1", "2001:200::1", "2c0f:ffff::1",
	}
	for _, s := range public {
		if class, ok := classify(netip.MustParseAddr(s)); !ok {
			t.Errorf("classify(%s) = %q; want public", s, class)
		}
	}
	if _, ok := classify(netip.Addr{}); ok {
		t.Error("the zero Addr is public")
	}
}

// TestAllowedInternal: AllowedInternal makes a range public, in both the
// IPv4 and the IPv4-mapped form, and nothing else.
func TestAllowedInternalRanges(t *testing.T) {
	c := New(Config{AllowedInternal: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), {}}})
	for s, want := range map[string]bool{"127.0.0.1": true, "::ffff:127.0.0.1": true, "127.0.0.2": false, "::1": false, "10.0.0.1": false} {
		if got := c.allowed(netip.MustParseAddr(s)); got != want {
			t.Errorf("allowed(%s) = %v, want %v", s, got, want)
		}
	}
}

func TestValidHostName(t *testing.T) {
	for h, want := range map[string]bool{
		"example.com": true, "jwks.tenant-a.test": true, "a_b.example": true, "xn--bcher-kva.example": true,
		"example.com.": true, "localhost": true,
		"": false, "2130706433": false, "0x7f.1": false, "127.1": false, "0x7f000001": false, "017700000001": false,
		"-a.example": false, "a..b": false, "a b": false, "exa%mple.com": false, "ex\x00ample.com": false,
		strings.Repeat("a", 64) + ".com": false,
	} {
		if got := validHostName(h); got != want {
			t.Errorf("validHostName(%q) = %v, want %v", h, got, want)
		}
	}
}
