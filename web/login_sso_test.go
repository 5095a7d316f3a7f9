package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/connection"
	"github.com/gatehouse-id/gatehouse/ent/domain"
	"github.com/gatehouse-id/gatehouse/ent/membership"
	"github.com/gatehouse-id/gatehouse/ent/organizationpolicy"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/ent/user"
	"github.com/gatehouse-id/gatehouse/federation"
	"github.com/gatehouse-id/gatehouse/federation/connectors"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// fakeSSO stands in for federation/connectors: its connectors speak a toy
// protocol with the same shape as the real ones (the protocols themselves
// are federation/saml's and federation/oidc's tests), so these tests are
// about the pages: discovery, the attempt's binding to the browser, JIT,
// refusals and what they record.
type fakeSSO struct{}

func (fakeSSO) Connector(_ context.Context, c *ent.Connection) (federation.Connector, error) {
	if c.Name == brokenConnection {
		return nil, errors.New("the connection has no IdP SSO URL yet")
	}
	return fakeConnector{c: c}, nil
}

// brokenConnection names a connection fakeSSO cannot open a connector for.
const brokenConnection = "Broken"

func (fakeSSO) SignInInput(c *ent.Connection, id federation.Identity) tenants.FederatedIdentityInput {
	return connectors.SignInInput(c, id)
}

func (fakeSSO) Metadata(_ context.Context, c *ent.Connection) ([]byte, error) {
	return []byte("<EntityDescriptor entityID=\"" + string(c.ID) + "\"/>"), nil
}

type fakeConnector struct{ c *ent.Connection }

const fakeIdP = "https://idp.example/sso"

// Begin: SAML posts a form (HTTP-POST binding, RelayState in it); OIDC
// redirects with its own state. The state kept is the request id.
func (f fakeConnector) Begin(_ context.Context, req federation.BeginRequest) (federation.Step, error) {
	state := "req-" + req.LoginHint + "-" + req.RelayState
	if f.c.Protocol == connection.ProtocolSAML {
		return federation.Step{FormAction: fakeIdP, State: []byte(state),
			FormFields: map[string]string{"SAMLRequest": state, "RelayState": req.RelayState}}, nil
	}
	return federation.Step{RedirectURL: fakeIdP + "?" + url.Values{"state": {state}, "login_hint": {req.LoginHint}}.Encode(), State: []byte(state)}, nil
}

// fakeAnswer is what the toy IdP sends: the identity and the request it
// answers.
type fakeAnswer struct {
	InResponseTo string
	Identity     federation.Identity
}

func (f fakeConnector) Finish(_ context.Context, r *http.Request, state []byte) (federation.Identity, error) {
	raw := r.URL.Query().Get("code")
	if f.c.Protocol == connection.ProtocolSAML {
		raw = r.PostFormValue("SAMLResponse")
	}
	var a fakeAnswer
	if err := json.Unmarshal([]byte(raw), &a); err != nil {
		return federation.Identity{}, &federation.Rejection{Code: "malformed", Reason: "not an answer: " + err.Error()}
	}
	if state == nil {
		return federation.Identity{}, &federation.Rejection{Code: "idp_initiated_disabled", Reason: "unsolicited response"}
	}
	if a.InResponseTo != string(state) {
		return federation.Identity{}, &federation.Rejection{Code: "in_response_to_mismatch",
			Reason: "InResponseTo " + a.InResponseTo + " names another request than " + string(state)}
	}
	a.Identity.ConnectionID = f.c.ID
	return a.Identity, nil
}

type ssoEnv struct {
	*env
	org  *ent.Organization
	saml *ent.Connection
	oidc *ent.Connection
}

func newSSOEnv(t *testing.T, db testdb.Database) ssoEnv {
	return seedSSO(t, newEnv(t, db, withFakeSSO))
}

// withFakeSSO gives the pages fakeSSO.
func withFakeSSO(c *Config) { c.SSO = fakeSSO{} }

