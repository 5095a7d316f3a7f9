package web

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ent/membership"
	"github.com/gatehouse-id/gatehouse/ent/user"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/totp"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// codeOf is the code of the last mail of kind sent to address.
func codeOf(t *testing.T, e *env, address, kind string) (code, link string) {
	t.Helper()
	mails := e.mail.to(address)
	if len(mails) == 0 || mails[len(mails)-1].kind != kind {
		t.Fatalf("mails to %s: %+v, want a %s last", address, mails, kind)
	}
	m := mails[len(mails)-1]
	code, _ = m.data["Code"].(string)
	for _, k := range []string{"Link", "SignInLink"} {
		if l, ok := m.data[k].(string); ok {
			link = l
			break
		}
	}
	return code, link
}

// followLink opens an emailed link in b and presses its one button.
func followLink(t *testing.T, b *browser, link string) response {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || u.Host != "127.0.0.1" {
		t.Fatalf("link %q is not on the configured issuer", link)
	}
	page := b.get(u.RequestURI())
	wantStatus(t, page, http.StatusOK)
	return b.post(u.Path, url.Values{"csrf": {page.field("csrf")}, "token": {page.field("token")}})
}

// A direct signup: email and password, the emailed code, and the account
// page, signed in; the password then works on the sign-in form.
func TestSignupThenSignIn(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		b := e.browser()
		form := b.get("/signup")
		wantStatus(t, form, http.StatusOK)
		for _, want := range []string{`autocomplete="new-password"`, `data-strength`, `/static/strength.js`} {
			if !strings.Contains(form.body, want) {
				t.Errorf("signup form lacks %q", want)
			}
		}
		sent := b.post("/signup", url.Values{"csrf": {form.field("csrf")}, "email": {" Ada@Example.com "}, "password": {"correct horse battery"}})
		wantStatus(t, sent, http.StatusOK)
		if e.client.User.Query().CountX(sys(t.Context())) != 0 {
			t.Fatal("an account exists before its address is proved")
		}
		code, _ := codeOf(t, e, "ada@example.com", "signup_verify")
		done := b.post("/signup/verify", url.Values{"csrf": {sent.field("csrf")}, "challenge": {sent.field("challenge")}, "code": {code}})
		if done.status != http.StatusSeeOther || done.header.Get("Location") != accountPath {
			t.Fatalf("verified signup: %d %q\n%s", done.status, done.header.Get("Location"), done.body)
		}
		account := b.get(accountPath)
		wantStatus(t, account, http.StatusOK)
		if !strings.Contains(account.body, "ada@example.com") || !strings.Contains(account.body, "(this browser)") {
			t.Errorf("account page:\n%s", account.body)
		}
		u := e.client.User.Query().Where(user.Email("ada@example.com")).OnlyX(sys(t.Context()))
		if !u.EmailVerified || u.PasswordHash == "" {
			t.Errorf("new account: verified %v, password %v", u.EmailVerified, u.PasswordHash != "")
		}
		// The same code again signs nobody up twice.
		again := e.browser().post("/signup/verify", url.Values{"csrf": {sent.field("csrf")}, "challenge": {sent.field("challenge")}, "code": {code}})
		if again.status == http.StatusSeeOther {
			t.Error("a spent code (in another browser) signed in")
		}

		id := e.flow.add(LoginRequest{FirstParty: true})
		wantRedirect(t, e.browser().login(id, "ada@example.com", "correct horse battery"), id)

		if evs := e.audits("user.login"); len(evs) != 2 || evs[0].Actor != string(u.ID) || evs[0].Metadata["session_id"] == nil ||
			evs[0].Metadata["client_id"] != nil {
			t.Errorf("user.login events (the direct sign-up's, then the application's): %+v", evs)
		}

		// The funnel counted each step once.
		counts := map[string]int64{}
		if err := e.web.cfg.Tenants.FlushFunnel(t.Context()); err != nil {
			t.Fatal(err)
		}
		for _, c := range e.client.FunnelCount.Query().AllX(sys(t.Context())) {
			counts[c.Event] += c.Count
		}
		for ev, want := range map[tenants.FunnelEvent]int64{tenants.FunnelSignupStarted: 1, tenants.FunnelSignupVerified: 1,
			tenants.FunnelSignupCompleted: 1, tenants.FunnelLoginSucceededEmail: 1, tenants.FunnelLoginSucceededPassword: 1} {
			if counts[string(ev)] != want {
				t.Errorf("funnel %s = %d, want %d (all: %v)", ev, counts[string(ev)], want, counts)
			}
		}
	})
}

