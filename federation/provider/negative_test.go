package provider

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/gatehouse-id/gatehouse/ent/application"
	"github.com/gatehouse-id/gatehouse/ent/grant"
	"github.com/gatehouse-id/gatehouse/ent/session"
	"github.com/gatehouse-id/gatehouse/internal/htmlform"
)

// TestAuthorizeRejects: before the client and redirect URI are known good,
// errors stay at the AS (400, no redirect: RFC 6749 §4.1.2.1, OIDC-01).
func TestAuthorizeRejects(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		_, challenge := pkce()
		noRedirectCases := map[string]string{
			"trailing slash": webRedirect + "/",
			"case":           "https://APP.tenant-a.test/cb",
			"explicit port":  "https://app.tenant-a.test:443/cb",
			"added query":    webRedirect + "?x=1",
			"fragment":       webRedirect + "#x",
			"encoded path":   "https://app.tenant-a.test/c%62",
			"userinfo":       "https://app.tenant-a.test@evil.test/cb",
			"suffix host":    "https://app.tenant-a.test.evil.test/cb",
			"dot segments":   "https://app.tenant-a.test/cb/../x",
			"http downgrade": "http://app.tenant-a.test/cb",
			"javascript":     "javascript:alert(1)",
			"missing":        "",
		}
		for name, uri := range noRedirectCases {
			resp := e.authorize(codeParams("web", uri, challenge))
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Errorf("%s: status %d location %q", name, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
		if resp := e.authorize(codeParams("nobody", webRedirect, challenge)); resp.StatusCode != 400 {
			t.Errorf("unknown client: status %d", resp.StatusCode)
		}
		// Native loopback: any port on the registered literal (RFC 8252 §7.3).
		for uri, ok := range map[string]bool{
			"http://127.0.0.1:51234/cb": true, "http://127.0.0.1/cb": true,
			"http://localhost:51234/cb": false, "http://[::1]:5/cb": false, "http://127.0.0.1:5/other": false,
		} {
			resp := e.authorize(codeParams("native", uri, challenge))
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if got := resp.StatusCode == 302 && loc.Path == "/login"; got != ok {
				t.Errorf("native %s: status %d location %s", uri, resp.StatusCode, loc)
			}
		}
	})
}

