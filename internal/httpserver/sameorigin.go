package httpserver

import (
	"net/url"
	"strings"
)

// SameOrigin reports whether origin, an Origin header's value (RFC 6454
// §7), names site's origin: the same scheme and host (with its port). An
// empty or opaque ("null") origin names none. The portal's pages (web)
// and its GraphQL calls (graph) are checked with it.
func SameOrigin(origin string, site *url.URL) bool {
	if origin == "" || site == nil {
		return false
	}
	o, err := url.Parse(origin)
	return err == nil && o.Scheme != "" && o.Scheme == site.Scheme && strings.EqualFold(o.Host, site.Host)
}