// Signing up with an address that has an account answers exactly as for a
// new one; the owner is sent a notice whose link signs that account in,
// unchanged.
func TestSignupOfRegisteredAddressLooksAlike(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		ada := e.user(userSpec{email: "ada@example.com", password: pw})
		signup := func(email string) response {
			b := e.browser()
			form := b.get("/signup")
			r := b.post("/signup", url.Values{"csrf": {form.field("csrf")}, "email": {email}, "password": {"another long passphrase"}})
			wantStatus(t, r, http.StatusOK)
			return r
		}
		norm := func(r response, email string) string {
			s := strings.ReplaceAll(r.body, email, "EMAIL")
			s = regexp.MustCompile(`value="[^"]*"`).ReplaceAllString(s, `value="X"`)
			return regexp.MustCompile(`nonce="[^"]*"`).ReplaceAllString(s, `nonce="X"`)
		}
		known, unknown := signup("ada@example.com"), signup("nobody@example.com")
		if norm(known, "ada@example.com") != norm(unknown, "nobody@example.com") {
			t.Errorf("signup pages differ:\n%s\n---\n%s", known.body, unknown.body)
		}
		if known.header.Get("Set-Cookie") != "" && unknown.header.Get("Set-Cookie") == "" {
			t.Error("cookies differ")
		}
		_, link := codeOf(t, e, "ada@example.com", "signup_exists")
		_, _ = codeOf(t, e, "nobody@example.com", "signup_verify")
		b := e.browser()
		done := followLink(t, b, link)
		if done.status != http.StatusSeeOther || done.header.Get("Location") != accountPath {
			t.Fatalf("notice link: %d %q\n%s", done.status, done.header.Get("Location"), done.body)
		}
		got := e.client.User.GetX(sys(t.Context()), ada.ID)
		if got.PasswordHash != ada.PasswordHash {
			t.Error("signing up again changed the account's password")
		}
	})
}

// Sign-in by email: the identifier step, then a code sent only to an
// account's owner, on a page that is the same for every address; the code
// works once, in this browser, and five wrong ones end it.
func TestEmailSignIn(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		e.user(userSpec{email: "ada@example.com", password: pw})
		ask := func(b *browser, id, email string) response {
			first := b.get("/login?authRequest=" + url.QueryEscape(id))
			methods := b.post("/login/identify", url.Values{"authRequest": {id}, "csrf": {first.field("csrf")}, "email": {email}})
			wantStatus(t, methods, http.StatusOK)
			if !methods.hasField("password") || !strings.Contains(methods.body, `action="/login/email"`) {
				t.Fatalf("methods page:\n%s", methods.body)
			}
			r := b.post("/login/email", url.Values{"authRequest": {id}, "csrf": {first.field("csrf")}, "email": {email}})
			wantStatus(t, r, http.StatusOK)
			return r
		}
		id := e.flow.add(LoginRequest{FirstParty: true})
		b := e.browser()
		sent := ask(b, id, "ada@example.com")
		if other := ask(e.browser(), id, "nobody@example.com"); len(e.mail.to("nobody@example.com")) != 0 ||
			strings.ReplaceAll(other.body, "nobody@example.com", "X") == "" {
			t.Error("a mail went to an address without an account")
		}
		code, _ := codeOf(t, e, "ada@example.com", "login_code")
		post := func(b *browser, r response, code string) response {
			return b.post("/login/email/verify", url.Values{"authRequest": {r.field("authRequest")}, "csrf": {r.field("csrf")},
				"challenge": {r.field("challenge")}, "code": {code}})
		}
		if r := post(e.browser(), sent, code); r.status != http.StatusForbidden && r.status != http.StatusUnauthorized {
			t.Errorf("the code in another browser: %d", r.status)
		}
		wantRedirect(t, post(b, sent, code), id)
		if a, _ := e.flow.completed(id); len(a.AMR) != 1 || a.AMR[0] != "email" {
			t.Errorf("amr %v, want [email]", a.AMR)
		}

		// Five wrong codes end the challenge, the right one included.
		id2 := e.flow.add(LoginRequest{FirstParty: true})
		b2 := e.browser()
		sent2 := ask(b2, id2, "ada@example.com")
		code2, link2 := codeOf(t, e, "ada@example.com", "login_code")
		wrong := "000000"
		if code2 == wrong {
			wrong = "000001"
		}
		for range 5 {
			if r := post(b2, sent2, wrong); r.status != http.StatusUnauthorized || !strings.Contains(r.body, en(msgBadCode)) {
				t.Fatalf("wrong code: %d\n%s", r.status, r.body)
			}
		}
		if r := post(b2, sent2, code2); r.status != http.StatusUnauthorized {
			t.Errorf("the right code after five wrong ones: %d", r.status)
		}
		if r := followLink(t, e.browser(), link2); r.status != http.StatusUnauthorized {
			t.Errorf("the link after five wrong codes: %d", r.status)
		}
	})
}

