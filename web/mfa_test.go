package web

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/membership"
	"github.com/gatehouse-id/gatehouse/ent/session"
	"github.com/gatehouse-id/gatehouse/federation"
	"github.com/gatehouse-id/gatehouse/internal/ratelimit"
	"github.com/gatehouse-id/gatehouse/internal/secret"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/totp"
	"github.com/gatehouse-id/gatehouse/tenants"
)

var (
	keyOnPage   = regexp.MustCompile(`<code id="totp-key" class="key">([A-Z2-7 ]+)</code>`)
	codesOnPage = regexp.MustCompile(`<li><code>([0-9a-z]{5}-[0-9a-z]{5})</code></li>`)
)

// pageKey is the authenticator key the enrollment page shows.
func pageKey(t *testing.T, r response) []byte {
	t.Helper()
	m := keyOnPage.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no key on the page:\n%s", r.body)
	}
	key, err := totp.DecodeSecret(m[1])
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// otp is key's code at the env's clock, offset steps away.
func (e *env) otp(key []byte, offset int64) string {
	return totp.Code(key, totp.Step(e.clock.Now())+offset, totp.Digits)
}

// alignClock moves the env's clock five seconds into the next TOTP step,
// so that no code the test computes straddles a step.
func (e *env) alignClock() {
	now := e.clock.Now()
	e.clock.Advance(totp.Period - time.Duration(now.Unix()%30)*time.Second + 5*time.Second)
}

// enrollTOTP answers the enrollment page with a code from its key and
// returns the key, the recovery codes shown and the page after
// "continue".
func (b *browser) enrollTOTP(id string, page response) ([]byte, []string, response) {
	b.t.Helper()
	key := pageKey(b.t, page)
	if !strings.Contains(page.body, "<svg") || !strings.Contains(page.body, `autocomplete="one-time-code"`) {
		b.t.Fatalf("enrollment page without QR code or one-time-code field:\n%s", page.body)
	}
	r := b.post("/login/mfa/enroll", url.Values{"authRequest": {id}, "csrf": {page.field("csrf")},
		"enrollment": {page.field("enrollment")}, "code": {b.e.otp(key, 0)}})
	wantStatus(b.t, r, http.StatusOK)
	var codes []string
	for _, m := range codesOnPage.FindAllStringSubmatch(r.body, -1) {
		codes = append(codes, m[1])
	}
	if len(codes) != 10 {
		b.t.Fatalf("%d recovery codes shown:\n%s", len(codes), r.body)
	}
	return key, codes, b.post("/login/mfa/continue", url.Values{"authRequest": {id}, "csrf": {r.field("csrf")}})
}

// postCode answers the second-factor page with field (code or
// recovery_code).
func (b *browser) postCode(id string, page response, field, code string) response {
	b.t.Helper()
	return b.post("/login/mfa", url.Values{"authRequest": {id}, "csrf": {page.field("csrf")}, field: {code}})
}

func (e *env) sessionOf(b *browser) *ent.Session {
	e.t.Helper()
	s, err := e.client.Session.Query().Where(session.TokenHash(secret.Hash(b.cookie("gatehouse_session")))).Only(sys(e.t.Context()))
	if err != nil {
		e.t.Fatalf("the browser's session: %v", err)
	}
	return s
}

func wantAMR(t *testing.T, e *env, id string, amr ...string) {
	t.Helper()
	a, ok := e.flow.completed(id)
	if !ok || !slices.Equal(a.AMR, amr) {
		t.Fatalf("completed %v with AMR %v, want %v", ok, a.AMR, amr)
	}
}

func wantLoginFailed(t *testing.T, e *env, reason string) {
	t.Helper()
	for _, ev := range e.audits(actionLoginFailed) {
		if ev.Metadata["reason"] == reason {
			return
		}
	}
	t.Fatalf("no user.login.failed with reason %s", reason)
}

