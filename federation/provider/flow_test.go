package provider

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse-id/gatehouse/ent/grant"
	"github.com/gatehouse-id/gatehouse/ent/user"
)

func TestDiscoveryAndJWKS(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		rp, err := gooidc.NewProvider(ctx, e.issuer)
		must(t, err)
		var doc map[string]any
		must(t, rp.Claims(&doc))
		if doc["authorization_response_iss_parameter_supported"] != true {
			t.Error("RFC 9207 iss not advertised")
		}
		if got := doc["code_challenge_methods_supported"]; !equalJSON(got, []string{"S256"}) {
			t.Errorf("code_challenge_methods_supported = %v", got)
		}
		if got := doc["response_types_supported"]; !equalJSON(got, []string{"code"}) {
			t.Errorf("response_types_supported = %v", got)
		}
		resp, err := http.Get(e.issuer + pathASMetadata)
		must(t, err)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("RFC 8414 metadata status %d", resp.StatusCode)
		}
		var jwks struct {
			Keys []struct{ Kid, Alg, Use string }
		}
		getJSON(t, e.issuer+pathKeys, &jwks)
		var algs []string
		for _, k := range jwks.Keys {
			algs = append(algs, k.Alg)
		}
		slices.Sort(algs)
		if !slices.Equal(algs, []string{"ES256", "EdDSA", "RS256"}) {
			t.Errorf("JWKS algorithms = %v", algs)
		}
	})
}

func TestClientCredentials(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		cc := clientcredentials.Config{ClientID: "machine", ClientSecret: machineSecret, TokenURL: e.issuer + pathToken, Scopes: []string{"read"}}
		tok, err := cc.Token(ctx)
		must(t, err)
		at, err := e.p.VerifyAccessToken(ctx, tok.AccessToken)
		must(t, err)
		if at.Subject != "machine" || at.ClientID != "machine" || !slices.Equal(at.Scopes, []string{"read"}) {
			t.Errorf("access token = %+v", at)
		}
		if alg := jwsAlg(t, tok.AccessToken); alg != "ES256" {
			t.Errorf("alg = %s, want the application's ES256", alg)
		}
		if typ := jwsHeader(t, tok.AccessToken, "typ"); typ != "at+jwt" {
			t.Errorf("typ = %q, want at+jwt (RFC 9068 §2.1)", typ)
		}
		// Scope beyond the application's grant.
		bad := cc
		bad.Scopes = []string{"admin"}
		if _, err := bad.Token(ctx); !isOAuthError(err, "invalid_scope") {
			t.Errorf("extra scope: %v", err)
		}
		// The answer (RFC 6749 §5.1): no scope asked for means every granted one.
		resp := postForm(t, e.issuer+pathToken, url.Values{"grant_type": {"client_credentials"}}, "machine", machineSecret)
		var answer map[string]any
		must(t, json.NewDecoder(resp.Body).Decode(&answer))
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Content-Type") != "application/json" ||
			answer["token_type"] != "Bearer" || answer["expires_in"] != float64(e.machine.AccessTokenLifetimeSeconds) ||
			answer["scope"] != "read write" || answer["refresh_token"] != nil || answer["id_token"] != nil {
			t.Errorf("token response: %d %v %v", resp.StatusCode, resp.Header, answer)
		}
		// Repeated parameters (RFC 6749 §3.2), and a client not granted the grant.
		resp = postForm(t, e.issuer+pathToken, url.Values{"grant_type": {"client_credentials"}, "scope": {"read", "write"}}, "machine", machineSecret)
		if resp.StatusCode != 400 || oauthError(t, resp) != "invalid_request" {
			t.Errorf("repeated scope: status %d", resp.StatusCode)
		}
		resp = postForm(t, e.issuer+pathToken, url.Values{"grant_type": {"client_credentials"}}, "web", webSecret)
		if resp.StatusCode != 400 || oauthError(t, resp) != "unauthorized_client" {
			t.Errorf("web application asking for client credentials: status %d", resp.StatusCode)
		}
		// Wrong secret: invalid_client, 401, WWW-Authenticate.
		resp = postForm(t, e.issuer+pathToken, url.Values{"grant_type": {"client_credentials"}}, "machine", "wrong")
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" || oauthError(t, resp) != "invalid_client" {
			t.Errorf("wrong secret: status %d, challenge %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
		// client_secret_post for a client registered for basic.
		resp = postForm(t, e.issuer+pathToken, url.Values{"grant_type": {"client_credentials"}, "client_id": {"machine"}, "client_secret": {machineSecret}}, "", "")
		if resp.StatusCode != 401 {
			t.Errorf("unregistered auth method: status %d", resp.StatusCode)
		}
		// Introspection by the same client, then revocation.
		var intro map[string]any
		resp = postForm(t, e.issuer+pathIntrospect, url.Values{"token": {tok.AccessToken}}, "machine", machineSecret)
		must(t, json.NewDecoder(resp.Body).Decode(&intro))
		resp.Body.Close()
		if intro["active"] != true || intro["client_id"] != "machine" || intro["scope"] != "read" {
			t.Errorf("introspection = %v", intro)
		}
		resp = postForm(t, e.issuer+pathRevoke, url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}}, "machine", machineSecret)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("revoke: status %d", resp.StatusCode)
		}
		if _, err := e.p.VerifyAccessToken(ctx, tok.AccessToken); err == nil {
			t.Error("revoked token still verifies")
		}
		if introspect(t, e, tok.AccessToken, "machine", machineSecret)["active"] != false {
			t.Error("revoked token still active at introspection")
		}
	})
}

