package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ent/consent"
	"github.com/gatehouse-id/gatehouse/ent/membership"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/ent/session"
	"github.com/gatehouse-id/gatehouse/internal/secret"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
)

const pw = "correct horse battery staple"

func TestLoginEndToEnd(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		ada := e.user(userSpec{email: "ada@example.com", name: "Ada Lovelace", password: pw})
		acme, globex := e.org("Acme", "acme"), e.org("Globex", "globex")
		e.member(ada, acme, membership.StatusACTIVE)
		e.member(ada, globex, membership.StatusACTIVE)
		id := e.flow.add(LoginRequest{Scopes: []string{"openid", "email", "organization"}, WantsOrganization: true, LoginHint: "ada@example.com"})

		b := e.browser()
		form := b.get("/login?authRequest=" + id)
		wantStatus(t, form, http.StatusOK)
		for _, s := range []string{`<label for="password">Password</label>`,
			`name="email" value="ada@example.com" autocomplete="username"`, `autocomplete="current-password"`,
			`<button type="submit">Sign in</button>`, "Acme CRM"} {
			if !strings.Contains(form.body, s) {
				t.Errorf("login form lacks %q", s)
			}
		}
		picker := b.post("/login", url.Values{"authRequest": {id}, "csrf": {form.field("csrf")}, "email": {" Ada@Example.com "}, "password": {pw}})
		wantStatus(t, picker, http.StatusOK)
		if !strings.Contains(picker.body, "Choose an organization") || !strings.Contains(picker.body, string(acme.ID)) || !strings.Contains(picker.body, string(globex.ID)) {
			t.Fatalf("picker does not list both organizations:\n%s", picker.body)
		}
		cookie := b.cookie("gatehouse_session")
		if cookie == "" {
			t.Fatal("no session cookie after sign-in")
		}
		cons := b.post("/login/organization", url.Values{"authRequest": {id}, "csrf": {picker.field("csrf")},
			"ticket": {picker.field("ticket")}, "organization": {string(globex.ID)}})
		wantStatus(t, cons, http.StatusOK)
		if !strings.Contains(cons.body, "Allow Acme CRM to use your account?") || cons.field("organization") != string(globex.ID) {
			t.Fatalf("consent page wrong:\n%s", cons.body)
		}
		done := b.post("/consent", url.Values{"authRequest": {id}, "csrf": {cons.field("csrf")}, "ticket": {cons.field("ticket")},
			"organization": {cons.field("organization")}, "action": {"allow"}})
		wantRedirect(t, done, id)

		a, ok := e.flow.completed(id)
		if !ok {
			t.Fatal("CompleteLogin not called")
		}
		s, err := e.client.Session.Query().Where(session.TokenHash(secret.Hash(cookie))).Only(sys(t.Context()))
		if err != nil {
			t.Fatalf("session of the cookie: %v", err)
		}
		if a.UserID != ada.ID || a.SessionID != s.ID || a.OrganizationID != globex.ID || !slices.Equal(a.AMR, []string{"pwd"}) ||
			!a.AuthTime.Equal(e.clock.Now()) {
			t.Errorf("CompleteLogin got %+v; want user %s session %s org %s amr [pwd] at %v", a, ada.ID, s.ID, globex.ID, e.clock.Now())
		}
		if s.UserID != ada.ID || !s.ExpiresAt.Equal(e.clock.Now().Add(7*24*time.Hour)) || s.IP != "127.0.0.1" {
			t.Errorf("session %+v", s)
		}
		// The finished request cannot be replayed.
		wantStatus(t, b.get("/login?authRequest="+id), http.StatusBadRequest)
	})
}

