package web

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/ent/application"
	"github.com/gatehouse-id/gatehouse/federation/provider"
	"github.com/gatehouse-id/gatehouse/internal/seal"
	"github.com/gatehouse-id/gatehouse/internal/secret"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
)

// TestWithProvider runs the real handoff: the provider's authorize endpoint
// sends the browser to /login, the form signs in, and the browser ends at
// the application's redirect URI with a code and the state.
func TestWithProvider(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db) // for the client, users and clock
		srv := httptest.NewUnstartedServer(nil)
		issuer := "http://" + srv.Listener.Addr().String()
		sealer, err := seal.New(make([]byte, 32))
		if err != nil {
			t.Fatal(err)
		}
		p, err := provider.New(sys(t.Context()), provider.Config{
			Issuer: issuer, Client: e.client, Sealer: sealer, CryptoKey: sha256.Sum256([]byte("test")),
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: e.clock.Now, Dev: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		w, err := New(Config{Flow: p, Client: e.client, Issuer: issuer, Now: e.clock.Now, PasswordParams: cheap,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle("/", p.Handler())
		for _, path := range w.Paths() {
			mux.Handle(path, w.Handler())
		}
		srv.Config.Handler = mux
		srv.Start()
		t.Cleanup(srv.Close)
		e.srv = srv

		e.user(userSpec{email: "ada@example.com", name: "Ada", password: pw})
		const redirect = "https://app.example/cb"
		if _, err := e.client.Application.Create().SetName("Web App").SetType(application.TypeWEB).SetClientID("webapp").
			SetSecretHash(secret.Hash("web-secret-0123456789abcdefghijklmnop")).SetRedirectUris([]string{redirect}).
			SetGrantTypes([]string{"AUTHORIZATION_CODE"}).Save(sys(t.Context())); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(secret.Token(40)))
		b := e.browser()
		r := b.get("/oauth/v2/authorize?" + url.Values{
			"client_id": {"webapp"}, "redirect_uri": {redirect}, "response_type": {"code"}, "scope": {"openid email"},
			"state": {"st4te"}, "nonce": {"n0nce"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])},
			"code_challenge_method": {"S256"},
		}.Encode())
		loc, _ := url.Parse(r.header.Get("Location"))
		if r.status/100 != 3 || loc == nil || loc.Path != "/login" || loc.Query().Get("authRequest") == "" {
			t.Fatalf("authorize: %d %q", r.status, r.header.Get("Location"))
		}
		id := loc.Query().Get("authRequest")
		r = b.login(id, "ada@example.com", pw)
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

		// Deny on a third party's consent page: the application gets
		// access_denied with its state, through the provider's FailLogin.
		if _, err := e.client.Application.Create().SetName("Third").SetType(application.TypeWEB).SetClientID("thirdapp").
			SetFirstParty(false).SetSecretHash(secret.Hash("third-secret-0123456789abcdefghijklmnop")).SetRedirectUris([]string{redirect}).
			SetGrantTypes([]string{"AUTHORIZATION_CODE"}).Save(sys(t.Context())); err != nil {
			t.Fatal(err)
		}
		r = b.get("/oauth/v2/authorize?" + url.Values{
			"client_id": {"thirdapp"}, "redirect_uri": {redirect}, "response_type": {"code"}, "scope": {"openid email"},
			"state": {"again"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
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

		// RP-initiated logout without a post_logout_redirect_uri ends on
		// the logged-out page, signed out.
		r = b.get("/oidc/v1/end_session")
		for range 3 {
			if r.status/100 != 3 {
				break
			}
			u, _ := url.Parse(r.header.Get("Location"))
			r = b.get(u.RequestURI())
		}
		wantStatus(t, r, http.StatusOK)
		if !strings.Contains(r.body, "You have signed out.") || b.cookie("gatehouse_session") != "" {
			t.Fatalf("logout ended on:\n%s", r.body)
		}
	})
}
