package httpserver

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestClientIP(t *testing.T) {
	t.Parallel()
	proxies, err := ParsePrefixes("10.0.0.0/8, 2001:db8:ffff::/48 192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		trusted bool
		peer    string
		xff     []string
		ip, net string
	}{
		{"no proxy configured: X-Forwarded-For ignored", false, "198.51.100.7:1234", []string{"203.0.113.9"}, "198.51.100.7", "198.51.100.7"},
		{"untrusted peer: spoofed X-Forwarded-For ignored", true, "198.51.100.7:1234", []string{"203.0.113.9"}, "198.51.100.7", "198.51.100.7"},
		{"trusted proxy: the address it appended", true, "10.1.2.3:1234", []string{"203.0.113.9"}, "203.0.113.9", "203.0.113.9"},
		{"trusted proxy: a spoofed leftmost entry is not used", true, "10.1.2.3:1234", []string{"1.2.3.4, 203.0.113.9"}, "203.0.113.9", "203.0.113.9"},
		{"two trusted hops: rightmost untrusted", true, "10.1.2.3:1234", []string{"1.2.3.4, 203.0.113.9, 10.9.9.9"}, "203.0.113.9", "203.0.113.9"},
		{"several headers count as one list", true, "10.1.2.3:1234", []string{"1.2.3.4", "203.0.113.9, 192.0.2.1"}, "203.0.113.9", "203.0.113.9"},
		{"garbage beyond the proxy: the proxy", true, "10.1.2.3:1234", []string{"nonsense"}, "10.1.2.3", "10.1.2.3"},
		{"trusted proxy without the header: the proxy", true, "10.1.2.3:1234", nil, "10.1.2.3", "10.1.2.3"},
		{"IPv6 client keyed by /64", true, "[2001:db8:ffff::1]:443", []string{"2001:db8:1:2:aaaa:bbbb:cccc:dddd"}, "2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"},
		{"IPv6 peer keyed by /64", false, "[2001:db8:1:2::7]:443", nil, "2001:db8:1:2::7", "2001:db8:1:2::/64"},
		{"IPv4-mapped IPv6 is IPv4", true, "[::ffff:10.1.2.3]:1", []string{"::ffff:203.0.113.9"}, "203.0.113.9", "203.0.113.9"},
		{"an untrusted IPv4-mapped peer is IPv4 in logs too", false, "[::ffff:198.51.100.7]:1", nil, "198.51.100.7", "198.51.100.7"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var trusted = proxies
			if !tc.trusted {
				trusted = nil
			}
			var gotIP, gotNet string
			h := TrustProxies(trusted)(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				gotIP, gotNet = ClientIP(r), ClientNetwork(r)
			}))
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			if gotIP != tc.ip || gotNet != tc.net {
				t.Fatalf("ClientIP %q, ClientNetwork %q; want %q, %q", gotIP, gotNet, tc.ip, tc.net)
			}
		})
	}
	t.Run("IPv6 siblings in one /64 share a key, the next /64 does not", func(t *testing.T) {
		key := func(addr string) string {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = addr
			return ClientNetwork(r)
		}
		if key("[2001:db8:1:2::1]:1") != key("[2001:db8:1:2:ffff::9]:1") {
			t.Error("two addresses of one /64 have different keys")
		}
		if key("[2001:db8:1:2::1]:1") == key("[2001:db8:1:3::1]:1") {
			t.Error("two /64s share a key")
		}
	})
	if _, err := ParsePrefixes("10.0.0.0/33"); err == nil {
		t.Error("a bad prefix parsed")
	}
}
