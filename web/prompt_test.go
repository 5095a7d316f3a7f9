package web

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/ent/membership"
	"github.com/gatehouse-id/gatehouse/federation"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
)

// TestSelectAccount documents prompt=select_account (OIDC Core §3.1.2.1)
// with a signed-in browser: the session is never reused without asking.
// With several organizations to choose from the question is the picker;
// otherwise a page asks whether to continue as the signed-in user. Both
// offer "Use another account". Without a session it is the sign-in form.
func TestSelectAccount(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		ada := e.user(userSpec{email: "ada@example.com", name: "Ada", password: pw})
		bob := e.user(userSpec{email: "bob@example.com", password: pw})
		acme, globex := e.org("Acme", "acme"), e.org("Globex", "globex")
		e.member(ada, acme, membership.StatusACTIVE)
		e.member(ada, globex, membership.StatusACTIVE)
		e.member(bob, globex, membership.StatusACTIVE)
		selectAccount := []string{"select_account"}

		t.Run("without a session: the sign-in form", func(t *testing.T) {
			id := e.flow.add(LoginRequest{FirstParty: true, Prompt: selectAccount})
			r := e.browser().get("/login?authRequest=" + id)
			wantStatus(t, r, http.StatusOK)
			if !r.hasField("email") {
				t.Fatalf("no form:\n%s", r.body)
			}
		})

		b := e.browser()
		first := e.flow.add(LoginRequest{FirstParty: true})
		wantRedirect(t, b.login(first, "ada@example.com", pw), first)
		a1, _ := e.flow.completed(first)

		t.Run("one account, no organization: asks to continue", func(t *testing.T) {
			id := e.flow.add(LoginRequest{FirstParty: true, Prompt: selectAccount})
			r := b.get("/login?authRequest=" + id)
			wantStatus(t, r, http.StatusOK)
			if !strings.Contains(r.body, "Ada (ada@example.com)") || !strings.Contains(r.body, `action="/login/continue"`) ||
				!strings.Contains(r.body, ">Continue</button>") || !strings.Contains(r.body, ">Use another account</button>") ||
				r.hasField("email") {
				t.Fatalf("page:\n%s", r.body)
			}
			if _, ok := e.flow.completed(id); ok {
				t.Fatal("completed without asking")
			}
			// The step needs the ticket, like the picker and consent.
			c := b.post("/login/continue", url.Values{"authRequest": {id}, "csrf": {r.field("csrf")}, "action": {"continue"}})
			wantStatus(t, c, http.StatusForbidden)
			c = b.post("/login/continue", url.Values{"authRequest": {id}, "ticket": {r.field("ticket")}, "action": {"continue"}})
			wantStatus(t, c, http.StatusForbidden)
			if _, ok := e.flow.completed(id); ok {
				t.Fatal("completed without csrf or ticket")
			}
			c = b.post("/login/continue", url.Values{"authRequest": {id}, "csrf": {r.field("csrf")}, "ticket": {r.field("ticket")}, "action": {"continue"}})
			wantRedirect(t, c, id)
			if a, _ := e.flow.completed(id); a.SessionID != a1.SessionID || a.UserID != ada.ID {
				t.Errorf("completed with %+v, want the session %s", a, a1.SessionID)
			}
		})

		t.Run("one organization: asks to continue, then takes it", func(t *testing.T) {
			bb := e.browser()
			id := e.flow.add(LoginRequest{FirstParty: true})
			wantRedirect(t, bb.login(id, "bob@example.com", pw), id)
			id = e.flow.add(LoginRequest{FirstParty: true, Prompt: selectAccount, WantsOrganization: true})
			r := bb.get("/login?authRequest=" + id)
			wantStatus(t, r, http.StatusOK)
			if !strings.Contains(r.body, "bob@example.com") || !strings.Contains(r.body, `action="/login/continue"`) {
				t.Fatalf("page:\n%s", r.body)
			}
			wantRedirect(t, bb.post("/login/continue", url.Values{"authRequest": {id}, "csrf": {r.field("csrf")}, "ticket": {r.field("ticket")}, "action": {"continue"}}), id)
			if a, _ := e.flow.completed(id); a.OrganizationID != globex.ID || a.UserID != bob.ID {
				t.Errorf("completed with %+v", a)
			}
		})

		t.Run("the requested organization: asks to continue", func(t *testing.T) {
			id := e.flow.add(LoginRequest{FirstParty: true, Prompt: selectAccount, RequestedOrganizationID: string(acme.ID)})
			r := b.get("/login?authRequest=" + id)
			wantStatus(t, r, http.StatusOK)
			if !strings.Contains(r.body, `action="/login/continue"`) {
				t.Fatalf("page:\n%s", r.body)
			}
		})

		t.Run("several organizations: the picker", func(t *testing.T) {
			id := e.flow.add(LoginRequest{FirstParty: true, Prompt: selectAccount, WantsOrganization: true})
			r := b.get("/login?authRequest=" + id)
			wantStatus(t, r, http.StatusOK)
			if !strings.Contains(r.body, `action="/login/organization"`) || !strings.Contains(r.body, string(acme.ID)) ||
				!strings.Contains(r.body, string(globex.ID)) || !strings.Contains(r.body, ">Use another account</button>") {
				t.Fatalf("page:\n%s", r.body)
			}
			wantRedirect(t, b.post("/login/organization", url.Values{"authRequest": {id}, "csrf": {r.field("csrf")},
				"ticket": {r.field("ticket")}, "organization": {string(globex.ID)}}), id)
			if a, _ := e.flow.completed(id); a.OrganizationID != globex.ID || a.SessionID != a1.SessionID {
				t.Errorf("completed with %+v", a)
			}
		})

		t.Run("use another account", func(t *testing.T) {
			for _, step := range []string{"/login/continue", "/login/organization"} {
				t.Run(step, func(t *testing.T) {
					bb := e.browser()
					id := e.flow.add(LoginRequest{FirstParty: true})
					wantRedirect(t, bb.login(id, "ada@example.com", pw), id)
					old, _ := e.flow.completed(id)
					req := LoginRequest{FirstParty: true, Prompt: selectAccount}
					if step == "/login/organization" {
						req.WantsOrganization = true
					}
					id = e.flow.add(req)
					r := bb.get("/login?authRequest=" + id)
					wantStatus(t, r, http.StatusOK)
					form := bb.post(step, url.Values{"authRequest": {id}, "csrf": {r.field("csrf")}, "ticket": {r.field("ticket")}, "action": {"switch"}})
					wantStatus(t, form, http.StatusOK)
					if !form.hasField("email") || strings.Contains(form.body, "ada@example.com") {
						t.Fatalf("not an empty sign-in form:\n%s", form.body)
					}
					if _, ok := e.flow.completed(id); ok {
						t.Fatal("completed")
					}
					wantRedirect(t, bb.post("/login", url.Values{"authRequest": {id}, "csrf": {form.field("csrf")},
						"email": {"bob@example.com"}, "password": {pw}}), id)
					a, _ := e.flow.completed(id)
					if a.UserID != bob.ID || a.SessionID == old.SessionID {
						t.Errorf("completed with %+v", a)
					}
					if s := e.client.Session.GetX(sys(t.Context()), old.SessionID); s.RevokedAt == nil {
						t.Error("the previous account's session survives the switch (ATO-07)")
					}
				})
			}
		})

		t.Run("prompt=login still wins", func(t *testing.T) {
			id := e.flow.add(LoginRequest{FirstParty: true, Prompt: []string{"login", "select_account"}})
			r := b.get("/login?authRequest=" + id)
			wantStatus(t, r, http.StatusOK)
			if !r.hasField("email") {
				t.Fatalf("no form:\n%s", r.body)
			}
		})
	})
}

