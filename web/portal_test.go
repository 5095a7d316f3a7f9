package web

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ent/connection"
	"github.com/gatehouse-id/gatehouse/ent/connectionloginattempt"
	"github.com/gatehouse-id/gatehouse/ent/domain"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/ent/user"
	"github.com/gatehouse-id/gatehouse/federation"
	"github.com/gatehouse-id/gatehouse/graph"
	"github.com/gatehouse-id/gatehouse/internal/httpserver"
	"github.com/gatehouse-id/gatehouse/internal/ratelimit"
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

// The SSO portal takes up the organization's newest draft connection
// (data-resume, for portal.js to open at its next step) instead of
// starting another: on a reload, on "Back to setup" from a test's result,
// under a new link. Active connections and other organizations' drafts
// are not resumed, and a domain verification portal resumes nothing.
// The page's title follows the link's intent.
func TestPortalResume(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newSSOEnv(t, db)
		ctx := sys(t.Context())
		b := e.openPortal(e.portalLink(tenants.PortalIntentSSO))
		p := b.get(portalPath)
		wantStatus(t, p, http.StatusOK)
		if strings.Contains(p.body, "data-resume") || !strings.Contains(p.body, "<h1>Set up single sign-on</h1>") {
			t.Errorf("SSO portal with only active connections:\n%s", p.body)
		}
		draft := func(org pulid.ID, name string) pulid.ID {
			return e.client.Connection.Create().SetOrganizationID(org).SetProtocol(connection.ProtocolSAML).SetName(name).SaveX(ctx).ID
		}
		draft(e.org.ID, "first try")
		newest := draft(e.org.ID, "second try")
		draft(e.oidc.OrganizationID, "Hooli's")
		for _, b := range []*browser{b, e.openPortal(e.portalLink(tenants.PortalIntentSSO))} {
			if p := b.get(portalPath); !strings.Contains(p.body, `data-resume="`+string(newest)+`"`) {
				t.Errorf("SSO portal with drafts does not resume %s:\n%s", newest, p.body)
			}
		}
		p = e.openPortal(e.portalLink(tenants.PortalIntentDomainVerification)).get(portalPath)
		if strings.Contains(p.body, "data-resume") || !strings.Contains(p.body, "<h1>Verify your domain</h1>") {
			t.Errorf("domain verification portal:\n%s", p.body)
		}
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

// withAPI serves /graphql beside the pages at e.srv, as cmd does, so
// that a browser's portal session reaches the API; and lets one test open
// many links from 127.0.0.1 (the address allowance is for attackers).
func (e ssoEnv) withAPI() ssoEnv {
	e.t.Helper()
	e.web.cfg.AddressPolicy = ratelimit.Policy{Free: 1000, Base: time.Second, Max: time.Hour, Forget: time.Hour, KeepOnSuccess: true}
	mux := http.NewServeMux()
	mux.Handle("/graphql", graph.NewHandler(graph.Config{Service: e.web.cfg.Tenants, Issuer: e.web.cfg.Issuer, Logger: e.web.cfg.Logger}))
	mux.Handle("/", e.web.Handler())
	e.srv = httptest.NewServer(httpserver.RequestID(mux))
	e.t.Cleanup(e.srv.Close)
	return e
}

// openPortal spends link in a new browser and returns it with its portal
// session cookie.
func (e ssoEnv) openPortal(link string) *browser {
	e.t.Helper()
	b := e.browser()
	page := b.get(link)
	wantStatus(e.t, b.post(link, url.Values{"csrf": {page.field("csrf")}}), http.StatusSeeOther)
	return b
}

// gqlReply is a /graphql answer as the portal's script reads it.
type gqlReply struct {
	status int
	Data   map[string]any `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
	raw string
}

func (r gqlReply) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// graphQL posts an operation to /graphql as portal.js does: with the
// cookie, X-Gatehouse-Portal: 1 and origin as its Origin ("" for none).
func (b *browser) graphQL(origin, query string, vars map[string]any) gqlReply {
	b.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(b.t.Context(), http.MethodPost, b.e.srv.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(graph.PortalHeader, "1")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	res := b.do(req)
	out := gqlReply{status: res.status, raw: res.body}
	if err := json.Unmarshal([]byte(res.body), &out); err != nil {
		b.t.Fatalf("/graphql answered %d, not JSON: %s", res.status, res.body)
	}
	return out
}

// A portal session is its organization's and its intent's only: over
// /graphql, another organization's objects are not found — read by id,
// changed, deleted, verified — and nothing of theirs changes; what its
// intent does not cover is forbidden in its own organization (an SSO
// session sets up connections and verifies domains — discovery needs one
// — and never touches members, roles, policy, API keys or portal links);
// and a test sign-in needs an SSO session.
func TestPortalSessionOtherOrganization(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newSSOEnv(t, db).withAPI()
		ctx := sys(t.Context())
		origin := e.web.cfg.Issuer
		hooli := e.oidc.OrganizationID
		hooliDraft := e.client.Connection.Create().SetOrganizationID(hooli).SetProtocol(connection.ProtocolSAML).SetName("Hooli draft").SaveX(ctx)
		hooliDomain := e.client.Domain.Create().SetOrganizationID(hooli).SetDomain("hooli.example").
			SetTxtToken("gatehouse-verification=h").SaveX(ctx)
		ownDomain := e.client.Domain.Create().SetOrganizationID(e.org.ID).SetDomain("initech.example").
			SetTxtToken("gatehouse-verification=i").SaveX(ctx)

		sso := e.openPortal(e.portalLink(tenants.PortalIntentSSO))
		dom := e.openPortal(e.portalLink(tenants.PortalIntentDomainVerification))
		if r := sso.graphQL(origin, `query($id:ID!){organization(id:$id){id}}`, map[string]any{"id": e.org.ID}); r.status != http.StatusOK || len(r.Errors) > 0 {
			t.Fatalf("own organization: %s", r.raw)
		}

		type attempt struct {
			name, query string
			vars        map[string]any
		}
		nullReads := []attempt{
			{"organization", `query($id:ID!){organization(id:$id){id name}}`, map[string]any{"id": hooli}},
			{"node connection", `query($id:ID!){node(id:$id){id ... on Connection{name lastLoginAttempts{email}}}}`, map[string]any{"id": hooliDraft.ID}},
			{"node active connection", `query($id:ID!){node(id:$id){id}}`, map[string]any{"id": e.oidc.ID}},
			{"node domain", `query($id:ID!){node(id:$id){id ... on Domain{verificationToken}}}`, map[string]any{"id": hooliDomain.ID}},
		}
		for _, b := range []*browser{sso, dom} {
			for _, a := range nullReads {
				r := b.graphQL(origin, a.query, a.vars)
				if r.status != http.StatusOK || strings.Contains(r.raw, `"id":"`+string(hooli)) ||
					strings.Contains(r.raw, string(hooliDraft.ID)) || strings.Contains(r.raw, "gatehouse-verification=h") {
					t.Errorf("%s of another organization: %s", a.name, r.raw)
				}
			}
			r := b.graphQL(origin, `query($ids:[ID!]!){nodes(ids:$ids){id}}`, map[string]any{"ids": []pulid.ID{hooliDraft.ID, hooliDomain.ID, e.oidc.ID}})
			if strings.Contains(r.raw, `"id":"`) {
				t.Errorf("nodes of another organization: %s", r.raw)
			}
		}

		notFound := map[*browser][]attempt{
			sso: {
				{"updateConnection", `mutation($id:ID!){updateConnection(input:{id:$id,name:"pwned"}){connection{id}}}`, map[string]any{"id": hooliDraft.ID}},
				{"activateConnection", `mutation($id:ID!){activateConnection(input:{id:$id}){connection{id}}}`, map[string]any{"id": hooliDraft.ID}},
				{"deactivateConnection", `mutation($id:ID!){deactivateConnection(input:{id:$id}){connection{id}}}`, map[string]any{"id": e.oidc.ID}},
				{"deleteConnection", `mutation($id:ID!){deleteConnection(input:{id:$id}){deletedConnectionID}}`, map[string]any{"id": hooliDraft.ID}},
				{"rotateConnectionKey", `mutation($id:ID!){rotateConnectionKey(input:{id:$id}){connection{id}}}`, map[string]any{"id": hooliDraft.ID}},
				{"createOIDCConnection", `mutation($o:ID!){createOIDCConnection(input:{organizationID:$o,name:"x"}){connection{id}}}`, map[string]any{"o": hooli}},
			},
		}
		domainsOfOthers := []attempt{
			{"verifyDomain", `mutation($id:ID!){verifyDomain(input:{id:$id}){domain{id}}}`, map[string]any{"id": hooliDomain.ID}},
			{"removeDomain", `mutation($id:ID!){removeDomain(input:{id:$id}){removedDomainID}}`, map[string]any{"id": hooliDomain.ID}},
			{"addDomain", `mutation($o:ID!){addDomain(input:{organizationID:$o,domain:"evil.example"}){domain{id}}}`, map[string]any{"o": hooli}},
		}
		notFound[sso] = append(notFound[sso], domainsOfOthers...)
		notFound[dom] = domainsOfOthers
		for b, attempts := range notFound {
			for _, a := range attempts {
				if r := b.graphQL(origin, a.query, a.vars); r.code() != "NOT_FOUND" {
					t.Errorf("%s on another organization's object: %s, want NOT_FOUND", a.name, r.raw)
				}
			}
		}
		// Within its own organization, only what the intent needs.
		user := e.client.User.Create().SetEmail("milton@initech.com").SaveX(ctx)
		beyondSetup := []attempt{
			{"addMember", `mutation($o:ID!,$u:ID!){addMember(input:{organizationID:$o,userID:$u}){membership{id}}}`, map[string]any{"o": e.org.ID, "u": user.ID}},
			{"createRole", `mutation($o:ID!){createRole(input:{organizationID:$o,key:"x",name:"x"}){role{id}}}`, map[string]any{"o": e.org.ID}},
			{"updateOrganization", `mutation($o:ID!){updateOrganization(input:{id:$o,name:"pwned"}){organization{id}}}`, map[string]any{"o": e.org.ID}},
			{"updateOrganizationPolicy", `mutation($o:ID!){updateOrganizationPolicy(input:{organizationID:$o,mfaRequired:false}){policy{organizationID}}}`, map[string]any{"o": e.org.ID}},
			{"createAPIKey", `mutation{createAPIKey(input:{name:"x"}){apiKey{id}}}`, nil},
			{"createAdminPortalLink", `mutation($o:ID!){createAdminPortalLink(input:{organizationID:$o,intent:SSO}){url}}`, map[string]any{"o": e.org.ID}},
			{"createAdminPortalLink domain", `mutation($o:ID!){createAdminPortalLink(input:{organizationID:$o,intent:DOMAIN_VERIFICATION}){url}}`, map[string]any{"o": e.org.ID}},
		}
		forbidden := map[*browser][]attempt{
			sso: beyondSetup,
			dom: {
				{"createSAMLConnection", `mutation($o:ID!){createSAMLConnection(input:{organizationID:$o,name:"x"}){connection{id}}}`, map[string]any{"o": e.org.ID}},
				{"deactivateConnection", `mutation($id:ID!){deactivateConnection(input:{id:$id}){connection{id}}}`, map[string]any{"id": e.saml.ID}},
			},
		}
		forbidden[dom] = append(forbidden[dom], beyondSetup...)
		for b, attempts := range forbidden {
			for _, a := range attempts {
				if r := b.graphQL(origin, a.query, a.vars); r.code() != "FORBIDDEN" {
					t.Errorf("%s beyond the session's intent: %s, want FORBIDDEN", a.name, r.raw)
				}
			}
		}
		// An SSO session verifies its organization's domains (the DNS
		// check itself: TestChromiumAdminPortalSSO): it adds and removes
		// its own claims.
		r := sso.graphQL(origin, `mutation($o:ID!){addDomain(input:{organizationID:$o,domain:"initech.example.net"}){domain{id txtRecordName}}}`, map[string]any{"o": e.org.ID})
		if r.status != http.StatusOK || len(r.Errors) > 0 ||
			e.client.Domain.Query().Where(domain.OrganizationID(e.org.ID), domain.DomainEQ("initech.example.net")).CountX(ctx) != 1 {
			t.Fatalf("SSO session adding its organization's domain: %s", r.raw)
		}
		if r := sso.graphQL(origin, `mutation($id:ID!){removeDomain(input:{id:$id}){removedDomainID}}`, map[string]any{"id": ownDomain.ID}); len(r.Errors) > 0 {
			t.Errorf("SSO session removing its organization's domain: %s", r.raw)
		}
		own := e.client.Connection.Create().SetOrganizationID(e.org.ID).SetProtocol(connection.ProtocolSAML).SetName("Own draft").SaveX(ctx)
		dom.header = http.Header{"Origin": {origin}}
		wantStatus(t, dom.post("/portal/test", url.Values{"connection": {string(own.ID)}}), http.StatusNotFound)

		// Nothing of the other organization changed.
		if c := e.client.Connection.GetX(ctx, hooliDraft.ID); c.Name != "Hooli draft" || c.State != connection.StateDRAFT || len(c.SpKeys) != len(hooliDraft.SpKeys) {
			t.Errorf("another organization's draft changed: %+v", c)
		}
		if c := e.client.Connection.GetX(ctx, e.oidc.ID); c.State != connection.StateACTIVE {
			t.Errorf("another organization's connection is %s", c.State)
		}
		if n := e.client.Domain.Query().Where(domain.OrganizationID(hooli)).CountX(ctx); n != 2 {
			t.Errorf("another organization has %d domains, want 2", n)
		}
		if d := e.client.Domain.GetX(ctx, hooliDomain.ID); d.LastCheckedAt != nil {
			t.Error("another organization's domain was checked")
		}
		if n := e.client.Connection.Query().Where(connection.OrganizationID(hooli)).CountX(ctx); n != 2 {
			t.Errorf("another organization has %d connections, want 2", n)
		}
	})
}

