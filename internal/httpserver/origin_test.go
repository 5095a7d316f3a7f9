package httpserver

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

// TestOriginOf: a request's origin is its client address by the one
// client-address rule (through trusted proxies), its /64 for an IPv6
// client, its User-Agent and its request id.
func TestOriginOf(t *testing.T) {
	var got Origin
	h := RequestID(TrustProxies([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})(
		http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = OriginOf(r) })))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "10.0.0.2:4000"
	r.Header.Set("X-Forwarded-For", "2001:db8:1:2::7")
	r.Header.Set("User-Agent", "test-agent")
	r.Header.Set("X-Request-Id", "req-1")
	h.ServeHTTP(httptest.NewRecorder(), r)
	want := Origin{IP: "2001:db8:1:2::7", UserAgent: "test-agent", RequestID: "req-1", Network: "2001:db8:1:2::/64"}
	if got != want {
		t.Errorf("OriginOf = %+v, want %+v", got, want)
	}
}