func TestCookieFlags(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		for _, tc := range []struct{ issuer, session, csrf string }{
			{"http://127.0.0.1", "gatehouse_session", "gatehouse_csrf"},
			{"https://id.example.com", "__Host-gatehouse_session", "__Host-gatehouse_csrf"},
		} {
			e := newEnv(t, db, func(c *Config) { c.Issuer = tc.issuer })
			email := strings.ToLower(tc.session) + "@example.com"
			e.user(userSpec{email: email, password: pw})
			id := e.flow.add(LoginRequest{FirstParty: true})
			h := e.web.Handler()

			rec := httptestDo(t, h, http.MethodGet, "/login?authRequest="+id, nil, nil)
			csrfCk := findCookie(rec.Result().Cookies(), tc.csrf)
			if csrfCk == nil || !csrfCk.HttpOnly || csrfCk.SameSite != http.SameSiteStrictMode || csrfCk.Path != "/" || csrfCk.Domain != "" ||
				csrfCk.Secure != strings.HasPrefix(tc.issuer, "https") {
				t.Fatalf("%s: csrf cookie %+v", tc.issuer, csrfCk)
			}
			form := url.Values{"authRequest": {id}, "csrf": {csrfField(csrfCk.Value, id)}, "email": {email}, "password": {pw}}
			rec = httptestDo(t, h, http.MethodPost, "/login", form, []*http.Cookie{csrfCk})
			if rec.Code != http.StatusSeeOther {
				t.Fatalf("%s: %d %s", tc.issuer, rec.Code, rec.Body)
			}
			if hsts := rec.Header().Get("Strict-Transport-Security"); (hsts != "") != strings.HasPrefix(tc.issuer, "https") {
				t.Errorf("%s: HSTS %q", tc.issuer, hsts)
			}
			sc := findCookie(rec.Result().Cookies(), tc.session)
			if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/" || sc.Domain != "" ||
				sc.Secure != strings.HasPrefix(tc.issuer, "https") || len(sc.Value) < 50 {
				t.Fatalf("%s: session cookie %+v", tc.issuer, sc)
			}
		}
	})
}

func TestFailedLoginsLookAlike(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		e.user(userSpec{email: "ada@example.com", password: pw})
		e.user(userSpec{email: "off@example.com", password: pw, disabled: true})
		e.user(userSpec{email: "sso@example.com"})
		id := e.flow.add(LoginRequest{FirstParty: true})
		b := e.browser()
		var first response
		for i, tc := range []struct{ name, email, password string }{
			{"wrong password", "ada@example.com", "nope nope nope nope"},
			{"unknown email", "nobody@example.com", pw},
			{"disabled user", "off@example.com", pw},
			{"no password", "sso@example.com", pw},
			{"empty", "", ""},
		} {
			r := b.login(id, tc.email, tc.password)
			wantStatus(t, r, http.StatusUnauthorized)
			if !strings.Contains(r.body, "Email or password is incorrect.") {
				t.Errorf("%s: message missing", tc.name)
			}
			if r.header.Get("Set-Cookie") != "" {
				t.Errorf("%s: sets a cookie: %s", tc.name, r.header.Get("Set-Cookie"))
			}
			// The typed email is shown back; otherwise the pages are identical.
			r.body = strings.ReplaceAll(r.body, `value="`+tc.email+`"`, `value="EMAIL"`)
			r.body = strings.ReplaceAll(r.body, "<span>"+tc.email+"</span>", "<span>EMAIL</span>")
			r.body = strings.ReplaceAll(r.body, "email="+url.QueryEscape(tc.email)+`"`, `email=EMAIL"`)
			if i == 0 {
				first = r
			} else if r.body != first.body {
				t.Errorf("%s: body differs from wrong password:\n%s\n---\n%s", tc.name, r.body, first.body)
			}
		}
		if b.cookie("gatehouse_session") != "" {
			t.Error("a failed sign-in left a session cookie")
		}
		if _, ok := e.flow.completed(id); ok {
			t.Error("a failed sign-in completed the request")
		}
	})
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		e.user(userSpec{email: "ada@example.com", password: pw})
		id := e.flow.add(LoginRequest{FirstParty: true})
		other := e.flow.add(LoginRequest{FirstParty: true})
		b := e.browser()
		form := b.get("/login?authRequest=" + id)
		creds := func(csrf string) url.Values {
			return url.Values{"authRequest": {id}, "csrf": {csrf}, "email": {"ada@example.com"}, "password": {pw}}
		}
		otherForm := b.get("/login?authRequest=" + other)
		for name, v := range map[string]url.Values{
			"missing":              {"authRequest": {id}, "email": {"ada@example.com"}, "password": {pw}},
			"wrong":                creds("AAAA"),
			"for another request":  creds(otherForm.field("csrf")),
			"the cookie value raw": creds(b.cookie("gatehouse_csrf")),
		} {
			r := b.post("/login", v)
			if r.status != http.StatusForbidden || !strings.Contains(r.body, en(msgFormExpired)) {
				t.Errorf("%s: %d\n%s", name, r.status, r.body)
			}
		}
		// A browser without the cookie (a cross-site auto-submitted form)
		// cannot use a field it copied from elsewhere.
		r := e.browser().post("/login", creds(form.field("csrf")))
		wantStatus(t, r, http.StatusForbidden)
		if _, ok := e.flow.completed(id); ok {
			t.Fatal("completed despite CSRF failures")
		}
		wantRedirect(t, b.post("/login", creds(form.field("csrf"))), id)
	})
}