// TestAuthorizeErrorRedirects: later errors go to the client with state and
// iss (RFC 9207), in the requested response mode; PKCE rules (OIDC-03).
func TestAuthorizeErrorRedirects(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		_, challenge := pkce()
		cases := []struct {
			name   string
			client string
			mutate func(url.Values)
			want   string
		}{
			{"plain PKCE", "spa", func(v url.Values) { v.Set("code_challenge_method", "plain") }, "invalid_request"},
			{"plain PKCE confidential", "web", func(v url.Values) { v.Set("code_challenge_method", "plain") }, "invalid_request"},
			{"method omitted", "spa", func(v url.Values) { v.Del("code_challenge_method") }, "invalid_request"},
			{"missing PKCE public", "spa", func(v url.Values) { v.Del("code_challenge"); v.Del("code_challenge_method") }, "invalid_request"},
			{"short challenge", "spa", func(v url.Values) { v.Set("code_challenge", "abc") }, "invalid_request"},
			{"long challenge", "spa", func(v url.Values) { v.Set("code_challenge", strings.Repeat("a", 129)) }, "invalid_request"},
			{"challenge in standard base64", "spa", func(v url.Values) { v.Set("code_challenge", strings.Repeat("a", 42)+"+/") }, "invalid_request"},
			{"padded challenge", "spa", func(v url.Values) { v.Set("code_challenge", challenge+"=") }, "invalid_request"},
			{"challenge with a space", "web", func(v url.Values) { v.Set("code_challenge", challenge[:20]+" "+challenge[20:]) }, "invalid_request"},
			{"implicit", "web", func(v url.Values) { v.Set("response_type", "token") }, "unsupported_response_type"},
			{"hybrid", "web", func(v url.Values) { v.Set("response_type", "code id_token") }, "unsupported_response_type"},
			{"no openid", "web", func(v url.Values) { v.Set("scope", "profile") }, "invalid_scope"},
			{"bad org scope", "web", func(v url.Values) { v.Set("scope", "openid organization:nope") }, "invalid_scope"},
			{"prompt none+login", "web", func(v url.Values) { v.Set("prompt", "none login") }, "invalid_request"},
			{"request object", "web", func(v url.Values) { v.Set("request", "x.y.z") }, "request_not_supported"},
		}
		for _, c := range cases {
			redirect := webRedirect
			if c.client == "spa" {
				redirect = "https://spa.tenant-a.test/cb"
			}
			v := codeParams(c.client, redirect, challenge)
			c.mutate(v)
			resp := e.authorize(v)
			loc, _ := url.Parse(resp.Header.Get("Location"))
			q := loc.Query()
			if resp.StatusCode != 302 || q.Get("error") != c.want || q.Get("iss") != e.issuer || q.Get("state") != "st-1" {
				t.Errorf("%s: status %d location %s", c.name, resp.StatusCode, loc)
			}
		}
		// The bounds themselves are valid: 43 to 128 unreserved characters
		// (RFC 7636 §4.2).
		for _, n := range []int{43, 128} {
			v := codeParams("spa", "https://spa.tenant-a.test/cb", strings.Repeat("Az09-._~", 16)[:n])
			resp := e.authorize(v)
			if loc, _ := url.Parse(resp.Header.Get("Location")); resp.StatusCode != 302 || loc.Path != "/login" {
				t.Errorf("%d-character challenge: status %d location %s", n, resp.StatusCode, loc)
			}
		}
		// Fragment and form_post modes carry iss too.
		v := codeParams("web", webRedirect, challenge)
		v.Set("response_mode", "fragment")
		v.Set("response_type", "token")
		loc, _ := url.Parse(e.authorize(v).Header.Get("Location"))
		if frag, _ := url.ParseQuery(loc.Fragment); frag.Get("iss") != e.issuer || frag.Get("error") == "" {
			t.Errorf("fragment error response %s", loc)
		}
		v.Set("response_mode", "form_post")
		resp, err := noRedirect.Get(e.issuer + pathAuthorize + "?" + v.Encode())
		must(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		requireHeaders(t, "authorize form_post answer", resp.Header, map[string]string{
			"X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'",
			"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})
		// A redirect from authorize carries the request's parameters in
		// its URL: no Referer may repeat them, and nothing caches it.
		requireHeaders(t, "authorize redirect", e.authorize(codeParams("web", webRedirect, challenge)).Header,
			map[string]string{"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})
		forms := htmlform.Parse(string(body))
		if len(forms) != 1 || forms[0].Action != webRedirect || forms[0].Method != http.MethodPost ||
			!reflect.DeepEqual(forms[0].Values(), url.Values{"iss": {e.issuer}, "state": {"st-1"}, "error": {"unsupported_response_type"},
				"error_description": {"only response_type=code is supported"}}) {
			t.Errorf("form_post error response: %s", body)
		}
	})
}

func TestCodeExchangeRejects(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		conf := oauth2.Config{ClientID: "web", ClientSecret: webSecret, RedirectURL: webRedirect,
			Endpoint: oauth2.Endpoint{TokenURL: e.issuer + pathToken, AuthStyle: oauth2.AuthStyleInHeader}}
		verifier, challenge := pkce()
		other := conf
		other.RedirectURL = webRedirect + "/other"
		spa := oauth2.Config{ClientID: "spa", RedirectURL: webRedirect, Endpoint: oauth2.Endpoint{TokenURL: e.issuer + pathToken, AuthStyle: oauth2.AuthStyleInParams}}
		for _, c := range []struct {
			name      string
			challenge string // sent at authorize; "" sends none
			before    func()
			redeemer  oauth2.Config
			verifier  string
			want      string // the OAuth error; "" takes any refusal
		}{
			{name: "wrong verifier", challenge: challenge, redeemer: conf, verifier: "wrong-verifier-0123456789012345678901234567", want: "invalid_grant"},
			{name: "redirect_uri differs from authorize's", challenge: challenge, redeemer: other, verifier: verifier, want: "invalid_grant"},
			{name: "another client (the SPA) redeems web's code", challenge: challenge, redeemer: spa, verifier: verifier},
			{name: "PKCE downgrade (OIDC-04): no challenge at authorize, a verifier at token", redeemer: conf, verifier: verifier, want: "invalid_request"},
			{name: "expired code (60 s lifetime)", challenge: challenge, before: func() { e.clock.Advance(61 * time.Second) }, redeemer: conf, verifier: verifier, want: "invalid_grant"},
		} {
			t.Run(c.name, func(t *testing.T) {
				cb := e.login(codeParams("web", webRedirect, c.challenge), Authentication{})
				if c.before != nil {
					c.before()
				}
				_, err := c.redeemer.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(c.verifier))
				if err == nil || c.want != "" && !isOAuthError(err, c.want) {
					t.Fatalf("redeemed: %v, want %s", err, cmp.Or(c.want, "a refusal"))
				}
				// A refused redemption burns the code: the right one fails too.
				if _, err := conf.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(verifier)); err == nil {
					t.Error("code usable after a refused redemption")
				}
			})
		}
		// Malformed token requests: RFC 6749 error JSON, never 500.
		for name, form := range map[string]url.Values{
			"no grant type":      {},
			"unknown grant type": {"grant_type": {"password"}, "username": {"a"}, "password": {"b"}},
			"no code":            {"grant_type": {"authorization_code"}},
			"jwt bearer":         {"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {"x"}},
		} {
			resp := postForm(t, e.issuer+pathToken, form, "web", webSecret)
			if code := oauthError(t, resp); resp.StatusCode >= 500 || code == "" {
				t.Errorf("%s: status %d error %q", name, resp.StatusCode, code)
			}
		}
	})
}