// An organization's mfaRequired: a member with no second factor enrolls
// an authenticator app at the next sign-in, sees ten recovery codes once,
// and signs in with [pwd otp]; later sign-ins ask for a code, which is
// accepted once; a recovery code works once and says so in amr ("rc").
// Until then the browser has no session: the steps after authentication
// and completion stay out of reach (ATO-05 a).
func TestMFARequiredEnrollAndSignIn(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		e.alignClock()
		ada := e.user(userSpec{email: "ada@example.com", name: "Ada", password: pw})
		strict, other := e.org("Strict", "strict"), e.org("Other", "other")
		e.policy(strict, func(p *ent.OrganizationPolicyCreate) { p.SetMfaRequired(true) })
		e.member(ada, strict, membership.StatusACTIVE)
		e.member(ada, other, membership.StatusACTIVE)
		request := func() string {
			return e.flow.add(LoginRequest{FirstParty: true, WantsOrganization: true, RequestedOrganizationID: string(strict.ID),
				Scopes: []string{"openid", "organization:" + string(strict.ID)}})
		}

		b := e.browser()
		id := request()
		enroll := b.login(id, "ada@example.com", pw)
		wantStatus(t, enroll, http.StatusOK)
		if len(enroll.body) > 50<<10 {
			t.Errorf("the enrollment page weighs %d bytes, over 50 KB", len(enroll.body))
		}
		if !strings.Contains(enroll.body, "Set up an authenticator app") || b.cookie("gatehouse_session") != "" || b.cookie("gatehouse_login") == "" {
			t.Fatalf("after the password: session %q, transaction %q\n%s", b.cookie("gatehouse_session"), b.cookie("gatehouse_login"), enroll.body)
		}

		// The pre-MFA browser reaches nothing but the second-factor step.
		for _, path := range []string{"/login/organization", "/consent", "/login/continue"} {
			r := b.post(path, url.Values{"authRequest": {id}, "csrf": {enroll.field("csrf")}, "organization": {string(strict.ID)}, "action": {"allow"}})
			wantStatus(t, r, http.StatusUnauthorized)
		}
		if r := b.post("/login/mfa/continue", url.Values{"authRequest": {id}, "csrf": {enroll.field("csrf")}}); r.status == http.StatusSeeOther {
			t.Fatal("continue completed a sign-in without a second factor")
		}
		if r := b.get("/login?authRequest=" + id); !r.hasField("email") {
			t.Fatalf("the arrival page did not ask to sign in:\n%s", r.body)
		}
		if r := b.postCode(id, enroll, "code", "000000"); r.status == http.StatusSeeOther {
			t.Fatal("a code completed a sign-in for a user with no authenticator")
		}
		if _, ok := e.flow.completed(id); ok || e.client.Session.Query().CountX(sys(t.Context())) != 0 {
			t.Fatal("a session or completion before the second factor")
		}

		// A wrong first code shows the same key again.
		enroll = b.get("/login/mfa?authRequest=" + id)
		key := pageKey(t, enroll)
		wrong := b.post("/login/mfa/enroll", url.Values{"authRequest": {id}, "csrf": {enroll.field("csrf")},
			"enrollment": {enroll.field("enrollment")}, "code": {e.otp(key, 5)}})
		wantStatus(t, wrong, http.StatusUnauthorized)
		if string(pageKey(t, wrong)) != string(key) {
			t.Fatal("a wrong code changed the key")
		}
		_, codes, done := b.enrollTOTP(id, wrong)
		wantRedirect(t, done, id)
		wantAMR(t, e, id, "pwd", "otp")
		if b.cookie("gatehouse_login") != "" {
			t.Error("the transaction cookie survived the sign-in")
		}
		for _, action := range []string{tenants.ActionTOTPEnroll, tenants.ActionRecoveryCodesGenerate} {
			if evs := e.audits(action); len(evs) != 1 || evs[0].Actor != string(ada.ID) {
				t.Errorf("%s events: %d", action, len(evs))
			}
		}

		// Next sign-in, in another browser: password, then a code.
		b2 := e.browser()
		id = request()
		ask := b2.login(id, "ada@example.com", pw)
		wantStatus(t, ask, http.StatusOK)
		if !strings.Contains(ask.body, `autocomplete="one-time-code"`) || !strings.Contains(ask.body, `inputmode="numeric"`) ||
			!strings.Contains(ask.body, "Use a recovery code") || strings.Contains(ask.body, "<svg") {
			t.Fatalf("second-factor page:\n%s", ask.body)
		}
		// The code that confirmed the enrollment is spent (ATO-05 b).
		r := b2.postCode(id, ask, "code", e.otp(key, 0))
		wantStatus(t, r, http.StatusUnauthorized)
		if !strings.Contains(r.body, en(msgOTPReplayed)) {
			t.Errorf("replay page:\n%s", r.body)
		}
		wantLoginFailed(t, e, reasonOTPReplayed)
		if !slicesContainsKind(e.mail.to("ada@example.com"), "mfa_added") {
			t.Error("enrolling an authenticator app sent no mfa_added notice")
		}
		r = b2.postCode(id, r, "code", e.otp(key, 3))
		wantStatus(t, r, http.StatusUnauthorized)
		wantLoginFailed(t, e, reasonBadOTP)
		e.clock.Advance(totp.Period)
		wantRedirect(t, b2.postCode(id, r, "code", " "+e.otp(key, 0)[:3]+" "+e.otp(key, 0)[3:]), id)
		wantAMR(t, e, id, "pwd", "otp")

		// A recovery code, once.
		b3 := e.browser()
		id = request()
		b3.login(id, "ada@example.com", pw)
		rc := b3.get("/login/mfa?authRequest=" + id + "&method=recovery")
		if !rc.hasField("recovery_code") || rc.hasField("code") {
			t.Fatalf("recovery page:\n%s", rc.body)
		}
		wantRedirect(t, b3.postCode(id, rc, "recovery_code", strings.ToUpper(codes[4])), id)
		wantAMR(t, e, id, "pwd", "rc")
		b4 := e.browser()
		id = request()
		b4.login(id, "ada@example.com", pw)
		rc = b4.get("/login/mfa?authRequest=" + id + "&method=recovery")
		r = b4.postCode(id, rc, "recovery_code", codes[4])
		wantStatus(t, r, http.StatusUnauthorized)
		wantLoginFailed(t, e, reasonBadRecoveryCode)
		if ev := e.audits(tenants.ActionRecoveryCodeUse); len(ev) != 1 {
			t.Errorf("%d recovery code events", len(ev))
		}
	})
}

