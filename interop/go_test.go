package interop

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// goRP is the Go relying party: go-oidc for discovery and ID tokens,
// x/oauth2 for the grants.
type goRP struct {
	s   *Server
	ctx context.Context
	p   *oidc.Provider
}

// runGoRP runs every flow and every RFC 9700 negative case with the Go
// relying party. The cases share the server but not tokens or sessions.
func runGoRP(t *testing.T, s *Server) {
	ctx := t.Context()
	p, err := oidc.NewProvider(ctx, s.Issuer)
	if err != nil {
		t.Fatalf("go-oidc discovery of %s: %v", s.Issuer, err)
	}
	rp := &goRP{s: s, ctx: ctx, p: p}
	for _, tc := range []struct {
		name string
		run  func(*testing.T, *goRP)
	}{
		{"Discovery", testDiscovery},
		{"AuthorizationServerMetadata", testAuthorizationServerMetadata},
		{"AuthCodePKCE", testAuthCodePKCE},
		{"IDTokenClaims", testIDTokenClaims},
		{"UserInfo", testUserInfo},
		{"RefreshRotation", testRefreshRotation},
		{"ClientCredentialsES256", testClientCredentials},
		{"ClientCredentialsScopeLimited", testClientCredentialsScope},
		{"IntrospectionAndRevocation", testIntrospectionRevocation},
		{"PublicClientPKCE", testPublicClientPKCE},
		{"OrganizationScope", testOrganizationScope},
		{"OrganizationPicker", testOrganizationPicker},
		{"OrganizationNotMember", testOrganizationNotMember},
		{"Logout", testLogout},
		{"LogoutUnregisteredURI", testLogoutUnregistered},
		{"LogoutWithoutRedirectURI", testLogoutWithoutRedirect},
		{"CodeReplay", testCodeReplay},
		{"PKCERequiredForPublicClient", testPKCERequired},
		{"WrongCodeVerifier", testWrongCodeVerifier},
		{"RedirectURIExactMatch", testRedirectURIMismatch},
		{"WrongClientSecret", testWrongClientSecret},
		{"ForgedTokens", testForgedTokens},
		{"GraphQLAccessTokens", testGraphQLAccessTokens},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, rp) })
	}
}

// config is the x/oauth2 configuration of c for scopes.
func (rp *goRP) config(c Client, scopes ...string) *oauth2.Config {
	ep := rp.p.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader
	if c.Secret == "" {
		ep.AuthStyle = oauth2.AuthStyleInParams
	}
	return &oauth2.Config{ClientID: c.ID, ClientSecret: c.Secret, Endpoint: ep, RedirectURL: rp.s.Callback, Scopes: scopes}
}

// login is one authorization request's secrets.
type login struct {
	cfg      *oauth2.Config
	state    string
	nonce    string
	verifier string
}

func newLogin(cfg *oauth2.Config) login {
	return login{cfg: cfg, state: oauth2.GenerateVerifier()[:22], nonce: oauth2.GenerateVerifier()[:22], verifier: oauth2.GenerateVerifier()}
}

// authURL is the authorization URL with PKCE S256 and a nonce.
func (l login) authURL(extra ...oauth2.AuthCodeOption) string {
	opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(l.verifier), oidc.Nonce(l.nonce)}, extra...)
	return l.cfg.AuthCodeURL(l.state, opts...)
}

// code signs in with b (a fresh browser when nil) and returns the code
// from the callback, after checking state and iss (RFC 9207).
func (rp *goRP) code(t *testing.T, b *browser, l login, extra ...oauth2.AuthCodeOption) string {
	t.Helper()
	if b == nil {
		b = newBrowser(t, rp.s)
	}
	res := b.drive(l.authURL(extra...))
	return rp.callback(t, res, l.state)
}

// callback checks that res ended at the registered redirect_uri with a code,
// the state sent, and iss equal to the issuer.
func (rp *goRP) callback(t *testing.T, res result, state string) string {
	t.Helper()
	u := res.Redirect
	if u == nil || !strings.HasPrefix(u.String(), rp.s.Callback+"?") {
		t.Fatalf("authorization did not reach the redirect_uri %s: %s", rp.s.Callback, res)
	}
	q := u.Query()
	if e := q.Get("error"); e != "" {
		t.Fatalf("authorization error at the redirect_uri: %s", u)
	}
	if got := q.Get("state"); got != state {
		t.Errorf("callback state = %q, want %q (%s)", got, state, u)
	}
	if got := q.Get("iss"); got != rp.s.Issuer {
		t.Errorf("callback iss = %q, want the issuer %q (RFC 9207; OIDC-07): %s", got, rp.s.Issuer, u)
	}
	code := q.Get("code")
	if code == "" {
		t.Fatalf("callback without code: %s", u)
	}
	return code
}