// Of 60 browsers posting one link at once (released together at a
// barrier, the address allowance open), exactly one gets a portal
// session; the others see the refused-link page, and each refusal is
// audited.
func TestPortalLinkParallelOpens(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newSSOEnv(t, db).withAPI()
		link := e.portalLink(tenants.PortalIntentSSO)
		const n = 60
		reqs := make([]*http.Request, n)
		clients := make([]*http.Client, n)
		for i := range n {
			b := e.browser()
			page := b.get(link)
			wantStatus(t, page, http.StatusOK)
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.srv.URL+link,
				strings.NewReader(url.Values{"csrf": {page.field("csrf")}}.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			reqs[i], clients[i] = req, b.http
		}
		gate := make(chan struct{})
		statuses := make(chan int, n)
		var sessions atomic.Int32
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-gate
				res, err := clients[i].Do(reqs[i])
				if err != nil {
					t.Error(err)
					return
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				for _, c := range res.Cookies() {
					if c.Name == tenants.PortalCookie && c.Value != "" {
						sessions.Add(1)
					}
				}
				if res.StatusCode == http.StatusUnauthorized && !strings.Contains(string(body), "has expired or was used already") {
					t.Errorf("refused without the link's page:\n%s", body)
				}
				statuses <- res.StatusCode
			})
		}
		close(gate)
		wg.Wait()
		close(statuses)
		count := map[int]int{}
		for s := range statuses {
			count[s]++
		}
		if count[http.StatusSeeOther] != 1 || count[http.StatusUnauthorized] != n-1 || sessions.Load() != 1 {
			t.Errorf("statuses %v, %d session cookies; want one 303 with a cookie and %d × 401", count, sessions.Load(), n-1)
		}
		if c := e.client.PortalSession.Query().CountX(sys(t.Context())); c != 1 {
			t.Errorf("%d portal sessions from one link", c)
		}
		if evs := e.audits(tenants.ActionPortalSessionStarted); len(evs) != 1 {
			t.Errorf("%d portal.session_started events", len(evs))
		}
		if evs := e.audits(actionPortalLinkRefused); len(evs) != n-1 {
			t.Errorf("%d portal.link_refused events, want %d", len(evs), n-1)
		}
	})
}