// One address is sent at most DefaultRecipientPolicy.Free mails at once,
// whoever asks: Gatehouse cannot be used to flood an inbox.
func TestMailThrottle(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		e.user(userSpec{email: "ada@example.com", password: pw})
		var last response
		for range DefaultRecipientPolicy.Free + 1 {
			b := e.browser()
			form := b.get("/login")
			last = b.post("/login/email", url.Values{"csrf": {form.field("csrf")}, "email": {"ada@example.com"}})
		}
		if last.status != http.StatusTooManyRequests || last.header.Get("Retry-After") == "" {
			t.Errorf("mail %d: %d, Retry-After %q", DefaultRecipientPolicy.Free+1, last.status, last.header.Get("Retry-After"))
		}
		if n := len(e.mail.to("ada@example.com")); n != DefaultRecipientPolicy.Free {
			t.Errorf("%d mails sent, want %d", n, DefaultRecipientPolicy.Free)
		}
	})
}

// The account page lists the user's browsers; each can be signed out, or
// all, and only with the page's own form.
func TestAccountSessions(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		e.user(userSpec{email: "ada@example.com", password: pw})
		if r := e.browser().get(accountPath); r.status != http.StatusSeeOther || r.header.Get("Location") != "/login" {
			t.Errorf("account page signed out: %d %q", r.status, r.header.Get("Location"))
		}
		signIn := func() *browser {
			b := e.browser()
			form := b.get("/login")
			r := b.post("/login", url.Values{"csrf": {form.field("csrf")}, "email": {"ada@example.com"}, "password": {pw}})
			if r.status != http.StatusSeeOther || r.header.Get("Location") != accountPath {
				t.Fatalf("direct sign-in: %d %q\n%s", r.status, r.header.Get("Location"), r.body)
			}
			return b
		}
		laptop, phone := signIn(), signIn()
		if r := laptop.get("/login"); r.status != http.StatusSeeOther || r.header.Get("Location") != accountPath {
			t.Errorf("/login signed in: %d %q", r.status, r.header.Get("Location"))
		}
		page := laptop.get(accountPath)
		if n := strings.Count(page.body, `name="session" value="ses_`); n != 2 {
			t.Fatalf("%d sessions listed, want 2\n%s", n, page.body)
		}
		if r := laptop.post(accountPath+"/sessions/revoke", url.Values{"session": {"all"}}); r.status != http.StatusForbidden {
			t.Errorf("revoke without the form's csrf: %d", r.status)
		}
		if r := laptop.post(accountPath+"/sessions/revoke", url.Values{"csrf": {page.field("csrf")}, "session": {"others"}}); r.status != http.StatusOK {
			t.Fatalf("sign out others: %d", r.status)
		}
		if r := phone.get(accountPath); r.status != http.StatusSeeOther {
			t.Errorf("the other browser still reaches the account page: %d", r.status)
		}
		if r := laptop.get(accountPath); r.status != http.StatusOK {
			t.Errorf("this browser was signed out too: %d", r.status)
		}
		page = laptop.get(accountPath)
		if r := laptop.post(accountPath+"/sessions/revoke", url.Values{"csrf": {page.field("csrf")}, "session": {"all"}}); r.status != http.StatusOK {
			t.Fatalf("sign out everywhere: %d", r.status)
		}
		if r := laptop.get(accountPath); r.status != http.StatusSeeOther {
			t.Errorf("signed out everywhere, still in: %d", r.status)
		}
	})
}

