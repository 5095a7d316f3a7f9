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

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/application"
	"github.com/gatehouse-id/gatehouse/ent/membership"
	"github.com/gatehouse-id/gatehouse/federation/provider"
	"github.com/gatehouse-id/gatehouse/internal/seal"
	"github.com/gatehouse-id/gatehouse/internal/secret"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
)

// A password sign-in reads the login policies once, however many times it
// is decided (the password step, completion, the flow's CompleteLogin:
// three reads before), and one that the password alone completes writes
// no login transaction (it wrote one and deleted it in the same request).
// One that needs another step keeps its transaction.
func TestPasswordSignInStatements(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e, n := countingEnv(t, db)
		ada := e.user(userSpec{email: "ada@example.com", password: pw})
		acme := e.org("Acme", "acme")
		e.member(ada, acme, membership.StatusACTIVE)
		e.policy(acme, nil)
		strict := e.org("Strict", "strict")
		e.member(ada, strict, membership.StatusACTIVE)
		e.policy(strict, func(c *ent.OrganizationPolicyCreate) { c.SetMfaRequired(true) })

		for _, c := range []struct {
			name   string
			req    LoginRequest
			status int
			txs    int // statements on login_transactions
		}{
			{"one step, into the named organization", LoginRequest{FirstParty: true, WantsOrganization: true,
				RequestedOrganizationID: string(acme.ID), Scopes: []string{"openid", "organization:" + string(acme.ID)}}, http.StatusSeeOther, 0},
			{"a step more (MFA)", LoginRequest{FirstParty: true, WantsOrganization: true,
				RequestedOrganizationID: string(strict.ID), Scopes: []string{"openid", "organization:" + string(strict.ID)}}, http.StatusOK, 1},
		} {
			t.Run(c.name, func(t *testing.T) {
				b := e.browser()
				id := e.flow.add(c.req)
				form := b.get("/login?authRequest=" + id)
				n.Reset()
				r := b.post("/login", url.Values{"authRequest": {id}, "csrf": {form.field("csrf")}, "email": {"ada@example.com"}, "password": {pw}})
				wantStatus(t, r, c.status)
				if got := statementsOn(n, "organization_policies"); got != 1 {
					t.Errorf("read the login policies %d times, want once: %q", got, n.Statements())
				}
				if got := statementsOn(n, "login_transactions"); got != c.txs {
					t.Errorf("%d statements on login transactions, want %d: %q", got, c.txs, n.Statements())
				}
				t.Logf("%d statements", n.Load())
			})
		}
		// A session the next request reuses is decided (pages and flow) on
		// one read as well.
		b := e.browser()
		b.login(e.flow.add(LoginRequest{FirstParty: true, RequestedOrganizationID: string(acme.ID), WantsOrganization: true}), "ada@example.com", pw)
		id := e.flow.add(LoginRequest{FirstParty: true, RequestedOrganizationID: string(acme.ID), WantsOrganization: true})
		n.Reset()
		wantRedirect(t, b.get("/login?authRequest="+id), id)
		if got := statementsOn(n, "organization_policies"); got != 1 {
			t.Errorf("session reuse read the login policies %d times, want once: %q", got, n.Statements())
		}
	})
}

// Through the real provider: the password step, completion and the
// provider's CompleteLogin share one read of the login policies (three
// before), and a one-step sign-in writes no login transaction.
func TestPasswordSignInStatementsWithProvider(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e, n := countingEnv(t, db)
		srv := httptest.NewUnstartedServer(nil)
		issuer := "http://" + srv.Listener.Addr().String()
		sealer, err := seal.New(make([]byte, 32))
		if err != nil {
			t.Fatal(err)
		}
		client := e.web.cfg.Client // the counting one
		p, err := provider.New(sys(t.Context()), provider.Config{
			Issuer: issuer, Client: client, Dialect: db.Dialect, Sealer: sealer, CryptoKey: sha256.Sum256([]byte("test")),
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: e.clock.Now, AllowHTTPIssuer: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		w, err := New(Config{Flow: p, Client: client, Issuer: issuer, Now: e.clock.Now, PasswordParams: cheap,
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

		ada := e.user(userSpec{email: "ada@example.com", name: "Ada", password: pw})
		acme := e.org("Acme", "acme")
		e.member(ada, acme, membership.StatusACTIVE)
		e.policy(acme, nil)
		const redirect = "https://app.example/cb"
		if _, err := e.client.Application.Create().SetName("Web App").SetType(application.TypeWEB).SetClientID("webapp").
			SetFirstParty(true).SetSecretHash(secret.Hash("web-secret-0123456789abcdefghijklmnop")).SetRedirectUris([]string{redirect}).
			SetGrantTypes([]string{"AUTHORIZATION_CODE"}).Save(sys(t.Context())); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(secret.Token(40)))
		b := e.browser()
		r := b.get("/oauth/v2/authorize?" + url.Values{
			"client_id": {"webapp"}, "redirect_uri": {redirect}, "response_type": {"code"}, "scope": {"openid email"},
			"state": {"st4te"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
		}.Encode())
		loc, _ := url.Parse(r.header.Get("Location"))
		if loc == nil || loc.Query().Get("authRequest") == "" {
			t.Fatalf("authorize: %d %q", r.status, r.header.Get("Location"))
		}
		id := loc.Query().Get("authRequest")
		form := b.get("/login?authRequest=" + id)
		n.Reset()
		r = b.post("/login", url.Values{"authRequest": {id}, "csrf": {form.field("csrf")}, "email": {"ada@example.com"}, "password": {pw}})
		wantStatus(t, r, http.StatusSeeOther)
		if !strings.Contains(r.header.Get("Location"), "code=") {
			t.Fatalf("not completed: %q", r.header.Get("Location"))
		}
		if got := statementsOn(n, "organization_policies"); got != 1 {
			t.Errorf("read the login policies %d times, want once: %q", got, n.Statements())
		}
		if got := statementsOn(n, "login_transactions"); got != 0 {
			t.Errorf("%d statements on login transactions, want none: %q", got, n.Statements())
		}
		t.Logf("%d statements", n.Load())
	})
}