// seedSSO gives e's database two organizations with a verified domain and
// an active connection each: Initech (initech.com, SAML) and Hooli
// (hooli.com, OIDC).
func seedSSO(t *testing.T, e *env) ssoEnv {
	ctx := sys(t.Context())
	// Organizations as the API makes them, with their built-in roles
	// (provisioned members get "member").
	mkOrg := func(name, slug string) *ent.Organization {
		o, err := e.web.cfg.Tenants.CreateOrganization(ctx, tenants.CreateOrganizationInput{Name: name, Slug: slug})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	initech := mkOrg("Initech", "initech")
	e.verifiedDomain(initech, "initech.com")
	saml := e.client.Connection.Create().SetOrganizationID(initech.ID).SetProtocol(connection.ProtocolSAML).SetName("Okta").
		SetState(connection.StateACTIVE).SaveX(ctx)
	hooli := mkOrg("Hooli", "hooli")
	e.verifiedDomain(hooli, "hooli.com")
	oidc := e.client.Connection.Create().SetOrganizationID(hooli.ID).SetProtocol(connection.ProtocolOIDC).SetName("Entra").
		SetState(connection.StateACTIVE).SaveX(ctx)
	return ssoEnv{env: e, org: initech, saml: saml, oidc: oidc}
}

// verifiedDomain records name as o's VERIFIED domain.
func (e *env) verifiedDomain(o *ent.Organization, name string) {
	e.t.Helper()
	e.client.Domain.Create().SetOrganizationID(o.ID).SetDomain(name).SetTxtToken("gatehouse-verification=" + name).
		SetVerificationState(domain.VerificationStateVERIFIED).SetVerifiedAt(e.clock.Now()).ExecX(sys(e.t.Context()))
}

// identify starts a sign-in for req and types email.
func (b *browser) identify(id, email string) response {
	b.t.Helper()
	page := b.get("/login?authRequest=" + url.QueryEscape(id))
	wantStatus(b.t, page, http.StatusOK)
	return b.post("/login/identify", url.Values{"authRequest": {id}, "csrf": {page.field("csrf")}, "email": {email}})
}

// acs is the IdP's page posting its answer: a cross-site POST, so it
// carries none of the browser's cookies.
func (e ssoEnv) acs(conn *ent.Connection, relay string, answer fakeAnswer) response {
	e.t.Helper()
	data, _ := json.Marshal(answer)
	return e.browser().post("/sso/saml/"+string(conn.ID)+"/acs", url.Values{"SAMLResponse": {string(data)}, "RelayState": {relay}})
}

// local is a Location on this server, as a path and query.
func local(t *testing.T, r response) string {
	t.Helper()
	u, err := url.Parse(r.header.Get("Location"))
	if err != nil || u.Path == "" {
		t.Fatalf("Location %q", r.header.Get("Location"))
	}
	return u.RequestURI()
}

// The SAML round trip: discovery at the identifier step, the form to the
// IdP with a RelayState, the ACS (no cookies), then the browser that began
// it at /complete; the user is provisioned, a member of the connection's
// organization, signed in with "sso:<connection>", and the request
// completes into that organization.
func TestSSOSAMLSignIn(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newSSOEnv(t, db)
		b := e.browser()
		id := e.flow.add(LoginRequest{FirstParty: true, WantsOrganization: true, Scopes: []string{"openid", "organization"}})
		r := b.identify(id, "Peter@Initech.com")
		wantStatus(t, r, http.StatusOK)
		forms := r.forms()
		if len(forms) == 0 || forms[0].Action != fakeIdP || r.field("RelayState") == "" || r.field("SAMLRequest") == "" ||
			!strings.Contains(r.body, `/static/autosubmit.js`) {
			t.Fatalf("not the form to the IdP:\n%s", r.body)
		}
		relay, state := r.field("RelayState"), r.field("SAMLRequest")
		if b.cookie("gatehouse_sso") != "" {
			t.Error("the sso cookie is sent outside /sso/") // Path=/sso/: the jar hides it from /
		}

		// Another browser cannot use the answer: it lacks the cookie.
		answer := fakeAnswer{InResponseTo: state, Identity: federation.Identity{Subject: "00u1", Email: "peter@initech.com",
			GivenName: "Peter", FamilyName: "Gibbons", Groups: []string{"eng"}}}
		acs := e.acs(e.saml, relay, answer)
		wantStatus(t, acs, http.StatusSeeOther)
		complete := local(t, acs)
		wantStatus(t, e.browser().get(complete), http.StatusBadRequest)
		if n := e.client.User.Query().Where(user.Email("peter@initech.com")).CountX(sys(t.Context())); n != 0 {
			t.Fatalf("another browser's /complete provisioned %d users", n)
		}

		// The answer was spent by that try: the IdP must answer again.
		r = b.identify(id, "peter@initech.com")
		relay, state = r.field("RelayState"), r.field("SAMLRequest")
		answer.InResponseTo = state
		acs = e.acs(e.saml, relay, answer)
		wantStatus(t, acs, http.StatusSeeOther)
		wantRedirect(t, b.get(local(t, acs)), id)
		a, _ := e.flow.completed(id)
		u := e.client.User.GetX(sys(t.Context()), a.UserID)
		if u.Email != "peter@initech.com" || !u.EmailVerified || u.GivenName != "Peter" || a.OrganizationID != e.org.ID ||
			!slices.Equal(a.AMR, []string{"sso:" + string(e.saml.ID)}) {
			t.Errorf("signed in %+v as %+v", a, u)
		}
		if !e.client.Membership.Query().Where(membership.UserID(u.ID), membership.OrganizationID(e.org.ID),
			membership.StatusEQ(membership.StatusACTIVE)).ExistX(sys(t.Context())) {
			t.Error("no active membership in the connection's organization")
		}
		if evs := e.audits("sso.user_provisioned"); len(evs) != 1 {
			t.Errorf("sso.user_provisioned events: %d", len(evs))
		}
		attempts := e.client.ConnectionLoginAttempt.Query().AllX(sys(t.Context()))
		var ok, failed int
		for _, at := range attempts {
			if at.Succeeded {
				ok++
			} else {
				failed++
			}
		}
		if ok != 1 || failed != 1 {
			t.Errorf("recorded attempts: %d succeeded, %d failed; want 1 and 1 (the other browser's)", ok, failed)
		}

		// Another browser later: no new-device mail (the IdP's notices
		// apply, and the mail's advice to reset a password here would
		// mislead a user who has none).
		b2 := e.browser()
		id2 := e.flow.add(LoginRequest{FirstParty: true, WantsOrganization: true, Scopes: []string{"openid", "organization"}})
		r = b2.identify(id2, "peter@initech.com")
		answer.InResponseTo = r.field("SAMLRequest")
		acs2 := e.acs(e.saml, r.field("RelayState"), answer)
		wantRedirect(t, b2.get(local(t, acs2)), id2)
		for _, m := range e.mail.sent {
			if m.kind == "new_device" {
				t.Errorf("new-device mail after an SSO sign-in: %+v", m)
			}
		}

		// Replayed at the ACS, the answer finds no attempt.
		wantStatus(t, e.acs(e.saml, relay, answer), http.StatusBadRequest)
	})
}

