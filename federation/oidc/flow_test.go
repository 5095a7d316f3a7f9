package oidc

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/federation"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
)

const testConnection = pulid.ID("conn_01JTESTC0NNECT10NAAAAAAAAA")

func callbackFor(conn pulid.ID) string {
	return "https://gatehouse.test/sso/oidc/" + string(conn) + "/callback"
}

// rig is a connector to a test OP, with the clock it checks tokens by.
// The OP (zitadel's op) stamps tokens with the real time, so the clock
// starts there (testkit.NewRealClock) and moves only when a test says.
type rig struct {
	op    *testOP
	conn  *Connector
	clock *testkit.Clock
}

func newRig(t testing.TB, mutate ...func(*Config)) *rig {
	t.Helper()
	o := newTestOP(t, callbackFor(testConnection))
	return rigFor(t, o, mutate...)
}

func rigFor(t testing.TB, o *testOP, mutate ...func(*Config)) *rig {
	t.Helper()
	clock := testkit.NewRealClock()
	cfg := Config{
		ConnectionID: testConnection,
		Issuer:       o.Issuer,
		ClientID:     o.ClientID,
		ClientSecret: o.Secret,
		RedirectURL:  o.Redirect,
		Scopes:       []string{"openid", "email", "profile"},
		Now:          clock.Now,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	c, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &rig{op: o, conn: c, clock: clock}
}

// begin starts a sign-in and returns its step.
func (r *rig) begin(t testing.TB, req federation.BeginRequest) federation.Step {
	t.Helper()
	step, err := r.conn.Begin(t.Context(), req)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	return step
}

// login takes the browser through the OP and returns the callback URL it
// was sent to.
func (r *rig) login(t testing.TB, step federation.Step) *url.URL {
	t.Helper()
	return browser(t, step.RedirectURL, r.conn.cfg.RedirectURL, "login")
}

func callbackRequest(u *url.URL) *http.Request {
	return httptest.NewRequestWithContext(context.Background(), http.MethodGet, u.String(), nil)
}

// TestSignIn drives the whole browser flow against zitadel's OP: Begin,
// the authorization endpoint, the OP's login form, the callback, Finish.
func TestSignIn(t *testing.T) {
	r := newRig(t, func(c *Config) { c.Scopes = nil })
	step := r.begin(t, federation.BeginRequest{LoginHint: aliceEmail})
	cb := r.login(t, step)
	id, err := r.conn.Finish(t.Context(), callbackRequest(cb), step.State)
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	if id.ConnectionID != testConnection || id.Subject != aliceID {
		t.Errorf("identity is %s/%q; want %s/%q", id.ConnectionID, id.Subject, testConnection, aliceID)
	}
	// email and profile come from userinfo (the OP keeps them out of the
	// ID token when it issues an access token), groups from the ID token.
	if id.Email != aliceEmail || !id.EmailVerified {
		t.Errorf("email %q verified %v; want %q verified", id.Email, id.EmailVerified, aliceEmail)
	}
	if id.Name != "Alice Liddell" || id.GivenName != "Alice" || id.FamilyName != "Liddell" {
		t.Errorf("names %q %q %q", id.Name, id.GivenName, id.FamilyName)
	}
	if !slices.Equal(id.Groups, aliceGroups) {
		t.Errorf("groups %v; want %v", id.Groups, aliceGroups)
	}
	if !slices.Equal(id.AMR, []string{"pwd"}) {
		t.Errorf("amr %v; want [pwd]", id.AMR)
	}
	if d := id.AuthTime.Sub(r.clock.Now()); id.AuthTime.IsZero() || d < -time.Minute || d > time.Minute {
		t.Errorf("auth time %v, clock %v", id.AuthTime, r.clock.Now())
	}
	for name, want := range map[string]string{"iss": r.op.Issuer, "sub": aliceID, "email": aliceEmail, "email_verified": "true", "aud": r.op.ClientID, "locale": "en"} {
		if got := id.Attributes[name]; len(got) != 1 || got[0] != want {
			t.Errorf("attribute %s = %q; want [%q]", name, got, want)
		}
	}
	if got := id.Attributes["groups"]; !slices.Equal(got, aliceGroups) {
		t.Errorf("attribute groups = %q", got)
	}
}

// TestBeginRequest checks the authorization request Begin builds: code
// flow, PKCE S256 with the verifier kept in the state only, a fresh state
// and nonce, login_hint and prompt=login.
func TestBeginRequest(t *testing.T) {
	r := newRig(t)
	a := r.begin(t, federation.BeginRequest{LoginHint: "bob@example.com", ForceAuthn: true, CallbackURL: r.op.Redirect})
	b := r.begin(t, federation.BeginRequest{})
	u, err := url.Parse(a.RedirectURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	want := map[string]string{
		"response_type": "code", "client_id": r.op.ClientID, "redirect_uri": r.op.Redirect,
		"code_challenge_method": "S256", "login_hint": "bob@example.com", "prompt": "login", "scope": "openid email profile",
	}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("%s = %q; want %q", k, q.Get(k), v)
		}
	}
	txA, err := r.conn.transaction(a.State)
	if err != nil {
		t.Fatal(err)
	}
	txB, _ := r.conn.transaction(b.State)
	if q.Get("state") != txA.State || q.Get("nonce") != txA.Nonce || len(txA.State) < 43 || len(txA.Nonce) < 43 {
		t.Errorf("state %q nonce %q; transaction %+v", q.Get("state"), q.Get("nonce"), txA)
	}
	if txA.State == txB.State || txA.Nonce == txB.Nonce || txA.Verifier == txB.Verifier {
		t.Error("two Begins share a state, nonce or verifier")
	}
	if q.Get("code_challenge") == "" || q.Has("code_verifier") || q.Get("code_challenge") == txA.Verifier {
		t.Errorf("code_challenge %q leaks or lacks the verifier", q.Get("code_challenge"))
	}
	if bq, _ := url.Parse(b.RedirectURL); bq.Query().Has("prompt") || bq.Query().Has("login_hint") {
		t.Errorf("plain Begin sent prompt or login_hint: %s", b.RedirectURL)
	}
	if _, err := r.conn.Begin(t.Context(), federation.BeginRequest{CallbackURL: "https://evil.test/cb"}); err == nil {
		t.Error("Begin accepted a callback URL that is not the connection's")
	}
}
