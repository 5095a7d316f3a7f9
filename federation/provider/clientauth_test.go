package provider

import (
	"crypto"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/application"
	"github.com/gatehouse-id/gatehouse/internal/secret"
)

// TestClientAuthenticatedBeforeGrant (OIDC-10): a client that fails to
// authenticate gets 401 invalid_client with WWW-Authenticate whatever the
// grant, code or token it sends — never invalid_grant, which would tell
// it something about the code.
func TestClientAuthenticatedBeforeGrant(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		verifier, challenge := pkce()
		realCode := e.login(codeParams("web", webRedirect, challenge), Authentication{}).Query().Get("code")
		grants := map[string]url.Values{
			"bogus code":         {"grant_type": {"authorization_code"}, "code": {"not-a-code"}, "redirect_uri": {webRedirect}},
			"real code":          {"grant_type": {"authorization_code"}, "code": {realCode}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}},
			"refresh":            {"grant_type": {"refresh_token"}, "refresh_token": {"nope"}},
			"client credentials": {"grant_type": {"client_credentials"}},
			"unsupported grant":  {"grant_type": {"password"}, "username": {"a"}, "password": {"b"}},
			"no grant_type":      {},
		}
		type creds struct {
			user, pass string
			form       url.Values
		}
		bad := map[string]creds{
			"wrong basic secret":        {user: "web", pass: "wrong"},
			"unknown client":            {user: "nobody", pass: "x"},
			"wrong machine secret":      {user: "machine", pass: "wrong"},
			"post for a basic client":   {form: url.Values{"client_id": {"web"}, "client_secret": {webSecret}}},
			"no credentials":            {form: url.Values{"client_id": {"web"}}},
			"nothing at all":            {},
			"secret for public client":  {form: url.Values{"client_id": {"spa"}, "client_secret": {"x"}}},
			"basic for public client":   {user: "spa", pass: ""},
			"bogus assertion":           {form: url.Values{"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {"a.b.c"}}},
			"assertion of wrong type":   {form: url.Values{"client_assertion_type": {"bearer"}, "client_assertion": {"a.b.c"}}},
			"basic for an unknown user": {user: "web%", pass: "x"},
		}
		for gname, g := range grants {
			for cname, c := range bad {
				form := url.Values{}
				for k, v := range g {
					form[k] = v
				}
				for k, v := range c.form {
					form[k] = v
				}
				resp := postForm(t, e.issuer+pathToken, form, c.user, c.pass)
				challenge := resp.Header.Get("WWW-Authenticate")
				if code := oauthError(t, resp); resp.StatusCode != http.StatusUnauthorized || code != "invalid_client" || challenge == "" {
					t.Errorf("%s with %s: status %d error %q challenge %q, want 401 invalid_client", gname, cname, resp.StatusCode, code, challenge)
				}
			}
		}
		// The real code was not burnt by the failed attempts.
		resp := postForm(t, e.issuer+pathToken, grants["real code"], "web", webSecret)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("code after failed client authentications: status %d (%s)", resp.StatusCode, oauthError(t, resp))
		}
		resp.Body.Close()
		// Introspection and revocation authenticate first too.
		for _, path := range []string{pathIntrospect, pathRevoke} {
			resp := postForm(t, e.issuer+path, url.Values{"token": {"x"}}, "web", "wrong")
			if code := oauthError(t, resp); resp.StatusCode != 401 || code != "invalid_client" || resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s wrong secret: %d %q", path, resp.StatusCode, code)
			}
		}
		// Two methods in one request (RFC 6749 §2.3).
		resp = postForm(t, e.issuer+pathToken, url.Values{"grant_type": {"client_credentials"}, "client_secret": {machineSecret}}, "machine", machineSecret)
		if code := oauthError(t, resp); code != "invalid_request" {
			t.Errorf("two methods: %d %q", resp.StatusCode, code)
		}
	})
}

// clientKey is a private_key_jwt key pair of a test client.
type clientKey struct {
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
	kid  string
}

func newClientKey(t *testing.T, alg jose.SignatureAlgorithm) clientKey {
	t.Helper()
	priv, err := generateKey(alg)
	must(t, err)
	return clientKey{alg: alg, priv: priv, kid: string(alg) + "-" + secret.Token(4)}
}

func (k clientKey) publicJWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"}
}

// assertion signs a client assertion (RFC 7523 §3); override changes claims.
func (k clientKey) assertion(t *testing.T, clientID, aud string, now time.Time, override map[string]any) string {
	t.Helper()
	claims := map[string]any{"iss": clientID, "sub": clientID, "aud": aud, "jti": secret.Token(12),
		"iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix()}
	for c, v := range override {
		if v == nil {
			delete(claims, c)
		} else {
			claims[c] = v
		}
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}}, (&jose.SignerOptions{}).WithType("JWT"))
	must(t, err)
	b, _ := json.Marshal(claims)
	obj, err := s.Sign(b)
	must(t, err)
	tok, err := obj.CompactSerialize()
	must(t, err)
	return tok
}

