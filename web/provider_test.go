package web

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gatehouse-id/gatehouse/ent/application"
	"github.com/gatehouse-id/gatehouse/ent/session"
	"github.com/gatehouse-id/gatehouse/federation/provider"
	"github.com/gatehouse-id/gatehouse/internal/secret"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// TestWithProvider runs the real handoff: the provider's authorize endpoint
// sends the browser to /login, the form signs in, and the browser ends at
// the application's redirect URI with a code and the state.
func TestWithProvider(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newProviderEnv(t, db)
		issuer := e.web.cfg.Issuer
		e.user(userSpec{email: "ada@example.com", name: "Ada", password: pw})
		const redirect = "https://app.example/cb"
		if _, err := e.client.Application.Create().SetName("Web App").SetType(application.TypeWEB).SetClientID("webapp").
			SetSecretHash(secret.Hash("web-secret-0123456789abcdefghijklmnop")).SetRedirectUris([]string{redirect}).
			SetGrantTypes([]string{"AUTHORIZATION_CODE"}).Save(sys(t.Context())); err != nil {
			t.Fatal(err)
		}
		verifier := oauth2.GenerateVerifier()
		b := e.browser()
		// acr_values asks for multi-factor only: after the password, ada
		// (who has no second factor) enrolls an authenticator app, and the
		// ID token says what happened: amr [pwd otp], acr mfa.
		e.alignClock()
		r := b.get("/oauth/v2/authorize?" + url.Values{
			"client_id": {"webapp"}, "redirect_uri": {redirect}, "response_type": {"code"}, "scope": {"openid email"},
			"state": {"st4te"}, "nonce": {"n0nce"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)},
			"code_challenge_method": {"S256"}, "acr_values": {provider.ACRMultiFactor},
		}.Encode())
		loc, _ := url.Parse(r.header.Get("Location"))
		if r.status/100 != 3 || loc == nil || loc.Path != "/login" || loc.Query().Get("authRequest") == "" {
			t.Fatalf("authorize: %d %q", r.status, r.header.Get("Location"))
		}
		id := loc.Query().Get("authRequest")
		r = b.login(id, "ada@example.com", pw)
		wantStatus(t, r, http.StatusOK)
		key, _, r := b.enrollTOTP(id, r)
		// Third-party by default: consent first.
		if r.status == http.StatusOK && strings.Contains(r.body, "Allow") {
			r = b.post("/consent", url.Values{"authRequest": {id}, "csrf": {r.field("csrf")}, "ticket": {r.field("ticket")}, "action": {"allow"}})
		}
		wantStatus(t, r, http.StatusSeeOther)
		for range 3 { // through the provider's callback to the application
			to := r.header.Get("Location")
			if strings.HasPrefix(to, redirect) {
				break
			}
			u, _ := url.Parse(to)
			r = b.get(u.RequestURI())
		}
		final, _ := url.Parse(r.header.Get("Location"))
		if final == nil || !strings.HasPrefix(final.String(), redirect+"?") || final.Query().Get("code") == "" ||
			final.Query().Get("state") != "st4te" || final.Query().Get("iss") != issuer {
			t.Fatalf("ended at %q (%d)", r.header.Get("Location"), r.status)
		}
		idToken := exchangeCode(t, b, final.Query().Get("code"), redirect, verifier)
		claims := jwtClaims(t, idToken)
		if amr, _ := claims["amr"].([]any); claims["acr"] != provider.ACRMultiFactor || claims["sid"] == nil ||
			len(amr) != 2 || amr[0] != "pwd" || amr[1] != "otp" {
			t.Errorf("ID token claims %v, want acr %s, amr [pwd otp] and a sid", claims, provider.ACRMultiFactor)
		}

		// Deny on a third party's consent page: the application gets
		// access_denied with its state, through the provider's FailLogin.
		if _, err := e.client.Application.Create().SetName("Third").SetType(application.TypeWEB).SetClientID("thirdapp").
			SetFirstParty(false).SetSecretHash(secret.Hash("third-secret-0123456789abcdefghijklmnop")).SetRedirectUris([]string{redirect}).
			SetGrantTypes([]string{"AUTHORIZATION_CODE"}).Save(sys(t.Context())); err != nil {
			t.Fatal(err)
		}
		r = b.get("/oauth/v2/authorize?" + url.Values{
			"client_id": {"thirdapp"}, "redirect_uri": {redirect}, "response_type": {"code"}, "scope": {"openid email"},
			"state": {"again"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
		}.Encode())
		loc, _ = url.Parse(r.header.Get("Location"))
		if loc == nil || loc.Query().Get("authRequest") == "" {
			t.Fatalf("authorize: %d %q", r.status, r.header.Get("Location"))
		}
		id = loc.Query().Get("authRequest")
		c := b.get("/login?authRequest=" + id)
		wantStatus(t, c, http.StatusOK)
		r = b.post("/consent", url.Values{"authRequest": {id}, "csrf": {c.field("csrf")}, "ticket": {c.field("ticket")}, "action": {"deny"}})
		wantStatus(t, r, http.StatusSeeOther)
		denied, _ := url.Parse(r.header.Get("Location"))
		if denied == nil || !strings.HasPrefix(denied.String(), redirect+"?") || denied.Query().Get("error") != "access_denied" ||
			denied.Query().Get("state") != "again" || denied.Query().Get("code") != "" {
			t.Fatalf("deny ended at %q", r.header.Get("Location"))
		}

		// RP-initiated logout with an id_token_hint: the provider revoked
		// the session its sid names, so the logged-out page just says so.
		follow := func(r response) response {
			t.Helper()
			for range 3 {
				if r.status/100 != 3 {
					break
				}
				u, _ := url.Parse(r.header.Get("Location"))
				r = b.get(u.RequestURI())
			}
			return r
		}
		r = follow(b.get("/oidc/v1/end_session?" + url.Values{"id_token_hint": {idToken}}.Encode()))
		wantStatus(t, r, http.StatusOK)
		if !strings.Contains(r.body, "You have signed out.") || len(r.forms()) > 0 || b.cookie("gatehouse_session") != "" {
			t.Fatalf("logout with id_token_hint ended on:\n%s", r.body)
		}

		// Without an id_token_hint anyone can send the browser there
		// (ATO-08): the page asks, and only its form signs out.
		r = b.get("/oauth/v2/authorize?" + url.Values{
			"client_id": {"webapp"}, "redirect_uri": {redirect}, "response_type": {"code"}, "scope": {"openid email"},
			"state": {"st4te"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
		}.Encode())
		loc, _ = url.Parse(r.header.Get("Location"))
		if loc == nil || loc.Query().Get("authRequest") == "" {
			t.Fatalf("authorize: %d %q", r.status, r.header.Get("Location"))
		}
		// Ada enrolled an authenticator app above: every sign-in asks for it.
		again := loc.Query().Get("authRequest")
		if r = b.login(again, "ada@example.com", pw); r.status != http.StatusOK || !r.hasField("code") {
			t.Fatalf("sign in again: %d, want the second step\n%s", r.status, r.body)
		}
		if r = b.postCode(again, r, "code", e.otp(key, 1)); r.status != http.StatusSeeOther {
			t.Fatalf("second step: %d\n%s", r.status, r.body)
		}
		cookie := b.cookie("gatehouse_session")
		r = follow(b.get("/oidc/v1/end_session"))
		wantStatus(t, r, http.StatusOK)
		if !strings.Contains(r.body, "Sign out?") || b.cookie("gatehouse_session") != cookie {
			t.Fatalf("logout without id_token_hint ended on:\n%s", r.body)
		}
		if ok, _ := e.client.Session.Query().Where(session.TokenHash(secret.Hash(cookie)), session.RevokedAtIsNil()).Exist(sys(t.Context())); !ok {
			t.Fatal("a GET of end_session revoked the session")
		}
		r = b.post(provider.LoggedOutPath, url.Values{"csrf": {r.field("csrf")}})
		wantStatus(t, r, http.StatusOK)
		if !strings.Contains(r.body, "You have signed out.") || b.cookie("gatehouse_session") != "" {
			t.Fatalf("sign-out post ended on:\n%s", r.body)
		}
		if ok, _ := e.client.Session.Query().Where(session.TokenHash(secret.Hash(cookie)), session.RevokedAtIsNil()).Exist(sys(t.Context())); ok {
			t.Fatal("the session survived the sign-out post")
		}
	})
}

