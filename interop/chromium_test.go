package interop

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-id/gatehouse/internal/testkit"
	"github.com/gatehouse-id/gatehouse/internal/totp"
)

// runChromium signs a new person up and in through the hosted pages in
// real headless Chromium, each time from the Go relying party's
// authorization request to tokens at its callback: sign-up with the code
// from the email, an authenticator app set up when the application asks
// for multi-factor, sign-out, sign-in with password and app, an emailed
// sign-in link, and a password reset that still asks for the app. Mail is
// read where a developer reads it: /dev/mail.
func runChromium(t *testing.T, s *Server) {
	ctx := chromiumFor(t)
	p, err := oidc.NewProvider(t.Context(), s.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	rp := &goRP{s: s, ctx: t.Context(), p: p}
	email := fmt.Sprintf("grace+%s@example.com", s.Backend)
	const password = "a sea of stars and seven seas"
	var (
		key      []byte
		lastStep int64    // the last TOTP time step the server accepted
		codes    []string // the recovery codes shown at set-up
	)

	// signIn runs l's authorization in Chromium through steps, then checks
	// the callback and redeems the code; it returns the ID token.
	signIn := func(t *testing.T, l login, steps func(t *testing.T), extra ...oauth2.AuthCodeOption) *oidc.IDToken {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(l.authURL(extra...))); err != nil {
			t.Fatal(err)
		}
		steps(t)
		loc := waitLocation(t, ctx, func(loc string) bool { return strings.HasPrefix(loc, s.Callback+"?") })
		u, err := url.Parse(loc)
		if err != nil || !strings.HasPrefix(loc, s.Callback+"?") {
			t.Fatalf("ended at %s, not the callback", loc)
		}
		code := rp.callback(t, result{Redirect: u}, l.state)
		_, idt, _ := rp.exchange(t, l, code)
		return idt
	}
	type claims struct {
		AMR []string `json:"amr"`
		ACR string   `json:"acr"`
	}
	claimsOf := func(t *testing.T, idt *oidc.IDToken) claims {
		t.Helper()
		var c claims
		if err := idt.Claims(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	// run runs actions, each step given 20 s; a failure shows the page.
	run := func(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		for _, a := range actions {
			step, cancel := context.WithTimeout(ctx, 20*time.Second)
			err := chromedp.Do(step, a)
			cancel()
			if err != nil {
				loc, _ := chromedp.Run(ctx, chromedp.Location())
				body, _ := chromedp.Run(ctx, chromedp.Text(`body`))
				t.Fatalf("%v\nat %s:\n%.600s", err, loc, body)
			}
		}
	}
	// enterCode answers the app's code for the first time step the server
	// has not accepted yet, which it takes within ±1 step: the test never
	// waits for real time to pass (two codes per step at most).
	enterCode := func(t *testing.T) {
		t.Helper()
		step := max(totp.Step(time.Now()), lastStep+1)
		if step > totp.Step(time.Now())+1 {
			t.Fatal("no unspent time step left within the server's tolerance")
		}
		lastStep = step
		run(t, chromedp.WaitVisible(`#code`), chromedp.SendKeys(`#code`, totp.Code(key, step, totp.Digits)), chromedp.Submit(`#code`))
	}
	// enterRecoveryCode answers the second step with a saved recovery code.
	enterRecoveryCode := func(t *testing.T) {
		t.Helper()
		if len(codes) == 0 {
			t.Fatal("no recovery code left")
		}
		c := codes[0]
		codes = codes[1:]
		run(t, chromedp.WaitVisible(`a[href*="method=recovery"]`), chromedp.Click(`a[href*="method=recovery"]`),
			chromedp.WaitVisible(`#recovery_code`), chromedp.SendKeys(`#recovery_code`, c), chromedp.Submit(`#recovery_code`))
	}

	t.Run("SignUpWithEmailCode", func(t *testing.T) {
		l := newLogin(rp.config(s.Web, oidc.ScopeOpenID, "email"))
		idt := signIn(t, l, func(t *testing.T) {
			run(t, chromedp.WaitVisible(`#email`), chromedp.Click(`a[href^="/signup"]`),
				chromedp.WaitVisible(`input[autocomplete="new-password"]`),
				chromedp.SendKeys(`#email`, email), chromedp.SendKeys(`#password`, password), chromedp.Submit(`#email`))
			code, _ := mailTo(t, s, email, "signup_verify")
			run(t, chromedp.WaitVisible(`#code`), chromedp.SendKeys(`#code`, code), chromedp.Submit(`#code`))
		})
		if c := claimsOf(t, idt); strings.Join(c.AMR, " ") != "email" {
			t.Errorf("amr %v after sign-up, want [email]", c.AMR)
		}
	})

	t.Run("MultiFactorAskedEnrollsApp", func(t *testing.T) {
		l := newLogin(rp.config(s.Web, oidc.ScopeOpenID, "email"))
		idt := signIn(t, l, func(t *testing.T) {
			// The browser's session is reused; the application asks for
			// multi-factor, so an authenticator app is set up first.
			run(t, chromedp.WaitVisible(`#totp-key`))
			shown, err := chromedp.Run(ctx, chromedp.Text(`#totp-key`))
			if err != nil {
				t.Fatal(err)
			}
			if key, err = totp.DecodeSecret(strings.ReplaceAll(shown, " ", "")); err != nil {
				t.Fatalf("key on the page %q: %v", shown, err)
			}
			lastStep = totp.Step(time.Now()) - 1
			enterCode(t)
			run(t, chromedp.WaitVisible(`ul.codes`))
			shownCodes, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("ul.codes code")].map(c => c.textContent)`))
			if err != nil {
				t.Fatal(err)
			}
			run(t, chromedp.Submit(`form[action="/login/mfa/continue"] button`))
			if codes = shownCodes; len(codes) != 10 {
				t.Fatalf("%d recovery codes shown, want 10", len(codes))
			}
		}, oauth2.SetAuthURLParam("acr_values", "urn:gatehouse:acr:mfa"))
		if c := claimsOf(t, idt); c.ACR != "urn:gatehouse:acr:mfa" || !slices.Contains(c.AMR, "otp") {
			t.Errorf("claims %+v after setting up the app, want acr mfa with otp", c)
		}
	})

	signOut := func(t *testing.T) {
		t.Helper()
		run(t, chromedp.Navigate(s.Issuer+"/account"), chromedp.WaitReady(`form[action="/account/sessions/revoke"] input[value="all"]`),
			chromedp.Submit(`form[action="/account/sessions/revoke"] input[value="all"]`))
		waitLocation(t, ctx, func(loc string) bool { return strings.HasSuffix(loc, "/account/sessions/revoke") })
		run(t, chromedp.WaitVisible(`p.message`))
	}

	t.Run("PasswordAndApp", func(t *testing.T) {
		signOut(t)
		l := newLogin(rp.config(s.Web, oidc.ScopeOpenID, "email"))
		idt := signIn(t, l, func(t *testing.T) {
			run(t, chromedp.WaitVisible(`#email`), chromedp.SendKeys(`#email`, email), chromedp.Submit(`#email`),
				chromedp.WaitVisible(`#password`), chromedp.SendKeys(`#password`, password), chromedp.Submit(`#password`))
			enterCode(t)
		})
		if c := claimsOf(t, idt); strings.Join(c.AMR, " ") != "pwd otp" {
			t.Errorf("amr %v, want [pwd otp]", c.AMR)
		}
	})

	t.Run("MagicLink", func(t *testing.T) {
		signOut(t)
		l := newLogin(rp.config(s.Web, oidc.ScopeOpenID, "email"))
		idt := signIn(t, l, func(t *testing.T) {
			run(t, chromedp.WaitVisible(`#email`), chromedp.SendKeys(`#email`, email), chromedp.Submit(`#email`),
				chromedp.WaitVisible(`form[action="/login/email"] button`), chromedp.Submit(`form[action="/login/email"] button`),
				chromedp.WaitVisible(`#code`))
			_, link := mailTo(t, s, email, "login_code")
			run(t, chromedp.Navigate(link), chromedp.WaitVisible(`form[action="/login/email/link"] button`),
				chromedp.Submit(`form[action="/login/email/link"] button`))
			enterRecoveryCode(t)
		})
		if c := claimsOf(t, idt); strings.Join(c.AMR, " ") != "email rc" {
			t.Errorf("amr %v, want [email rc]", c.AMR)
		}
	})

	t.Run("RecoveryStillAsksTheApp", func(t *testing.T) {
		signOut(t)
		l := newLogin(rp.config(s.Web, oidc.ScopeOpenID, "email"))
		idt := signIn(t, l, func(t *testing.T) {
			run(t, chromedp.WaitVisible(`#email`), chromedp.SendKeys(`#email`, email), chromedp.Submit(`#email`),
				chromedp.WaitVisible(`a[href^="/login/recover"]`), chromedp.Click(`a[href^="/login/recover"]`),
				chromedp.WaitVisible(`form[action="/login/recover"] button`), chromedp.Submit(`form[action="/login/recover"] button`),
				chromedp.WaitVisible(`p.message`))
			_, link := mailTo(t, s, email, "password_reset")
			run(t, chromedp.Navigate(link), chromedp.WaitVisible(`#password`),
				chromedp.SendKeys(`#password`, "another sea of stars"), chromedp.Submit(`#password`))
			// The reset proved the address only: the second step is asked.
			enterRecoveryCode(t)
		})
		if c := claimsOf(t, idt); strings.Join(c.AMR, " ") != "email rc" {
			t.Errorf("amr %v after the reset, want [email rc]", c.AMR)
		}
	})
}