// pkjwtApp registers an application that authenticates with
// private_key_jwt and keys as its JWKS.
func (e *env) pkjwtApp(name, typ string, keys ...clientKey) *ent.Application {
	e.t.Helper()
	set := jose.JSONWebKeySet{}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.publicJWK())
	}
	raw, _ := json.Marshal(set)
	var jwks map[string]any
	must(e.t, json.Unmarshal(raw, &jwks))
	c := e.db.Application.Create().SetName(name).SetType(application.Type(typ)).SetClientID(name).
		SetTokenEndpointAuthMethod(application.TokenEndpointAuthMethodPRIVATE_KEY_JWT).SetJwks(jwks)
	if typ == "MACHINE" {
		c.SetGrantTypes([]string{"CLIENT_CREDENTIALS"}).SetScopes([]string{"read"})
	} else {
		c.SetGrantTypes([]string{"AUTHORIZATION_CODE", "REFRESH_TOKEN"}).SetRedirectUris([]string{"https://" + name + ".tenant-a.test/cb"})
	}
	a, err := c.Save(e.ctx)
	must(e.t, err)
	return a
}

// TestPrivateKeyJWT: RFC 7523 client authentication with ES256, RS256 and
// EdDSA client keys, and every way an assertion must fail (OIDC-10, -11).
func TestPrivateKeyJWT(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		es, rs, ed := newClientKey(t, jose.ES256), newClientKey(t, jose.RS256), newClientKey(t, jose.EdDSA)
		e.pkjwtApp("svc-jwt", "MACHINE", es, rs, ed)
		tokenURL := e.issuer + pathToken
		cc := func(assertion string) *http.Response {
			t.Helper()
			return postForm(t, tokenURL, url.Values{"grant_type": {"client_credentials"},
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}, "", "")
		}
		now := e.clock.Now()
		for _, k := range []clientKey{es, rs, ed} {
			for _, aud := range []string{tokenURL, e.issuer} {
				resp := cc(k.assertion(t, "svc-jwt", aud, now, nil))
				var body struct {
					AccessToken string `json:"access_token"`
					Error       string
				}
				must(t, json.NewDecoder(resp.Body).Decode(&body))
				resp.Body.Close()
				if resp.StatusCode != 200 || body.AccessToken == "" {
					t.Fatalf("%s assertion, aud %s: status %d %s", k.alg, aud, resp.StatusCode, body.Error)
				}
				if at, err := e.p.VerifyAccessToken(e.ctx, body.AccessToken); err != nil || at.ClientID != "svc-jwt" {
					t.Errorf("%s: access token %+v %v", k.alg, at, err)
				}
			}
		}
		other := newClientKey(t, jose.ES256)
		other.kid = es.kid // same kid, key not registered
		replayed := es.assertion(t, "svc-jwt", tokenURL, now, nil)
		resp := cc(replayed)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("first use of an assertion: %d", resp.StatusCode)
		}
		bad := map[string]string{
			"replayed jti":         replayed,
			"wrong key":            other.assertion(t, "svc-jwt", tokenURL, now, nil),
			"expired":              es.assertion(t, "svc-jwt", tokenURL, now, map[string]any{"exp": now.Add(-time.Minute).Unix(), "iat": now.Add(-3 * time.Minute).Unix()}),
			"no exp":               es.assertion(t, "svc-jwt", tokenURL, now, map[string]any{"exp": nil}),
			"exp far away":         es.assertion(t, "svc-jwt", tokenURL, now, map[string]any{"exp": now.Add(24 * time.Hour).Unix()}),
			"no jti":               es.assertion(t, "svc-jwt", tokenURL, now, map[string]any{"jti": nil}),
			"aud another issuer":   es.assertion(t, "svc-jwt", "https://tenant-b.test", now, nil),
			"aud another endpoint": es.assertion(t, "svc-jwt", "https://evil.test"+pathToken, now, nil),
			"sub differs":          es.assertion(t, "svc-jwt", tokenURL, now, map[string]any{"sub": "machine"}),
			"other client's iss":   es.assertion(t, "machine", tokenURL, now, nil),
			"not yet valid":        es.assertion(t, "svc-jwt", tokenURL, now, map[string]any{"nbf": now.Add(10 * time.Minute).Unix()}),
			"alg none":             unsignedJWT(map[string]any{"iss": "svc-jwt", "sub": "svc-jwt", "aud": tokenURL, "jti": "x", "exp": now.Add(time.Minute).Unix()}, es.kid),
		}
		for name, a := range bad {
			resp := cc(a)
			if code := oauthError(t, resp); resp.StatusCode != 401 || code != "invalid_client" || resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s: status %d error %q, want 401 invalid_client", name, resp.StatusCode, code)
			}
		}
		// The registered method is enforced: a secret is refused.
		resp = postForm(t, tokenURL, url.Values{"grant_type": {"client_credentials"}}, "svc-jwt", "anything")
		if resp.StatusCode != 401 {
			t.Errorf("secret for a private_key_jwt client: %d", resp.StatusCode)
		}
		resp.Body.Close()
		// Introspection authenticated by assertion.
		tokResp := cc(es.assertion(t, "svc-jwt", tokenURL, now, nil))
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		must(t, json.NewDecoder(tokResp.Body).Decode(&tok))
		tokResp.Body.Close()
		resp = postForm(t, e.issuer+pathIntrospect, url.Values{"token": {tok.AccessToken},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion":      {es.assertion(t, "svc-jwt", e.issuer, now, nil)}}, "", "")
		var intro map[string]any
		must(t, json.NewDecoder(resp.Body).Decode(&intro))
		resp.Body.Close()
		if intro["active"] != true || intro["client_id"] != "svc-jwt" {
			t.Errorf("introspection with an assertion: %v", intro)
		}
	})
}

