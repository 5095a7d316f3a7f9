package provider

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/internal/secret"
)

func TestEffectiveACR(t *testing.T) {
	for _, tc := range []struct {
		claimed string
		amr     []string
		want    string
		ok      bool
	}{
		{"", []string{"pwd"}, ACRSingleFactor, true},
		{"", nil, ACRSingleFactor, true},
		{"", []string{"hwk"}, ACRMultiFactor, true}, // a passkey here is always user-verified (tenants.MultiFactor)
		{"", []string{"swk"}, ACRMultiFactor, true},
		{"", []string{"pwd", "otp"}, ACRMultiFactor, true},
		{"", []string{"pwd", "rc"}, ACRMultiFactor, true},                                   // a recovery code is a possession factor
		{"", []string{"otp", "rc"}, ACRMultiFactor, true},                                   // two things held (no first factor: LoginPolicy never completes it)
		{"", []string{"email", "otp"}, ACRMultiFactor, true},                                // an emailed link and an authenticator app
		{"", []string{"sso:conn_1", "upstream:pwd", "upstream:otp"}, ACRSingleFactor, true}, // an untrusted IdP's words
		{"", []string{"sso:conn_1", "upstream:pwd", "upstream:otp", "mfa"}, ACRMultiFactor, true},
		{"", []string{"sso:conn_1", "upstream:hwk"}, ACRSingleFactor, true}, // nothing says the IdP's key was user-verified
		{"", []string{"sso:conn_1", "sso:conn_2"}, ACRSingleFactor, true},
		{"", []string{"sso:conn_1", "otp"}, ACRMultiFactor, true},
		{"", []string{"hwk", "pin"}, ACRMultiFactor, true},
		{"", []string{"mfa"}, ACRMultiFactor, true},
		{"", []string{"pwd", "pin"}, ACRSingleFactor, true}, // two of one kind
		{ACRMultiFactor, []string{"pwd"}, ACRSingleFactor, true},
		{ACRSingleFactor, []string{"pwd", "otp"}, ACRSingleFactor, true},
		{ACRMultiFactor, []string{"pwd", "otp"}, ACRMultiFactor, true},
		{"1", []string{"pwd"}, "", false},
	} {
		got, ok := effectiveACR(tc.claimed, tc.amr)
		if got != tc.want || ok != tc.ok {
			t.Errorf("effectiveACR(%q, %v) = %q, %v; want %q, %v", tc.claimed, tc.amr, got, ok, tc.want, tc.ok)
		}
	}
}

// TestACRClaims: the ID token always states the ACR achieved, from AMR
// when the login gives none, also when the client asked for more with
// acr_values (OIDC Core §3.1.2.1: voluntary), and again on refresh.
func TestACRClaims(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		rp, err := gooidc.NewProvider(ctx, e.issuer)
		must(t, err)
		var doc struct {
			ACRValues []string `json:"acr_values_supported"`
		}
		must(t, rp.Claims(&doc))
		if !slices.Equal(doc.ACRValues, []string{ACRSingleFactor, ACRMultiFactor}) {
			t.Errorf("acr_values_supported = %v", doc.ACRValues)
		}
		conf := oauth2.Config{ClientID: "web", ClientSecret: webSecret, Endpoint: rp.Endpoint(), RedirectURL: webRedirect}
		verifier := rp.Verifier(&gooidc.Config{ClientID: "web"})
		for _, tc := range []struct {
			name      string
			acrValues string
			a         Authentication
			want      string
		}{
			{"password, no acr", "", Authentication{AMR: []string{"pwd"}}, ACRSingleFactor},
			{"password, mfa asked", ACRMultiFactor + " " + ACRSingleFactor, Authentication{AMR: []string{"pwd"}}, ACRSingleFactor},
			{"password claimed as mfa", ACRMultiFactor, Authentication{AMR: []string{"pwd"}, ACR: ACRMultiFactor}, ACRSingleFactor},
			{"password and otp", ACRMultiFactor, Authentication{AMR: []string{"pwd", "otp"}}, ACRMultiFactor},
		} {
			verifierPKCE, challenge := pkce()
			params := codeParams("web", webRedirect, challenge, "offline_access")
			if tc.acrValues != "" {
				params.Set("acr_values", tc.acrValues+" urn:unknown")
			}
			resp := e.authorize(params)
			loc, _ := url.Parse(resp.Header.Get("Location"))
			id := loc.Query().Get("authRequest")
			lr, err := e.p.LoginRequest(e.ctx, id)
			must(t, err)
			if want := strings.Fields(tc.acrValues); !slices.Equal(lr.ACRValues, want) {
				t.Errorf("%s: LoginRequest.ACRValues = %v, want %v", tc.name, lr.ACRValues, want)
			}
			tc.a.UserID = e.user.ID
			next, err := e.p.CompleteLogin(e.ctx, id, tc.a)
			must(t, err)
			resp, err = noRedirect.Get(next)
			must(t, err)
			resp.Body.Close()
			cb, _ := url.Parse(resp.Header.Get("Location"))
			tok, err := conf.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(verifierPKCE))
			must(t, err)
			idt, err := verifier.Verify(ctx, tok.Extra("id_token").(string))
			must(t, err)
			var claims struct{ ACR string }
			must(t, idt.Claims(&claims))
			if claims.ACR != tc.want {
				t.Errorf("%s: acr = %q, want %q", tc.name, claims.ACR, tc.want)
			}
			refreshed, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
			must(t, err)
			idt, err = verifier.Verify(ctx, refreshed.Extra("id_token").(string))
			must(t, err)
			must(t, idt.Claims(&claims))
			if claims.ACR != tc.want {
				t.Errorf("%s: refreshed acr = %q, want %q", tc.name, claims.ACR, tc.want)
			}
		}
		// An ACR the provider does not define is a hosted-login bug.
		_, challenge := pkce()
		resp := e.authorize(codeParams("web", webRedirect, challenge))
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if _, err := e.p.CompleteLogin(e.ctx, loc.Query().Get("authRequest"), Authentication{UserID: e.user.ID, ACR: "gold"}); !errors.Is(err, ErrUnknownACR) {
			t.Errorf("unknown ACR: %v", err)
		}
	})
}