func TestSessionReuse(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		e.user(userSpec{email: "ada@example.com", password: pw})
		b := e.browser()
		first := e.flow.add(LoginRequest{FirstParty: true})
		wantRedirect(t, b.login(first, "ada@example.com", pw), first)
		a1, _ := e.flow.completed(first)
		oldCookie := b.cookie("gatehouse_session")

		t.Run("skips the form", func(t *testing.T) {
			e.clock.Advance(time.Hour)
			id := e.flow.add(LoginRequest{FirstParty: true})
			wantRedirect(t, b.get("/login?authRequest="+id), id)
			a, _ := e.flow.completed(id)
			if a.SessionID != a1.SessionID || !a.AuthTime.Equal(a1.AuthTime) {
				t.Errorf("reused session: %+v, first %+v", a, a1)
			}
		})
		t.Run("max_age satisfied", func(t *testing.T) {
			maxAge := 2 * time.Hour
			id := e.flow.add(LoginRequest{FirstParty: true, MaxAge: &maxAge})
			wantRedirect(t, b.get("/login?authRequest="+id), id)
		})
		t.Run("max_age exceeded shows the form", func(t *testing.T) {
			maxAge := 30 * time.Minute
			id := e.flow.add(LoginRequest{FirstParty: true, MaxAge: &maxAge})
			r := b.get("/login?authRequest=" + id)
			wantStatus(t, r, http.StatusOK)
			if !r.hasField("email") {
				t.Fatal("no form")
			}
		})
		t.Run("prompt=login forces the form and a new session", func(t *testing.T) {
			id := e.flow.add(LoginRequest{FirstParty: true, Prompt: []string{"login"}})
			r := b.get("/login?authRequest=" + id)
			wantStatus(t, r, http.StatusOK)
			if !r.hasField("email") {
				t.Fatal("no form")
			}
			wantRedirect(t, b.post("/login", url.Values{"authRequest": {id}, "csrf": {r.field("csrf")}, "email": {"ada@example.com"}, "password": {pw}}), id)
			a, _ := e.flow.completed(id)
			if a.SessionID == a1.SessionID || !a.AuthTime.Equal(e.clock.Now()) {
				t.Errorf("prompt=login reused the old session: %+v", a)
			}
			// Fixation: a new cookie value, and the old session is dead.
			if c := b.cookie("gatehouse_session"); c == oldCookie || c == "" {
				t.Error("session cookie value not renewed")
			}
			old, err := e.client.Session.Get(sys(t.Context()), a1.SessionID)
			if err != nil || old.RevokedAt == nil {
				t.Errorf("old session not revoked: %v %+v", err, old)
			}
		})
		t.Run("the steps after sign-in need a ticket", func(t *testing.T) {
			// With prompt=login, posting straight to the consent step with
			// a live session (and a valid CSRF field) must not skip the form.
			id := e.flow.add(LoginRequest{Prompt: []string{"login"}})
			r := b.get("/login?authRequest=" + id)
			c := b.post("/consent", url.Values{"authRequest": {id}, "csrf": {r.field("csrf")}, "action": {"allow"}})
			wantStatus(t, c, http.StatusForbidden)
			if _, ok := e.flow.completed(id); ok {
				t.Fatal("completed without a ticket")
			}
		})
		t.Run("idle timeout", func(t *testing.T) {
			e.clock.Advance(25 * time.Hour)
			id := e.flow.add(LoginRequest{FirstParty: true})
			wantStatus(t, b.get("/login?authRequest="+id), http.StatusOK)
		})
	})
}