// TestCrossClientIntrospectionAndRevocation: a client learns nothing about
// another client's tokens at introspection (RFC 7662 §4: active false) and
// cannot revoke them (RFC 7009 §2.1: the token must have been issued to
// the revoking client): they still work for their owner afterwards.
func TestCrossClientIntrospectionAndRevocation(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		cc := clientcredentials.Config{ClientID: "machine", ClientSecret: machineSecret, TokenURL: e.issuer + pathToken, Scopes: []string{"read"}}
		machineTok, err := cc.Token(ctx)
		must(t, err)
		webTok := e.signIn(t, Authentication{}, "offline_access")

		for _, c := range []struct{ name, token, user, pass string }{
			{"web introspects machine's access token", machineTok.AccessToken, "web", webSecret},
			{"machine introspects web's access token", webTok.AccessToken, "machine", machineSecret},
		} {
			if got := introspect(t, e, c.token, c.user, c.pass); got["active"] != false || len(got) != 1 {
				t.Errorf("%s: %v, want only active false", c.name, got)
			}
		}
		for _, c := range []struct{ name, token, hint, user, pass string }{
			{"web revokes machine's access token", machineTok.AccessToken, "access_token", "web", webSecret},
			{"web revokes machine's access token, no hint", machineTok.AccessToken, "", "web", webSecret},
			{"machine revokes web's refresh token", webTok.RefreshToken, "refresh_token", "machine", machineSecret},
			{"machine revokes web's refresh token, no hint", webTok.RefreshToken, "", "machine", machineSecret},
			{"machine revokes web's access token", webTok.AccessToken, "access_token", "machine", machineSecret},
		} {
			form := url.Values{"token": {c.token}}
			if c.hint != "" {
				form.Set("token_type_hint", c.hint)
			}
			resp := postForm(t, e.issuer+pathRevoke, form, c.user, c.pass)
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				t.Errorf("%s: status %d", c.name, resp.StatusCode)
			}
		}
		// Each of the two checks refuses on its own: the library asks
		// GetRefreshTokenInfo for the token's grant, then RevokeToken
		// revokes that grant for the authenticated client.
		st := &storage{p: e.p}
		if _, _, err := st.GetRefreshTokenInfo(ctx, "machine", webTok.RefreshToken); err == nil {
			t.Error("GetRefreshTokenInfo names web's grant to machine")
		}
		g := e.db.Grant.Query().Where(grant.ClientID("web")).OnlyX(e.ctx)
		if err := st.RevokeToken(ctx, grantTokenPrefix+string(g.ID), "", "machine"); err == nil {
			t.Error("RevokeToken revoked web's grant for machine")
		}
		// The owners' tokens are untouched.
		if got := introspect(t, e, machineTok.AccessToken, "machine", machineSecret); got["active"] != true {
			t.Errorf("machine's access token at its own introspection: %v", got)
		}
		if _, err := e.p.VerifyAccessToken(ctx, machineTok.AccessToken); err != nil {
			t.Errorf("machine's access token: %v", err)
		}
		if got := introspect(t, e, webTok.AccessToken, "web", webSecret); got["active"] != true {
			t.Errorf("web's access token at its own introspection: %v", got)
		}
		if status, body := refreshForm(t, e, url.Values{"refresh_token": {webTok.RefreshToken}}, "web", webSecret); status != http.StatusOK {
			t.Errorf("web's refresh token: %d %v", status, body)
		}
	})
}