// newProviderEnv is newEnv with the real provider as the flow (not the
// fake one, which e.flow still holds, unused), the provider and the pages
// served from one server whose address is the issuer.
func newProviderEnv(t *testing.T, db testdb.Database, tweak ...func(*Config)) *env {
	t.Helper()
	e := newEnv(t, db) // for the client, users and clock
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String()
	sealer := testSealer(t)
	p, err := provider.New(sys(t.Context()), provider.Config{
		Issuer: issuer, Client: e.client, Dialect: db.Dialect, Sealer: sealer, CryptoKey: sha256.Sum256([]byte("test")),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: e.clock.Now, AllowHTTPIssuer: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Flow: p, Client: e.client, Issuer: issuer, Now: e.clock.Now, PasswordParams: cheap, Mailer: e.mail,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Tenants: tenants.NewService(e.client, tenants.WithClock(e.clock.Now), tenants.WithPasswordParams(cheap), tenants.WithSealer(sealer))}
	for _, f := range tweak {
		f(&cfg)
	}
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	serveWithProvider(t, srv, p, w)
	e.srv, e.web = srv, w
	return e
}

// exchangeCode redeems code at the provider's token endpoint as the
// "webapp" client and returns the ID token.
func exchangeCode(t *testing.T, b *browser, code, redirect, verifier string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, b.e.srv.URL+"/oauth/v2/token", strings.NewReader(url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {verifier},
	}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("webapp", "web-secret-0123456789abcdefghijklmnop")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var tok struct {
		IDToken string `json:"id_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || res.StatusCode != http.StatusOK || tok.IDToken == "" {
		t.Fatalf("token endpoint: %d %v", res.StatusCode, err)
	}
	return tok.IDToken
}

// jwtClaims reads a JWT's claims without verifying it (the provider's
// tests verify its tokens).
func jwtClaims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

// serveWithProvider serves the provider at / and the pages at their paths
// on srv, as cmd mounts them, and starts it.
func serveWithProvider(t *testing.T, srv *httptest.Server, p interface{ Handler() http.Handler }, w *Web) {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/", p.Handler())
	for _, path := range w.Paths() {
		mux.Handle(path, w.Handler())
	}
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(srv.Close)
}