func TestSessionEnds(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		ada := e.user(userSpec{email: "ada@example.com", password: pw})
		for name, end := range map[string]func(t *testing.T, b *browser, sid pulid.ID){
			"revoked": func(t *testing.T, _ *browser, sid pulid.ID) {
				if err := e.client.Session.UpdateOneID(sid).SetRevokedAt(e.clock.Now()).Exec(sys(t.Context())); err != nil {
					t.Fatal(err)
				}
			},
			"user disabled": func(t *testing.T, _ *browser, _ pulid.ID) {
				if err := e.client.User.UpdateOneID(ada.ID).SetStatus("DISABLED").Exec(sys(t.Context())); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { e.client.User.UpdateOneID(ada.ID).SetStatus("ACTIVE").ExecX(sys(context.Background())) })
			},
			"absolute lifetime": func(t *testing.T, b *browser, _ pulid.ID) {
				for range 7 { // used every 23 hours: never idle, but past 7 days
					e.clock.Advance(23 * time.Hour)
					id := e.flow.add(LoginRequest{FirstParty: true})
					wantRedirect(t, b.get("/login?authRequest="+id), id)
				}
				e.clock.Advance(23 * time.Hour)
			},
		} {
			t.Run(name, func(t *testing.T) {
				b := e.browser()
				id := e.flow.add(LoginRequest{FirstParty: true})
				wantRedirect(t, b.login(id, "ada@example.com", pw), id)
				a, _ := e.flow.completed(id)
				end(t, b, a.SessionID)
				next := e.flow.add(LoginRequest{FirstParty: true})
				r := b.get("/login?authRequest=" + next)
				wantStatus(t, r, http.StatusOK)
				if !r.hasField("email") {
					t.Fatal("no form")
				}
			})
		}
	})
}

func TestOrganizationPicker(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		ada := e.user(userSpec{email: "ada@example.com", password: pw})
		acme, globex, suspended, stranger := e.org("Acme", "acme"), e.org("Globex", "globex"), e.org("Initech", "initech"), e.org("Umbrella", "umbrella")
		e.member(ada, acme, membership.StatusACTIVE)
		e.member(ada, globex, membership.StatusACTIVE)
		e.member(ada, suspended, membership.StatusSUSPENDED)
		want := LoginRequest{FirstParty: true, WantsOrganization: true, Scopes: []string{"openid", "organization"}}

		b := e.browser()
		id := e.flow.add(want)
		picker := b.login(id, "ada@example.com", pw)
		wantStatus(t, picker, http.StatusOK)
		if strings.Contains(picker.body, string(suspended.ID)) || strings.Contains(picker.body, "Initech") {
			t.Error("picker lists an organization with a SUSPENDED membership")
		}
		if strings.Contains(picker.body, string(stranger.ID)) {
			t.Error("picker lists a foreign organization")
		}
		choose := func(p response, org pulid.ID) response {
			return b.post("/login/organization", url.Values{"authRequest": {id}, "csrf": {p.field("csrf")}, "ticket": {p.field("ticket")}, "organization": {string(org)}})
		}
		for name, org := range map[string]pulid.ID{"suspended": suspended.ID, "not a member": stranger.ID, "nonsense": "org_nope"} {
			r := choose(picker, org)
			if r.status != http.StatusForbidden || !strings.Contains(r.body, en(msgNotMember)) || !strings.Contains(r.body, string(acme.ID)) {
				t.Errorf("%s: %d\n%s", name, r.status, r.body)
			}
		}
		wantRedirect(t, choose(picker, acme.ID), id)
		if a, _ := e.flow.completed(id); a.OrganizationID != acme.ID {
			t.Errorf("organization %q, want %q", a.OrganizationID, acme.ID)
		}

		t.Run("one organization is taken without asking", func(t *testing.T) {
			bob := e.user(userSpec{email: "bob@example.com", password: pw})
			e.member(bob, globex, membership.StatusACTIVE)
			e.member(bob, suspended, membership.StatusSUSPENDED)
			id := e.flow.add(want)
			wantRedirect(t, e.browser().login(id, "bob@example.com", pw), id)
			if a, _ := e.flow.completed(id); a.OrganizationID != globex.ID {
				t.Errorf("organization %q", a.OrganizationID)
			}
		})
		t.Run("no organization", func(t *testing.T) {
			e.user(userSpec{email: "carol@example.com", password: pw})
			id := e.flow.add(want)
			r := e.browser().login(id, "carol@example.com", pw)
			if r.status != http.StatusForbidden || !strings.Contains(r.body, "does not belong to any organization") {
				t.Errorf("%d\n%s", r.status, r.body)
			}
		})
		t.Run("requested organization", func(t *testing.T) {
			id := e.flow.add(LoginRequest{FirstParty: true, RequestedOrganizationID: string(globex.ID)})
			wantRedirect(t, b.get("/login?authRequest="+id), id)
			if a, _ := e.flow.completed(id); a.OrganizationID != globex.ID {
				t.Errorf("organization %q", a.OrganizationID)
			}
			id = e.flow.add(LoginRequest{FirstParty: true, RequestedOrganizationID: string(stranger.ID)})
			r := b.get("/login?authRequest=" + id)
			if r.status != http.StatusForbidden || !strings.Contains(r.body, en(msgNotRequested)) {
				t.Errorf("%d\n%s", r.status, r.body)
			}
		})
		t.Run("provider refuses the membership", func(t *testing.T) {
			// The membership is suspended between the page and the post.
			id := e.flow.add(want)
			picker := b.get("/login?authRequest=" + id)
			wantStatus(t, picker, http.StatusOK)
			if _, err := e.client.Membership.Update().Where(membership.UserID(ada.ID), membership.OrganizationID(acme.ID)).
				SetStatus(membership.StatusSUSPENDED).Save(sys(t.Context())); err != nil {
				t.Fatal(err)
			}
			r := b.post("/login/organization", url.Values{"authRequest": {id}, "csrf": {picker.field("csrf")}, "ticket": {picker.field("ticket")}, "organization": {string(acme.ID)}})
			if r.status != http.StatusForbidden || !strings.Contains(r.body, en(msgNotMember)) {
				t.Errorf("%d\n%s", r.status, r.body)
			}
		})
	})
}