// Second-factor codes have a tight budget per user (ATO-02, ATO-05 d):
// five wrong codes, then 429 with Retry-After, from any browser, and
// even for the right code; after the wait the right code signs in (no
// hard lockout), and recovery codes keep their own allowance.
func TestMFAThrottle(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db, func(c *Config) {
			c.AddressPolicy = ratelimit.Policy{Free: 1000, KeepOnSuccess: true}
		})
		e.alignClock()
		e.user(userSpec{email: "ada@example.com", password: pw})
		id := e.flow.add(LoginRequest{FirstParty: true, ACRValues: []string{federation.ACRMultiFactor}})
		b := e.browser()
		key, codes, done := b.enrollTOTP(id, b.login(id, "ada@example.com", pw))
		wantRedirect(t, done, id)
		e.clock.Advance(totp.Period)

		id = e.flow.add(LoginRequest{FirstParty: true, ACRValues: []string{federation.ACRMultiFactor}, Prompt: []string{"login"}})
		page := b.login(id, "ada@example.com", pw)
		wrong := e.otp(key, 7)
		for i := range 5 {
			page = b.postCode(id, page, "code", wrong)
			if page.status != http.StatusUnauthorized {
				t.Fatalf("wrong code %d: %d", i+1, page.status)
			}
		}
		// Another browser, same account: the allowance is the user's.
		other := e.browser()
		otherPage := other.login(id, "ada@example.com", pw)
		r := other.postCode(id, otherPage, "code", e.otp(key, 0))
		wantStatus(t, r, http.StatusTooManyRequests)
		if r.header.Get("Retry-After") != "30" || !strings.Contains(r.body, "Too many attempts") {
			t.Fatalf("Retry-After %q\n%s", r.header.Get("Retry-After"), r.body)
		}
		wantLoginFailed(t, e, reasonThrottled)
		if _, ok := e.flow.completed(id); ok {
			t.Fatal("a throttled code completed the sign-in")
		}
		// Recovery codes have their own allowance.
		rc := other.get("/login/mfa?authRequest=" + id + "&method=recovery")
		wantRedirect(t, other.postCode(id, rc, "recovery_code", codes[0]), id)

		// After the wait, the right code works.
		id = e.flow.add(LoginRequest{FirstParty: true, ACRValues: []string{federation.ACRMultiFactor}, Prompt: []string{"login"}})
		page = b.login(id, "ada@example.com", pw)
		secs, _ := strconv.Atoi(r.header.Get("Retry-After"))
		e.clock.Advance(time.Duration(secs) * time.Second)
		wantRedirect(t, b.postCode(id, page, "code", e.otp(key, 0)), id)
	})
}