// Refusals: an answer to another request, a RelayState of another
// connection, an unsolicited one; each is audited with the connector's
// precise reason, kept in the connection's attempts, and creates no user.
func TestSSORefusals(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newSSOEnv(t, db)
		b := e.browser()
		id := e.flow.add(LoginRequest{FirstParty: true})
		r := b.identify(id, "peter@initech.com")
		relay := r.field("RelayState")
		who := federation.Identity{Subject: "00u1", Email: "peter@initech.com"}

		wantStatus(t, e.acs(e.saml, relay, fakeAnswer{InResponseTo: "req-someone-else", Identity: who}), http.StatusUnauthorized)
		evs := e.audits(actionSSORejected)
		if len(evs) != 1 || evs[0].Metadata["code"] != "in_response_to_mismatch" || !strings.Contains(evs[0].Metadata["reason"].(string), "another request") ||
			evs[0].OrganizationID != e.org.ID {
			t.Fatalf("sso.rejected events %+v", evs)
		}
		// The relay of one connection is nothing at another.
		r = b.identify(id, "peter@initech.com")
		wantStatus(t, e.browser().post("/sso/saml/"+string(e.oidc.ID)+"/acs", url.Values{"RelayState": {r.field("RelayState")}}), http.StatusNotFound)
		other := e.client.Connection.Create().SetOrganizationID(e.org.ID).SetProtocol(connection.ProtocolSAML).SetName("Other").
			SetState(connection.StateACTIVE).SaveX(sys(t.Context()))
		wantStatus(t, e.acs(other, r.field("RelayState"), fakeAnswer{InResponseTo: r.field("SAMLRequest"), Identity: who}), http.StatusBadRequest)
		// Unsolicited (no RelayState): the connector decides; this one refuses.
		wantStatus(t, e.acs(e.saml, "", fakeAnswer{Identity: who}), http.StatusUnauthorized)
		if n := e.client.User.Query().CountX(sys(t.Context())); n != 0 {
			t.Errorf("%d users after refusals", n)
		}
		if n := e.client.ConnectionLoginAttempt.Query().CountX(sys(t.Context())); n < 3 {
			t.Errorf("%d attempts recorded, want every refusal", n)
		}
		// Garbage in the ACS form is a clear 400, not a 500.
		for _, body := range []string{"%zz", strings.Repeat("a=b&", 10)} {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, e.srv.URL+"/sso/saml/"+string(e.saml.ID)+"/acs", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if r := b.do(req); r.status >= 500 {
				t.Errorf("ACS body %q: %d", body, r.status)
			}
		}
		wantStatus(t, b.get("/sso/saml/conn_nope/acs"), http.StatusMethodNotAllowed)
		wantStatus(t, b.get("/sso/saml/conn_01JZZZZZZZZZZZZZZZZZZZZZZZ/metadata"), http.StatusNotFound)
		md := b.get("/sso/saml/" + string(e.saml.ID) + "/metadata")
		if md.status != http.StatusOK || md.header.Get("Content-Type") != "application/samlmetadata+xml" {
			t.Errorf("metadata: %d %q", md.status, md.header.Get("Content-Type"))
		}
	})
}

