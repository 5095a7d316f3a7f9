package oidc

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-id/gatehouse/federation"
)

// wantCode fails t unless err is a Rejection with code; it returns the
// reason for further checks.
func wantCode(t testing.TB, err error, code string) string {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want a %s rejection", code)
	}
	if got := CodeOf(err); got != code {
		t.Fatalf("rejection %q (%v); want %s", got, err, code)
	}
	return err.Error()
}

// withQuery returns u with its query changed by fn.
func withQuery(u *url.URL, fn func(q url.Values)) *url.URL {
	c := *u
	q := c.Query()
	fn(q)
	c.RawQuery = q.Encode()
	return &c
}

// flow begins, logs in and finishes with the callback changed by edit.
func (r *rig) flow(t testing.TB, edit func(cb *url.URL) *url.URL) (federation.Identity, error) {
	t.Helper()
	step := r.begin(t, federation.BeginRequest{})
	cb := r.login(t, step)
	if edit != nil {
		cb = edit(cb)
	}
	return r.conn.Finish(t.Context(), callbackRequest(cb), step.State)
}

// TestCallbackRefused covers the authorization response (OIDC-07, OIDC-08).
func TestCallbackRefused(t *testing.T) {
	r := newRig(t)

	t.Run("wrong state", func(t *testing.T) {
		_, err := r.flow(t, func(cb *url.URL) *url.URL {
			return withQuery(cb, func(q url.Values) { q.Set("state", q.Get("state")+"x") })
		})
		wantCode(t, err, CodeStateMismatch)
	})
	t.Run("no state", func(t *testing.T) {
		_, err := r.flow(t, func(cb *url.URL) *url.URL { return withQuery(cb, func(q url.Values) { q.Del("state") }) })
		wantCode(t, err, CodeStateMismatch)
	})
	t.Run("state of another browser", func(t *testing.T) {
		mine := r.begin(t, federation.BeginRequest{})
		theirs := r.begin(t, federation.BeginRequest{})
		cb := r.login(t, theirs) // the attacker's own, finished code
		_, err := r.conn.Finish(t.Context(), callbackRequest(cb), mine.State)
		wantCode(t, err, CodeStateMismatch)
	})
	t.Run("replayed callback", func(t *testing.T) {
		step := r.begin(t, federation.BeginRequest{})
		cb := r.login(t, step)
		if _, err := r.conn.Finish(t.Context(), callbackRequest(cb), step.State); err != nil {
			t.Fatalf("first Finish: %v", err)
		}
		_, err := r.conn.Finish(t.Context(), callbackRequest(cb), step.State)
		wantCode(t, err, CodeExchangeFailed)
	})
	t.Run("parameter twice", func(t *testing.T) {
		_, err := r.flow(t, func(cb *url.URL) *url.URL {
			return withQuery(cb, func(q url.Values) { q.Add("code", "other") })
		})
		wantCode(t, err, CodeMalformedResponse)
	})
	t.Run("no code", func(t *testing.T) {
		_, err := r.flow(t, func(cb *url.URL) *url.URL { return withQuery(cb, func(q url.Values) { q.Del("code") }) })
		wantCode(t, err, CodeMalformedResponse)
	})
	t.Run("expired transaction", func(t *testing.T) {
		step := r.begin(t, federation.BeginRequest{})
		cb := r.login(t, step)
		r.clock.Advance(MaxTransactionAge + time.Second)
		defer r.clock.Advance(-MaxTransactionAge - time.Second)
		_, err := r.conn.Finish(t.Context(), callbackRequest(cb), step.State)
		wantCode(t, err, CodeStateExpired)
	})
	t.Run("unreadable state", func(t *testing.T) {
		step := r.begin(t, federation.BeginRequest{})
		cb := r.login(t, step)
		_, err := r.conn.Finish(t.Context(), callbackRequest(cb), step.State[:len(step.State)-2])
		wantCode(t, err, CodeStateInvalid)
	})
	t.Run("access denied at the provider", func(t *testing.T) {
		step := r.begin(t, federation.BeginRequest{})
		cb := browser(t, step.RedirectURL, r.op.Redirect, "deny")
		_, err := r.conn.Finish(t.Context(), callbackRequest(cb), step.State)
		reason := wantCode(t, err, CodeUpstreamError)
		if !strings.Contains(reason, `"access_denied"`) || !strings.Contains(reason, "the user declined") {
			t.Errorf("reason %q lacks the provider's error and description", reason)
		}
	})
	t.Run("error with another state", func(t *testing.T) {
		step := r.begin(t, federation.BeginRequest{})
		cb := browser(t, step.RedirectURL, r.op.Redirect, "deny")
		cb = withQuery(cb, func(q url.Values) { q.Set("state", "forged") })
		_, err := r.conn.Finish(t.Context(), callbackRequest(cb), step.State)
		wantCode(t, err, CodeStateMismatch)
	})
}

