// Package interop runs relying parties that no one here wrote — Go's
// github.com/coreos/go-oidc/v3 with golang.org/x/oauth2, and npm's
// openid-client — against the real gatehouse binary, once per database
// backend (SQLite always, PostgreSQL when GATEHOUSE_TEST_DATABASE_URL is set).
//
// go test -run 'TestInterop/sqlite/Go/RefreshRotation' ./interop targets one
// cell.
package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
	"github.com/gatehouse-id/gatehouse/interop/seed"
)

// The seeded user; every flow signs in as Ada.
const (
	userEmail    = "ada@example.com"
	userPassword = "correct horse battery staple"
	userName     = "Ada Lovelace"
	orgSlug      = "acme"
)

// Client is an application registered over GraphQL.
type Client = seed.Application

// Server is one running `gatehouse serve` with its seeded data.
type Server struct {
	Backend string
	Issuer  string // http://127.0.0.1:<port>, also the base URL
	APIKey  string

	OrgID      string
	OtherOrgID string // an organization Ada is not a member of
	UserID     string

	Web   Client // confidential WEB client, client_secret_basic
	SPA   Client // public SPA client, PKCE S256 required
	Svc   Client // MACHINE client, ES256 access tokens, scope invoices:read
	Short Client // MACHINE client with 60 s access tokens, for expiry

	// The relying party: a local server that answers every request with
	// 200, so a browser that reaches it stops there.
	RP          *httptest.Server
	Callback    string // RP + /cb, registered for Web and SPA
	PostLogout  string // RP + /logged-out, registered post-logout URI
	AppRedirect string // https://app.example.test/cb, registered for Web

	// ShortToken is an access token of Short issued right after seeding;
	// ShortExpiry is its exp.
	ShortToken  string
	ShortExpiry time.Time

	metadata map[string]any // the discovery document, read once at start
	log      *testkit.LogBuffer
}

// TestInterop starts gatehouse once per backend and runs every relying
// party against it.
func TestInterop(t *testing.T) {
	bin := buildGatehouse(t)
	for _, db := range testdb.Empty(t) {
		t.Run(db.Name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, bin, db)
			t.Run("Go", func(t *testing.T) { runGoRP(t, s) })
			t.Run("Node", func(t *testing.T) { runNodeRP(t, s) })
			t.Run("Chromium", func(t *testing.T) { runChromium(t, s) })
			// Last: waits until the token issued at seeding has expired.
			t.Run("ExpiredAccessToken", func(t *testing.T) { testExpiredAccessToken(t, s) })
		})
	}
}

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
	buildOut  []byte
)

// buildGatehouse builds ./cmd/gatehouse once per test binary, or returns
// $GATEHOUSE_INTEROP_BIN when set (a binary built elsewhere, e.g. a release).
func buildGatehouse(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("GATEHOUSE_INTEROP_BIN"); bin != "" {
		return bin
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gatehouse-interop-")
		if err != nil {
			buildErr = err
			return
		}
		buildBin = filepath.Join(dir, "gatehouse")
		cmd := exec.Command("go", "build", "-o", buildBin, "./cmd/gatehouse")
		cmd.Dir = ".."
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build ./cmd/gatehouse: %v\n%s", buildErr, buildOut)
	}
	return buildBin
}

// TestMain removes the binary buildGatehouse built.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildBin != "" {
		_ = os.RemoveAll(filepath.Dir(buildBin))
	}
	os.Exit(code)
}

// startServer launches gatehouse on db and seeds the organizations, Ada
// and the applications.
func startServer(t *testing.T, bin string, db testdb.Database) *Server {
	t.Helper()
	s := launch(t, bin, db)
	s.seed(t)
	// Issued now so that it has expired by the time the last subtest runs.
	if tok, exp, err := s.tryClientCredentials(t, s.Short, ""); err == nil {
		s.ShortToken, s.ShortExpiry = tok, exp
	} else {
		t.Logf("no short-lived token for the expiry check: %v", err)
	}
	return s
}