// exchange redeems code with x/oauth2 and verifies the ID token with go-oidc.
func (rp *goRP) exchange(t *testing.T, l login, code string) (*oauth2.Token, *oidc.IDToken, string) {
	t.Helper()
	tok, err := l.cfg.Exchange(rp.ctx, code, oauth2.VerifierOption(l.verifier))
	if err != nil {
		t.Fatalf("token request (authorization_code): %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		t.Fatalf("token response has no id_token (scope %v)", l.cfg.Scopes)
	}
	idt, err := rp.p.Verifier(&oidc.Config{ClientID: l.cfg.ClientID}).Verify(rp.ctx, raw)
	if err != nil {
		t.Fatalf("go-oidc rejected the ID token: %v\n%s", err, raw)
	}
	if idt.Nonce != l.nonce {
		t.Errorf("ID token nonce = %q, want %q", idt.Nonce, l.nonce)
	}
	return tok, idt, raw
}

// signIn runs the whole authorization-code flow for the web client.
func (rp *goRP) signIn(t *testing.T, b *browser, scopes ...string) (*oauth2.Token, *oidc.IDToken, string) {
	t.Helper()
	l := newLogin(rp.config(rp.s.Web, scopes...))
	return rp.exchange(t, l, rp.code(t, b, l))
}

func testDiscovery(t *testing.T, rp *goRP) {
	m := rp.s.discovery(t)
	var claims struct {
		Issuer string `json:"issuer"`
	}
	if err := rp.p.Claims(&claims); err != nil || claims.Issuer != rp.s.Issuer {
		t.Errorf("issuer = %q, want %q (%v)", claims.Issuer, rp.s.Issuer, err)
	}
	for _, k := range []string{"authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint",
		"introspection_endpoint", "revocation_endpoint", "end_session_endpoint"} {
		v, _ := m[k].(string)
		if !strings.HasPrefix(v, rp.s.Issuer+"/") {
			t.Errorf("%s = %q, want a URL under the issuer", k, v)
		}
	}
	if got := strs(m["code_challenge_methods_supported"]); !slices.Equal(got, []string{"S256"}) {
		t.Errorf("code_challenge_methods_supported = %v, want [S256] (OIDC-03)", got)
	}
	if m["authorization_response_iss_parameter_supported"] != true {
		t.Errorf("authorization_response_iss_parameter_supported = %v, want true (RFC 9207; OIDC-07)", m["authorization_response_iss_parameter_supported"])
	}
	for _, gt := range []string{"authorization_code", "refresh_token", "client_credentials"} {
		if !slices.Contains(strs(m["grant_types_supported"]), gt) {
			t.Errorf("grant_types_supported %v lacks %s", m["grant_types_supported"], gt)
		}
	}
	for _, gt := range []string{"password", "implicit"} {
		if slices.Contains(strs(m["grant_types_supported"]), gt) {
			t.Errorf("grant_types_supported %v advertises %s (OIDC-14)", m["grant_types_supported"], gt)
		}
	}
	for _, rt := range strs(m["response_types_supported"]) {
		if rt != "code" {
			t.Errorf("response_types_supported %v advertises %q (OIDC-14: implicit and hybrid off)", m["response_types_supported"], rt)
		}
	}
	if !slices.Contains(strs(m["scopes_supported"]), "openid") {
		t.Errorf("scopes_supported %v lacks openid", m["scopes_supported"])
	}
	// JWKS: public keys only, each with a kid.
	set := rp.jwks(t)
	if len(set.Keys) == 0 {
		t.Fatal("JWKS has no keys")
	}
	for _, k := range set.Keys {
		if !k.IsPublic() || k.KeyID == "" || k.Use == "enc" {
			t.Errorf("JWKS key %q: public=%v use=%q; want public signing keys with a kid", k.KeyID, k.IsPublic(), k.Use)
		}
	}
}

func testAuthorizationServerMetadata(t *testing.T, rp *goRP) {
	u := rp.s.Issuer + "/.well-known/oauth-authorization-server"
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("GET %s (RFC 8414): %d, %v", u, resp.StatusCode, err)
	}
	if m["issuer"] != rp.s.Issuer || m["token_endpoint"] != rp.s.endpoint(t, "token_endpoint") {
		t.Errorf("RFC 8414 metadata disagrees with discovery: issuer %v token_endpoint %v", m["issuer"], m["token_endpoint"])
	}
}