// TestMixUp is OIDC-07 on the relying party's side: two loopback
// providers, an honest and an attacker's, configured in one organization.
func TestMixUp(t *testing.T) {
	honest := newRig(t)
	attacker := rigFor(t, newTestOP(t, callbackFor(testConnection)))

	t.Run("iss of the attacker", func(t *testing.T) {
		_, err := honest.flow(t, func(cb *url.URL) *url.URL {
			return withQuery(cb, func(q url.Values) { q.Set("iss", attacker.op.Issuer) })
		})
		wantCode(t, err, CodeIssuerMismatch)
	})
	t.Run("iss of the honest provider", func(t *testing.T) {
		if _, err := honest.flow(t, func(cb *url.URL) *url.URL {
			return withQuery(cb, func(q url.Values) { q.Set("iss", honest.op.Issuer) })
		}); err != nil {
			t.Fatalf("Finish with the right iss: %v", err)
		}
	})
	t.Run("answer at the other connection", func(t *testing.T) {
		// The transaction began at honest; the answer reaches a connector
		// for the attacker's provider (same connection id: only the
		// stored issuer tells them apart).
		step := honest.begin(t, federation.BeginRequest{})
		cb := honest.login(t, step)
		_, err := attacker.conn.Finish(t.Context(), callbackRequest(cb), step.State)
		wantCode(t, err, CodeIssuerMismatch)

		other := rigFor(t, attacker.op, func(c *Config) { c.ConnectionID = "conn_01JTESTC0NNECT10NBBBBBBBBB" })
		_, err = other.conn.Finish(t.Context(), callbackRequest(cb), step.State)
		wantCode(t, err, CodeStateInvalid)
	})
	t.Run("iss missing where advertised", func(t *testing.T) {
		o := newTestOP(t, callbackFor(testConnection))
		o.set(func(o *testOP) {
			o.discovery = func(doc map[string]any) { doc["authorization_response_iss_parameter_supported"] = true }
		})
		r := rigFor(t, o)
		if !r.conn.IssParameterSupported() {
			t.Fatal("the connector did not read authorization_response_iss_parameter_supported")
		}
		_, err := r.flow(t, nil)
		wantCode(t, err, CodeIssuerMismatch)
		if _, err := r.flow(t, func(cb *url.URL) *url.URL {
			return withQuery(cb, func(q url.Values) { q.Set("iss", o.Issuer) })
		}); err != nil {
			t.Fatalf("Finish with iss: %v", err)
		}
	})
}

// TestDiscoveryRefused: the document's issuer must be the configured one,
// and a provider that signs only with algorithms we refuse is refused.
func TestDiscoveryRefused(t *testing.T) {
	o := newTestOP(t, callbackFor(testConnection))
	// A look-alike serves the honest provider's document from its own URL.
	copycat := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Get(o.Issuer + r.URL.Path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		_, _ = copyBody(w, resp)
	}))
	defer copycat.Close()
	cfg := Config{ConnectionID: testConnection, Issuer: copycat.URL, ClientID: o.ClientID, RedirectURL: o.Redirect}
	_, err := New(t.Context(), cfg)
	reason := wantCode(t, err, CodeIssuerMismatch)
	if !strings.Contains(reason, o.Issuer) {
		t.Errorf("reason %q does not name the document's issuer", reason)
	}

	cfg.Issuer = o.Issuer + "/"
	_, err = New(t.Context(), cfg)
	wantCode(t, err, CodeIssuerMismatch)

	o.set(func(o *testOP) {
		o.discovery = func(doc map[string]any) { doc["id_token_signing_alg_values_supported"] = []string{"none", "HS256"} }
	})
	cfg.Issuer = o.Issuer
	_, err = New(t.Context(), cfg)
	wantCode(t, err, CodeDiscoveryFailed)

	o.set(func(o *testOP) { o.discovery = func(doc map[string]any) { delete(doc, "token_endpoint") } })
	_, err = New(t.Context(), cfg)
	wantCode(t, err, CodeDiscoveryFailed)

	cfg.Issuer = copycat.URL + "/nothing-here"
	_, err = New(t.Context(), cfg)
	wantCode(t, err, CodeDiscoveryFailed)
}