// launch runs `gatehouse apikey create` and `gatehouse serve` on db with
// extraEnv added to the environment, waits for /readyz and checks that the
// OpenID Provider is there; nothing is seeded. Everything stops in
// t.Cleanup.
func launch(t *testing.T, bin string, db testdb.Database, extraEnv ...string) *Server {
	t.Helper()
	s := &Server{Backend: db.Name, log: &testkit.LogBuffer{}}

	s.RP = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "relying party\n")
	}))
	t.Cleanup(s.RP.Close)
	s.Callback = s.RP.URL + "/cb"
	s.PostLogout = s.RP.URL + "/logged-out"
	s.AppRedirect = "https://app.example.test/cb"

	addr := freeAddr(t)
	s.Issuer = "http://" + addr
	dataDir := db.Config.DataDir
	if dataDir == "" {
		dataDir = t.TempDir() // PostgreSQL: the dev master key file lives here
	}
	env := append(os.Environ(),
		"GATEHOUSE_ADDR="+addr,
		"GATEHOUSE_ISSUER="+s.Issuer,
		"GATEHOUSE_DATA_DIR="+dataDir,
		"GATEHOUSE_DEV=true",
		"GATEHOUSE_LOG_FORMAT=text",
		"GATEHOUSE_DATABASE_URL="+db.Config.URL,
	)
	env = append(env, extraEnv...)

	// The API key, on the same database before the server starts.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	keyCmd := exec.CommandContext(ctx, bin, "apikey", "create", "--name", "interop")
	keyCmd.Env = env
	var keyErr bytes.Buffer
	keyCmd.Stderr = &keyErr
	out, err := keyCmd.Output()
	if err != nil {
		t.Fatalf("gatehouse apikey create: %v\n%s", err, keyErr.Bytes())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	s.APIKey = strings.TrimSpace(lines[len(lines)-1])
	if s.APIKey == "" {
		t.Fatalf("gatehouse apikey create printed no secret:\n%s", out)
	}

	srv := exec.Command(bin, "serve")
	srv.Env = env
	srv.Stdout = s.log
	srv.Stderr = s.log
	if err := srv.Start(); err != nil {
		t.Fatalf("gatehouse serve: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	t.Cleanup(func() {
		_ = srv.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = srv.Process.Kill()
			<-exited
			t.Errorf("gatehouse serve did not stop within 20s of SIGTERM")
		}
		if t.Failed() {
			t.Logf("gatehouse serve log (%s), last lines:\n%s", s.Backend, s.log.Tail(120))
		}
	})
	s.waitReady(t, exited)
	s.requireProvider(t)
	return s
}

// freeAddr returns 127.0.0.1:<port> for a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatalf("free port: %v", err)
	}
	return addr
}

// waitReady polls /readyz until it answers 200, the process exits, or 30 s
// pass.
func (s *Server) waitReady(t *testing.T, exited <-chan error) {
	t.Helper()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := http.Get(s.Issuer + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("gatehouse serve exited before it was ready: %v\n%s", err, s.log.Tail(60))
		case <-deadline.C:
			t.Fatalf("gatehouse serve not ready at %s/readyz after 30s\n%s", s.Issuer, s.log.Tail(60))
		case <-tick.C:
		}
	}
}

// requireProvider fails the test, with a message saying why, when the
// binary serves no OpenID Provider, and keeps its discovery document for
// endpoint.
func (s *Server) requireProvider(t *testing.T) {
	t.Helper()
	u := s.Issuer + "/.well-known/openid-configuration"
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("gatehouse serve has no OpenID Provider: GET %s answered %d %s (want 200 with the discovery document; "+
			"federation/provider must be wired into cmd/gatehouse serve)\n%.300s", u, resp.StatusCode, http.StatusText(resp.StatusCode), body)
	}
	if err := json.Unmarshal(body, &s.metadata); err != nil {
		t.Fatalf("GET %s: decode: %v\n%.300s", u, err, body)
	}
}

