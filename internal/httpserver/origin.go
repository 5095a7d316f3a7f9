package httpserver

import "net/http"

// Origin is where a request came from, as an audit event records it. Its
// fields are tenants.Origin's, in the same order, so that the domain,
// which knows no HTTP, takes one by conversion:
// tenants.Origin(httpserver.OriginOf(r)).
type Origin struct {
	IP        string
	UserAgent string
	RequestID string
	// Network is the client as rate limits key it (ClientNetwork).
	Network string
}

// OriginOf is the origin of r: its client address as ClientIP decides it
// (the one client-address rule, shared with logs and throttling;
// ClientNetwork for rate limits), its User-Agent and its request id.
func OriginOf(r *http.Request) Origin {
	ip := ClientIP(r)
	return Origin{IP: ip, UserAgent: r.UserAgent(), RequestID: RequestIDFromContext(r.Context()), Network: networkOf(ip)}
}
