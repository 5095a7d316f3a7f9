package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/membership"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/ent/session"
	"github.com/gatehouse-id/gatehouse/internal/secret"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
)

// policy gives o a sign-in policy changed by f.
func (e *env) policy(o *ent.Organization, f func(*ent.OrganizationPolicyCreate)) {
	e.t.Helper()
	c := e.client.OrganizationPolicy.Create().SetOrganizationID(o.ID)
	if f != nil {
		f(c)
	}
	if err := c.Exec(sys(e.t.Context())); err != nil {
		e.t.Fatal(err)
	}
}

// An organization whose policy a password cannot satisfy (SSO required,
// before Gatehouse offers it; password not allowed) gets no password
// sign-in: no session, no completion, a page that says why, and
// user.login.failed with the reason. On every path: the organization named
// by the application, chosen on the picker, or reached with a session that
// signed in elsewhere.
func TestPolicyStopsPasswordSignIn(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		policy func(*ent.OrganizationPolicyCreate)
		msg    string
		reason string
	}{
		{"sso enforced", func(p *ent.OrganizationPolicyCreate) { p.SetEnforceSSO(true) }, msgSSORequired, reasonSSORequired},
		{"password not allowed", func(p *ent.OrganizationPolicyCreate) { p.SetAllowedLoginMethods([]string{"PASSKEY", "SSO"}) },
			msgMethodNotAllowed, reasonMethodNotAllowed},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			forEachDB(t, func(t *testing.T, db testdb.Database) {
				e := newEnv(t, db)
				ada := e.user(userSpec{email: "ada@example.com", name: "Ada", password: pw})
				strict, plain := e.org("Strict", "strict"), e.org("Plain", "plain")
				e.policy(strict, c.policy)
				e.policy(plain, nil)
				e.verifiedDomain(strict, "example.com") // enforce_sso reaches ada (tenants.ScopeEnforceSSO)
				e.member(ada, strict, membership.StatusACTIVE)
				e.member(ada, plain, membership.StatusACTIVE)
				wantStopped := func(t *testing.T, r response, id string, events int) {
					t.Helper()
					wantStatus(t, r, http.StatusForbidden)
					if !strings.Contains(r.body, en(c.msg)) {
						t.Errorf("the page does not say why:\n%s", r.body)
					}
					if _, ok := e.flow.completed(id); ok {
						t.Error("the request was completed")
					}
					evs := e.audits(actionLoginFailed)
					if len(evs) != events || evs[events-1].Metadata["reason"] != c.reason || evs[events-1].TargetID != string(ada.ID) {
						t.Errorf("user.login.failed events %d, want %d with reason %s", len(evs), events, c.reason)
					}
				}

				// The application names the organization: stopped before a
				// session exists.
				b := e.browser()
				named := e.flow.add(LoginRequest{FirstParty: true, WantsOrganization: true, RequestedOrganizationID: string(strict.ID),
					Scopes: []string{"openid", "organization:" + string(strict.ID)}})
				wantStopped(t, b.login(named, "ada@example.com", pw), named, 1)
				if b.cookie("gatehouse_session") != "" {
					t.Error("a session cookie after a sign-in the policy refused")
				}
				if n := e.client.Session.Query().CountX(sys(t.Context())); n != 0 {
					t.Errorf("%d sessions after a sign-in the policy refused", n)
				}

				// A login into no organization in particular answers to all
				// of the user's organizations.
				none := e.flow.add(LoginRequest{FirstParty: true})
				wantStopped(t, b.login(none, "ada@example.com", pw), none, 2)

				// The picker: the plain organization completes, the strict
				// one does not.
				pick := e.flow.add(LoginRequest{FirstParty: true, WantsOrganization: true, Scopes: []string{"openid", "organization"}})
				picker := b.login(pick, "ada@example.com", pw)
				wantStatus(t, picker, http.StatusOK)
				wantStopped(t, b.post("/login/organization", url.Values{"authRequest": {pick}, "csrf": {picker.field("csrf")},
					"ticket": {picker.field("ticket")}, "organization": {string(strict.ID)}}), pick, 3)

				// The session that signed into the plain organization does
				// not reach the strict one.
				plainReq := e.flow.add(LoginRequest{FirstParty: true, WantsOrganization: true, RequestedOrganizationID: string(plain.ID),
					Scopes: []string{"openid", "organization:" + string(plain.ID)}})
				wantRedirect(t, b.get("/login?authRequest="+plainReq), plainReq)
				reuse := e.flow.add(LoginRequest{FirstParty: true, WantsOrganization: true, RequestedOrganizationID: string(strict.ID),
					Scopes: []string{"openid", "organization:" + string(strict.ID)}})
				wantStopped(t, b.get("/login?authRequest="+reuse), reuse, 4)

				// prompt=none hears interaction_required instead of a page.
				silentReq := e.flow.add(LoginRequest{FirstParty: true, Prompt: []string{"none"}, WantsOrganization: true,
					RequestedOrganizationID: string(strict.ID), Scopes: []string{"openid", "organization:" + string(strict.ID)}})
				wantFailure(t, e, b.get("/login?authRequest="+silentReq), silentReq, "interaction_required")
			})
		})
	}
}