// TestIDTokenRefused covers the ID token checks (OIDC-08, OIDC-11,
// OIDC-13): each subtest makes the real OP answer with one thing wrong.
func TestIDTokenRefused(t *testing.T) {
	r := newRig(t)
	o := r.op
	other := r.begin(t, federation.BeginRequest{})
	otherTx, _ := r.conn.transaction(other.State)

	var lured atomic.Int32
	lure := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { lured.Add(1) }))
	defer lure.Close()
	defer func() {
		if n := lured.Load(); n != 0 {
			t.Errorf("a jku/x5u header made the connector fetch %d times", n)
		}
	}()
	claims := func(fn func(c map[string]any)) func() { return func() { o.rewriteClaims(nil, fn) } }
	now := func() int64 { return r.clock.Now().Unix() }
	cases := []struct {
		name  string
		setup func()
		code  string
	}{
		{"nonce of another transaction", claims(func(c map[string]any) { c["nonce"] = otherTx.Nonce }), CodeNonceMismatch},
		{"no nonce", claims(func(c map[string]any) { delete(c, "nonce") }), CodeNonceMismatch},
		{"signed by another key", func() { o.rewriteClaims(o.foreignSigner(t), func(map[string]any) {}) }, CodeTokenInvalid},
		{"alg none", func() {
			o.set(func(o *testOP) { o.idToken = func(tok string) (string, error) { return algNone(tok), nil } })
		}, CodeTokenInvalid},
		{"HS256 with the client secret", func() {
			s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte(o.Secret)}, (&jose.SignerOptions{}).WithType("JWT"))
			if err != nil {
				t.Fatal(err)
			}
			o.rewriteClaims(s, func(map[string]any) {})
		}, CodeTokenInvalid},
		{"attacker key embedded as jwk", func() {
			key, _ := rsa.GenerateKey(rand.Reader, 2048)
			s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{EmbedJWK: true}).WithType("JWT"))
			if err != nil {
				t.Fatal(err)
			}
			o.rewriteClaims(s, func(map[string]any) {})
		}, CodeTokenInvalid},
		{"jku to a loopback server", func() {
			key, _ := rsa.GenerateKey(rand.Reader, 2048)
			s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
				(&jose.SignerOptions{}).WithType("JWT").WithHeader("jku", lure.URL).WithHeader("x5u", lure.URL).WithHeader("kid", "lure"))
			if err != nil {
				t.Fatal(err)
			}
			o.rewriteClaims(s, func(map[string]any) {})
		}, CodeTokenInvalid},
		{"kid path injection", func() {
			s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: opKey(t, o)},
				(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "../../../../dev/null"))
			if err != nil {
				t.Fatal(err)
			}
			o.rewriteClaims(s, func(map[string]any) {})
		}, CodeTokenInvalid},
		{"crit extension", func() {
			s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: opKey(t, o)},
				(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", opKID(t, o)).WithCritical("urn:example:unknown").WithHeader("urn:example:unknown", true))
			if err != nil {
				t.Fatal(err)
			}
			o.rewriteClaims(s, func(map[string]any) {})
		}, CodeTokenInvalid},
		{"oversized id_token", func() {
			o.set(func(o *testOP) {
				o.idToken = func(string) (string, error) { return strings.Repeat(".", 100<<10), nil }
			})
		}, CodeTokenInvalid},
		{"another issuer", claims(func(c map[string]any) { c["iss"] = "https://attacker.test" }), CodeTokenInvalid},
		{"another audience", claims(func(c map[string]any) { c["aud"] = []string{"someone-else"} }), CodeTokenInvalid},
		{"two audiences, no azp", claims(func(c map[string]any) {
			c["aud"] = []string{o.ClientID, "someone-else"}
			delete(c, "azp")
		}), CodeTokenInvalid},
		{"azp of another client", claims(func(c map[string]any) { c["azp"] = "someone-else" }), CodeTokenInvalid},
		{"no sub", claims(func(c map[string]any) { delete(c, "sub") }), CodeTokenInvalid},
		{"expired", claims(func(c map[string]any) { c["exp"] = now() - int64(ClockSkew/time.Second) - 1 }), CodeTokenInvalid},
		{"no exp", claims(func(c map[string]any) { delete(c, "exp") }), CodeTokenInvalid},
		{"issued in the future", claims(func(c map[string]any) { c["iat"] = now() + int64(ClockSkew/time.Second) + 5 }), CodeTokenInvalid},
		{"no iat", claims(func(c map[string]any) { delete(c, "iat") }), CodeTokenInvalid},
		{"not yet valid", claims(func(c map[string]any) { c["nbf"] = now() + int64(ClockSkew/time.Second) + 5 }), CodeTokenInvalid},
		{"at_hash of another token", claims(func(c map[string]any) { c["at_hash"] = "AAAAAAAAAAAAAAAAAAAAAA" }), CodeTokenInvalid},
		{"no id_token", func() {
			o.set(func(o *testOP) { o.idToken = func(string) (string, error) { return "", nil } })
		}, CodeTokenInvalid},
		{"userinfo of another subject", func() {
			o.set(func(o *testOP) { o.userinfo = func(c map[string]any) { c["sub"] = "mallory" } })
		}, CodeUserinfoSubjectMismatch},
		{"userinfo without subject", func() {
			o.set(func(o *testOP) { o.userinfo = func(c map[string]any) { delete(c, "sub") } })
		}, CodeUserinfoSubjectMismatch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer o.reset()
			tc.setup()
			id, err := r.flow(t, nil)
			wantCode(t, err, tc.code)
			if id.Subject != "" || id.Attributes != nil {
				t.Errorf("a refused Finish returned an identity: %+v", id)
			}
		})
	}

	// The control: the same rewriting path with no change is accepted, so
	// each refusal above is the change's doing.
	t.Run("rewritten but unchanged", func(t *testing.T) {
		defer o.reset()
		o.rewriteClaims(nil, func(map[string]any) {})
		if _, err := r.flow(t, nil); err != nil {
			t.Fatalf("Finish: %v", err)
		}
	})
}