// TestPrivateKeyJWTCodeFlow: a WEB application redeems a code and a
// refresh token authenticating with RS256 and ES256 assertions.
func TestPrivateKeyJWTCodeFlow(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		rs, es := newClientKey(t, jose.RS256), newClientKey(t, jose.ES256)
		e.pkjwtApp("webjwt", "WEB", rs, es)
		redirect := "https://webjwt.tenant-a.test/cb"
		verifier, challenge := pkce()
		code := e.login(codeParams("webjwt", redirect, challenge, "offline_access"), Authentication{}).Query().Get("code")
		tokenURL := e.issuer + pathToken
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {verifier},
			"client_id":             {"webjwt"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion":      {rs.assertion(t, "webjwt", tokenURL, e.clock.Now(), nil)}}
		resp := postForm(t, tokenURL, form, "", "")
		var tok oauth2.Token
		var raw map[string]any
		must(t, json.NewDecoder(resp.Body).Decode(&raw))
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("code exchange with an assertion: %d %v", resp.StatusCode, raw)
		}
		tok.RefreshToken, _ = raw["refresh_token"].(string)
		resp = postForm(t, tokenURL, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion":      {es.assertion(t, "webjwt", tokenURL, e.clock.Now(), nil)}}, "", "")
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("refresh with an assertion: %d", resp.StatusCode)
		}
	})
}

func unsignedJWT(claims map[string]any, kid string) string {
	enc := func(v any) string { b, _ := json.Marshal(v); return base64URLEncode(b) }
	return enc(map[string]string{"alg": "none", "kid": kid}) + "." + enc(claims) + "."
}

// TestWrongAuthMethodNamed: a client that authenticates with a method
// other than its registered one is told which one it registered (its
// token_endpoint_auth_method); every other failure stays one sentence that
// says nothing of why.
func TestWrongAuthMethodNamed(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		key := newClientKey(t, jose.ES256)
		e.pkjwtApp("svc-jwt", "MACHINE", key)
		tokenURL := e.issuer + pathToken
		now := e.clock.Now()
		assertion := func(clientID string) url.Values {
			return url.Values{"grant_type": {"client_credentials"},
				"client_assertion_type": {oidc.ClientAssertionTypeJWTAssertion},
				"client_assertion":      {key.assertion(t, clientID, tokenURL, now, nil)}}
		}
		const generic = "client authentication failed"
		for _, c := range []struct {
			name       string
			form       url.Values
			user, pass string
			want       string
		}{
			{"post for a basic client", url.Values{"grant_type": {"client_credentials"}, "client_id": {"web"}, "client_secret": {webSecret}}, "", "",
				generic + ": the client is registered for client_secret_basic"},
			{"assertion for a basic client", assertion("web"), "", "", generic + ": the client is registered for client_secret_basic"},
			{"secret for a private_key_jwt client", url.Values{"grant_type": {"client_credentials"}}, "svc-jwt", "anything",
				generic + ": the client is registered for private_key_jwt"},
			{"basic for a public client", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}, "spa", "x",
				generic + ": the client is registered for none"},
			{"wrong secret", url.Values{"grant_type": {"client_credentials"}}, "machine", "wrong", generic},
			{"unknown client", url.Values{"grant_type": {"client_credentials"}, "client_id": {"nobody"}, "client_secret": {"x"}}, "", "", generic},
			{"right method, bad assertion", url.Values{"grant_type": {"client_credentials"},
				"client_assertion_type": {oidc.ClientAssertionTypeJWTAssertion}, "client_assertion": {"a.b.c"}}, "", "", generic},
		} {
			t.Run(c.name, func(t *testing.T) {
				status, body, err := postFormAnswer(tokenURL, c.form, c.user, c.pass)
				must(t, err)
				if status != http.StatusUnauthorized || body["error"] != "invalid_client" || body["error_description"] != c.want {
					t.Errorf("= %d %v, want 401 invalid_client %q", status, body, c.want)
				}
			})
		}
	})
}