// OIDC: the callback is a top-level GET that carries the cookie, so it
// finishes at once; without the cookie, or a second time, it is refused.
func TestSSOOIDCSignIn(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newSSOEnv(t, db)
		b := e.browser()
		id := e.flow.add(LoginRequest{FirstParty: true, LoginHint: "milton@hooli.com"})
		// login_hint: straight to the IdP, no identifier page.
		r := b.get("/login?authRequest=" + id)
		wantStatus(t, r, http.StatusSeeOther)
		to, _ := url.Parse(r.header.Get("Location"))
		if !strings.HasPrefix(to.String(), fakeIdP) || to.Query().Get("login_hint") != "milton@hooli.com" {
			t.Fatalf("not sent to the IdP: %q", to)
		}
		answer, _ := json.Marshal(fakeAnswer{InResponseTo: to.Query().Get("state"),
			Identity: federation.Identity{Subject: "m1", Email: "milton@hooli.com", EmailVerified: true, Name: "Milton"}})
		callback := "/sso/oidc/" + string(e.oidc.ID) + "/callback?" + url.Values{"code": {string(answer)}}.Encode()
		wantStatus(t, e.browser().get(callback), http.StatusBadRequest) // no cookie
		if r := b.get(callback); r.status != http.StatusSeeOther {
			t.Fatalf("callback: %d; events %+v", r.status, e.audits(actionSSORejected))
		}
		wantStatus(t, b.get(callback), http.StatusBadRequest) // spent
		if a, _ := e.flow.completed(id); !slices.Equal(a.AMR, []string{"sso:" + string(e.oidc.ID)}) {
			t.Errorf("amr %v", a.AMR)
		}
	})
}