// The organization's session lifetimes govern the sessions of its
// sign-ins: the absolute one from the sign-in, the idle one since the
// last use; a later sign-in elsewhere does not lengthen them.
func TestPolicySessionLifetimes(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		ada := e.user(userSpec{email: "ada@example.com", name: "Ada", password: pw})
		acme := e.org("Acme", "acme")
		e.policy(acme, func(p *ent.OrganizationPolicyCreate) {
			p.SetSessionAbsoluteLifetimeSeconds(3600).SetSessionIdleLifetimeSeconds(600)
		})
		e.member(ada, acme, membership.StatusACTIVE)
		request := func() string {
			return e.flow.add(LoginRequest{FirstParty: true, WantsOrganization: true, RequestedOrganizationID: string(acme.ID),
				Scopes: []string{"openid", "organization:" + string(acme.ID)}})
		}
		b := e.browser()
		id := request()
		wantRedirect(t, b.login(id, "ada@example.com", pw), id)
		s := e.client.Session.Query().Where(session.TokenHash(secret.Hash(b.cookie("gatehouse_session")))).OnlyX(sys(t.Context()))
		if !s.ExpiresAt.Equal(s.AuthTime.Add(time.Hour)) || s.IdleTimeoutSeconds != 600 {
			t.Fatalf("session expires %v (auth %v), idle %ds; want the policy's hour and 600s", s.ExpiresAt, s.AuthTime, s.IdleTimeoutSeconds)
		}

		// Used within the idle lifetime: reused.
		e.clock.Advance(599 * time.Second)
		id = request()
		wantRedirect(t, b.get("/login?authRequest="+id), id)
		// Idle for longer: the sign-in form again.
		e.clock.Advance(601 * time.Second)
		id = request()
		form := b.get("/login?authRequest=" + id)
		wantStatus(t, form, http.StatusOK)
		if !form.hasField("email") {
			t.Fatalf("an idle session was reused:\n%s", form.body)
		}
		// Kept busy, it still ends an hour after its sign-in.
		wantRedirect(t, b.login(id, "ada@example.com", pw), id)
		for range 6 {
			e.clock.Advance(9 * time.Minute)
			id = request()
			wantRedirect(t, b.get("/login?authRequest="+id), id)
		}
		e.clock.Advance(7 * time.Minute)
		id = request()
		if form := b.get("/login?authRequest=" + id); !form.hasField("email") {
			t.Fatalf("a session outlived the policy's absolute lifetime:\n%s", form.body)
		}
	})
}

// An application that names an organization the user is not a member of
// learns nothing of it: no branding, no consent page, a plain refusal.
func TestConsentBrandNeedsMembership(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		e.user(userSpec{email: "ada@example.com", password: pw})
		other, err := e.client.Organization.Create().SetName("Other Corp").SetSlug("other").
			SetLogoURL("https://cdn.example/other.png").SetPrimaryColor("#ff0000").Save(sys(t.Context()))
		if err != nil {
			t.Fatal(err)
		}
		id := e.flow.add(LoginRequest{ClientID: "thirdparty", WantsOrganization: true, RequestedOrganizationID: string(other.ID),
			Scopes: []string{"openid", "organization:" + string(other.ID)}})
		r := e.browser().login(id, "ada@example.com", pw)
		wantStatus(t, r, http.StatusForbidden)
		if !strings.Contains(r.body, en(msgNotRequested)) || strings.Contains(r.body, "cdn.example") || strings.Contains(r.body, "#ff0000") ||
			strings.Contains(r.body, "Other Corp") {
			t.Fatalf("a non-member saw the organization:\n%s", r.body)
		}
	})
}

