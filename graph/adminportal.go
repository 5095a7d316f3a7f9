package graph

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse-id/gatehouse/internal/httpserver"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// The admin portal's browser session at /graphql (tenants/adminportal.go).
// The portal's pages call this API with fetch; the browser sends the
// session cookie, which no other site's page can make it send with a
// request this endpoint accepts: the cookie is SameSite=Strict, the
// request must carry PortalHeader (a cross-site form cannot set headers,
// and a cross-site fetch that sets one needs a CORS preflight, which
// /graphql never grants), and its Origin must be the issuer's.

const (
	// PortalHeader must be "1" on every request the portal's pages make.
	PortalHeader = "X-Gatehouse-Portal"
	// PortalPath is where portal links and pages live.
	PortalPath = "/portal"
)

// PortalCookieName is the portal session cookie's name for an issuer:
// with the __Host- prefix under https (Secure, Path=/, no Domain).
func PortalCookieName(issuer string) string {
	return tenants.PortalCookieName(strings.HasPrefix(issuer, "https://"))
}

// PortalURL is the link a token opens: {issuer}/portal/{token}.
func PortalURL(issuer, token string) string {
	return strings.TrimRight(issuer, "/") + PortalPath + "/" + url.PathEscape(token)
}

// portalCredential returns the portal session token of r and whether r
// may use it: the header is set and the Origin is the issuer's (site).
// ok is false when r carries no portal cookie at all (another credential
// may apply); why says what is missing when the cookie is there but the
// request may not use it.
func portalCredential(r *http.Request, site *url.URL) (token, why string, ok bool) {
	c, err := r.Cookie(tenants.PortalCookieName(site.Scheme == "https"))
	if err != nil || c.Value == "" {
		return "", "", false
	}
	if r.Header.Get(PortalHeader) != "1" {
		return "", "portal requests must send " + PortalHeader + ": 1", true
	}
	if !httpserver.SameOrigin(r.Header.Get("Origin"), site) {
		return "", "portal requests must come from the portal's own pages (Origin)", true
	}
	return c.Value, "", true
}

// portalReason is the audit reason of a refused portal request.
const portalReason = "invalid_portal_session"