// enforceSSO: a member whose password is right is sent to the IdP, not
// signed in; an address at no SSO domain signs in with its password; an
// organization that enforces SSO without an active connection lets no one
// in by password or SSO.
func TestSSOEnforced(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newSSOEnv(t, db)
		bill := e.user(userSpec{email: "bill@initech.com", password: pw})
		e.member(bill, e.org, membership.StatusACTIVE)
		e.client.OrganizationPolicy.Update().Where(organizationpolicy.OrganizationID(e.org.ID)).SetEnforceSSO(true).ExecX(sys(t.Context()))
		id := e.flow.add(LoginRequest{FirstParty: true})
		r := e.browser().login(id, "bill@initech.com", pw)
		wantStatus(t, r, http.StatusOK)
		if r.forms()[0].Action != fakeIdP {
			t.Fatalf("a password of an SSO-enforced organization was not sent to the IdP:\n%s", r.body)
		}
		if _, ok := e.flow.completed(id); ok {
			t.Fatal("signed in with a password despite enforceSSO")
		}

		ada := e.user(userSpec{email: "ada@example.com", password: pw})
		_ = ada
		b := e.browser()
		id = e.flow.add(LoginRequest{FirstParty: true})
		if r := b.identify(id, "ada@example.com"); !r.hasField("password") {
			t.Fatalf("an address at no SSO domain did not get the methods page:\n%s", r.body)
		}

		e.client.Connection.UpdateOne(e.saml).SetState(connection.StateINACTIVE).ExecX(sys(t.Context()))
		id = e.flow.add(LoginRequest{FirstParty: true})
		r = e.browser().identify(id, "bill@initech.com")
		wantStatus(t, r, http.StatusForbidden)
		if !strings.Contains(r.body, "single sign-on") {
			t.Errorf("not the SSO-required page:\n%s", r.body)
		}
	})
}

// enforce_sso reaches only members with an address at the organization's
// verified domains (tenants.ScopeEnforceSSO): Bill at initech.com is sent
// to the IdP from a password or an emailed code, while a contractor at
// gmail.example, a member too, signs in with either, into Initech or
// into no organization in particular. A request that names the
// organization asks who is signing in first.
func TestSSOEnforcedScope(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newSSOEnv(t, db)
		bill := e.user(userSpec{email: "bill@initech.com", password: pw})
		con := e.user(userSpec{email: "con@gmail.example", password: pw})
		e.member(bill, e.org, membership.StatusACTIVE)
		e.member(con, e.org, membership.StatusACTIVE)
		e.client.OrganizationPolicy.Update().Where(organizationpolicy.OrganizationID(e.org.ID)).SetEnforceSSO(true).ExecX(sys(t.Context()))
		requests := map[string]LoginRequest{
			"no organization": {FirstParty: true},
			"Initech named": {FirstParty: true, WantsOrganization: true, RequestedOrganizationID: string(e.org.ID),
				Scopes: []string{"openid", "organization:" + string(e.org.ID)}},
		}
		emailCode := func(b *browser, id, email string) response {
			t.Helper()
			page := b.get("/login?authRequest=" + url.QueryEscape(id))
			wantStatus(t, page, http.StatusOK)
			if !page.hasField("email") {
				t.Fatalf("not the sign-in form:\n%s", page.body)
			}
			sent := b.post("/login/email", url.Values{"authRequest": {id}, "csrf": {page.field("csrf")}, "email": {email}})
			wantStatus(t, sent, http.StatusOK)
			code, _ := codeOf(t, e.env, email, "login_code")
			return b.post("/login/email/verify", url.Values{"authRequest": {id}, "csrf": {sent.field("csrf")},
				"challenge": {sent.field("challenge")}, "code": {code}})
		}
		toIdP := func(t *testing.T, r response, id, how string) {
			t.Helper()
			if r.status != http.StatusOK || len(r.forms()) == 0 || r.forms()[0].Action != fakeIdP {
				t.Errorf("%s at Initech's domain was not sent to the IdP: %d\n%s", how, r.status, r.body)
			}
			if _, ok := e.flow.completed(id); ok {
				t.Errorf("%s at Initech's domain signed in despite enforce_sso", how)
			}
		}
		signedIn := func(t *testing.T, r response, id, method string, org pulid.ID) {
			t.Helper()
			wantRedirect(t, r, id)
			if a, _ := e.flow.completed(id); a.UserID != con.ID || !slices.Equal(a.AMR, []string{method}) || a.OrganizationID != org {
				t.Errorf("completed %+v, want the contractor with [%s] into %q", a, method, org)
			}
		}
		for name, req := range requests {
			t.Run(name, func(t *testing.T) {
				var org pulid.ID
				if req.RequestedOrganizationID != "" {
					org = e.org.ID
				}
				id := e.flow.add(req)
				toIdP(t, e.browser().login(id, "bill@initech.com", pw), id, "a password")
				id = e.flow.add(req)
				toIdP(t, emailCode(e.browser(), id, "bill@initech.com"), id, "an emailed code")

				id = e.flow.add(req)
				signedIn(t, e.browser().login(id, "con@gmail.example", pw), id, tenants.FactorPassword, org)
				id = e.flow.add(req)
				signedIn(t, emailCode(e.browser(), id, "con@gmail.example"), id, tenants.FactorEmail, org)
			})
		}
	})
}