func TestConsent(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		ada := e.user(userSpec{email: "ada@example.com", password: pw})
		b := e.browser()
		third := LoginRequest{ClientID: "thirdparty", ClientName: "Third Party", Scopes: []string{"openid", "email"}}

		id := e.flow.add(third)
		c := b.login(id, "ada@example.com", pw)
		wantStatus(t, c, http.StatusOK)
		if !strings.Contains(c.body, "See your email address") {
			t.Errorf("consent page lacks the scopes:\n%s", c.body)
		}
		deny := url.Values{"authRequest": {id}, "csrf": {c.field("csrf")}, "ticket": {c.field("ticket")}, "action": {"deny"}}
		// Deny goes back to the application with access_denied (OIDC Core
		// §3.1.2.6) and ends the request: neither a second deny nor an
		// allow with the same form gets anywhere.
		wantFailure(t, e, b.post("/consent", deny), id, "access_denied")
		wantStatus(t, b.post("/consent", deny), http.StatusBadRequest)
		deny.Set("action", "allow")
		wantStatus(t, b.post("/consent", deny), http.StatusBadRequest)
		if _, ok := e.flow.completed(id); ok {
			t.Error("deny completed the request")
		}
		if n := e.client.Consent.Query().CountX(sys(t.Context())); n != 0 {
			t.Errorf("deny stored %d consents", n)
		}
		if evs := e.audits("consent.deny"); len(evs) != 1 || evs[0].Actor != string(ada.ID) || evs[0].Metadata["client_id"] != "thirdparty" {
			t.Errorf("consent.deny events: %+v", evs)
		}

		id = e.flow.add(third)
		c = b.get("/login?authRequest=" + id)
		wantStatus(t, c, http.StatusOK)
		wantRedirect(t, b.post("/consent", url.Values{"authRequest": {id}, "csrf": {c.field("csrf")}, "ticket": {c.field("ticket")}, "action": {"allow"}}), id)
		got := e.client.Consent.Query().Where(consent.UserID(ada.ID), consent.ClientID("thirdparty")).OnlyX(sys(t.Context()))
		if !slices.Equal(got.Scopes, []string{"email", "openid"}) {
			t.Errorf("stored scopes %v", got.Scopes)
		}
		if evs := e.audits("consent.grant"); len(evs) != 1 || evs[0].Actor != string(ada.ID) || evs[0].TargetID != string(ada.ID) ||
			evs[0].Metadata["client_id"] != "thirdparty" {
			t.Errorf("consent.grant events: %+v", evs)
		}

		// Remembered: the same scopes go straight through.
		id = e.flow.add(third)
		wantRedirect(t, b.get("/login?authRequest="+id), id)
		// prompt=consent asks again.
		ask := third
		ask.Prompt = []string{"consent"}
		id = e.flow.add(ask)
		wantStatus(t, b.get("/login?authRequest="+id), http.StatusOK)
		// A new scope asks again, and is added to what was granted.
		more := third
		more.Scopes = []string{"openid", "email", "profile"}
		id = e.flow.add(more)
		c = b.get("/login?authRequest=" + id)
		if c.status != http.StatusOK || !strings.Contains(c.body, "See your name") {
			t.Fatalf("%d\n%s", c.status, c.body)
		}
		wantRedirect(t, b.post("/consent", url.Values{"authRequest": {id}, "csrf": {c.field("csrf")}, "ticket": {c.field("ticket")}, "action": {"allow"}}), id)
		got = e.client.Consent.Query().Where(consent.UserID(ada.ID), consent.ClientID("thirdparty")).OnlyX(sys(t.Context()))
		if !slices.Equal(got.Scopes, []string{"email", "openid", "profile"}) {
			t.Errorf("stored scopes %v", got.Scopes)
		}
		// Another third party asks on its own; first-party apps never ask.
		other := third
		other.ClientID = "other"
		wantStatus(t, b.get("/login?authRequest="+e.flow.add(other)), http.StatusOK)
		first := e.flow.add(LoginRequest{ClientID: "firstparty", FirstParty: true, Scopes: []string{"openid", "offline_access"}})
		wantRedirect(t, b.get("/login?authRequest="+first), first)
	})
}