// An application that asks for multi-factor only (acr_values
// urn:gatehouse:acr:mfa) gets it: a browser whose session proved a
// password steps up with a second factor and gets a new session; a
// session with two factors is reused as is; prompt=none hears
// interaction_required (ATO-05 h).
func TestMFAStepUpByACR(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		e.alignClock()
		e.user(userSpec{email: "ada@example.com", password: pw})
		b := e.browser()
		id := e.flow.add(LoginRequest{FirstParty: true})
		wantRedirect(t, b.login(id, "ada@example.com", pw), id)
		wantAMR(t, e, id, "pwd")
		first := e.sessionOf(b)

		silentReq := e.flow.add(LoginRequest{FirstParty: true, Prompt: []string{"none"}, ACRValues: []string{federation.ACRMultiFactor}})
		wantFailure(t, e, b.get("/login?authRequest="+silentReq), silentReq, "interaction_required")

		id = e.flow.add(LoginRequest{FirstParty: true, ACRValues: []string{federation.ACRMultiFactor}})
		enroll := b.get("/login?authRequest=" + id)
		wantStatus(t, enroll, http.StatusOK)
		if !strings.Contains(enroll.body, "Set up an authenticator app") {
			t.Fatalf("step-up page:\n%s", enroll.body)
		}
		if _, ok := e.flow.completed(id); ok {
			t.Fatal("completed before the step-up")
		}
		_, _, done := b.enrollTOTP(id, enroll)
		wantRedirect(t, done, id)
		wantAMR(t, e, id, "pwd", "otp")
		second := e.sessionOf(b)
		if second.ID == first.ID {
			t.Fatal("the step-up kept the session id (ATO-07)")
		}
		if s := e.client.Session.GetX(sys(t.Context()), first.ID); s.RevokedAt == nil {
			t.Error("the single-factor session survived the step-up")
		}
		// The two-factor session satisfies the next such request at once.
		id = e.flow.add(LoginRequest{FirstParty: true, ACRValues: []string{federation.ACRMultiFactor}})
		wantRedirect(t, b.get("/login?authRequest="+id), id)
		wantAMR(t, e, id, "pwd", "otp")
	})
}

// FuzzPostMFA: whatever a browser holding a transaction posts to the
// second-factor step, the answer is a page or a redirect, never a 5xx.
func FuzzPostMFA(f *testing.F) {
	for _, seed := range [][2]string{
		{"code", "123456"}, {"code", ""}, {"code", "12345678901234567890"}, {"code", "１２３４５６"}, {"code", "\x00\xff"},
		{"recovery_code", "abcde-fghjk"}, {"recovery_code", strings.Repeat("-", 100)}, {"recovery_code", "IIIII-OOOOO"},
		{"other", "x"}, {"code", "12 34 56"},
	} {
		f.Add(seed[0], seed[1], true)
		f.Add(seed[0], seed[1], false)
	}
	db := testdb.All(f)[0] // SQLite, opened once; each input signs in a user of its own
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, field, value string, withCSRF bool) {
		email := fmt.Sprintf("ada%d@example.com", n.Add(1))
		e := newEnv(t, db, func(c *Config) {
			c.OTPPolicy = ratelimit.Policy{Free: 1 << 30}
			c.AddressPolicy = ratelimit.Policy{Free: 1 << 30}
		})
		e.user(userSpec{email: email, password: pw})
		id := e.flow.add(LoginRequest{FirstParty: true, ACRValues: []string{federation.ACRMultiFactor}})
		b := e.browser()
		page := b.login(id, email, pw)
		form := url.Values{"authRequest": {id}, field: {value}}
		if withCSRF {
			form.Set("csrf", page.field("csrf"))
		}
		for _, path := range []string{"/login/mfa", "/login/mfa/enroll", "/login/mfa/continue"} {
			if r := b.post(path, form); r.status >= 500 {
				t.Fatalf("POST %s %s=%q: %d\n%s", path, field, value, r.status, r.body)
			}
		}
	})
}

// A user disabled between the password and the second factor gets no
// further: the transaction's user must still be active.
func TestMFADisabledMidway(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		ada := e.user(userSpec{email: "ada@example.com", password: pw})
		id := e.flow.add(LoginRequest{FirstParty: true, ACRValues: []string{federation.ACRMultiFactor}})
		b := e.browser()
		page := b.login(id, "ada@example.com", pw)
		wantStatus(t, page, http.StatusOK)
		e.client.User.UpdateOneID(ada.ID).SetStatus("DISABLED").ExecX(sys(t.Context()))
		for _, r := range []response{
			b.get("/login/mfa?authRequest=" + id),
			b.postCode(id, page, "code", "123456"),
			b.post("/login/mfa/enroll", url.Values{"authRequest": {id}, "csrf": {page.field("csrf")}, "enrollment": {page.field("enrollment")}, "code": {"123456"}}),
		} {
			wantStatus(t, r, http.StatusUnauthorized)
		}
		if _, ok := e.flow.completed(id); ok {
			t.Fatal("a disabled user completed the sign-in")
		}
	})
}

