package provider

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/application"
	_ "github.com/gatehouse-id/gatehouse/ent/runtime"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/internal/seal"
	"github.com/gatehouse-id/gatehouse/internal/secret"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// env is one provider on one database behind an httptest server, with
// seeded applications, a user and an organization.
type env struct {
	t       testing.TB
	db      *ent.Client
	p       *Provider
	srv     *httptest.Server
	issuer  string
	clock   *testkit.Clock
	ctx     context.Context
	user    *ent.User
	org     *ent.Organization
	web     *ent.Application // confidential, code + refresh, secret "web-secret"
	spa     *ent.Application // public, code + refresh
	native  *ent.Application // public, loopback redirect
	machine *ent.Application // client credentials, ES256 access tokens
}

const (
	webSecret     = "web-secret-0123456789abcdefghijklmnop"
	machineSecret = "machine-secret-0123456789abcdefghijkl"
	webRedirect   = "https://app.tenant-a.test/cb"
)

// forEachDB runs f once per backend (SQLite always, PostgreSQL when configured).
func forEachDB(t *testing.T, f func(t *testing.T, e *env)) {
	testdb.Each(t, func(t *testing.T, d testdb.Database) { f(t, newEnv(t, d)) })
}

// newEnv starts a provider on d; opts adjust its Config.
func newEnv(t testing.TB, d testdb.Database, opts ...func(*Config)) *env {
	t.Helper()
	db := d.Client()
	ctx := viewer.SystemContext(context.Background())
	// The clock starts at the real time and is never shifted: the library
	// under the provider reads the real clock (expires_in, introspection's
	// exp check), as a browser does.
	e := &env{t: t, db: db, ctx: ctx, clock: testkit.NewRealClock()}
	e.srv = httptest.NewUnstartedServer(nil)
	e.issuer = "http://" + e.srv.Listener.Addr().String()
	sealer, err := seal.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Issuer: e.issuer, Client: db, Dialect: d.Dialect, Sealer: sealer, CryptoKey: sha256.Sum256([]byte("test")),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: e.clock.Now, AllowHTTPIssuer: true,
	}
	for _, o := range opts {
		o(&cfg)
	}
	e.p, err = New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.srv.Config.Handler = e.p.Handler()
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	e.seed()
	return e
}

func (e *env) seed() {
	t, ctx, db := e.t, e.ctx, e.db
	t.Helper()
	var err error
	e.user, err = db.User.Create().SetEmail("ada@example.com").SetEmailVerified(true).SetName("Ada Lovelace").
		SetGivenName("Ada").SetFamilyName("Lovelace").Save(ctx)
	must(t, err)
	e.org, err = db.Organization.Create().SetName("Acme").SetSlug("acme").Save(ctx)
	must(t, err)
	role, err := db.Role.Create().SetOrganizationID(e.org.ID).SetKey("admin").SetName("Admin").
		SetPermissions([]string{"members:read", "members:write"}).Save(ctx)
	must(t, err)
	_, err = db.Membership.Create().SetOrganizationID(e.org.ID).SetUserID(e.user.ID).AddRoles(role).Save(ctx)
	must(t, err)
	e.web = e.app("web", "WEB", webSecret, []string{webRedirect}, "AUTHORIZATION_CODE", "REFRESH_TOKEN")
	e.spa = e.app("spa", "SPA", "", []string{"https://spa.tenant-a.test/cb"}, "AUTHORIZATION_CODE", "REFRESH_TOKEN")
	e.native = e.app("native", "NATIVE", "", []string{"http://127.0.0.1/cb"}, "AUTHORIZATION_CODE")
	e.machine, err = db.Application.Create().SetName("svc").SetType(application.TypeMACHINE).SetClientID("machine").
		SetSecretHash(secret.Hash(machineSecret)).SetGrantTypes([]string{"CLIENT_CREDENTIALS"}).
		SetScopes([]string{"read", "write"}).SetAccessTokenSigningAlgorithm(application.AccessTokenSigningAlgorithmES256).Save(ctx)
	must(t, err)
}

