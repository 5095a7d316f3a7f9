package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/membership"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
	"github.com/gatehouse-id/gatehouse/internal/totp"
)

var codesText = regexp.MustCompile(`[0-9a-z]{5}-[0-9a-z]{5}`)

// In Chromium: an organization requires MFA; the member signs in with a
// password, enrolls an authenticator app from the key on the page (the
// test computes the codes from it, on a clock it owns, so no code
// straddles a step), saves the recovery codes, signs out, and signs in
// again with the password and a code.
func TestChromiumTOTP(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		ctx := chromium(t)
		app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, "<!doctype html><title>app</title><p id=done>callback reached</p>")
		}))
		t.Cleanup(app.Close)
		e := newEnvAt(t, db, testkit.NewRealClock()) // Chromium's cookie store keeps real time
		e.alignClock()
		e.flow.base = app.URL
		ada := e.user(userSpec{email: "ada@example.com", name: "Ada Lovelace", password: pw})
		strict := e.org("Strict", "strict")
		e.policy(strict, func(p *ent.OrganizationPolicyCreate) { p.SetMfaRequired(true) })
		e.member(ada, strict, membership.StatusACTIVE)
		request := func() string {
			return e.flow.add(LoginRequest{FirstParty: true, WantsOrganization: true, RequestedOrganizationID: string(strict.ID),
				Scopes: []string{"openid", "organization:" + string(strict.ID)}})
		}
		signIn := func(id string, then ...chromedp.Action[chromedp.Void]) []chromedp.Action[chromedp.Void] {
			return append([]chromedp.Action[chromedp.Void]{
				chromedp.Navigate(e.srv.URL + "/login?authRequest=" + id),
				chromedp.WaitVisible(byLabel("Email")),
				chromedp.SendKeys(byLabel("Email"), "ada@example.com"),
				chromedp.Click(byButton("Continue")),
				chromedp.WaitVisible(byLabel("Password")),
				chromedp.SendKeys(byLabel("Password"), pw),
				chromedp.Click(byButton("Sign in")),
			}, then...)
		}
		const codeLabel = "Code from your authenticator app"

		id := request()
		if err := chromedp.Do(ctx, signIn(id, chromedp.WaitVisible(chromedp.CSS(`svg[role=img]`)))...); err != nil {
			t.Fatal(err)
		}
		shown, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#totp-key")))
		if err != nil {
			t.Fatal(err)
		}
		key, err := totp.DecodeSecret(shown)
		if err != nil {
			t.Fatalf("key on the page %q: %v", shown, err)
		}
		err = chromedp.Do(ctx,
			chromedp.SendKeys(byLabel(codeLabel), e.otp(key, 0)),
			chromedp.Click(byButton("Verify and continue")),
			chromedp.WaitVisible(chromedp.CSS(".codes")),
		)
		if err != nil {
			t.Fatal(err)
		}
		codes, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".codes")))
		if err != nil {
			t.Fatal(err)
		}
		if n := len(codesText.FindAllString(codes, -1)); n != 10 {
			t.Fatalf("%d recovery codes on the page: %q", n, codes)
		}
		err = chromedp.Do(ctx,
			chromedp.Click(byButton("I have saved them, continue")),
			chromedp.WaitVisible(chromedp.CSS("#done")),
		)
		if err != nil {
			t.Fatal(err)
		}
		if a, ok := e.flow.completed(id); !ok || !slices.Equal(a.AMR, []string{"pwd", "otp"}) {
			t.Fatalf("completed %v with AMR %v", ok, a.AMR)
		}

		// Sign out, then sign in with the password and the next code.
		err = chromedp.Do(ctx,
			chromedp.Navigate(e.srv.URL+"/login/logged-out"),
			chromedp.Click(byButton("Sign out")),
			chromedp.WaitVisible(chromedp.Search(`//p[contains(., "You have signed out.")]`)),
		)
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(totp.Period)
		id = request()
		err = chromedp.Do(ctx, signIn(id,
			chromedp.WaitVisible(byLabel(codeLabel)),
			chromedp.SendKeys(byLabel(codeLabel), e.otp(key, 0)),
			chromedp.Click(byButton("Verify")),
			chromedp.WaitVisible(chromedp.CSS("#done")),
		)...)
		if err != nil {
			t.Fatal(err)
		}
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		if want := app.URL + "/cb?code=code-for-" + id; !strings.HasPrefix(loc, want) {
			t.Errorf("landed on %s, want %s", loc, want)
		}
		if a, ok := e.flow.completed(id); !ok || !slices.Equal(a.AMR, []string{"pwd", "otp"}) {
			t.Fatalf("second sign-in completed %v with AMR %v", ok, a.AMR)
		}
	})
}