// A link opened after its five minutes shows its button (opening spends
// nothing) and then the refused-link page, with no session; a second
// before, it works.
func TestPortalLinkExpired(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newSSOEnv(t, db)
		early, late := e.portalLink(tenants.PortalIntentSSO), e.portalLink(tenants.PortalIntentDomainVerification)
		e.clock.Advance(tenants.AdminPortalLinkTTL - time.Second)
		e.openPortal(early)

		e.clock.Advance(time.Second)
		b := e.browser()
		page := b.get(late)
		wantStatus(t, page, http.StatusOK)
		r := b.post(late, url.Values{"csrf": {page.field("csrf")}})
		wantStatus(t, r, http.StatusUnauthorized)
		if !strings.Contains(r.body, "This setup link is wrong, has expired or was used already. Ask for a new one.") {
			t.Errorf("expired link page:\n%s", r.body)
		}
		if c := r.header.Get("Set-Cookie"); strings.Contains(c, tenants.PortalCookie+"=") {
			t.Errorf("an expired link set %s", c)
		}
		wantStatus(t, b.get(portalPath), http.StatusUnauthorized)
		if evs := e.audits(actionPortalLinkRefused); len(evs) != 1 {
			t.Errorf("%d portal.link_refused events", len(evs))
		}
	})
}