// seed creates the organizations, Ada and the applications over GraphQL
// (interop/seed).
func (s *Server) seed(t *testing.T) {
	t.Helper()
	c := &seed.Client{Issuer: s.Issuer, APIKey: s.APIKey}
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	var err error
	s.OrgID, err = c.CreateOrganization(ctx, "Acme", orgSlug)
	must(err)
	s.OtherOrgID, err = c.CreateOrganization(ctx, "Other", "other")
	must(err)
	s.UserID, err = c.CreateUser(ctx, s.OrgID, userEmail, userPassword, userName)
	must(err)

	app := func(input map[string]any) Client {
		t.Helper()
		a, err := c.CreateApplication(ctx, input)
		must(err)
		return a
	}
	s.Web = app(map[string]any{
		"name": "web", "type": "WEB",
		"redirectURIs":           []string{s.Callback, s.AppRedirect},
		"postLogoutRedirectURIs": []string{s.PostLogout},
		"grantTypes":             []string{"AUTHORIZATION_CODE", "REFRESH_TOKEN"},
		"scopes":                 []string{"gatehouse:admin"}, // its users may obtain admin tokens for /graphql
	})
	s.SPA = app(map[string]any{
		"name": "spa", "type": "SPA",
		"redirectURIs":           []string{s.Callback},
		"postLogoutRedirectURIs": []string{s.PostLogout},
		"grantTypes":             []string{"AUTHORIZATION_CODE", "REFRESH_TOKEN"},
	})
	s.Svc = app(map[string]any{
		"name": "svc", "type": "MACHINE",
		"grantTypes":                  []string{"CLIENT_CREDENTIALS"},
		"accessTokenSigningAlgorithm": "ES256",
		"scopes":                      []string{"invoices:read"},
	})
	s.Short = app(map[string]any{
		"name": "short", "type": "MACHINE",
		"grantTypes":                 []string{"CLIENT_CREDENTIALS"},
		"accessTokenLifetimeSeconds": 60, // the smallest allowed
		"scopes":                     []string{"invoices:read"},
	})
	if s.Web.Secret == "" || s.Svc.Secret == "" || s.Short.Secret == "" {
		t.Fatalf("createApplication returned no clientSecret for a WEB or MACHINE application: web=%q svc=%q short=%q", s.Web.Secret, s.Svc.Secret, s.Short.Secret)
	}
	if s.SPA.Secret != "" {
		t.Errorf("createApplication returned a clientSecret for a SPA (public client)")
	}
}

// discovery returns the server's OpenID Provider metadata as a map.
func (s *Server) discovery(t *testing.T) map[string]any {
	t.Helper()
	resp, err := http.Get(s.Issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("discovery: decode: %v", err)
	}
	return m
}

// endpoint returns a URL of the discovery document read at start, failing
// when it is absent.
func (s *Server) endpoint(t *testing.T, name string) string {
	t.Helper()
	v, _ := s.metadata[name].(string)
	if v == "" {
		t.Fatalf("discovery has no %s", name)
	}
	return v
}

// clientCredentialsToken gets an access token for c with the given scope
// (none when empty) and returns it with its exp.
func (s *Server) clientCredentialsToken(t *testing.T, c Client, scope string) (string, time.Time) {
	t.Helper()
	tok, exp, err := s.tryClientCredentials(t, c, scope)
	if err != nil {
		t.Fatal(err)
	}
	return tok, exp
}

