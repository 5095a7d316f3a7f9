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
	"github.com/gatehouse-id/gatehouse/internal/database"
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
		serveWithProvider(t, srv, p, w)
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

// A returning browser's passkey sign-in (the options, then the assertion;
// a direct sign-in, as bench/hosted makes it) runs a fixed list of
// statements, pinned here so it cannot silently grow. The options: the
// ceremony's INSERT. The assertion: the ceremony taken (DELETE …
// RETURNING); the passkey, its user and whether the user has a second
// factor, in one read (tenants.PasskeyOwner); the counter's conditional
// UPDATE (tenants.UsePasskey); the login policies; then the session and
// its user.login event, one statement on PostgreSQL (data-modifying
// WITH), one transaction of two on SQLite (tenants.CreateSession). Before
// issue 9's last cut the assertion ran 8 statements, each its own
// transaction: the user and the second factor were read apart, and the
// event after the session.
func TestPasskeySignInStatements(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e, n := countingEnv(t, db, func(c *Config) { c.Issuer = pkOrigin })
		ada := e.user(userSpec{email: "ada@example.com", name: "Ada"})
		key := newSoftKey(t, []byte(ada.ID), true)
		e.register(ada, key, 0)
		device := ""
		type counted struct {
			statements []string
			txs        int
		}
		signIn := func() (options, finish counted) {
			// A fresh browser each time, holding only the device cookie
			// of the last sign-in, as bench/hosted's do.
			b := e.browser()
			if device != "" {
				u, _ := url.Parse(e.srv.URL)
				b.http.Jar.SetCookies(u, []*http.Cookie{{Name: e.web.deviceCk, Value: device, Path: "/"}})
			}
			page := b.get("/login")
			wantStatus(t, page, http.StatusOK)
			csrf := page.field("csrf")
			n.Reset()
			ch := challengeOf(t, b.postJSON("/login/passkey/options", map[string]string{"csrf": csrf}))
			options = counted{n.Statements(), n.Transactions()}
			n.Reset()
			r := b.post("/login/passkey", url.Values{"csrf": {csrf}, "credential": {key.assert(ch)}})
			if r.status != http.StatusSeeOther || r.header.Get("Location") != accountPath {
				t.Fatalf("status %d, Location %q; want the account page", r.status, r.header.Get("Location"))
			}
			device = b.cookie(e.web.deviceCk)
			return options, counted{n.Statements(), n.Transactions()}
		}
		signIn() // a new device's first sign-in
		options, finish := signIn()
		if len(options.statements) != 1 || options.txs != 0 || naming(options.statements, "web_authn_ceremonies") != 1 {
			t.Errorf("options: %d statements in %d transactions, want the ceremony's INSERT: %q", len(options.statements), options.txs, options.statements)
		}
		want := counted{txs: 0}
		wantN := 5
		if db.Dialect != database.Postgres {
			want.txs, wantN = 1, 6
		}
		if len(finish.statements) != wantN || finish.txs != want.txs {
			t.Errorf("assertion: %d statements in %d transactions, want %d in %d:\n%s", len(finish.statements), finish.txs, wantN, want.txs,
				strings.Join(finish.statements, "\n"))
		}
		for table, want := range map[string]int{"web_authn_ceremonies": 1, "passkeys": 2, "users": 1, "totp_credentials": 1,
			"organization_policies": 1, "sessions": 1, "audit_events": 1} {
			if got := naming(finish.statements, table); got != want {
				t.Errorf("assertion: %d statements name %s, want %d", got, table, want)
			}
		}
	})
}

// naming counts the statements that name table.
func naming(statements []string, table string) int {
	c := 0
	for _, q := range statements {
		if strings.Contains(q, table) {
			c++
		}
	}
	return c
}