// /graphql takes the portal's cookie only from the portal's own origin:
// a request with X-Gatehouse-Portal but another Origin — a look-alike
// host, another scheme or port, userinfo, "null", none — is refused with
// 401 before any GraphQL runs, so its mutation changes nothing.
func TestPortalGraphQLOrigin(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newSSOEnv(t, db).withAPI()
		b := e.openPortal(e.portalLink(tenants.PortalIntentSSO))
		const create = `mutation($o:ID!){createSAMLConnection(input:{organizationID:$o,name:"From elsewhere"}){connection{id}}}`
		vars := map[string]any{"o": e.org.ID}
		issuer := e.web.cfg.Issuer // http://127.0.0.1
		for _, origin := range []string{"https://evil.example", "http://127.0.0.1.evil.example", "http://127.0.0.1@evil.example",
			"https://127.0.0.1", "http://127.0.0.1:8443", "null", "", "http://localhost"} {
			if r := b.graphQL(origin, create, vars); r.status != http.StatusUnauthorized || r.code() != "UNAUTHENTICATED" {
				t.Errorf("Origin %q: %d %s", origin, r.status, r.raw)
			}
		}
		if n := e.client.Connection.Query().Where(connection.Name("From elsewhere")).CountX(sys(t.Context())); n != 0 {
			t.Errorf("%d connections created from another origin", n)
		}
		if r := b.graphQL(issuer, create, vars); len(r.Errors) > 0 {
			t.Errorf("from the portal's own origin: %s", r.raw)
		}
	})
}