// Recovery: the same answer for every address; a link to the owner only,
// which sets a new password once, within 30 minutes, and signs every other
// browser out; an account whose organization enforces SSO is sent nothing.
func TestRecovery(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		e.user(userSpec{email: "ada@example.com", password: pw})
		sso := e.user(userSpec{email: "sso@corp.example", password: pw})
		corp := e.org("Corp", "corp")
		e.verifiedDomain(corp, "corp.example") // enforce_sso reaches sso@ (tenants.ScopeEnforceSSO)
		e.member(sso, corp, membership.StatusACTIVE)
		e.client.OrganizationPolicy.Create().SetOrganizationID(corp.ID).SetEnforceSSO(true).ExecX(sys(t.Context()))

		old := e.browser()
		form := old.get("/login")
		if r := old.post("/login", url.Values{"csrf": {form.field("csrf")}, "email": {"ada@example.com"}, "password": {pw}}); r.status != http.StatusSeeOther {
			t.Fatalf("sign-in: %d", r.status)
		}
		ask := func(email string) response {
			b := e.browser()
			f := b.get(recoverPath + "?email=" + url.QueryEscape(email))
			wantStatus(t, f, http.StatusOK)
			r := b.post(recoverPath, url.Values{"csrf": {f.field("csrf")}, "email": {email}})
			wantStatus(t, r, http.StatusOK)
			return r
		}
		norm := func(r response, email string) string { return strings.ReplaceAll(r.body, email, "EMAIL") }
		known := ask("ada@example.com")
		for _, other := range []string{"nobody@example.com", "sso@corp.example"} {
			if r := ask(other); norm(r, other) != norm(known, "ada@example.com") {
				t.Errorf("%s: the answer differs:\n%s\n---\n%s", other, r.body, known.body)
			}
			if n := len(e.mail.to(other)); n != 0 {
				t.Errorf("%s was sent %d mails", other, n)
			}
		}
		_, link := codeOf(t, e, "ada@example.com", "password_reset")
		u, _ := url.Parse(link)
		b := e.browser()
		page := b.get(u.RequestURI())
		wantStatus(t, page, http.StatusOK)
		reset := func(password string) response {
			return b.post(u.Path, url.Values{"csrf": {page.field("csrf")}, "token": {page.field("token")}, "password": {password}})
		}
		if r := reset("short"); r.status != http.StatusBadRequest || !r.hasField("token") {
			t.Fatalf("a short password: %d\n%s", r.status, r.body)
		}
		if r := reset("a brand new passphrase"); r.status != http.StatusSeeOther || r.header.Get("Location") != accountPath {
			t.Fatalf("reset: %d %q\n%s", r.status, r.header.Get("Location"), r.body)
		}
		if r := reset("yet another passphrase"); r.status != http.StatusUnauthorized {
			t.Errorf("the link a second time: %d", r.status)
		}
		if r := old.get(accountPath); r.status != http.StatusSeeOther {
			t.Errorf("the browser signed in before the reset is still in: %d", r.status)
		}
		if !slicesContainsKind(e.mail.to("ada@example.com"), "password_changed") {
			t.Error("no password_changed notice")
		}
		id := e.flow.add(LoginRequest{FirstParty: true})
		if r := e.browser().login(id, "ada@example.com", pw); r.status != http.StatusUnauthorized {
			t.Errorf("the old password: %d", r.status)
		}
		wantRedirect(t, e.browser().login(id, "ada@example.com", "a brand new passphrase"), id)
		if n := len(e.audits("user.password.reset")); n != 1 {
			t.Errorf("%d user.password.reset events, want 1", n)
		}

		// A link past 30 minutes sets nothing.
		ask("ada@example.com")
		_, link = codeOf(t, e, "ada@example.com", "password_reset")
		e.clock.Advance(tenants.RecoveryLinkLifetime)
		u, _ = url.Parse(link)
		if r := e.browser().get(u.RequestURI()); r.status != http.StatusBadRequest {
			t.Errorf("an expired link: %d", r.status)
		}
	})
}