// TestACRValues: a client that accepts a single factor (no acr_values,
// the single-factor class, or multi-factor preferred with single-factor
// accepted) gets a password sign-in; one asking for multi-factor only
// gets the second-factor step first (TestMFAStepUpByACR goes on from
// there). Web never claims an ACR itself: the provider derives it from
// AMR.
func TestACRValues(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		e.user(userSpec{email: "ada@example.com", password: pw})
		for _, tc := range []struct {
			name   string
			values []string
			stepUp bool
		}{
			{"none", nil, false},
			{"single factor", []string{federation.ACRSingleFactor}, false},
			{"multi-factor preferred, single factor accepted", []string{federation.ACRMultiFactor, federation.ACRSingleFactor}, false},
			{"multi-factor only", []string{federation.ACRMultiFactor}, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				id := e.flow.add(LoginRequest{FirstParty: true, ACRValues: tc.values})
				r := e.browser().login(id, "ada@example.com", pw)
				if tc.stepUp {
					wantStatus(t, r, http.StatusOK)
					if _, ok := e.flow.completed(id); ok || !strings.Contains(r.body, "authenticator app") {
						t.Fatalf("no second-factor step:\n%s", r.body)
					}
					return
				}
				wantRedirect(t, r, id)
				a, _ := e.flow.completed(id)
				if a.ACR != "" || !slices.Equal(a.AMR, []string{"pwd"}) {
					t.Errorf("Authentication ACR %q AMR %v, want no ACR and [pwd]", a.ACR, a.AMR)
				}
			})
		}
	})
}