// TestCompleteLoginRules: CompleteLogin completes a request only for an
// active user, a member of the organization the request needs, with an
// authentication as fresh as max_age and prompt=login ask (OIDC Core
// §3.1.2.1), and only once; each row is a request and the attempts made on
// it, in order.
func TestCompleteLoginRules(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		_, challenge := pkce()
		params := func(scopes ...string) url.Values { return codeParams("web", webRedirect, challenge, scopes...) }
		with := func(v url.Values, key, value string) url.Values { v.Set(key, value); return v }
		start := func(t *testing.T, v url.Values) string {
			t.Helper()
			loc, _ := url.Parse(e.authorize(v).Header.Get("Location"))
			id := loc.Query().Get("authRequest")
			if id == "" {
				t.Fatalf("authorize %v: no login request (Location %s)", v, loc)
			}
			return id
		}
		other, err := e.db.Organization.Create().SetName("Other").SetSlug("other").Save(e.ctx)
		must(t, err)
		off, err := e.db.User.Create().SetEmail("off@example.com").SetName("Off").SetStatus("DISABLED").Save(e.ctx)
		must(t, err)
		ada := e.user.ID
		type attempt struct {
			auth Authentication
			want error // nil: completes
		}
		for _, c := range []struct {
			name     string
			request  url.Values // nil: an id no request has
			attempts []attempt
		}{
			{"organization scope, none chosen", params("organization"),
				[]attempt{{Authentication{UserID: ada}, ErrNotMember}}},
			{"organization scope, one the user is not in", params("organization"),
				[]attempt{{Authentication{UserID: ada, OrganizationID: other.ID}, ErrNotMember}}},
			{"organization scope, the user's organization", params("organization"),
				[]attempt{{Authentication{UserID: ada, OrganizationID: e.org.ID}, nil}}},
			{"organization:<id> the user is not in", params("organization:" + string(other.ID)),
				[]attempt{{Authentication{UserID: ada}, ErrNotMember}}},
			{"organization:<id> of the user's organization", params("organization:" + string(e.org.ID)),
				[]attempt{{Authentication{UserID: ada}, nil}}},
			{"max_age passed", with(params(), "max_age", "60"),
				[]attempt{{Authentication{UserID: ada, AuthTime: e.clock.Now().Add(-time.Hour)}, ErrReauthenticate}}},
			{"max_age met", with(params(), "max_age", "60"),
				[]attempt{{Authentication{UserID: ada, AuthTime: e.clock.Now().Add(-30 * time.Second)}, nil}}},
			{"prompt=login: an authentication from before the request, then a fresh one", with(params(), "prompt", "login"),
				[]attempt{
					{Authentication{UserID: ada, AuthTime: e.clock.Now().Add(-clockSkew - time.Minute)}, ErrReauthenticate},
					{Authentication{UserID: ada, AuthTime: e.clock.Now()}, nil},
				}},
			{"completed twice", params(),
				[]attempt{{Authentication{UserID: ada}, nil}, {Authentication{UserID: ada}, ErrUnknownRequest}}},
			{"unknown request", nil,
				[]attempt{{Authentication{UserID: ada}, ErrUnknownRequest}}},
			{"disabled user", params(),
				[]attempt{{Authentication{UserID: off.ID}, ErrUserInactive}}},
		} {
			t.Run(c.name, func(t *testing.T) {
				id := "areq_01J0000000000000000000000"
				if c.request != nil {
					id = start(t, c.request)
				}
				for i, a := range c.attempts {
					next, err := e.p.CompleteLogin(e.ctx, id, a.auth)
					switch {
					case a.want == nil && (err != nil || next == ""):
						t.Errorf("attempt %d: %q, %v; want completed", i+1, next, err)
					case a.want != nil && !errors.Is(err, a.want):
						t.Errorf("attempt %d: %v, want %v", i+1, err, a.want)
					}
				}
			})
		}

		t.Run("login request", func(t *testing.T) {
			lr, err := e.p.LoginRequest(e.ctx, start(t, params("organization")))
			must(t, err)
			if !lr.WantsOrganization || lr.ClientName != "web" || lr.ProfileFields != nil {
				t.Errorf("login request %+v", lr)
			}
		})
		t.Run("login request of an application that needs a name", func(t *testing.T) {
			e.db.Application.Create().SetName("payroll").SetType(application.TypeWEB).SetClientID("payroll").
				SetRedirectUris([]string{"https://payroll.example/cb"}).SetGrantTypes([]string{"AUTHORIZATION_CODE"}).
				SetTokenEndpointAuthMethod(application.TokenEndpointAuthMethodNONE).
				SetProfileFields([]string{"name"}).ExecX(e.ctx)
			p := params()
			p.Set("client_id", "payroll")
			p.Set("redirect_uri", "https://payroll.example/cb")
			lr, err := e.p.LoginRequest(e.ctx, start(t, p))
			must(t, err)
			if !slices.Equal(lr.ProfileFields, []string{"name"}) {
				t.Errorf("ProfileFields = %v", lr.ProfileFields)
			}
		})
		t.Run("the callback needs the code from CompleteLogin, not only the id", func(t *testing.T) {
			next, err := e.p.CompleteLogin(e.ctx, start(t, params()), Authentication{UserID: ada})
			must(t, err)
			u, _ := url.Parse(next)
			resp, err := noRedirect.Get(e.issuer + pathCallback + "?id=" + u.Query().Get("id") + "&code=guess")
			must(t, err)
			resp.Body.Close()
			if resp.StatusCode != 400 {
				t.Errorf("callback with a guessed code: %d", resp.StatusCode)
			}
		})
		t.Run("FailLogin", func(t *testing.T) {
			fail, err := e.p.FailLogin(e.ctx, start(t, params()), "login_required", "")
			must(t, err)
			if f, _ := url.Parse(fail); f.Query().Get("error") != "login_required" || f.Query().Get("iss") != e.issuer {
				t.Errorf("FailLogin = %s", fail)
			}
		})
	})
}