// newSession stores a hosted-pages Session for the user.
func (e *env) newSession() *ent.Session {
	e.t.Helper()
	s, err := e.db.Session.Create().SetUserID(e.user.ID).SetTokenHash(secret.Hash(secret.Token(16))).
		SetAuthTime(e.clock.Now()).SetAmr([]string{"pwd"}).SetExpiresAt(e.clock.Now().Add(24 * time.Hour)).Save(e.ctx)
	must(e.t, err)
	return s
}

// TestEndSessionEndsOPSession: RP-initiated logout with an id_token_hint
// revokes the Session its sid names (so the browser's next authorize must
// log in again) besides the client's grants; without a hint the browser
// goes to LoggedOutPath.
func TestEndSessionEndsOPSession(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		conf := oauth2.Config{ClientID: "web", ClientSecret: webSecret, RedirectURL: webRedirect,
			Endpoint: oauth2.Endpoint{TokenURL: e.issuer + pathToken, AuthStyle: oauth2.AuthStyleInHeader}}
		sess, other := e.newSession(), e.newSession()
		verifier, challenge := pkce()
		cb := e.login(codeParams("web", webRedirect, challenge, "offline_access"), Authentication{SessionID: sess.ID, AMR: []string{"pwd"}})
		tok, err := conf.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(verifier))
		must(t, err)
		bye := "https://app.tenant-a.test/bye"
		resp, err := noRedirect.Get(e.issuer + pathEndSession + "?" + url.Values{"id_token_hint": {tok.Extra("id_token").(string)}, "post_logout_redirect_uri": {bye}}.Encode())
		must(t, err)
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != bye {
			t.Fatalf("end_session: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		got, err := e.db.Session.Get(e.ctx, sess.ID)
		must(t, err)
		if got.RevokedAt == nil {
			t.Error("the id_token_hint's session survives logout")
		}
		if got, _ := e.db.Session.Get(e.ctx, other.ID); got.RevokedAt != nil {
			t.Error("another session of the user was revoked")
		}
		if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); !isOAuthError(err, "invalid_grant") {
			t.Errorf("refresh after logout: %v", err)
		}
		resp, err = noRedirect.Get(e.issuer + pathEndSession)
		must(t, err)
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/login/logged-out" {
			t.Errorf("end_session without hint: %d %q, want the default logout page", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
}

// TestFailLoginFormPost: an error for a form_post request is delivered by
// the auto-submitting form, like a code, and only the error FailLogin
// issued can go through it.
func TestFailLoginFormPost(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		_, challenge := pkce()
		params := codeParams("web", webRedirect, challenge)
		params.Set("response_mode", "form_post")
		resp := e.authorize(params)
		loc, _ := url.Parse(resp.Header.Get("Location"))
		id := loc.Query().Get("authRequest")
		next, err := e.p.FailLogin(e.ctx, id, "access_denied", "the user declined")
		must(t, err)
		if !strings.HasPrefix(next, e.issuer+pathCallback) {
			t.Fatalf("FailLogin for form_post returned %s, want the provider's callback", next)
		}
		// Tampered error: refused.
		forged := strings.Replace(next, "access_denied", "login_required", 1)
		resp, err = noRedirect.Get(forged)
		must(t, err)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("forged failure: status %d", resp.StatusCode)
		}
		resp, err = noRedirect.Get(next)
		must(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		page := string(body)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("failure delivery: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		// The page that posts the response is never framed (clickjacking
		// a response out of it), cached, or named in a Referer (OIDC-09,
		// OIDC-14).
		requireHeaders(t, "form_post page", resp.Header, map[string]string{
			"X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'",
			"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})
		for _, want := range []string{`action="` + webRedirect + `"`, `name="error" value="access_denied"`, `name="state" value="st-1"`,
			`name="iss" value="` + e.issuer + `"`, `name="error_description" value="the user declined"`, "submit()"} {
			if !strings.Contains(page, want) {
				t.Errorf("form_post page lacks %s:\n%s", want, page)
			}
		}
		if strings.Contains(page, `name="code"`) {
			t.Error("failure page carries a code")
		}
		// After the code lifetime the page is gone.
		e.clock.Advance(codeLifetime + time.Second)
		resp, err = noRedirect.Get(next)
		must(t, err)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("stale failure delivery: %d", resp.StatusCode)
		}
		// query mode keeps the plain redirect.
		resp = e.authorize(codeParams("web", webRedirect, challenge))
		loc, _ = url.Parse(resp.Header.Get("Location"))
		next, err = e.p.FailLogin(e.ctx, loc.Query().Get("authRequest"), "login_required", "")
		must(t, err)
		if u, _ := url.Parse(next); !strings.HasPrefix(next, webRedirect+"?") || u.Query().Get("error") != "login_required" || u.Query().Get("iss") != e.issuer {
			t.Errorf("query-mode failure URL %s", next)
		}
	})
}