// A direct sign-in (no application: it ends at the account page) for a
// member of an organization that requires MFA enrolls and proves a
// second factor like any other.
func TestMFADirectSignIn(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		e.alignClock()
		ada := e.user(userSpec{email: "ada@example.com", password: pw})
		strict := e.org("Strict", "strict")
		e.policy(strict, func(p *ent.OrganizationPolicyCreate) { p.SetMfaRequired(true) })
		e.member(ada, strict, membership.StatusACTIVE)
		signIn := func(b *browser) response {
			form := b.get("/login")
			return b.post("/login", url.Values{"csrf": {form.field("csrf")}, "email": {"ada@example.com"}, "password": {pw}})
		}
		b := e.browser()
		enroll := signIn(b)
		wantStatus(t, enroll, http.StatusOK)
		if r := b.get(accountPath); r.status != http.StatusSeeOther {
			t.Fatalf("the account page before the second factor: %d", r.status)
		}
		key, _, done := b.enrollTOTP("", enroll)
		if done.status != http.StatusSeeOther || done.header.Get("Location") != accountPath {
			t.Fatalf("direct sign-in with enrollment: %d %q\n%s", done.status, done.header.Get("Location"), done.body)
		}
		if s := e.sessionOf(b); !slices.Equal(s.Amr, []string{"pwd", "otp"}) {
			t.Fatalf("session amr %v", s.Amr)
		}
		e.clock.Advance(totp.Period)
		b2 := e.browser()
		ask := signIn(b2)
		r := b2.postCode("", ask, "code", e.otp(key, 0))
		if r.status != http.StatusSeeOther || r.header.Get("Location") != accountPath {
			t.Fatalf("direct sign-in with a code: %d %q\n%s", r.status, r.header.Get("Location"), r.body)
		}
	})
}

// The organization picker: a password session picks an organization that
// requires MFA; the step-up begins for that organization and, once the
// second factor is proven, completes into it without asking again.
func TestMFAStepUpAfterPicker(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		e.alignClock()
		ada := e.user(userSpec{email: "ada@example.com", password: pw})
		plain, strict := e.org("Plain", "plain"), e.org("Strict", "strict")
		e.policy(plain, nil)
		e.policy(strict, func(p *ent.OrganizationPolicyCreate) { p.SetMfaRequired(true) })
		e.member(ada, plain, membership.StatusACTIVE)
		e.member(ada, strict, membership.StatusACTIVE)
		b := e.browser()
		id := e.flow.add(LoginRequest{FirstParty: true, WantsOrganization: true, Scopes: []string{"openid", "organization"}})
		picker := b.login(id, "ada@example.com", pw)
		wantStatus(t, picker, http.StatusOK)
		enroll := b.post("/login/organization", url.Values{"authRequest": {id}, "csrf": {picker.field("csrf")},
			"ticket": {picker.field("ticket")}, "organization": {string(strict.ID)}})
		wantStatus(t, enroll, http.StatusOK)
		if _, ok := e.flow.completed(id); ok {
			t.Fatal("completed into the strict organization with a password alone")
		}
		_, _, done := b.enrollTOTP(id, enroll)
		wantRedirect(t, done, id)
		a, _ := e.flow.completed(id)
		if a.OrganizationID != strict.ID || !slices.Equal(a.AMR, []string{"pwd", "otp"}) {
			t.Fatalf("completed into %q with %v", a.OrganizationID, a.AMR)
		}
	})
}