func testAuthCodePKCE(t *testing.T, rp *goRP) {
	tok, idt, _ := rp.signIn(t, nil, oidc.ScopeOpenID, "email", "profile", oidc.ScopeOfflineAccess)
	if idt.Subject != rp.s.UserID {
		t.Errorf("ID token sub = %q, want the user id %q", idt.Subject, rp.s.UserID)
	}
	if !strings.EqualFold(tok.TokenType, "Bearer") {
		t.Errorf("token_type = %q, want Bearer", tok.TokenType)
	}
	if tok.RefreshToken == "" {
		t.Error("no refresh_token for a WEB client with REFRESH_TOKEN and offline_access")
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			t.Errorf("at_hash: %v", err)
		}
	}
}

func testIDTokenClaims(t *testing.T, rp *goRP) {
	_, idt, _ := rp.signIn(t, nil, oidc.ScopeOpenID, "email", "profile")
	var c map[string]any
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	// Issue 3: iss, sub, aud, exp, iat, auth_time, nonce, acr, amr, azp, sid.
	for _, k := range []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "sid"} {
		if _, ok := c[k]; !ok {
			t.Errorf("ID token has no %s: %v", k, c)
		}
	}
	if c["azp"] != rp.s.Web.ID {
		t.Errorf("azp = %v, want %s", c["azp"], rp.s.Web.ID)
	}
	if amr := strs(c["amr"]); !slices.Contains(amr, "pwd") {
		t.Errorf("amr = %v, want it to contain pwd after a password sign-in", amr)
	}
	// OIDC Core §5.4 lets a provider release scope claims at userinfo only;
	// Gatehouse puts them in the ID token too, and this keeps it so.
	if c["email"] != userEmail || c["email_verified"] != true {
		t.Errorf("ID token email=%v email_verified=%v, want %s and true (scope email)", c["email"], c["email_verified"], userEmail)
	}
}

func testUserInfo(t *testing.T, rp *goRP) {
	tok, idt, _ := rp.signIn(t, nil, oidc.ScopeOpenID, "email", "profile")
	ui, err := rp.p.UserInfo(rp.ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	var c struct {
		Sub           string `json:"sub"`
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
		Name          string `json:"name"`
	}
	if err := ui.Claims(&c); err != nil {
		t.Fatal(err)
	}
	if c.Sub != idt.Subject || c.Email != userEmail || !c.EmailVerified || c.Name != userName {
		t.Errorf("userinfo = %+v, want sub %s, email %s verified, name %q", c, idt.Subject, userEmail, userName)
	}
	// Without the email and profile scopes, neither is released.
	tok2, _, _ := rp.signIn(t, nil, oidc.ScopeOpenID)
	ui2, err := rp.p.UserInfo(rp.ctx, oauth2.StaticTokenSource(tok2))
	if err != nil {
		t.Fatalf("userinfo (scope openid): %v", err)
	}
	var c2 map[string]any
	if err := ui2.Claims(&c2); err != nil {
		t.Fatalf("decode userinfo (scope openid): %v", err)
	}
	if c2["email"] != nil || c2["name"] != nil {
		t.Errorf("userinfo for scope openid only releases email/name: %v", c2)
	}
}

func testRefreshRotation(t *testing.T, rp *goRP) {
	tok1, _, _ := rp.signIn(t, nil, oidc.ScopeOpenID, oidc.ScopeOfflineAccess)
	rt1 := tok1.RefreshToken
	if rt1 == "" {
		t.Fatal("no refresh token")
	}
	cfg := rp.config(rp.s.Web)
	tok2, err := cfg.TokenSource(rp.ctx, &oauth2.Token{RefreshToken: rt1, Expiry: time.Now().Add(-time.Hour)}).Token()
	if err != nil {
		t.Fatalf("refresh with x/oauth2: %v", err)
	}
	rt2 := tok2.RefreshToken
	if rt2 == "" || rt2 == rt1 {
		t.Fatalf("refresh did not rotate the refresh token (old %.12s…, new %.12s…)", rt1, rt2)
	}
	if tok2.AccessToken == tok1.AccessToken {
		t.Error("refresh returned the same access token")
	}
	// Reuse of the rotated token: invalid_grant, and the family dies.
	rp.requireTokenError(t, rp.s.Web, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt1}}, http.StatusBadRequest, "invalid_grant", "reuse of a rotated refresh token")
	rp.requireTokenError(t, rp.s.Web, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt2}}, http.StatusBadRequest, "invalid_grant",
		"the newest refresh token after its family saw a reuse (OIDC-06 family revocation)")
	rp.s.requireActive(t, rp.s.Web, tok2.AccessToken, false, "the access token of a refresh-token family revoked for reuse (OIDC-06)")
}