// A member removed from an organization that enforces SSO, whose browser
// is still signed in, is sent to the organization's IdP (home-realm
// discovery on their address, at its verified domain) when an application
// asks for that organization — named or any — instead of a 403; JIT
// provisioning makes them a member again when the IdP lets them in. A
// removed member at no SSO domain still gets the page that says why.
func TestSSORemovedMember(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newSSOEnv(t, db)
		ctx := sys(t.Context())
		e.client.OrganizationPolicy.Update().Where(organizationpolicy.OrganizationID(e.org.ID)).SetEnforceSSO(true).ExecX(ctx)
		con := e.user(userSpec{email: "con@gmail.example", password: pw})
		e.member(con, e.org, membership.StatusACTIVE)
		who := federation.Identity{Subject: "00u7", Email: "peter@initech.com", EmailVerified: true}
		requests := map[string]LoginRequest{
			"any organization": {FirstParty: true, WantsOrganization: true, Scopes: []string{"openid", "organization"}},
			"Initech named": {FirstParty: true, WantsOrganization: true, RequestedOrganizationID: string(e.org.ID),
				Scopes: []string{"openid", "organization:" + string(e.org.ID)}},
		}
		for name, req := range requests {
			t.Run(name, func(t *testing.T) {
				b := e.browser()
				id := e.flow.add(req)
				r := b.identify(id, who.Email)
				acs := e.acs(e.saml, r.field("RelayState"), fakeAnswer{InResponseTo: r.field("SAMLRequest"), Identity: who})
				wantRedirect(t, b.get(local(t, acs)), id)
				peter, _ := e.flow.completed(id)
				e.client.Membership.Delete().Where(membership.UserID(peter.UserID)).ExecX(ctx)

				id = e.flow.add(req)
				r = b.get("/login?authRequest=" + url.QueryEscape(id))
				wantStatus(t, r, http.StatusOK)
				if len(r.forms()) == 0 || r.forms()[0].Action != fakeIdP || r.field("SAMLRequest") != "req-"+who.Email+"-"+r.field("RelayState") {
					t.Fatalf("a removed member at Initech's domain was not sent to its IdP as themself:\n%s", r.body)
				}
				acs = e.acs(e.saml, r.field("RelayState"), fakeAnswer{InResponseTo: r.field("SAMLRequest"), Identity: who})
				wantRedirect(t, b.get(local(t, acs)), id)
				if a, _ := e.flow.completed(id); a.UserID != peter.UserID || a.OrganizationID != e.org.ID {
					t.Errorf("completed %+v, want %s back in Initech", a, peter.UserID)
				}
				if !e.client.Membership.Query().Where(membership.UserID(peter.UserID), membership.OrganizationID(e.org.ID),
					membership.StatusEQ(membership.StatusACTIVE)).ExistX(ctx) {
					t.Error("the IdP's sign-in did not provision the membership again")
				}

				// The contractor has no IdP to go to.
				cb := e.browser()
				id = e.flow.add(LoginRequest{FirstParty: true})
				wantRedirect(t, cb.login(id, "con@gmail.example", pw), id)
				e.client.Membership.Delete().Where(membership.UserID(con.ID)).ExecX(ctx)
				id = e.flow.add(req)
				wantStatus(t, cb.get("/login?authRequest="+url.QueryEscape(id)), http.StatusForbidden)
				e.member(con, e.org, membership.StatusACTIVE)
			})
		}
	})
}