// waitLocation waits, at most 20 s, until the page's address is one ok
// accepts (a form post's navigation lands), and returns it.
func waitLocation(t *testing.T, ctx context.Context, ok func(string) bool) string {
	t.Helper()
	var loc string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var err error
		if loc, err = chromedp.Run(ctx, chromedp.Location()); err == nil && ok(loc) {
			if err := chromedp.Do(ctx, chromedp.WaitReady(`body`)); err != nil {
				t.Fatal(err)
			}
			return loc
		}
	}
	body, _ := chromedp.Run(ctx, chromedp.Text(`body`))
	t.Fatalf("still at %s:\n%.600s", loc, body)
	return ""
}

var (
	mailArticle = regexp.MustCompile(`(?s)<article>(.*?)</article>`)
	mailCode    = regexp.MustCompile(`\b(\d{6})\b`)
	mailLink    = regexp.MustCompile(`href="([^"]*token=[^"]*)"`)
)

// mailTo waits for the newest mail of kind to address on s's /dev/mail
// (the outbox sends in the background) and returns its code and link.
func mailTo(t *testing.T, s *Server, address, kind string) (code, link string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.Issuer + "/dev/mail")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, m := range mailArticle.FindAllStringSubmatch(string(body), -1) {
			a := html.UnescapeString(m[1])
			if !strings.Contains(a, "<dd>"+address+"</dd>") || !strings.Contains(a, "<dd>"+kind+"</dd>") {
				continue
			}
			if c := mailCode.FindStringSubmatch(a[strings.Index(a, "<pre>"):]); c != nil {
				code = c[1]
			}
			if l := mailLink.FindStringSubmatch(a); l != nil {
				link = l[1]
			}
			return code, link // newest first
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no %s mail to %s on /dev/mail", kind, address)
	return "", ""
}

// chromiumFor starts headless Chromium for t (Debian's package), as the
// hosted pages' own browser tests do.
func chromiumFor(t *testing.T) context.Context {
	t.Helper()
	const path = "/usr/bin/chromium"
	if _, err := os.Stat(path); err != nil {
		testkit.Missing(t, "the browser test needs %s (Debian package chromium)", path)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(path), chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()))
	t.Cleanup(cancelAlloc)
	ctx, cancelBrowser := chromedp.NewContext(ctx)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}