// TestForgedTokens: alg none, HS256 keyed with our public key, unknown
// kid, expired, not-yet-valid and future-issued tokens, and tokens signed
// by our key that lack a claim RFC 9068 §2.2 requires, fail at userinfo,
// introspection and VerifyAccessToken (RFC 8725 §3.1, OIDC-11, OIDC-13).
func TestForgedTokens(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		now := e.clock.Now()
		claims := map[string]any{"iss": e.issuer, "sub": "machine", "client_id": "machine", "jti": "cc.x", "scope": "read",
			"aud": "machine", "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "nbf": now.Unix()}
		rs := e.p.keys.byID[e.p.keys.activeID("RS256")]
		pubDER, _ := x509.MarshalPKIXPublicKey(rs.public.Key)
		none := unsignedJWT(claims, rs.id)
		hs, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: pubDER}, (&jose.SignerOptions{}).WithHeader("kid", rs.id))
		must(t, err)
		sign := func(s jose.Signer, c map[string]any) string {
			b, _ := json.Marshal(c)
			o, err := s.Sign(b)
			must(t, err)
			tok, _ := o.CompactSerialize()
			return tok
		}
		good, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: rs.private}, (&jose.SignerOptions{}).WithHeader("kid", rs.id).WithType("at+jwt"))
		must(t, err)
		typJWT, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: rs.private}, (&jose.SignerOptions{}).WithHeader("kid", rs.id).WithType("JWT"))
		must(t, err)
		attacker, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		foreign, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: attacker}, (&jose.SignerOptions{}).WithHeader("kid", rs.id))
		if _, err := e.p.VerifyAccessToken(ctx, sign(good, claims)); err != nil {
			t.Fatalf("control token rejected: %v", err)
		}
		for name, tok := range map[string]string{
			"alg none":         none,
			"HS256 public key": sign(hs, claims),
			"foreign key":      sign(foreign, claims),
			"expired":          sign(good, withMembers(claims, map[string]any{"exp": now.Add(-time.Minute).Unix()})),
			"not yet valid":    sign(good, withMembers(claims, map[string]any{"nbf": now.Add(time.Hour).Unix()})),
			"wrong issuer":     sign(good, withMembers(claims, map[string]any{"iss": "https://evil.test"})),
			// iat past the clock skew; then each claim RFC 9068 §2.2 requires
			// and checkClaims reads, left out.
			"issued in the future": sign(good, withMembers(claims, map[string]any{"iat": now.Add(clockSkew + time.Minute).Unix()})),
			"no iat":               sign(good, withMembers(claims, map[string]any{"iat": nil})),
			"no exp":               sign(good, withMembers(claims, map[string]any{"exp": nil})),
			"no sub":               sign(good, withMembers(claims, map[string]any{"sub": nil})),
			"no client_id":         sign(good, withMembers(claims, map[string]any{"client_id": nil})),
			"no jti":               sign(good, withMembers(claims, map[string]any{"jti": nil})),
			"no iss":               sign(good, withMembers(claims, map[string]any{"iss": nil})),
			"id token shape":       sign(good, withMembers(claims, map[string]any{"jti": ""})),
			"typ JWT":              sign(typJWT, claims),
			"garbage":              strings.Repeat(".", 100000),
		} {
			if _, err := e.p.VerifyAccessToken(ctx, tok); err == nil {
				t.Errorf("%s: VerifyAccessToken accepted", name)
			}
			if introspect(t, e, tok, "machine", machineSecret)["active"] != false {
				t.Errorf("%s: active at introspection", name)
			}
			req, _ := http.NewRequest(http.MethodGet, e.issuer+pathUserinfo, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			must(t, err)
			resp.Body.Close()
			if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s: userinfo status %d", name, resp.StatusCode)
			}
		}
	})
}

