package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/ent/connection"
	"github.com/gatehouse-id/gatehouse/ent/connectionloginattempt"
	"github.com/gatehouse-id/gatehouse/ent/user"
	"github.com/gatehouse-id/gatehouse/federation"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// portalLink creates an admin portal link for org and returns its path.
func (e ssoEnv) portalLink(intent tenants.PortalIntent) string {
	e.t.Helper()
	token, _, err := e.web.cfg.Tenants.CreateAdminPortalLink(sys(e.t.Context()),
		tenants.CreateAdminPortalLinkInput{OrganizationID: e.org.ID, Intent: intent})
	if err != nil {
		e.t.Fatal(err)
	}
	return portalPath + "/" + token
}

// A portal link shows a button (GET spends nothing), the POST spends it
// once and sets the session cookie (HttpOnly, SameSite=Strict, Path=/),
// and the portal page loads its script from /static only.
func TestPortalLink(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newSSOEnv(t, db)
		link := e.portalLink(tenants.PortalIntentSSO)
		scanner := e.browser()
		wantStatus(t, scanner.get(link), http.StatusOK)
		wantStatus(t, scanner.get(link), http.StatusOK)

		b := e.browser()
		page := b.get(link)
		wantStatus(t, page, http.StatusOK)
		r := b.post(link, url.Values{"csrf": {page.field("csrf")}})
		wantStatus(t, r, http.StatusSeeOther)
		if loc := r.header.Get("Location"); loc != portalPath {
			t.Errorf("Location %q", loc)
		}
		var ck *http.Cookie
		for _, c := range (&http.Response{Header: r.header}).Cookies() {
			if c.Name == tenants.PortalCookie {
				ck = c
			}
		}
		if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.MaxAge != 3600 {
			t.Fatalf("portal cookie %+v", ck)
		}
		if evs := e.audits(tenants.ActionPortalSessionStarted); len(evs) != 1 || evs[0].OrganizationID != e.org.ID || evs[0].ActorType != "portal" {
			t.Errorf("portal.session_started events %+v", evs)
		}

		p := b.get(portalPath)
		wantStatus(t, p, http.StatusOK)
		if !strings.Contains(p.body, `data-intent="SSO"`) || !strings.Contains(p.body, `<script src="/static/portal.js" defer></script>`) ||
			strings.Count(p.body, "<script") != 1 || len(p.body) > 50<<10 {
			t.Errorf("portal page (%d bytes):\n%s", len(p.body), p.body)
		}
		if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self';") {
			t.Errorf("CSP %q", csp)
		}

		// Spent: a second browser cannot reopen it; nor can the first.
		other := e.browser()
		page = other.get(link)
		wantStatus(t, other.post(link, url.Values{"csrf": {page.field("csrf")}}), http.StatusUnauthorized)
		wantStatus(t, other.get(portalPath), http.StatusUnauthorized)
		if evs := e.audits(actionPortalLinkRefused); len(evs) != 1 {
			t.Errorf("portal.link_refused events: %d", len(evs))
		}
		// Without its CSRF field the form is refused and the link kept.
		fresh := e.portalLink(tenants.PortalIntentDomainVerification)
		wantStatus(t, other.post(fresh, url.Values{}), http.StatusForbidden)
		page = other.get(fresh)
		wantStatus(t, other.post(fresh, url.Values{"csrf": {page.field("csrf")}}), http.StatusSeeOther)
		if p := other.get(portalPath); !strings.Contains(p.body, `data-intent="DOMAIN_VERIFICATION"`) {
			t.Errorf("domain verification portal:\n%s", p.body)
		}

		// An hour later the session is over.
		e.clock.Advance(tenants.PortalSessionLifetime)
		wantStatus(t, b.get(portalPath), http.StatusUnauthorized)
	})
}