// TestIssuerAliases: an alias is accepted in the ID token's iss only.
func TestIssuerAliases(t *testing.T) {
	r := newRig(t, func(c *Config) { c.IssuerAliases = []string{"idp.alias.test"} })
	r.op.rewriteClaims(nil, func(c map[string]any) { c["iss"] = "idp.alias.test" })
	if _, err := r.flow(t, nil); err != nil {
		t.Fatalf("ID token with an alias issuer: %v", err)
	}
	_, err := r.flow(t, func(cb *url.URL) *url.URL {
		return withQuery(cb, func(q url.Values) { q.Set("iss", "idp.alias.test") })
	})
	wantCode(t, err, CodeIssuerMismatch)
	r.op.rewriteClaims(nil, func(c map[string]any) { c["iss"] = "other.alias.test" })
	_, err = r.flow(t, nil)
	wantCode(t, err, CodeTokenInvalid)
}

// TestExpiredOnOurClock: the token is checked against Config.Now, not the
// machine's time.
func TestExpiredOnOurClock(t *testing.T) {
	r := newRig(t)
	exp := r.clock.Now().Unix() + 5
	r.op.rewriteClaims(nil, func(c map[string]any) { c["exp"] = exp })
	step := r.begin(t, federation.BeginRequest{})
	cb := r.login(t, step)
	r.clock.Advance(ClockSkew + 5*time.Second)
	_, err := r.conn.Finish(t.Context(), callbackRequest(cb), step.State)
	wantCode(t, err, CodeTokenInvalid)

	step = r.begin(t, federation.BeginRequest{})
	cb = r.login(t, step)
	_, err = r.conn.Finish(t.Context(), callbackRequest(cb), step.State)
	wantCode(t, err, CodeTokenInvalid) // a token that expired on the connector's clock
	r.clock.Advance(-ClockSkew - 5*time.Second)
	step = r.begin(t, federation.BeginRequest{})
	cb = r.login(t, step)
	if _, err := r.conn.Finish(t.Context(), callbackRequest(cb), step.State); err != nil {
		t.Fatalf("the same token before its exp: %v", err)
	}
}