func TestEndSession(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		conf := oauth2.Config{ClientID: "web", ClientSecret: webSecret, RedirectURL: webRedirect,
			Endpoint: oauth2.Endpoint{TokenURL: e.issuer + pathToken, AuthStyle: oauth2.AuthStyleInHeader}}
		verifier, challenge := pkce()
		cb := e.login(codeParams("web", webRedirect, challenge, "offline_access"), Authentication{})
		tok, err := conf.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(verifier))
		must(t, err)
		idToken := tok.Extra("id_token").(string)
		bye := "https://app.tenant-a.test/bye"
		for name, uri := range map[string]string{"unregistered": "https://evil.test/bye", "query added": bye + "?x=1"} {
			resp, err := noRedirect.Get(e.issuer + pathEndSession + "?" + url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {uri}}.Encode())
			must(t, err)
			resp.Body.Close()
			if strings.HasPrefix(resp.Header.Get("Location"), "https://evil.test") || strings.Contains(resp.Header.Get("Location"), "x=1") {
				t.Errorf("%s: redirected to %s", name, resp.Header.Get("Location"))
			}
		}
		// A malformed request is invalid_request in JSON, never the library's plain-text 500.
		resp, err := noRedirect.Get(e.issuer + pathEndSession + "?state=%zz")
		must(t, err)
		if code := oauthError(t, resp); resp.StatusCode != http.StatusBadRequest || code != "invalid_request" {
			t.Errorf("malformed end_session: status %d error %q", resp.StatusCode, code)
		}
		resp, err = noRedirect.Get(e.issuer + pathEndSession + "?" + url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {bye}, "state": {"s"}}.Encode())
		must(t, err)
		resp.Body.Close()
		if resp.StatusCode != 302 || resp.Header.Get("Location") != bye+"?state=s" {
			t.Fatalf("end_session: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); !isOAuthError(err, "invalid_grant") {
			t.Errorf("refresh after logout: %v", err)
		}
		if _, err := e.p.VerifyAccessToken(ctx, tok.AccessToken); err == nil {
			t.Error("access token after logout")
		}
	})
}