// A test sign-in from the portal goes to a DRAFT connection's IdP, comes
// back through the ACS like any answer, is recorded with its attributes
// and shown, and signs no one in; a refused answer shows its precise
// reason; another organization's connection, an active one, a request
// from another origin and a browser without a session get nothing.
func TestPortalTestSignIn(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newSSOEnv(t, db)
		ctx := sys(t.Context())
		draft := e.client.Connection.Create().SetOrganizationID(e.org.ID).SetProtocol(connection.ProtocolSAML).SetName("New Okta").SaveX(ctx)
		hooliDraft := e.client.Connection.Create().SetOrganizationID(e.oidc.OrganizationID).SetProtocol(connection.ProtocolSAML).
			SetName("Hooli draft").SaveX(ctx)

		b := e.browser()
		link := e.portalLink(tenants.PortalIntentSSO)
		page := b.get(link)
		wantStatus(t, b.post(link, url.Values{"csrf": {page.field("csrf")}}), http.StatusSeeOther)
		b.header = http.Header{"Origin": {"http://127.0.0.1"}}

		wantStatus(t, b.post("/portal/test", url.Values{"connection": {string(hooliDraft.ID)}}), http.StatusNotFound)
		wantStatus(t, b.post("/portal/test", url.Values{"connection": {string(e.saml.ID)}}), http.StatusNotFound) // active
		b.header = http.Header{"Origin": {"https://evil.example"}}
		wantStatus(t, b.post("/portal/test", url.Values{"connection": {string(draft.ID)}}), http.StatusForbidden)
		b.header = http.Header{"Origin": {"http://127.0.0.1"}}
		stranger := e.browser()
		stranger.header = b.header
		wantStatus(t, stranger.post("/portal/test", url.Values{"connection": {string(draft.ID)}}), http.StatusUnauthorized)

		r := b.post("/portal/test", url.Values{"connection": {string(draft.ID)}})
		wantStatus(t, r, http.StatusOK)
		relay, state := r.field("RelayState"), r.field("SAMLRequest")
		if forms := r.forms(); len(forms) == 0 || forms[0].Action != fakeIdP || relay == "" {
			t.Fatalf("not the form to the IdP:\n%s", r.body)
		}
		answer := fakeAnswer{InResponseTo: state, Identity: federation.Identity{Subject: "00u9", Email: "it@initech.com",
			Attributes: map[string][]string{"email": {"it@initech.com"}, "groups": {"it", "admins"}}}}
		acs := e.acs(draft, relay, answer)
		wantStatus(t, acs, http.StatusSeeOther)
		b.header = nil
		res := b.get(local(t, acs))
		wantStatus(t, res, http.StatusOK)
		if !strings.Contains(res.body, `data-result="ok"`) || !strings.Contains(res.body, "it@initech.com") ||
			!strings.Contains(res.body, "<code>groups</code>") || !strings.Contains(res.body, "it, admins") {
			t.Errorf("result page:\n%s", res.body)
		}
		if n := e.client.User.Query().Where(user.Email("it@initech.com")).CountX(ctx); n != 0 {
			t.Errorf("a test sign-in created %d users", n)
		}
		if n := e.client.Session.Query().CountX(ctx); n != 0 {
			t.Errorf("a test sign-in created %d sessions", n)
		}
		attempts := e.client.ConnectionLoginAttempt.Query().AllX(ctx)
		if len(attempts) != 1 || !attempts[0].Succeeded || attempts[0].ConnectionID != draft.ID || attempts[0].Email != "it@initech.com" {
			t.Errorf("recorded attempts %+v", attempts)
		}
		if evs := e.audits(actionSSOTest); len(evs) != 1 || evs[0].Metadata["succeeded"] != true || evs[0].OrganizationID != e.org.ID {
			t.Errorf("sso.test events %+v", evs)
		}

		// A refused test answer shows the connector's precise reason.
		b.header = http.Header{"Origin": {"http://127.0.0.1"}}
		r = b.post("/portal/test", url.Values{"connection": {string(draft.ID)}})
		acs = e.acs(draft, r.field("RelayState"), fakeAnswer{InResponseTo: "req-someone-else", Identity: answer.Identity})
		wantStatus(t, acs, http.StatusUnauthorized)
		if !strings.Contains(acs.body, "in_response_to_mismatch") || !strings.Contains(acs.body, "names another request") {
			t.Errorf("refused test result:\n%s", acs.body)
		}
		if n := e.client.ConnectionLoginAttempt.Query().CountX(ctx); n != 2 {
			t.Errorf("%d attempts recorded, want 2", n)
		}

		// A connection that cannot be used yet is a failed test too:
		// shown, recorded and audited with its reason.
		broken := e.client.Connection.Create().SetOrganizationID(e.org.ID).SetProtocol(connection.ProtocolSAML).
			SetName(brokenConnection).SaveX(ctx)
		r = b.post("/portal/test", url.Values{"connection": {string(broken.ID)}})
		wantStatus(t, r, http.StatusUnauthorized)
		if !strings.Contains(r.body, "configuration") || !strings.Contains(r.body, "no IdP SSO URL yet") {
			t.Errorf("unusable connection's test result:\n%s", r.body)
		}
		if n := e.client.ConnectionLoginAttempt.Query().Where(connectionloginattempt.ConnectionID(broken.ID),
			connectionloginattempt.ErrorCode("configuration")).CountX(ctx); n != 1 {
			t.Errorf("%d configuration failures recorded, want 1", n)
		}
		if evs := e.audits(actionSSOTest); len(evs) != 3 || evs[2].Metadata["code"] != "configuration" {
			t.Errorf("sso.test events %+v", evs)
		}
	})
}