// One code sent by ten browsers at once, each holding its own
// transaction for the same user: one signs in, the others hear that the
// code was used (ATO-05 c, through the pages; TestTOTPParallelReplay in
// tenants forces the interleaving).
func TestMFAParallelSameCode(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db, func(c *Config) {
			c.OTPPolicy = ratelimit.Policy{Free: 100}
			c.AddressPolicy = ratelimit.Policy{Free: 1000, KeepOnSuccess: true}
		})
		e.alignClock()
		e.user(userSpec{email: "ada@example.com", password: pw})
		id := e.flow.add(LoginRequest{FirstParty: true, ACRValues: []string{federation.ACRMultiFactor}})
		b := e.browser()
		key, _, done := b.enrollTOTP(id, b.login(id, "ada@example.com", pw))
		wantRedirect(t, done, id)
		e.clock.Advance(totp.Period)
		code := e.otp(key, 0)
		const n = 10
		type attempt struct {
			b    *browser
			id   string
			page response
		}
		var as []attempt
		for range n {
			b := e.browser()
			id := e.flow.add(LoginRequest{FirstParty: true, ACRValues: []string{federation.ACRMultiFactor}})
			as = append(as, attempt{b, id, b.login(id, "ada@example.com", pw)})
		}
		statuses := make(chan int, n)
		for _, a := range as {
			go func() {
				form := url.Values{"authRequest": {a.id}, "csrf": {a.page.field("csrf")}, "code": {code}}
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, e.srv.URL+"/login/mfa", strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				res, err := a.b.http.Do(req)
				if err != nil {
					statuses <- 0
					return
				}
				res.Body.Close()
				statuses <- res.StatusCode
			}()
		}
		count := map[int]int{}
		for range n {
			count[<-statuses]++
		}
		if count[http.StatusSeeOther] != 1 || count[http.StatusUnauthorized] != n-1 {
			t.Fatalf("statuses %v, want one 303 and %d 401", count, n-1)
		}
	})
}

// TestMemberBrand: once a member of the organization the application
// names has proven who they are, the pages that follow wear its look —
// the authenticator enrollment, the recovery codes, the second factor —
// while the sign-in form before it says nothing of the organization.
func TestMemberBrand(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		e.alignClock()
		acme, err := e.client.Organization.Create().SetName("Acme").SetSlug("acme").
			SetLogoURL("https://cdn.example/acme.png").SetPrimaryColor("#00ff00").Save(sys(t.Context()))
		if err != nil {
			t.Fatal(err)
		}
		e.policy(acme, func(p *ent.OrganizationPolicyCreate) { p.SetMfaRequired(true) })
		ada := e.user(userSpec{email: "ada@example.com", password: pw})
		e.member(ada, acme, membership.StatusACTIVE)
		named := func() string {
			return e.flow.add(LoginRequest{FirstParty: true, WantsOrganization: true, RequestedOrganizationID: string(acme.ID),
				Scopes: []string{"openid", "organization:" + string(acme.ID)}})
		}
		branded := func(r response) bool {
			return strings.Contains(r.body, `src="https://cdn.example/acme.png"`) && strings.Contains(r.body, "--brand: #00ff00") &&
				strings.Contains(r.body, `<span class="brand-name">Acme</span>`)
		}

		id := named()
		b := e.browser()
		form := b.get("/login?authRequest=" + url.QueryEscape(id))
		wantStatus(t, form, http.StatusOK)
		if branded(form) || strings.Contains(form.body, `class="brand"`) {
			t.Errorf("the sign-in form names the organization before sign-in:\n%s", form.body)
		}
		enroll := b.post("/login", url.Values{"authRequest": {id}, "csrf": {form.field("csrf")}, "email": {"ada@example.com"}, "password": {pw}})
		wantStatus(t, enroll, http.StatusOK)
		if !branded(enroll) {
			t.Errorf("enrollment page not in Acme's look:\n%s", enroll.body)
		}
		key := pageKey(t, enroll)
		codes := b.post("/login/mfa/enroll", url.Values{"authRequest": {id}, "csrf": {enroll.field("csrf")},
			"enrollment": {enroll.field("enrollment")}, "code": {e.otp(key, 0)}})
		wantStatus(t, codes, http.StatusOK)
		if !branded(codes) {
			t.Errorf("recovery codes page not in Acme's look:\n%s", codes.body)
		}

		// Signing in again: the second factor, in Acme's look.
		id = named()
		b = e.browser()
		mfa := b.login(id, "ada@example.com", pw)
		wantStatus(t, mfa, http.StatusOK)
		if !mfa.hasField("code") || !branded(mfa) {
			t.Errorf("second-factor page not in Acme's look:\n%s", mfa.body)
		}

		// No longer a member: the same page is plain.
		e.client.Membership.Update().SetStatus(membership.StatusSUSPENDED).ExecX(sys(t.Context()))
		id = named()
		mfa = e.browser().login(id, "ada@example.com", pw)
		if branded(mfa) || strings.Contains(mfa.body, "cdn.example") {
			t.Errorf("a suspended member's page wears the organization's look (%d):\n%s", mfa.status, mfa.body)
		}
	})
}