func TestConsentWithOrganization(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		ada := e.user(userSpec{email: "ada@example.com", password: pw})
		acme, globex, stranger := e.org("Acme", "acme"), e.org("Globex", "globex"), e.org("Umbrella", "umbrella")
		e.member(ada, acme, membership.StatusACTIVE)
		e.member(ada, globex, membership.StatusACTIVE)
		b := e.browser()
		id := e.flow.add(LoginRequest{WantsOrganization: true, Scopes: []string{"openid", "organization"}})
		p := b.login(id, "ada@example.com", pw)
		c := b.post("/login/organization", url.Values{"authRequest": {id}, "csrf": {p.field("csrf")}, "ticket": {p.field("ticket")}, "organization": {string(acme.ID)}})
		wantStatus(t, c, http.StatusOK)
		// The hidden organization cannot be swapped for a foreign one.
		r := b.post("/consent", url.Values{"authRequest": {id}, "csrf": {c.field("csrf")}, "ticket": {c.field("ticket")}, "organization": {string(stranger.ID)}, "action": {"allow"}})
		wantStatus(t, r, http.StatusForbidden)
		wantRedirect(t, b.post("/consent", url.Values{"authRequest": {id}, "csrf": {c.field("csrf")}, "ticket": {c.field("ticket")}, "organization": {string(acme.ID)}, "action": {"allow"}}), id)
		if a, _ := e.flow.completed(id); a.OrganizationID != acme.ID {
			t.Errorf("organization %q", a.OrganizationID)
		}
	})
}