func (s *Server) tryClientCredentials(t *testing.T, c Client, scope string) (string, time.Time, error) {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	if scope != "" {
		form.Set("scope", scope)
	}
	status, body, _ := s.postForm(t, s.endpoint(t, "token_endpoint"), form, c)
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &tok); status != http.StatusOK || err != nil || tok.AccessToken == "" {
		return "", time.Time{}, fmt.Errorf("client_credentials for %s (scope %q): %d %s", c.ID, scope, status, body)
	}
	exp := time.Now().Add(time.Duration(tok.ExpiresIn) * time.Second)
	if claims, err := jwtClaims(tok.AccessToken); err == nil {
		if e, ok := claims["exp"].(float64); ok {
			exp = time.Unix(int64(e), 0)
		}
	}
	return tok.AccessToken, exp, nil
}

// postForm posts form to u, authenticating as c with client_secret_basic
// when c has a secret and with client_id in the body otherwise.
func (s *Server) postForm(t *testing.T, u string, form url.Values, c Client) (int, []byte, http.Header) {
	t.Helper()
	if c.Secret == "" && c.ID != "" {
		form.Set("client_id", c.ID)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if c.Secret != "" {
		req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body, resp.Header
}

// introspect asks the introspection endpoint about token as c.
func (s *Server) introspect(t *testing.T, c Client, token string) map[string]any {
	t.Helper()
	u := s.endpoint(t, "introspection_endpoint")
	status, body, _ := s.postForm(t, u, url.Values{"token": {token}}, c)
	var m map[string]any
	if err := json.Unmarshal(body, &m); status != http.StatusOK || err != nil {
		t.Fatalf("POST %s (RFC 7662) as %s: want 200 with a JSON object, got %d %s", u, c.ID, status, body)
	}
	return m
}

// requireActive fails unless introspection says the token is active ==
// want.
func (s *Server) requireActive(t *testing.T, c Client, token string, want bool, what string) map[string]any {
	t.Helper()
	m := s.introspect(t, c, token)
	if got, _ := m["active"].(bool); got != want {
		t.Errorf("introspection of %s: active=%v, want %v (response %v)", what, m["active"], want, m)
	}
	return m
}

// revoke revokes token (RFC 7009) as c.
func (s *Server) revoke(t *testing.T, c Client, token, hint string) {
	t.Helper()
	u := s.endpoint(t, "revocation_endpoint")
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	status, body, _ := s.postForm(t, u, form, c)
	if status != http.StatusOK {
		t.Fatalf("POST %s (RFC 7009) %s: want 200, got %d %s", u, hint, status, body)
	}
}

// userinfo calls the userinfo endpoint with bearer and returns the status
// and body.
func (s *Server) userinfo(t *testing.T, bearer string) (int, []byte, http.Header) {
	t.Helper()
	u := s.endpoint(t, "userinfo_endpoint")
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body, resp.Header
}

// serverClockSkew is the leeway the provider grants on exp, nbf and iat
// (federation/provider clockSkew; RFC 8725 §3.11). An expired token is
// rejected only once it is this far past its exp.
const serverClockSkew = 30 * time.Second

// testExpiredAccessToken waits for the 60-second token issued at seeding to
// expire (60 s is the shortest lifetime an application may have) beyond the
// server's clock skew, then checks that introspection and the token's use
// call it inactive. It is the slow part of the suite; -short skips it.
func testExpiredAccessToken(t *testing.T, s *Server) {
	if testing.Short() {
		t.Skip("-short: skipping the wait for a 60 s access token to expire")
	}
	if s.ShortToken == "" {
		t.Fatal("no access token was issued to the short-lived client at seeding (client_credentials failed; see the log above)")
	}
	wait := time.Until(s.ShortExpiry.Add(serverClockSkew + time.Second))
	if wait > 0 {
		t.Logf("waiting %s for the access token to expire (exp %s)", wait.Round(time.Second), s.ShortExpiry.Format(time.TimeOnly))
		select {
		case <-time.After(wait):
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		}
	}
	s.requireActive(t, s.Short, s.ShortToken, false, "an access token past its exp and the clock skew")
}