// requireTokenError posts form to the token endpoint as c and wants an
// RFC 6749 error.
func (rp *goRP) requireTokenError(t *testing.T, c Client, form url.Values, status int, code, what string) {
	t.Helper()
	got, body, _ := rp.s.postForm(t, rp.s.endpoint(t, "token_endpoint"), form, c)
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	if got != status || e.Error != code {
		t.Errorf("%s: token endpoint answered %d %s, want %d with error %q", what, got, body, status, code)
	}
}

func testClientCredentials(t *testing.T, rp *goRP) {
	cc := clientcredentials.Config{ClientID: rp.s.Svc.ID, ClientSecret: rp.s.Svc.Secret, TokenURL: rp.p.Endpoint().TokenURL,
		Scopes: []string{"invoices:read"}, AuthStyle: oauth2.AuthStyleInHeader}
	tok, err := cc.Token(rp.ctx)
	if err != nil {
		t.Fatalf("client_credentials with x/oauth2: %v", err)
	}
	if tok.RefreshToken != "" {
		t.Error("client_credentials returned a refresh token (RFC 6749 §4.4.3: SHOULD NOT)")
	}
	parsed, err := jwt.ParseSigned(tok.AccessToken, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("access token is not an ES256 JWS: %v (%.60s…)", err, tok.AccessToken)
	}
	h := parsed.Headers[0]
	if h.Algorithm != string(jose.ES256) {
		t.Errorf("alg = %s, want ES256", h.Algorithm)
	}
	if typ := fmt.Sprint(h.ExtraHeaders[jose.HeaderType]); !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
		t.Errorf("typ = %v, want at+jwt (RFC 9068 §2.1, OIDC-13)", typ)
	}
	keys := rp.jwks(t).Key(h.KeyID)
	if len(keys) == 0 {
		t.Fatalf("kid %q is not in the JWKS", h.KeyID)
	}
	var c map[string]any
	if err := parsed.Claims(keys[0].Key, &c); err != nil {
		t.Fatalf("offline verification against the JWKS key %q: %v", h.KeyID, err)
	}
	if c["iss"] != rp.s.Issuer || c["client_id"] != rp.s.Svc.ID || c["jti"] == nil || c["jti"] == "" {
		t.Errorf("claims iss=%v client_id=%v jti=%v; want %s, %s and a jti", c["iss"], c["client_id"], c["jti"], rp.s.Issuer, rp.s.Svc.ID)
	}
	if !slices.Contains(strings.Fields(fmt.Sprint(c["scope"])), "invoices:read") {
		t.Errorf("scope claim = %v, want invoices:read", c["scope"])
	}
	for _, k := range []string{"exp", "iat", "sub", "aud"} { // RFC 9068 §2.2
		if c[k] == nil {
			t.Errorf("access token has no %s (RFC 9068 §2.2): %v", k, c)
		}
	}
	if exp, ok := c["exp"].(float64); !ok || time.Unix(int64(exp), 0).Before(time.Now()) {
		t.Errorf("exp = %v, want in the future", c["exp"])
	}
	m := rp.s.requireActive(t, rp.s.Svc, tok.AccessToken, true, "a fresh client_credentials token")
	if m["client_id"] != rp.s.Svc.ID {
		t.Errorf("introspection client_id = %v, want %s", m["client_id"], rp.s.Svc.ID)
	}
}

func testClientCredentialsScope(t *testing.T, rp *goRP) {
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"invoices:write"}}
	status, body, _ := rp.s.postForm(t, rp.s.endpoint(t, "token_endpoint"), form, rp.s.Svc)
	if status == http.StatusOK {
		var r struct {
			AccessToken string `json:"access_token"`
			Scope       string `json:"scope"`
		}
		_ = json.Unmarshal(body, &r)
		c, _ := jwtClaims(r.AccessToken)
		if strings.Contains(r.Scope, "invoices:write") || strings.Contains(fmt.Sprint(c["scope"]), "invoices:write") {
			t.Errorf("client_credentials granted a scope the application does not have: %s", body)
		}
		return
	}
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	if status != http.StatusBadRequest || e.Error != "invalid_scope" {
		t.Errorf("client_credentials with an ungranted scope: %d %s, want 400 invalid_scope", status, body)
	}
}