func TestAuthorizationCodeFlow(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		rp, err := gooidc.NewProvider(ctx, e.issuer)
		must(t, err)
		conf := oauth2.Config{ClientID: "web", ClientSecret: webSecret, Endpoint: rp.Endpoint(), RedirectURL: webRedirect,
			Scopes: []string{"openid", "profile", "email", "offline_access", "organization"}}
		verifier, challenge := pkce()
		cb := e.login(codeParams("web", webRedirect, challenge, "profile", "email", "offline_access", "organization"),
			Authentication{OrganizationID: e.org.ID, AMR: []string{"pwd"}, SessionID: "ses_01J0000000000000000000000"})
		q := cb.Query()
		if q.Get("iss") != e.issuer || q.Get("state") != "st-1" || q.Get("code") == "" {
			t.Fatalf("authorization response %v", q)
		}
		tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		must(t, err)
		rawID, _ := tok.Extra("id_token").(string)
		idt, err := rp.Verifier(&gooidc.Config{ClientID: "web"}).Verify(ctx, rawID)
		must(t, err)
		var claims map[string]any
		must(t, idt.Claims(&claims))
		for k, want := range map[string]any{"sub": string(e.user.ID), "nonce": "n-1", "acr": ACRSingleFactor, "azp": "web",
			"email": "ada@example.com", "name": "Ada Lovelace", "org_id": string(e.org.ID), "org_slug": "acme",
			"sid": "ses_01J0000000000000000000000"} {
			if claims[k] != want {
				t.Errorf("id token %s = %v, want %v", k, claims[k], want)
			}
		}
		if claims["auth_time"] == nil || !equalJSON(claims["amr"], []string{"pwd"}) || !equalJSON(claims["org_roles"], []string{"admin"}) {
			t.Errorf("id token claims %v", claims)
		}
		if typ := jwsHeader(t, tok.AccessToken, "typ"); typ != "at+jwt" {
			t.Errorf("access token typ = %q, want at+jwt", typ)
		}
		if typ := jwsHeader(t, rawID, "typ"); typ != "JWT" {
			t.Errorf("ID token typ = %q, want JWT", typ)
		}
		// An ID token is not an access token.
		if _, err := e.p.VerifyAccessToken(ctx, rawID); err == nil {
			t.Error("ID token accepted as an access token")
		}
		if introspect(t, e, rawID, "web", webSecret)["active"] != false {
			t.Error("ID token active at introspection")
		}
		at, err := e.p.VerifyAccessToken(ctx, tok.AccessToken)
		must(t, err)
		if at.OrganizationID != e.org.ID || at.ClientID != "web" || !slices.Contains(at.Scopes, "organization") {
			t.Errorf("access token %+v", at)
		}
		// userinfo
		ui, err := rp.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		must(t, err)
		if ui.Subject != string(e.user.ID) || ui.Email != "ada@example.com" {
			t.Errorf("userinfo %+v", ui)
		}
		// The grant's sid, acr and organization claims, as in the ID token.
		var uiClaims map[string]any
		must(t, ui.Claims(&uiClaims))
		for k, want := range map[string]any{"sid": "ses_01J0000000000000000000000", "acr": ACRSingleFactor,
			"org_id": string(e.org.ID), "org_slug": "acme"} {
			if uiClaims[k] != want {
				t.Errorf("userinfo %s = %v, want %v", k, uiClaims[k], want)
			}
		}
		if !equalJSON(uiClaims["org_roles"], []string{"admin"}) {
			t.Errorf("userinfo org_roles = %v", uiClaims["org_roles"])
		}
		// Code replay: invalid_grant, and the first redemption's tokens die.
		if _, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier)); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("replay: %v", err)
		}
		if _, err := e.p.VerifyAccessToken(ctx, tok.AccessToken); err == nil {
			t.Error("access token survives code replay")
		}
		if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); !isOAuthError(err, "invalid_grant") {
			t.Errorf("refresh token survives code replay: %v", err)
		}
	})
}