// A sign-in from a browser that has not signed in to the account before
// mails the owner, unless it is the account's first; sessions and audit
// events carry the browser's device id.
func TestNewDeviceNotice(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		ada := e.user(userSpec{email: "ada@example.com", password: pw})
		signIn := func(b *browser) {
			id := e.flow.add(LoginRequest{FirstParty: true, Prompt: []string{"login"}})
			wantRedirect(t, b.login(id, "ada@example.com", pw), id)
		}
		notices := func() int {
			n := 0
			for _, m := range e.mail.to("ada@example.com") {
				if m.kind == "new_device" {
					n++
				}
			}
			return n
		}
		laptop, phone := e.browser(), e.browser()
		signIn(laptop)
		if n := notices(); n != 0 {
			t.Errorf("the first sign-in sent %d notices", n)
		}
		signIn(phone)
		if n := notices(); n != 1 {
			t.Errorf("a new browser sent %d notices, want 1", n)
		}
		signIn(laptop)
		signIn(phone)
		if n := notices(); n != 1 {
			t.Errorf("known browsers sent %d notices in all, want 1", n)
		}
		devices := map[string]bool{}
		for _, s := range e.client.Session.Query().AllX(sys(t.Context())) {
			if s.UserID == ada.ID {
				devices[s.DeviceID] = true
			}
		}
		if len(devices) != 2 || devices[""] {
			t.Errorf("session device ids %v, want two", devices)
		}
		id := e.flow.add(LoginRequest{FirstParty: true})
		forged := phone.post("/login", url.Values{"authRequest": {id}, "csrf": {"forged"}, "email": {"ada@example.com"}, "password": {"x"}})
		wantStatus(t, forged, http.StatusForbidden)
		evs := e.audits("user.login.failed")
		if len(evs) == 0 || evs[len(evs)-1].Metadata["device_id"] == nil {
			t.Errorf("the refusal's event has no device id: %+v", evs)
		}
	})
}

func slicesContainsKind(mails []sentMail, kind string) bool {
	for _, m := range mails {
		if m.kind == kind {
			return true
		}
	}
	return false
}

// A password reset proves the address, not the account's second factor:
// after the new password is set, the authenticator app is still asked
// (ATO-05 f, ATO-06).
func TestRecoveryKeepsTheSecondFactor(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		e.alignClock()
		ada := e.user(userSpec{email: "ada@example.com", password: pw})
		en, err := e.web.cfg.Tenants.BeginTOTP(t.Context(), ada.ID)
		if err != nil {
			t.Fatal(err)
		}
		key, err := totp.DecodeSecret(en.Secret)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := e.web.cfg.Tenants.ConfirmTOTP(t.Context(), ada.ID, en.Credential.ID, e.otp(key, 0)); err != nil || !ok {
			t.Fatalf("confirm TOTP: %v %v", ok, err)
		}
		b := e.browser()
		f := b.get(recoverPath)
		wantStatus(t, b.post(recoverPath, url.Values{"csrf": {f.field("csrf")}, "email": {"ada@example.com"}}), http.StatusOK)
		_, link := codeOf(t, e, "ada@example.com", "password_reset")
		u, _ := url.Parse(link)
		page := b.get(u.RequestURI())
		r := b.post(u.Path, url.Values{"csrf": {page.field("csrf")}, "token": {page.field("token")}, "password": {"a brand new passphrase"}})
		if r.status != http.StatusOK || !r.hasField("code") || b.cookie("gatehouse_session") != "" {
			t.Fatalf("after the reset: %d, session %q, want the second step\n%s", r.status, b.cookie("gatehouse_session"), r.body)
		}
		e.clock.Advance(30 * time.Second)
		done := b.postCode("", r, "code", e.otp(key, 0))
		if done.status != http.StatusSeeOther || done.header.Get("Location") != accountPath {
			t.Fatalf("second step after the reset: %d %q\n%s", done.status, done.header.Get("Location"), done.body)
		}
	})
}