func testIntrospectionRevocation(t *testing.T, rp *goRP) {
	tok, idt, _ := rp.signIn(t, nil, oidc.ScopeOpenID, "email", oidc.ScopeOfflineAccess)
	m := rp.s.requireActive(t, rp.s.Web, tok.AccessToken, true, "a fresh access token")
	if m["sub"] != idt.Subject || m["client_id"] != rp.s.Web.ID {
		t.Errorf("introspection sub=%v client_id=%v, want %s and %s", m["sub"], m["client_id"], idt.Subject, rp.s.Web.ID)
	}
	if !slices.Contains(strings.Fields(fmt.Sprint(m["scope"])), "openid") {
		t.Errorf("introspection scope = %v, want it to contain openid", m["scope"])
	}
	// Introspection requires client authentication (RFC 7662 §2.1).
	status, body, _ := rp.s.postForm(t, rp.s.endpoint(t, "introspection_endpoint"), url.Values{"token": {tok.AccessToken}}, Client{})
	if status == http.StatusOK && strings.Contains(string(body), `"active":true`) {
		t.Errorf("introspection without client authentication answered %d %s", status, body)
	}

	rp.s.revoke(t, rp.s.Web, tok.AccessToken, "access_token")
	rp.s.requireActive(t, rp.s.Web, tok.AccessToken, false, "a revoked access token")
	if status, body, _ := rp.s.userinfo(t, tok.AccessToken); status != http.StatusUnauthorized {
		t.Errorf("userinfo with a revoked access token: %d %s, want 401", status, body)
	}
	rp.s.revoke(t, rp.s.Web, tok.RefreshToken, "refresh_token")
	rp.requireTokenError(t, rp.s.Web, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, http.StatusBadRequest, "invalid_grant", "a revoked refresh token")
	// RFC 7009 §2.2: an unknown token is not an error.
	rp.s.revoke(t, rp.s.Web, "not-a-token", "")
}

func testPublicClientPKCE(t *testing.T, rp *goRP) {
	l := newLogin(rp.config(rp.s.SPA, oidc.ScopeOpenID, oidc.ScopeOfflineAccess))
	tok, idt, _ := rp.exchange(t, l, rp.code(t, nil, l))
	if idt.Subject != rp.s.UserID || tok.AccessToken == "" {
		t.Errorf("SPA tokens: sub %q access token %q", idt.Subject, tok.AccessToken)
	}
}

func testOrganizationScope(t *testing.T, rp *goRP) {
	tok, idt, _ := rp.signIn(t, nil, oidc.ScopeOpenID, "organization:"+rp.s.OrgID)
	rp.requireOrgClaims(t, idt, "ID token")
	if c, err := jwtClaims(tok.AccessToken); err != nil {
		t.Errorf("access token is not a JWT: %v", err)
	} else if c["org_id"] != rp.s.OrgID {
		t.Errorf("access token org_id = %v, want %s", c["org_id"], rp.s.OrgID)
	}
}

func (rp *goRP) requireOrgClaims(t *testing.T, idt *oidc.IDToken, what string) {
	t.Helper()
	var c struct {
		OrgID    string   `json:"org_id"`
		OrgSlug  string   `json:"org_slug"`
		OrgRoles []string `json:"org_roles"`
	}
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	if c.OrgID != rp.s.OrgID || c.OrgSlug != orgSlug || !slices.Equal(c.OrgRoles, []string{"owner"}) {
		t.Errorf("%s org claims = %+v, want org_id %s, org_slug %s, org_roles [owner]", what, c, rp.s.OrgID, orgSlug)
	}
}

func testOrganizationPicker(t *testing.T, rp *goRP) {
	_, idt, _ := rp.signIn(t, nil, oidc.ScopeOpenID, "organization")
	rp.requireOrgClaims(t, idt, "ID token (organization picked at login)")
}

func testOrganizationNotMember(t *testing.T, rp *goRP) {
	l := newLogin(rp.config(rp.s.Web, oidc.ScopeOpenID, "organization:"+rp.s.OtherOrgID))
	res := newBrowser(t, rp.s).drive(l.authURL())
	if res.Redirect != nil && res.Redirect.Query().Get("code") != "" {
		t.Fatalf("a code was issued for an organization the user is not a member of: %s", res)
	}
	if res.Redirect == nil && res.Status >= 500 {
		t.Errorf("refusal ended on a server error: %s", res)
	}
	if res.Redirect != nil && !strings.HasPrefix(res.Redirect.String(), rp.s.Callback+"?") {
		t.Errorf("redirected off the server to an unregistered place: %s", res)
	}
}