// TestEndSessionForgedHint: an id_token_hint that our keys did not sign
// for the client named (alg none, a foreign key, an edited payload, another
// client's ID token with client_id) is refused (RP-Initiated Logout §2,
// OIDC-02): no grant or Session is revoked and the browser goes to no
// post_logout_redirect_uri, not even a registered one.
func TestEndSessionForgedHint(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		webSess, spaSess := e.newSession(), e.newSession()
		webTok := e.signInAs(t, "web", webRedirect, webSecret, Authentication{SessionID: webSess.ID, AMR: []string{"pwd"}}, "offline_access")
		spaTok := e.signInAs(t, "spa", "https://spa.tenant-a.test/cb", "", Authentication{SessionID: spaSess.ID, AMR: []string{"pwd"}}, "offline_access")
		webHint, spaHint := webTok.Extra("id_token").(string), spaTok.Extra("id_token").(string)
		webBye, spaBye := "https://app.tenant-a.test/bye", "https://spa.tenant-a.test/bye"

		parts := strings.Split(webHint, ".")
		payload, err := base64URLDecode(parts[1])
		must(t, err)
		var claims map[string]any
		must(t, json.Unmarshal(payload, &claims))
		enc := func(v any) string { b, _ := json.Marshal(v); return base64URLEncode(b) }
		// The edited hint names the SPA's Session: logging out someone else.
		edited := map[string]any{}
		for k, v := range claims {
			edited[k] = v
		}
		edited["sid"] = string(spaSess.ID)
		kid := e.p.keys.activeID("ES256")
		foreignHint := rawCompact(t, map[string]any{"alg": "ES256", "kid": kid, "typ": "JWT"}, payload, testSigningKey(t, jose.ES256))

		for _, c := range []struct {
			name, hint, clientID, redirect string
		}{
			{"alg none", unsignedJWT(claims, kid), "", webBye},
			{"foreign key", foreignHint, "", webBye},
			{"payload edited", parts[0] + "." + enc(edited) + "." + parts[2], "", webBye},
			{"another client's ID token, its URI", spaHint, "web", spaBye},
			{"another client's ID token, our URI", spaHint, "web", webBye},
			{"web's access token as the hint", webTok.AccessToken, "web", webBye},
			{"web's access token as the hint, no client_id", webTok.AccessToken, "", webBye},
		} {
			q := url.Values{"id_token_hint": {c.hint}, "post_logout_redirect_uri": {c.redirect}, "state": {"s"}}
			if c.clientID != "" {
				q.Set("client_id", c.clientID)
			}
			resp, err := noRedirect.Get(e.issuer + pathEndSession + "?" + q.Encode())
			must(t, err)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Errorf("%s: status %d location %q, want 400 and no redirect", c.name, resp.StatusCode, resp.Header.Get("Location"))
			}
			if n := e.db.Grant.Query().Where(grant.RevokedAtNotNil()).CountX(e.ctx); n != 0 {
				t.Errorf("%s: %d grants revoked", c.name, n)
			}
			if n := e.db.Session.Query().Where(session.RevokedAtNotNil()).CountX(e.ctx); n != 0 {
				t.Errorf("%s: %d sessions revoked", c.name, n)
			}
		}
		for name, tok := range map[string]*oauth2.Token{"web": webTok, "spa": spaTok} {
			if _, err := e.p.VerifyAccessToken(ctx, tok.AccessToken); err != nil {
				t.Errorf("%s access token after forged logouts: %v", name, err)
			}
		}
		// Control: the genuine hint with its own client_id logs web out only.
		resp, err := noRedirect.Get(e.issuer + pathEndSession + "?" + url.Values{"id_token_hint": {webHint}, "client_id": {"web"}, "post_logout_redirect_uri": {webBye}}.Encode())
		must(t, err)
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != webBye {
			t.Fatalf("genuine hint: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		if _, err := e.p.VerifyAccessToken(ctx, webTok.AccessToken); err == nil {
			t.Error("web access token survives a genuine logout")
		}
		if _, err := e.p.VerifyAccessToken(ctx, spaTok.AccessToken); err != nil {
			t.Errorf("spa access token after web's logout: %v", err)
		}
	})
}