// Signing out at /login/logged-out also revokes the grants (refresh
// tokens, and the access tokens under them) issued from the session, and
// only those (ATO-10).
func TestLoggedOutRevokesGrants(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		ada := e.user(userSpec{email: "ada@example.com", password: pw})
		b := e.browser()
		id := e.flow.add(LoginRequest{FirstParty: true})
		wantRedirect(t, b.login(id, "ada@example.com", pw), id)
		a, _ := e.flow.completed(id)
		now := e.clock.Now()
		grantFrom := func(s string) *ent.Grant {
			c := e.client.Grant.Create().SetClientID("app_client").SetUserID(ada.ID).SetScopes([]string{"openid"}).
				SetAuthTime(now).SetExpiresAt(now.Add(time.Hour))
			if s != "" {
				c.SetSessionID(pulid.ID(s))
			}
			return c.SaveX(sys(t.Context()))
		}
		mine, unrelated := grantFrom(string(a.SessionID)), grantFrom("")
		ask := b.get("/login/logged-out")
		wantStatus(t, b.post("/login/logged-out", url.Values{"csrf": {ask.field("csrf")}}), http.StatusOK)
		if g := e.client.Grant.GetX(sys(t.Context()), mine.ID); g.RevokedAt == nil {
			t.Error("the session's grant survived the sign-out")
		}
		if g := e.client.Grant.GetX(sys(t.Context()), unrelated.ID); g.RevokedAt != nil {
			t.Error("a grant of no session was revoked")
		}
	})
}

// The password is a step of a login transaction: when the policy needs
// more, the transaction keeps the proven password for the next step and
// there is no session; once a sign-in is done, the session replaces the
// transaction and the browser drops its cookie.
func TestLoginTransactionHoldsFactors(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		ada := e.user(userSpec{email: "ada@example.com", password: pw})
		strict := e.org("Strict", "strict")
		e.policy(strict, func(p *ent.OrganizationPolicyCreate) { p.SetMfaRequired(true) })
		e.member(ada, strict, membership.StatusACTIVE)
		b := e.browser()
		id := e.flow.add(LoginRequest{FirstParty: true, WantsOrganization: true, RequestedOrganizationID: string(strict.ID),
			Scopes: []string{"openid", "organization:" + string(strict.ID)}})
		// The next step is the second factor (enrollment: ada has none).
		wantStatus(t, b.login(id, "ada@example.com", pw), http.StatusOK)
		token := b.cookie("gatehouse_login")
		tx, err := e.web.cfg.Tenants.LoginTransaction(t.Context(), token, id)
		if err != nil || tx == nil {
			t.Fatalf("no login transaction after the password step: %v", err)
		}
		if tx.UserID != ada.ID || tx.OrganizationID != strict.ID || len(tx.Factors) != 1 || tx.Factors[0].Method != "pwd" {
			t.Errorf("transaction %+v", tx)
		}

		// A sign-in the policy accepts ends in a session, not a transaction.
		e.client.OrganizationPolicy.Update().SetMfaRequired(false).ExecX(sys(t.Context()))
		id2 := e.flow.add(LoginRequest{FirstParty: true, WantsOrganization: true, RequestedOrganizationID: string(strict.ID),
			Scopes: []string{"openid", "organization:" + string(strict.ID)}})
		wantRedirect(t, b.login(id2, "ada@example.com", pw), id2)
		if b.cookie("gatehouse_login") != "" {
			t.Error("the browser kept its transaction cookie after signing in")
		}
		if n := e.client.LoginTransaction.Query().CountX(sys(t.Context())); n != 1 { // the first request's, left to expire
			t.Errorf("%d login transactions, want only the unfinished one", n)
		}
		if b.cookie("gatehouse_session") == "" {
			t.Error("no session after a completed transaction")
		}
	})
}