func testLogout(t *testing.T, rp *goRP) {
	b := newBrowser(t, rp.s)
	tok, _, rawID := rp.signIn(t, b, oidc.ScopeOpenID, oidc.ScopeOfflineAccess)
	q := url.Values{"id_token_hint": {rawID}, "post_logout_redirect_uri": {rp.s.PostLogout}, "state": {"bye-123"}, "client_id": {rp.s.Web.ID}}
	res := b.drive(rp.s.endpoint(t, "end_session_endpoint") + "?" + q.Encode())
	if res.Redirect == nil || !strings.HasPrefix(res.Redirect.String(), rp.s.PostLogout) {
		t.Fatalf("RP-initiated logout did not redirect to the registered post_logout_redirect_uri: %s", res)
	}
	if got := res.Redirect.Query().Get("state"); got != "bye-123" {
		t.Errorf("post-logout redirect state = %q, want bye-123 (%s)", got, res.Redirect)
	}
	// The session is over: the next authorization asks for the password.
	b.StopAtLogin = true
	l := newLogin(rp.config(rp.s.Web, oidc.ScopeOpenID))
	if res := b.drive(l.authURL()); !res.LoginShown {
		t.Errorf("after logout, authorization did not show the login form: %s", res)
	}
	// Issue 3: refresh tokens are revoked on logout.
	rp.requireTokenError(t, rp.s.Web, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, http.StatusBadRequest, "invalid_grant",
		"the refresh token of a session that logged out")
}

func testLogoutUnregistered(t *testing.T, rp *goRP) {
	for name, bad := range map[string]string{
		"unregistered":  rp.s.RP.URL + "/evil",
		"query added":   rp.s.PostLogout + "?x=1",
		"other origin":  "https://evil.example.test/logged-out",
		"trailing path": rp.s.PostLogout + "/",
	} {
		t.Run(name, func(t *testing.T) {
			b := newBrowser(t, rp.s)
			_, _, rawID := rp.signIn(t, b, oidc.ScopeOpenID)
			q := url.Values{"id_token_hint": {rawID}, "post_logout_redirect_uri": {bad}, "state": {"s"}}
			res := b.drive(rp.s.endpoint(t, "end_session_endpoint") + "?" + q.Encode())
			// RP-Initiated Logout 1.0 §3: no post-logout redirection to a URI
			// that is not registered exactly; the OP shows its own page.
			if res.Redirect != nil {
				t.Errorf("logout with the unregistered post_logout_redirect_uri=%s redirected off the server (OIDC-02): %s", bad, res)
			}
		})
	}
}

// testLogoutWithoutRedirect: with no post_logout_redirect_uri the OP ends
// on a page of its own that tells the user they are signed out.
func testLogoutWithoutRedirect(t *testing.T, rp *goRP) {
	b := newBrowser(t, rp.s)
	_, _, rawID := rp.signIn(t, b, oidc.ScopeOpenID)
	res := b.drive(rp.s.endpoint(t, "end_session_endpoint") + "?" + url.Values{"id_token_hint": {rawID}}.Encode())
	if res.Redirect != nil || res.Status != http.StatusOK {
		t.Errorf("logout without post_logout_redirect_uri: want a 200 page on the server, %s", res)
	}
}

func testCodeReplay(t *testing.T, rp *goRP) {
	l := newLogin(rp.config(rp.s.Web, oidc.ScopeOpenID, oidc.ScopeOfflineAccess))
	code := rp.code(t, nil, l)
	tok, _, _ := rp.exchange(t, l, code)
	rp.requireTokenError(t, rp.s.Web, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rp.s.Callback}, "code_verifier": {l.verifier}},
		http.StatusBadRequest, "invalid_grant", "second redemption of a code")
	rp.s.requireActive(t, rp.s.Web, tok.AccessToken, false, "the access token from a replayed code (OIDC-05)")
	if tok.RefreshToken != "" {
		rp.requireTokenError(t, rp.s.Web, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, http.StatusBadRequest, "invalid_grant",
			"the refresh token from a replayed code (OIDC-05)")
	}
}

func testPKCERequired(t *testing.T, rp *goRP) {
	verifier := oauth2.GenerateVerifier()
	for _, tc := range []struct {
		name   string
		params url.Values
	}{
		{"missing", url.Values{}},
		{"plain", url.Values{"code_challenge": {verifier}, "code_challenge_method": {"plain"}}},
		{"method omitted", url.Values{"code_challenge": {verifier}}},
		{"unknown method", url.Values{"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S512"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{"response_type": {"code"}, "client_id": {rp.s.SPA.ID}, "redirect_uri": {rp.s.Callback},
				"scope": {"openid"}, "state": {"st-" + tc.name}, "nonce": {"n"}}
			for k, v := range tc.params {
				q[k] = v
			}
			res := newBrowser(t, rp.s).drive(rp.p.Endpoint().AuthURL + "?" + q.Encode())
			rp.requireAuthorizeError(t, res, "st-"+tc.name, "invalid_request")
		})
	}
}