// TestConsentBrand: the consent screen takes the look of the organization
// that was taken without a page (the user's only one) or that the
// application named, and reads that organization once.
func TestConsentBrand(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		sqlDB, n := db.Counting(t)
		e := newEnv(t, db, func(c *Config) { c.Client = db.ClientOn(sqlDB) })
		ada := e.user(userSpec{email: "ada@example.com", password: pw})
		acme, err := e.client.Organization.Create().SetName("Acme").SetSlug("acme").
			SetLogoURL("https://cdn.example/acme.png").SetPrimaryColor("#00ff00").Save(sys(t.Context()))
		if err != nil {
			t.Fatal(err)
		}
		e.member(ada, acme, membership.StatusACTIVE)
		b := e.browser()
		wantBrand := func(name string, r response) {
			t.Helper()
			wantStatus(t, r, http.StatusOK)
			if !strings.Contains(r.body, `src="https://cdn.example/acme.png"`) || !strings.Contains(r.body, "--brand: #00ff00") {
				t.Errorf("%s: brand not rendered:\n%s", name, r.body)
			}
			if got := r.field("organization"); got != string(acme.ID) {
				t.Errorf("%s: organization field %q, want %s", name, got, acme.ID)
			}
			reads := 0
			for _, q := range n.Statements() {
				if strings.Contains(q, "organizations") {
					reads++
				}
			}
			if reads != 1 {
				t.Errorf("%s: read organizations %d times, want 1: %q", name, reads, n.Statements())
			}
		}

		only := e.flow.add(LoginRequest{ClientID: "thirdparty", WantsOrganization: true, Scopes: []string{"openid", "organization"}})
		form := b.get("/login?authRequest=" + only)
		n.Reset()
		wantBrand("only organization", b.post("/login", url.Values{"authRequest": {only}, "csrf": {form.field("csrf")}, "email": {"ada@example.com"}, "password": {pw}}))

		named := e.flow.add(LoginRequest{ClientID: "thirdparty", WantsOrganization: true, RequestedOrganizationID: string(acme.ID),
			Scopes: []string{"openid", "organization:" + string(acme.ID)}})
		n.Reset()
		wantBrand("named organization", b.get("/login?authRequest="+named))
	})
}

func TestExpiredRequest(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		e.user(userSpec{email: "ada@example.com", password: pw})
		b := e.browser()
		expiring := e.flow.add(LoginRequest{FirstParty: true})
		form := b.get("/login?authRequest=" + expiring)
		e.clock.Advance(11 * time.Minute)
		for name, r := range map[string]response{
			"unknown":          b.get("/login?authRequest=areq_01JDOESNOTEXIST"),
			"expired":          b.get("/login?authRequest=" + expiring),
			"expired on post":  b.post("/login", url.Values{"authRequest": {expiring}, "csrf": {form.field("csrf")}, "email": {"ada@example.com"}, "password": {pw}}),
			"consent, unknown": b.post("/consent", url.Values{"authRequest": {"areq_x"}}),
			"picker, unknown":  b.post("/login/organization", url.Values{"authRequest": {"areq_x"}}),
		} {
			if r.status != http.StatusBadRequest || !strings.Contains(r.body, en(msgExpired)) || r.header.Get("Location") != "" {
				t.Errorf("%s: %d %q\n%s", name, r.status, r.header.Get("Location"), r.body)
			}
			if strings.Contains(r.body, "href=\"http") || strings.Contains(r.body, "app.example") {
				t.Errorf("%s: the error page links out", name)
			}
		}
	})
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		b := e.browser()
		id := e.flow.add(LoginRequest{})
		for name, r := range map[string]response{
			"login":     b.get("/login?authRequest=" + id),
			"error":     b.get("/login?authRequest=nope"),
			"bad login": b.post("/login", url.Values{"authRequest": {id}}),
			"not found": b.get("/nothing"),
			"static":    b.get("/static/style.css"),
		} {
			h := r.header
			csp := h.Get("Content-Security-Policy")
			if h.Get("X-Frame-Options") != "DENY" || !strings.Contains(csp, "frame-ancestors 'none'") ||
				!strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") ||
				h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("%s: headers %v", name, h)
			}
			if name != "static" && h.Get("Cache-Control") != "no-store" {
				t.Errorf("%s: Cache-Control %q", name, h.Get("Cache-Control"))
			}
		}
		if r := b.get("/static/style.css"); r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/css") {
			t.Errorf("static: %d %s", r.status, r.header.Get("Content-Type"))
		}
		if r := b.get("/static/"); r.status != http.StatusNotFound {
			t.Errorf("static directory listing: %d", r.status)
		}
	})
}