// A request that names its organization (organization:<id>) has a button
// to the organization's identity provider beside the email field (and
// says nothing else of the organization before sign-in), which the contractor at another
// domain does not have to take; the button begins SSO at the
// organization's active connection, and without one (deactivated since)
// it leads back to the form. A request naming no organization, or one
// whose organization has no active connection, has no button.
func TestSSOOrganizationButton(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newSSOEnv(t, db)
		named := func(org pulid.ID) LoginRequest {
			return LoginRequest{FirstParty: true, WantsOrganization: true, RequestedOrganizationID: string(org),
				Scopes: []string{"openid", "organization:" + string(org)}}
		}
		button := func(r response) bool {
			for _, f := range r.forms() {
				if f.Action == "/login/sso" {
					return true
				}
			}
			return false
		}

		id := e.flow.add(named(e.org.ID))
		b := e.browser()
		page := b.get("/login?authRequest=" + url.QueryEscape(id))
		wantStatus(t, page, http.StatusOK)
		if !button(page) || !page.hasField("email") || !strings.Contains(page.body, "Sign in with single sign-on") {
			t.Fatalf("Initech's request has no SSO button or email field:\n%s", page.body)
		}
		// Before anyone signs in, nothing of the organization but that.
		if strings.Contains(page.body, "Initech") || strings.Contains(page.body, `class="brand"`) {
			t.Errorf("the sign-in form names or wears the organization before sign-in:\n%s", page.body)
		}
		r := b.post("/login/sso", url.Values{"authRequest": {id}, "csrf": {page.field("csrf")}})
		if r.status != http.StatusOK || len(r.forms()) == 0 || r.forms()[0].Action != fakeIdP {
			t.Fatalf("the button did not lead to Initech's IdP: %d\n%s", r.status, r.body)
		}
		if n := e.client.SSOAttempt.Query().CountX(sys(t.Context())); n != 1 {
			t.Errorf("%d SSO attempts, want 1", n)
		}
		// A forged form (no CSRF token) begins nothing.
		if r := e.browser().post("/login/sso", url.Values{"authRequest": {id}}); r.status != http.StatusForbidden {
			t.Errorf("button without the form's token: %d, want 403", r.status)
		}

		// Deactivated meanwhile: back to the form, without the button.
		e.client.Connection.UpdateOne(e.saml).SetState(connection.StateINACTIVE).ExecX(sys(t.Context()))
		r = b.post("/login/sso", url.Values{"authRequest": {id}, "csrf": {page.field("csrf")}})
		wantStatus(t, r, http.StatusOK)
		if button(r) || !r.hasField("email") {
			t.Errorf("without an active connection: want the form without the button:\n%s", r.body)
		}
		if n := e.client.SSOAttempt.Query().CountX(sys(t.Context())); n != 1 {
			t.Errorf("%d SSO attempts after the connection went, want still 1", n)
		}

		for name, req := range map[string]LoginRequest{
			"no organization":          {FirstParty: true},
			"organization without SSO": named(e.org.ID),
			"unknown organization":     named(pulid.New("org")),
		} {
			page := e.browser().get("/login?authRequest=" + url.QueryEscape(e.flow.add(req)))
			wantStatus(t, page, http.StatusOK)
			if button(page) || !page.hasField("email") {
				t.Errorf("%s: want the form without the SSO button:\n%s", name, page.body)
			}
		}
	})
}