// requireAuthorizeError wants the authorization request refused: an error
// redirect to the registered redirect_uri with state and iss, or an error
// page on the server; never a code.
func (rp *goRP) requireAuthorizeError(t *testing.T, res result, state, code string) {
	t.Helper()
	if res.Redirect == nil {
		if res.Status < 400 {
			t.Errorf("authorization request not refused: %s", res)
		}
		return
	}
	q := res.Redirect.Query()
	switch {
	case !strings.HasPrefix(res.Redirect.String(), rp.s.Callback+"?"):
		t.Errorf("redirected off the server to an unregistered URI: %s", res)
	case q.Get("code") != "":
		t.Errorf("a code was issued: %s", res)
	case q.Get("error") != code:
		t.Errorf("error = %q, want %q: %s", q.Get("error"), code, res)
	}
	if q.Get("state") != state || q.Get("iss") != rp.s.Issuer {
		t.Errorf("error redirect state=%q iss=%q, want %q and %q (RFC 9207): %s", q.Get("state"), q.Get("iss"), state, rp.s.Issuer, res.Redirect)
	}
	if res.LoginShown {
		t.Errorf("the login form was shown before the request was refused (OIDC-03: refuse at the authorization endpoint)")
	}
}

func testWrongCodeVerifier(t *testing.T, rp *goRP) {
	l := newLogin(rp.config(rp.s.SPA, oidc.ScopeOpenID))
	code := rp.code(t, nil, l)
	form := func(v string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rp.s.Callback}, "code_verifier": {v}}
	}
	rp.requireTokenError(t, rp.s.SPA, form(oauth2.GenerateVerifier()), http.StatusBadRequest, "invalid_grant", "wrong code_verifier")
	rp.requireTokenError(t, rp.s.SPA, form(l.verifier), http.StatusBadRequest, "invalid_grant",
		"the right code_verifier after a wrong one (OIDC-03(g): the code is burned)")
}

func testRedirectURIMismatch(t *testing.T, rp *goRP) {
	otherPort := freeAddr(t)
	for _, tc := range []struct{ name, uri string }{
		{"trailing slash", rp.s.Callback + "/"},
		{"extra query", rp.s.Callback + "?x=1"},
		{"fragment", rp.s.Callback + "#f"},
		{"path case", strings.TrimSuffix(rp.s.Callback, "/cb") + "/CB"},
		{"other loopback port for a WEB client", "http://" + otherPort + "/cb"},
		{"other port on non-loopback", "https://app.example.test:8443/cb"},
		{"explicit default port", "https://app.example.test:443/cb"},
		{"http downgrade", "http://app.example.test/cb"},
		{"suffix host", "https://app.example.test.evil.test/cb"},
		{"userinfo", "https://app.example.test@evil.test/cb"},
		{"percent-encoded path", "https://app.example.test/c%62"},
		{"dot segments", "https://app.example.test/cb/../x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{"response_type": {"code"}, "client_id": {rp.s.Web.ID}, "redirect_uri": {tc.uri}, "scope": {"openid"}, "state": {"st"},
				"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"}}
			res := newBrowser(t, rp.s).drive(rp.p.Endpoint().AuthURL + "?" + q.Encode())
			if res.Redirect != nil {
				t.Fatalf("redirect_uri %q: redirected off the server (want a 400 error page at the server, RFC 6749 §4.1.2.1): %s", tc.uri, res)
			}
			if res.Status != http.StatusBadRequest {
				t.Errorf("redirect_uri %q: want a 400 error page, got: %s", tc.uri, res)
			}
		})
	}
}