func TestEscaping(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		const evil = `<script>alert(1)</script>`
		ada := e.user(userSpec{email: "ada@example.com", name: evil, password: pw})
		o1 := e.org(evil, "evil")
		o2, err := e.client.Organization.Create().SetName("Branded").SetSlug("branded").
			SetLogoURL("https://cdn.example/logo.png").SetPrimaryColor("#ff0000").Save(sys(t.Context()))
		if err != nil {
			t.Fatal(err)
		}
		// Values that slipped past validation are dropped, not rendered.
		o3, err := e.client.Organization.Create().SetName("Sloppy").SetSlug("sloppy").
			SetLogoURL("javascript:alert(1)").SetPrimaryColor("red;}").Save(sys(t.Context()))
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range []pulid.ID{o1.ID, o2.ID, o3.ID} {
			if err := e.client.Membership.Create().SetUserID(ada.ID).SetOrganizationID(o).Exec(sys(t.Context())); err != nil {
				t.Fatal(err)
			}
		}
		b := e.browser()
		id := e.flow.add(LoginRequest{ClientName: evil, LoginHint: `"><script>x()</script>`, WantsOrganization: true})
		login := b.get("/login?authRequest=" + id)
		picker := b.post("/login", url.Values{"authRequest": {id}, "csrf": {login.field("csrf")}, "email": {"ada@example.com"}, "password": {pw}})
		wantStatus(t, picker, http.StatusOK)
		consentPage := b.post("/login/organization", url.Values{"authRequest": {id}, "csrf": {picker.field("csrf")}, "ticket": {picker.field("ticket")}, "organization": {string(o2.ID)}})
		wantStatus(t, consentPage, http.StatusOK)
		sloppy := b.post("/login/organization", url.Values{"authRequest": {id}, "csrf": {picker.field("csrf")}, "ticket": {picker.field("ticket")}, "organization": {string(o3.ID)}})
		wantStatus(t, sloppy, http.StatusOK)
		for name, r := range map[string]response{"login": login, "picker": picker, "consent": consentPage, "sloppy": sloppy} {
			if strings.Contains(r.body, "<script") {
				t.Errorf("%s: unescaped script:\n%s", name, r.body)
			}
		}
		if !strings.Contains(picker.body, "&lt;script&gt;alert(1)&lt;/script&gt;") || !strings.Contains(consentPage.body, "&lt;script&gt;") {
			t.Error("escaped names missing")
		}
		if !strings.Contains(consentPage.body, `src="https://cdn.example/logo.png"`) || !strings.Contains(consentPage.body, "--brand: #ff0000") {
			t.Errorf("brand of a valid organization not rendered:\n%s", consentPage.body)
		}
		nonce := strings.TrimSuffix(strings.TrimPrefix(consentPage.header.Get("Content-Security-Policy"), ""), "")
		if !strings.Contains(nonce, "'nonce-") {
			t.Errorf("branded page CSP lacks a style nonce: %s", nonce)
		}
		// The CSP's nonce is the one on the page's <style>.
		if m := regexp.MustCompile(`<style nonce="([^"]+)">`).FindStringSubmatch(consentPage.body); m == nil ||
			!strings.Contains(nonce, "'nonce-"+m[1]+"'") {
			t.Errorf("style nonce %q not the CSP's: %s", m, nonce)
		}
		if strings.Contains(sloppy.body, "javascript:") || strings.Contains(sloppy.body, "red;}") || strings.Contains(sloppy.body, "--brand") {
			t.Errorf("unsafe brand rendered:\n%s", sloppy.body)
		}
	})
}

func TestProviderRefusals(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		e.user(userSpec{email: "ada@example.com", password: pw})
		b := e.browser()
		for _, tc := range []struct {
			name   string
			err    error
			status int
			want   string
		}{
			{"reauthenticate", ErrReauthenticate, http.StatusOK, `name="password"`},
			{"user inactive", ErrUserInactive, http.StatusUnauthorized, msgSessionEnded},
			{"unknown", ErrUnknownRequest, http.StatusBadRequest, msgExpired},
			{"unknown acr", ErrUnknownACR, http.StatusBadRequest, msgCannotLogin},
			{"internal", errors.New("database on fire"), http.StatusInternalServerError, msgInternal},
		} {
			t.Run(tc.name, func(t *testing.T) {
				id := e.flow.add(LoginRequest{FirstParty: true, Prompt: []string{"login"}})
				form := b.get("/login?authRequest=" + id)
				e.flow.mu.Lock()
				e.flow.failNext = tc.err
				e.flow.mu.Unlock()
				r := b.post("/login", url.Values{"authRequest": {id}, "csrf": {form.field("csrf")}, "email": {"ada@example.com"}, "password": {pw}})
				if r.status != tc.status || !strings.Contains(r.body, en(tc.want)) || strings.Contains(r.body, "on fire") || r.header.Get("Location") != "" {
					t.Errorf("%d %q\n%s", r.status, r.header.Get("Location"), r.body)
				}
			})
		}
	})
}