func TestRefreshRotationAndReuse(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		conf := oauth2.Config{ClientID: "web", ClientSecret: webSecret, RedirectURL: webRedirect,
			Endpoint: oauth2.Endpoint{TokenURL: e.issuer + pathToken, AuthStyle: oauth2.AuthStyleInHeader}}
		verifier, challenge := pkce()
		cb := e.login(codeParams("web", webRedirect, challenge, "offline_access"), Authentication{})
		tok1, err := conf.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(verifier))
		must(t, err)
		refresh := func(rt string) (*oauth2.Token, error) {
			return conf.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token()
		}
		tok2, err := refresh(tok1.RefreshToken)
		must(t, err)
		if tok2.RefreshToken == "" || tok2.RefreshToken == tok1.RefreshToken {
			t.Fatal("refresh token not rotated")
		}
		if _, ok := tok2.Extra("id_token").(string); !ok {
			t.Error("no id token on refresh")
		}
		// Reuse of RT1 revokes the family: RT2 and the access tokens die.
		if _, err := refresh(tok1.RefreshToken); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("reuse: %v", err)
		}
		if _, err := refresh(tok2.RefreshToken); !isOAuthError(err, "invalid_grant") {
			t.Errorf("RT2 survives reuse: %v", err)
		}
		if _, err := e.p.VerifyAccessToken(ctx, tok2.AccessToken); err == nil {
			t.Error("access token survives reuse")
		}
	})
}

func TestRefreshLimitsAndUserDisable(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		conf := oauth2.Config{ClientID: "web", ClientSecret: webSecret, RedirectURL: webRedirect,
			Endpoint: oauth2.Endpoint{TokenURL: e.issuer + pathToken, AuthStyle: oauth2.AuthStyleInHeader}}
		get := func() *oauth2.Token {
			verifier, challenge := pkce()
			cb := e.login(codeParams("web", webRedirect, challenge, "offline_access"), Authentication{})
			tok, err := conf.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(verifier))
			must(t, err)
			return tok
		}
		refresh := func(rt string) error {
			_, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token()
			return err
		}
		// Idle limit (7 days by default).
		tok := get()
		e.clock.Advance(7*24*time.Hour + time.Second)
		if err := refresh(tok.RefreshToken); !isOAuthError(err, "invalid_grant") {
			t.Errorf("idle-expired refresh: %v", err)
		}
		// Absolute limit: keep refreshing every 6 days past 30 days.
		tok = get()
		rt := tok.RefreshToken
		var err error
		for range 5 {
			e.clock.Advance(6 * 24 * time.Hour)
			var next *oauth2.Token
			if next, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token(); err != nil {
				break
			}
			rt = next.RefreshToken
		}
		if !isOAuthError(err, "invalid_grant") {
			t.Errorf("refresh past the absolute lifetime: %v", err)
		}
		// Disabled user.
		tok = get()
		must(t, e.db.User.UpdateOne(e.user).SetStatus(user.StatusDISABLED).Exec(e.ctx))
		if err := refresh(tok.RefreshToken); !isOAuthError(err, "invalid_grant") {
			t.Errorf("refresh for a disabled user: %v", err)
		}
		if _, err := e.p.VerifyAccessToken(ctx, tok.AccessToken); err == nil {
			t.Error("disabled user's access token verifies")
		}
	})
}