func (e *env) app(name, typ, sec string, redirects []string, grants ...string) *ent.Application {
	e.t.Helper()
	c := e.db.Application.Create().SetName(name).SetType(application.Type(typ)).SetClientID(name).
		SetRedirectUris(redirects).SetGrantTypes(grants).
		SetPostLogoutRedirectUris([]string{strings.TrimSuffix(redirects[0], "/cb") + "/bye"})
	if sec != "" {
		c.SetSecretHash(secret.Hash(sec))
	} else {
		c.SetTokenEndpointAuthMethod(application.TokenEndpointAuthMethodNONE)
	}
	a, err := c.Save(e.ctx)
	must(e.t, err)
	return a
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// noRedirect is an HTTP client that returns redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// pkce returns a verifier and its S256 challenge (RFC 7636 §4.1–4.2).
func pkce() (verifier, challenge string) {
	verifier = oauth2.GenerateVerifier()
	return verifier, oauth2.S256ChallengeFromVerifier(verifier)
}

// authorize sends an authorization request and returns the response.
func (e *env) authorize(params url.Values) *http.Response {
	e.t.Helper()
	resp, err := noRedirect.Get(e.issuer + pathAuthorize + "?" + params.Encode())
	must(e.t, err)
	resp.Body.Close()
	return resp
}

// login runs authorize → CompleteLogin → callback and returns the
// redirect to the client (its query holds code, state, iss).
func (e *env) login(params url.Values, a Authentication) *url.URL {
	e.t.Helper()
	resp := e.authorize(params)
	if resp.StatusCode != http.StatusFound {
		e.t.Fatalf("authorize: status %d", resp.StatusCode)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc.Path != "/login" {
		e.t.Fatalf("authorize redirected to %s, want /login (error?)", loc)
	}
	id := loc.Query().Get("authRequest")
	if _, err := e.p.LoginRequest(e.ctx, id); err != nil {
		e.t.Fatal(err)
	}
	if a.UserID == "" {
		a.UserID = e.user.ID
	}
	// As the hosted pages do: the origin of the browser's request goes
	// with the completion, for its user.login event.
	page := tenants.WithOrigin(e.ctx, tenants.Origin{IP: "127.0.0.1", UserAgent: "test-browser", RequestID: "req-page"})
	next, err := e.p.CompleteLogin(page, id, a)
	must(e.t, err)
	resp, err = noRedirect.Get(next)
	must(e.t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		e.t.Fatalf("callback: status %d", resp.StatusCode)
	}
	u, _ := url.Parse(resp.Header.Get("Location"))
	return u
}

func codeParams(clientID, redirect, challenge string, scopes ...string) url.Values {
	v := url.Values{
		"client_id": {clientID}, "redirect_uri": {redirect}, "response_type": {"code"},
		"scope": {strings.Join(append([]string{"openid"}, scopes...), " ")}, "state": {"st-1"}, "nonce": {"n-1"},
	}
	if challenge != "" {
		v.Set("code_challenge", challenge)
		v.Set("code_challenge_method", "S256")
	}
	return v
}

func base64URLDecode(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
func base64URLEncode(b []byte) string          { return base64.RawURLEncoding.EncodeToString(b) }
func idOf(s string) pulid.ID                   { return pulid.ID(s) }

// raceRequests is how many concurrent requests a race sends, split
// evenly over the nodes (one or more) it is sent to.
const raceRequests = 10

// raceAnswer is one token endpoint answer.
type raceAnswer struct {
	node   int // index into the nodes the request was sent to
	status int
	body   map[string]any
	err    error
}

// raceTokenRequests posts form to the token endpoints of nodes (base URLs),
// raceRequests times at once, request i going to node i%len(nodes).
// It does not call t.Fatal off the test goroutine: transport errors come
// back in the answers.
func raceTokenRequests(nodes []string, form url.Values, user, pass string) []raceAnswer {
	answers := make([]raceAnswer, raceRequests)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() {
			n := i % len(nodes)
			<-start
			status, body, err := postFormAnswer(nodes[n]+pathToken, form, user, pass)
			answers[i] = raceAnswer{node: n, status: status, body: body, err: err}
		})
	}
	close(start)
	wg.Wait()
	return answers
}

// postFormAnswer posts form and decodes the JSON answer; safe off the test
// goroutine.
func postFormAnswer(u string, form url.Values, user, pass string) (int, map[string]any, error) {
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("decode answer: %w", err)
	}
	return resp.StatusCode, body, nil
}

// requireOneWinner checks that exactly one answer is 200 and every
// other is wantStatus with error wantError, and returns the winner's body.
func requireOneWinner(t *testing.T, what string, answers []raceAnswer, wantStatus int, wantError string) map[string]any {
	t.Helper()
	var winners []raceAnswer
	perNode := map[int]int{}
	for _, a := range answers {
		switch {
		case a.err != nil:
			t.Errorf("%s at node %d: %v", what, a.node, a.err)
		case a.status == http.StatusOK:
			winners = append(winners, a)
			perNode[a.node]++
		case a.status != wantStatus || a.body["error"] != wantError:
			t.Errorf("%s: a loser at node %d answered %d %v, want %d %s", what, a.node, a.status, a.body, wantStatus, wantError)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("%s: %d of %d concurrent requests succeeded (per node: %v), want exactly 1",
			what, len(winners), len(answers), perNode)
	}
	return winners[0].body
}

// signIn runs a code flow for web with scopes and returns the token answer.
func (e *env) signIn(t *testing.T, auth Authentication, scopes ...string) *oauth2.Token {
	t.Helper()
	return e.signInAs(t, "web", webRedirect, webSecret, auth, scopes...)
}

// signInAs runs a code flow for client (confidential when secret is set,
// else public) and returns the token answer.
func (e *env) signInAs(t *testing.T, client, redirect, secret string, auth Authentication, scopes ...string) *oauth2.Token {
	t.Helper()
	conf := oauth2.Config{ClientID: client, ClientSecret: secret, RedirectURL: redirect,
		Endpoint: oauth2.Endpoint{TokenURL: e.issuer + pathToken, AuthStyle: oauth2.AuthStyleInParams}}
	if secret != "" {
		conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	}
	verifier, challenge := pkce()
	cb := e.login(codeParams(client, redirect, challenge, scopes...), auth)
	tok, err := conf.Exchange(context.Background(), cb.Query().Get("code"), oauth2.VerifierOption(verifier))
	must(t, err)
	return tok
}