func testWrongClientSecret(t *testing.T, rp *goRP) {
	// A real, unredeemed code each time, so that only the client
	// authentication can be what is wrong.
	code := func(t *testing.T) url.Values {
		l := newLogin(rp.config(rp.s.Web, oidc.ScopeOpenID))
		return url.Values{"grant_type": {"authorization_code"}, "code": {rp.code(t, nil, l)}, "redirect_uri": {rp.s.Callback}, "code_verifier": {l.verifier}}
	}
	for _, tc := range []struct {
		name string
		c    Client
		form func(*testing.T) url.Values
	}{
		{"wrong secret, client_credentials", Client{ID: rp.s.Svc.ID, Secret: rp.s.Svc.Secret + "x"},
			func(*testing.T) url.Values { return url.Values{"grant_type": {"client_credentials"}} }},
		{"unknown client", Client{ID: "app_unknown", Secret: "x"},
			func(*testing.T) url.Values { return url.Values{"grant_type": {"client_credentials"}} }},
		{"wrong secret, authorization_code", Client{ID: rp.s.Web.ID, Secret: "wrong"}, code},
		// Client authentication comes first: a bad code must not be what a
		// caller with a bad secret learns about (RFC 6749 §5.2, OIDC-10).
		{"wrong secret, unknown code", Client{ID: rp.s.Web.ID, Secret: "wrong"}, func(*testing.T) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "code": {"not-a-code"}, "redirect_uri": {rp.s.Callback}}
		}},
		{"another client's secret, authorization_code", Client{ID: rp.s.Web.ID, Secret: rp.s.Svc.Secret}, code},
		{"no secret for a confidential client", Client{ID: rp.s.Web.ID}, code},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := tc.form(t)
			status, body, h := rp.s.postForm(t, rp.s.endpoint(t, "token_endpoint"), form, tc.c)
			var e struct {
				Error string `json:"error"`
			}
			_ = json.Unmarshal(body, &e)
			if status != http.StatusUnauthorized || e.Error != "invalid_client" {
				t.Errorf("token endpoint (%s, client %s): %d %s, want 401 invalid_client", form.Get("grant_type"), tc.c.ID, status, body)
			}
			if status == http.StatusUnauthorized && h.Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate (RFC 6749 §5.2)")
			}
		})
	}
}

// testForgedTokens sends tokens the server never signed to userinfo and
// introspection (OIDC-11, OIDC-13).
func testForgedTokens(t *testing.T, rp *goRP) {
	tok, _, rawID := rp.signIn(t, nil, oidc.ScopeOpenID, "email")
	claims, err := jwtClaims(tok.AccessToken)
	if err != nil {
		t.Logf("access token is not a JWT (%v); forging from the ID token's claims", err)
		claims, _ = jwtClaims(rawID)
		claims["client_id"], claims["scope"], claims["jti"] = rp.s.Web.ID, "openid email", "forged"
	}
	hdr, _ := jwtHeader(tok.AccessToken)
	kid, _ := hdr["kid"].(string)
	payload, _ := json.Marshal(claims)
	forged := map[string]string{}
	none := encodeSegment(map[string]any{"alg": "none", "typ": "at+jwt"}) + "." + base64.RawURLEncoding.EncodeToString(payload)
	forged["alg none, empty signature"] = none + "."
	forged["alg none, original signature"] = none + "." + strings.Split(tok.AccessToken+"..", ".")[2]
	for form, key := range rp.publicKeyBytes(t, kid) {
		forged["HS256 keyed with the public key ("+form+")"] = signHS256(map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": kid}, payload, key)
	}
	forged["the ID token as an access token (OIDC-13)"] = rawID
	for name, token := range forged {
		t.Run(name, func(t *testing.T) {
			if status, body, _ := rp.s.userinfo(t, token); status != http.StatusUnauthorized {
				t.Errorf("userinfo accepted it or answered oddly: %d %s, want 401", status, body)
			}
			rp.s.requireActive(t, rp.s.Web, token, false, name)
		})
	}
	// The genuine token still works: the rejections above are not blanket.
	if status, body, _ := rp.s.userinfo(t, tok.AccessToken); status != http.StatusOK {
		t.Errorf("userinfo with the genuine token: %d %s", status, body)
	}
}

// publicKeyBytes returns the forms of the signing key kid that an
// alg-confusion attacker would use as an HMAC secret.
func (rp *goRP) publicKeyBytes(t *testing.T, kid string) map[string][]byte {
	t.Helper()
	set := rp.jwks(t)
	keys := set.Key(kid)
	if len(keys) == 0 {
		keys = set.Keys[:1]
	}
	k := keys[0]
	out := map[string][]byte{}
	if der, err := x509.MarshalPKIXPublicKey(k.Key); err == nil {
		out["DER"] = der
		out["PEM"] = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	if j, err := k.MarshalJSON(); err == nil {
		out["JWK"] = j
	}
	return out
}

func (rp *goRP) jwks(t *testing.T) *jose.JSONWebKeySet {
	t.Helper()
	u := rp.s.endpoint(t, "jwks_uri")
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
	}
	return &set
}

func encodeSegment(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func signHS256(header map[string]any, payload, key []byte) string {
	input := encodeSegment(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// strs reads a JSON array of strings.
func strs(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