func TestPerApplicationAlgorithmsAndRotation(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		must(t, e.db.Application.UpdateOne(e.web).SetAccessTokenSigningAlgorithm(application.AccessTokenSigningAlgorithmEdDSA).
			SetIDTokenSigningAlgorithm(application.IDTokenSigningAlgorithmES256).Exec(e.ctx))
		e.clock.Advance(e.p.cfg.ClientCacheTTL) // the cached application expires
		conf := oauth2.Config{ClientID: "web", ClientSecret: webSecret, RedirectURL: webRedirect,
			Endpoint: oauth2.Endpoint{TokenURL: e.issuer + pathToken, AuthStyle: oauth2.AuthStyleInHeader}}
		verifier, challenge := pkce()
		cb := e.login(codeParams("web", webRedirect, challenge), Authentication{})
		tok, err := conf.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(verifier))
		must(t, err)
		if a := jwsAlg(t, tok.AccessToken); a != "EdDSA" {
			t.Errorf("access token alg %s", a)
		}
		if a := jwsAlg(t, tok.Extra("id_token").(string)); a != "ES256" {
			t.Errorf("id token alg %s", a)
		}
		// Rotation: new keys are published at once, sign only after the
		// publish-ahead interval; old ones stay published and verify.
		oldKid := e.p.keys.activeID("EdDSA")
		ids, err := e.p.RotateKeys(ctx)
		must(t, err)
		if len(ids) != 3 || e.p.keys.activeID("EdDSA") != oldKid {
			t.Fatalf("rotate: %v; new key signs before it was published long enough", ids)
		}
		e.clock.Advance(e.p.cfg.KeyPublishAhead)
		if !slices.Contains(ids, e.p.keys.activeID("EdDSA")) {
			t.Fatalf("new EdDSA key does not sign after the publish-ahead interval")
		}
		if _, err := e.p.VerifyAccessToken(ctx, tok.AccessToken); err != nil {
			t.Errorf("token signed before rotation: %v", err)
		}
		var jwks struct{ Keys []struct{ Kid string } }
		getJSON(t, e.issuer+pathKeys, &jwks)
		if len(jwks.Keys) != 6 {
			t.Errorf("JWKS has %d keys after rotation, want 6", len(jwks.Keys))
		}
		// The replaced keys leave JWKS once every token they signed has expired.
		e.clock.Advance(2*time.Hour + e.p.cfg.KeyRefreshInterval)
		getJSON(t, e.issuer+pathKeys, &jwks)
		if len(jwks.Keys) != 3 {
			t.Errorf("JWKS has %d keys after the retired ones expired, want 3", len(jwks.Keys))
		}
	})
}

// Only the grants discovery lists reach a handler: the library's others
// (JWT bearer, token exchange, device code) are refused before it runs,
// so a JWT-bearer assertion naming some client is never verified.
func TestUnofferedGrantsRefused(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		for grant, want := range map[string]string{
			"urn:ietf:params:oauth:grant-type:jwt-bearer":     "unsupported_grant_type",
			"urn:ietf:params:oauth:grant-type:token-exchange": "unsupported_grant_type",
			"urn:ietf:params:oauth:grant-type:device_code":    "unsupported_grant_type",
			"password": "unsupported_grant_type",
			"":         "invalid_request",
		} {
			form := url.Values{"assertion": {"a.b.c"}}
			if grant != "" {
				form.Set("grant_type", grant)
			}
			resp := postForm(t, e.issuer+pathToken, form, "web", webSecret)
			if got := oauthError(t, resp); resp.StatusCode != 400 || got != want {
				t.Errorf("grant_type %q: %d %s, want 400 %s", grant, resp.StatusCode, got, want)
			}
		}
	})
}

// requireHeaders fails t for every header of want that h lacks or has
// with another value.
func requireHeaders(t *testing.T, what string, h http.Header, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s: %s = %q, want %q", what, k, got, v)
		}
	}
}