func TestConcurrentCodeRedemption(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		verifier, challenge := pkce()
		cb := e.login(codeParams("web", webRedirect, challenge), Authentication{})
		form := url.Values{"grant_type": {"authorization_code"}, "code": {cb.Query().Get("code")},
			"redirect_uri": {webRedirect}, "code_verifier": {verifier}}
		const n = 10
		var wg sync.WaitGroup
		statuses := make(chan int, n)
		start := make(chan struct{})
		for range n {
			wg.Go(func() {
				<-start
				resp := postForm(t, e.issuer+pathToken, form, "web", webSecret)
				resp.Body.Close()
				statuses <- resp.StatusCode
			})
		}
		close(start)
		wg.Wait()
		close(statuses)
		ok := 0
		for s := range statuses {
			if s == 200 {
				ok++
			} else if s != 400 {
				t.Errorf("status %d", s)
			}
		}
		if ok != 1 {
			t.Fatalf("%d of %d concurrent redemptions succeeded, want exactly 1", ok, n)
		}
	})
}

// --- helpers ---

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	must(t, err)
	defer resp.Body.Close()
	must(t, json.NewDecoder(resp.Body).Decode(v))
}

func postForm(t *testing.T, u string, form url.Values, user, pass string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	return resp
}

func oauthError(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var body struct{ Error string }
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return body.Error
}

func introspect(t *testing.T, e *env, token, user, pass string) map[string]any {
	t.Helper()
	resp := postForm(t, e.issuer+pathIntrospect, url.Values{"token": {token}}, user, pass)
	defer resp.Body.Close()
	var out map[string]any
	must(t, json.NewDecoder(resp.Body).Decode(&out))
	return out
}

func isOAuthError(err error, code string) bool {
	re, ok := err.(*oauth2.RetrieveError)
	return ok && re.ErrorCode == code
}

func equalJSON(got any, want []string) bool {
	b1, _ := json.Marshal(got)
	b2, _ := json.Marshal(want)
	return string(b1) == string(b2)
}

func jwsAlg(t *testing.T, token string) string {
	t.Helper()
	var h struct{ Alg string }
	seg, _, _ := strings.Cut(token, ".")
	b, err := base64URLDecode(seg)
	must(t, err)
	must(t, json.Unmarshal(b, &h))
	return h.Alg
}

func jwsHeader(t *testing.T, token, name string) string {
	t.Helper()
	var h map[string]any
	seg, _, _ := strings.Cut(token, ".")
	b, err := base64URLDecode(seg)
	must(t, err)
	must(t, json.Unmarshal(b, &h))
	v, _ := h[name].(string)
	return v
}

// A replay of a code that comes after the first redemption has marked it
// used but before that redemption has created its grant finds nothing to
// revoke; it leaves a mark instead, and the grant is revoked as it is made
// (OIDC-05: a replayed code's tokens are revoked, whatever the order).
func TestCodeReplayBeforeGrantExists(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := systemCtx(e.ctx)
		_, challenge := pkce()
		code := e.login(codeParams("web", webRedirect, challenge, "offline_access"), Authentication{}).Query().Get("code")
		ar, err := e.p.redeemCode(ctx, code) // the first redemption, stopped before its grant
		must(t, err)
		if _, err := e.p.redeemCode(ctx, code); err == nil {
			t.Fatal("the replay was accepted")
		}
		c, err := e.p.clients.get(ctx, "web")
		must(t, err)
		g, _, err := e.p.createGrant(ctx, c, ar, true)
		must(t, err)
		if g, err = e.db.Grant.Get(ctx, g.ID); err != nil || g.RevokedAt == nil || g.RevokeReason != "code replay" {
			t.Errorf("the first redemption's grant after a replay: %+v, %v; want it revoked for the code replay", g, err)
		}
		if n := e.db.Grant.Query().Where(grant.AuthRequestID(ar.ID), grant.RevokedAtIsNil()).CountX(ctx); n != 0 {
			t.Errorf("%d unrevoked grants from a replayed code", n)
		}
	})
}