// TestForceAuthnFreshness: after prompt=login, an auth_time older than the
// sign-in is refused.
func TestForceAuthnFreshness(t *testing.T) {
	r := newRig(t)
	r.op.rewriteClaims(nil, func(c map[string]any) { c["auth_time"] = r.clock.Now().Add(-2 * time.Hour).Unix() })
	step := r.begin(t, federation.BeginRequest{ForceAuthn: true})
	_, err := r.conn.Finish(t.Context(), callbackRequest(r.login(t, step)), step.State)
	wantCode(t, err, CodeTokenInvalid)

	step = r.begin(t, federation.BeginRequest{})
	id, err := r.conn.Finish(t.Context(), callbackRequest(r.login(t, step)), step.State)
	if err != nil {
		t.Fatalf("without ForceAuthn an old auth_time is the provider's business: %v", err)
	}
	if want := r.clock.Now().Add(-2 * time.Hour).Unix(); id.AuthTime.Unix() != want {
		t.Errorf("auth time %v; want the token's", id.AuthTime)
	}
}

// TestEmailVerifiedSource is OIDC-16 (c): email_verified in the ID token
// does not vouch for an email that only userinfo sent.
func TestEmailVerifiedSource(t *testing.T) {
	r := newRig(t)
	r.op.rewriteClaims(nil, func(c map[string]any) { c["email_verified"] = true })
	r.op.set(func(o *testOP) {
		o.userinfo = func(c map[string]any) {
			c["email"] = "victim@example.org"
			delete(c, "email_verified")
		}
	})
	id, err := r.flow(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if id.Email != "victim@example.org" || id.EmailVerified {
		t.Errorf("email %q verified %v; want the userinfo address, unverified", id.Email, id.EmailVerified)
	}

	// The ID token's own email wins over userinfo's, with its own flag.
	r.op.rewriteClaims(nil, func(c map[string]any) {
		c["email"] = aliceEmail
		c["email_verified"] = false
	})
	r.op.set(func(o *testOP) { o.userinfo = func(c map[string]any) { c["email"] = "victim@example.org" } })
	id, err = r.flow(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if id.Email != aliceEmail || id.EmailVerified {
		t.Errorf("email %q verified %v; want the ID token's, unverified", id.Email, id.EmailVerified)
	}
}

// TestRequiredClaims: a pinned claim with another value is refused (the
// Google Workspace hd rule).
func TestRequiredClaims(t *testing.T) {
	r := newRig(t, func(c *Config) { c.RequiredClaims = map[string][]string{"hd": {"example.com"}} })
	_, err := r.flow(t, nil)
	wantCode(t, err, CodeClaimRefused)
	r.op.rewriteClaims(nil, func(c map[string]any) { c["hd"] = "gmail.example" })
	_, err = r.flow(t, nil)
	wantCode(t, err, CodeClaimRefused)
	r.op.rewriteClaims(nil, func(c map[string]any) { c["hd"] = "example.com" })
	id, err := r.flow(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.conn.mapping.CustomValues(id.Attributes); len(got) != 0 {
		t.Errorf("custom values %v without a custom mapping", got)
	}
	if got := (ClaimMapping{Custom: map[string]string{"hosted_domain": "hd", "absent": "nope"}}).CustomValues(id.Attributes); len(got) != 1 || got["hosted_domain"][0] != "example.com" {
		t.Errorf("custom values %v", got)
	}
}

// algNone re-encodes a JWT with alg none and no signature.
func algNone(tok string) string {
	parts := strings.Split(tok, ".")
	head, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT"})
	return base64.RawURLEncoding.EncodeToString(head) + "." + parts[1] + "."
}

// opKey and opKID are the test OP's own signing key and its kid.
func opKey(t testing.TB, o *testOP) any {
	t.Helper()
	k, err := o.store.SigningKey(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return k.Key()
}

func opKID(t testing.TB, o *testOP) string {
	t.Helper()
	k, err := o.store.SigningKey(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return k.ID()
}
