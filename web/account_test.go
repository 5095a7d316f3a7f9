package web

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ent/membership"
	"github.com/gatehouse-id/gatehouse/ent/totpcredential"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/totp"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// signInDirect signs b in at /login as email and returns the account page.
func signInDirect(t *testing.T, b *browser, email string) response {
	t.Helper()
	form := b.get("/login?prompt=login")
	r := b.post("/login", url.Values{"csrf": {form.field("csrf")}, "email": {email}, "password": {pw}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != accountPath {
		t.Fatalf("direct sign-in: %d %q\n%s", r.status, r.header.Get("Location"), r.body)
	}
	page := b.get(accountPath)
	wantStatus(t, page, http.StatusOK)
	return page
}

// The account page changes the profile at once, and the sign-in methods
// and the address only after a recent sign-in; the address only once the
// new one is proved, telling the old one.
func TestAccountChanges(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		e.alignClock()
		ada := e.user(userSpec{email: "ada@example.com", password: pw})
		e.user(userSpec{email: "taken@example.com", password: pw})
		app, err := e.web.cfg.Tenants.BeginTOTP(t.Context(), ada.ID)
		if err != nil {
			t.Fatal(err)
		}
		key, _ := totp.DecodeSecret(app.Secret)
		if ok, err := e.web.cfg.Tenants.ConfirmTOTP(t.Context(), ada.ID, app.Credential.ID, e.otp(key, 0)); !ok || err != nil {
			t.Fatalf("confirm: %v %v", ok, err)
		}
		b := e.browser()
		form := b.get("/login")
		r := b.post("/login", url.Values{"csrf": {form.field("csrf")}, "email": {"ada@example.com"}, "password": {pw}})
		e.clock.Advance(30 * time.Second)
		if r = b.postCode("", r, "code", e.otp(key, 0)); r.status != http.StatusSeeOther {
			t.Fatalf("sign-in with the app: %d\n%s", r.status, r.body)
		}
		page := b.get(accountPath)
		csrf := page.field("csrf")
		post := func(path string, v url.Values) response {
			v.Set("csrf", csrf)
			return b.post(accountPath+path, v)
		}

		if r := post("/profile", url.Values{"name": {"Ada Lovelace"}}); r.status != http.StatusOK || !strings.Contains(r.body, "Ada Lovelace") {
			t.Errorf("profile: %d", r.status)
		}
		if r := b.post(accountPath+"/profile", url.Values{"name": {"Mallory"}}); r.status != http.StatusForbidden {
			t.Errorf("profile without the form's csrf: %d", r.status)
		}

		// Email change: proved by a code sent to the new address.
		sent := post("/email", url.Values{"email": {"taken@example.com"}})
		code, _ := codeOf(t, e, "taken@example.com", "email_change_verify")
		if r := b.post(accountPath+"/email/verify", url.Values{"csrf": {sent.field("csrf")}, "challenge": {sent.field("challenge")}, "code": {code}}); r.status != http.StatusConflict {
			t.Errorf("an address another account has: %d", r.status)
		}
		sent = post("/email", url.Values{"email": {"ada.lovelace@example.com"}})
		code, _ = codeOf(t, e, "ada.lovelace@example.com", "email_change_verify")
		if r := b.post(accountPath+"/email/verify", url.Values{"csrf": {sent.field("csrf")}, "challenge": {sent.field("challenge")}, "code": {code}}); r.status != http.StatusOK {
			t.Fatalf("email change: %d\n%s", r.status, r.body)
		}
		if got := e.client.User.GetX(sys(t.Context()), ada.ID); got.Email != "ada.lovelace@example.com" || !got.EmailVerified {
			t.Errorf("email now %q (verified %v)", got.Email, got.EmailVerified)
		}
		if !slicesContainsKind(e.mail.to("ada@example.com"), "email_changed") {
			t.Error("the old address was not told")
		}

		// Recovery codes: new ones, shown once.
		r = post("/recovery-codes", url.Values{})
		if n := len(regexp.MustCompile(`<li><code>[^<]+</code></li>`).FindAllString(r.body, -1)); r.status != http.StatusOK || n != 10 {
			t.Errorf("new recovery codes: %d, %d codes", r.status, n)
		}

		// An id that is not one of the user's apps removes nothing.
		if r := post("/factors/remove", url.Values{"kind": {"totp"}, "id": {"totp_01J000000000000000000000"}}); r.status != http.StatusNotFound {
			t.Errorf("a stranger's id: %d", r.status)
		}

		// Eleven minutes on, removing the app needs a new sign-in.
		e.clock.Advance(tenants.RecentSignIn + time.Minute)
		remove := url.Values{"kind": {"totp"}, "id": {string(app.Credential.ID)}}
		if r := post("/factors/remove", remove); r.status != http.StatusUnauthorized || !strings.Contains(r.body, en(msgReauth)) {
			t.Errorf("remove without a recent sign-in: %d", r.status)
		}
		if n := e.client.TOTPCredential.Query().Where(totpcredential.UserID(ada.ID)).CountX(sys(t.Context())); n != 1 {
			t.Fatalf("%d apps after a refused removal", n)
		}
	})
}

// The last second factor of a member of an organization that requires MFA
// stays; signing in again on purpose (/login?prompt=login) makes the
// session recent.
func TestAccountKeepsTheLastRequiredFactor(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		e.alignClock()
		ada := e.user(userSpec{email: "ada@example.com", password: pw})
		corp := e.org("Corp", "corp")
		e.member(ada, corp, membership.StatusACTIVE)
		e.client.OrganizationPolicy.Create().SetOrganizationID(corp.ID).SetMfaRequired(true).ExecX(sys(t.Context()))
		app, _ := e.web.cfg.Tenants.BeginTOTP(t.Context(), ada.ID)
		key, _ := totp.DecodeSecret(app.Secret)
		if ok, _ := e.web.cfg.Tenants.ConfirmTOTP(t.Context(), ada.ID, app.Credential.ID, e.otp(key, 0)); !ok {
			t.Fatal("confirm")
		}
		b := e.browser()
		form := b.get("/login?prompt=login")
		r := b.post("/login", url.Values{"csrf": {form.field("csrf")}, "email": {"ada@example.com"}, "password": {pw}})
		e.clock.Advance(30 * time.Second)
		if r = b.postCode("", r, "code", e.otp(key, 0)); r.status != http.StatusSeeOther {
			t.Fatalf("sign-in: %d\n%s", r.status, r.body)
		}
		if again := b.get("/login?prompt=login"); again.status != http.StatusOK || !again.hasField("email") {
			t.Errorf("/login?prompt=login while signed in: %d", again.status)
		}
		page := b.get(accountPath)
		r = b.post(accountPath+"/factors/remove", url.Values{"csrf": {page.field("csrf")}, "kind": {"totp"}, "id": {string(app.Credential.ID)}})
		if r.status != http.StatusForbidden || !strings.Contains(r.body, en("page.error.last_factor")) {
			t.Errorf("removing the last required factor: %d\n%s", r.status, r.body)
		}
	})
}
