package web

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/federation"
	"github.com/gatehouse-id/gatehouse/federation/connectors"
	"github.com/gatehouse-id/gatehouse/internal/seal"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// ssoFuzz is the hosted pages with the real federation/connectors
// Registry over a real SAML connection (SP keys made by
// CreateSAMLConnection, an IdP certificate no fuzzer holds the key of)
// and a real OIDC connection whose provider (discovery, JWKS, token
// endpoint) is served in-process.
type ssoFuzz struct {
	h          http.Handler
	flow       *fakeFlow
	client     *ent.Client
	svc        *tenants.Service
	reg        *connectors.Registry
	saml, oidc *ent.Connection
	authReq    string
}

func newSSOFuzz(f *testing.F) *ssoFuzz {
	f.Helper()
	db := testdb.All(f)[0] // SQLite: the handlers, not the database, are under test
	client := db.Client()
	clock := testkit.NewClock()
	sl, err := seal.New(make([]byte, seal.KeySize))
	if err != nil {
		f.Fatal(err)
	}
	svc := tenants.NewService(client, tenants.WithClock(clock.Now), tenants.WithPasswordParams(cheap), tenants.WithSealer(sl),
		tenants.WithDev(true), tenants.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	admin := viewer.NewContext(context.Background(), &viewer.Viewer{Kind: viewer.Instance, Actor: "key_admin"})
	org, err := svc.CreateOrganization(admin, tenants.CreateOrganizationInput{Name: "Initech", Slug: "initech"})
	if err != nil {
		f.Fatal(err)
	}
	saml, err := svc.CreateSAMLConnection(admin, tenants.CreateSAMLConnectionInput{OrganizationID: org.ID, Name: "Okta",
		IdP: tenants.SAMLIdP{EntityID: "http://www.okta.com/exk1", SSOURL: "https://initech.okta.example/sso", Certificates: []string{fuzzIdPCert(f)}}})
	if err != nil {
		f.Fatal(err)
	}
	if saml, err = svc.ActivateConnection(admin, saml.ID); err != nil {
		f.Fatal(err)
	}

	// The OIDC provider: discovery, an empty JWKS, a token endpoint that
	// knows no code.
	op := httptest.NewServer(nil)
	f.Cleanup(op.Close)
	op.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			_ = json.NewEncoder(w).Encode(map[string]any{"issuer": op.URL, "authorization_endpoint": op.URL + "/authorize",
				"token_endpoint": op.URL + "/token", "jwks_uri": op.URL + "/jwks", "response_types_supported": []string{"code"},
				"subject_types_supported": []string{"public"}, "id_token_signing_alg_values_supported": []string{"RS256"},
				"code_challenge_methods_supported": []string{"S256"}, "authorization_response_iss_parameter_supported": true})
		case "/jwks":
			_, _ = w.Write([]byte(`{"keys":[]}`))
		case "/token":
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
		default:
			http.NotFound(w, r)
		}
	})
	oidc, err := svc.CreateOIDCConnection(admin, tenants.CreateOIDCConnectionInput{OrganizationID: org.ID, Name: "Entra",
		Issuer: op.URL, ClientID: "gatehouse", ClientSecret: "client-secret-0123456789"})
	if err != nil {
		f.Fatal(err)
	}
	if oidc, err = svc.ActivateConnection(admin, oidc.ID); err != nil {
		f.Fatal(err)
	}

	const issuer = "http://127.0.0.1"
	reg := connectors.New(connectors.Config{Tenants: svc, Issuer: issuer, HTTPClient: op.Client(), Now: clock.Now})
	flow := &fakeFlow{client: client, now: clock.Now, reqs: map[string]*LoginRequest{}, done: map[string]Authentication{},
		failed: map[string]string{}, base: "https://app.example"}
	w, err := New(Config{Flow: flow, Client: client, Tenants: svc, SSO: reg, Issuer: issuer, Now: clock.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), PasswordParams: cheap, Mailer: &mailbox{}})
	if err != nil {
		f.Fatal(err)
	}
	return &ssoFuzz{h: w.Handler(), flow: flow, client: client, svc: svc, reg: reg, saml: saml, oidc: oidc,
		authReq: flow.add(LoginRequest{FirstParty: true})}
}

// fuzzIdPCert is an IdP's signing certificate (RSA-2048), whose key is
// thrown away.
func fuzzIdPCert(f *testing.F) string {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		f.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idp"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(253402300799, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		f.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// attempt begins a real sign-in at conn, as beginSSO does, and returns
// its relay token (the SAML RelayState), the browser token (the sso
// cookie) and the connector's way to the IdP.
func (z *ssoFuzz) attempt(t *testing.T, conn *ent.Connection) (relay, browser string, step federation.Step) {
	t.Helper()
	ctx := t.Context()
	c, err := z.reg.Connector(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	ep := federation.ConnectionEndpoints("http://127.0.0.1", conn.ID)
	browser, err = z.svc.StartSSOAttempt(ctx, tenants.NewSSOAttempt{ConnectionID: conn.ID, AuthRequestID: z.authReq,
		Begin: func(r string) ([]byte, error) {
			relay = r
			br := federation.BeginRequest{CallbackURL: ep.OIDCRedirectURI}
			if conn.ID == z.saml.ID {
				br.CallbackURL, br.RelayState = ep.SAMLACS, r
			}
			step, err = c.Begin(ctx, br)
			return step.State, err
		}})
	if err != nil {
		t.Fatal(err)
	}
	return relay, browser, step
}

// check holds every answer to what a random one may do: no 5xx, no user,
// no completed request, no session.
func (z *ssoFuzz) check(t *testing.T, what string, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("%s: %d\n%s", what, rec.Code, rec.Body)
	}
	if n := z.client.User.Query().CountX(viewer.SystemContext(t.Context())); n != 0 {
		t.Fatalf("%s created %d users", what, n)
	}
	if _, ok := z.flow.completed(z.authReq); ok {
		t.Fatalf("%s completed the request", what)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == "gatehouse_session" && c.Value != "" {
			t.Fatalf("%s set a session", what)
		}
	}
}

// samlSeeds are ACS bodies of every shape an attacker or a broken IdP
// posts.
func samlSeeds() []string {
	b64 := base64.StdEncoding.EncodeToString
	doctype := `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "xxxxxxxx"><!ENTITY y "&x;&x;&x;&x;&x;&x;">]>` +
		`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_1" Version="2.0">&y;</samlp:Response>`
	unsigned := `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_1" Version="2.0" IssueInstant="2030-01-01T00:00:00Z">` +
		`<saml:Issuer>http://www.okta.com/exk1</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
		`<saml:Assertion ID="_2" Version="2.0" IssueInstant="2030-01-01T00:00:00Z"><saml:Issuer>http://www.okta.com/exk1</saml:Issuer>` +
		`<saml:Subject><saml:NameID>peter@initech.com<!---->.evil</saml:NameID></saml:Subject></saml:Assertion></samlp:Response>`
	return []string{
		"",
		"SAMLResponse=",
		"SAMLResponse=" + url.QueryEscape(b64([]byte("not xml at all"))),
		"SAMLResponse=%%%%&RelayState=%zz",
		"SAMLResponse=" + url.QueryEscape("!!!not base64!!!"),
		"SAMLResponse=" + url.QueryEscape(b64([]byte(doctype))),
		"SAMLResponse=" + url.QueryEscape(b64([]byte(unsigned))),
		"SAMLResponse=" + url.QueryEscape(b64([]byte(unsigned))) + "&SAMLResponse=" + url.QueryEscape(b64([]byte(doctype))),
		"SAMLResponse=" + url.QueryEscape(b64([]byte(unsigned))) + "&RelayState=" + strings.Repeat("R", 100_000),
		"RelayState=a&RelayState=b&SAMLResponse=x&SAMLResponse=y",
		strings.Repeat("a=b&", 5000),
	}
}

// FuzzSAMLACS posts random forms to a real SAML connection's ACS, as an
// unsolicited response and as the answer to a real attempt (its
// RelayState swapped in): nothing answers 5xx, provisions a user,
// completes the request or starts a session.
func FuzzSAMLACS(f *testing.F) {
	z := newSSOFuzz(f)
	for _, s := range samlSeeds() {
		f.Add(s, false)
		f.Add(s, true)
	}
	acs := "/sso/saml/" + string(z.saml.ID) + "/acs"
	f.Fuzz(func(t *testing.T, body string, answer bool) {
		if answer {
			relay, _, _ := z.attempt(t, z.saml)
			if form, err := url.ParseQuery(body); err == nil {
				form.Set("RelayState", relay)
				body = form.Encode()
			}
		}
		req := httptest.NewRequest(http.MethodPost, acs, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		z.h.ServeHTTP(rec, req)
		z.check(t, "ACS "+truncateSeed(body), rec)
		if rec.Code == http.StatusSeeOther {
			// The ACS kept an identity only for a verified response: none
			// of these is one.
			t.Fatalf("ACS %s accepted the response: %s", truncateSeed(body), rec.Header().Get("Location"))
		}
	})
}

// FuzzOIDCCallback sends random queries to a real OIDC connection's
// callback, with and without the cookie of a real attempt (its state
// swapped in): nothing answers 5xx, provisions a user, completes the
// request or starts a session.
func FuzzOIDCCallback(f *testing.F) {
	z := newSSOFuzz(f)
	for _, q := range []string{
		"",
		"code=abc&state=xyz",
		"code=" + base64.StdEncoding.EncodeToString([]byte("garbage\x00\xff")) + "&state=%zz",
		"error=access_denied&error_description=" + strings.Repeat("d", 10_000),
		"code=a&code=b&state=s&state=t&iss=x&iss=y",
		"code=" + url.QueryEscape(`<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`) + "&state=" + strings.Repeat("S", 100_000),
		"iss=http%3A%2F%2Fevil.example&code=c&state=s",
		"%%%%",
	} {
		f.Add(q, false)
		f.Add(q, true)
	}
	callback := "/sso/oidc/" + string(z.oidc.ID) + "/callback"
	f.Fuzz(func(t *testing.T, query string, withAttempt bool) {
		req := httptest.NewRequest(http.MethodGet, callback, nil)
		req.URL.RawQuery = query
		if withAttempt {
			_, browser, step := z.attempt(t, z.oidc)
			if to, err := url.Parse(step.RedirectURL); err == nil {
				if q, err := url.ParseQuery(query); err == nil {
					q.Set("state", to.Query().Get("state"))
					req.URL.RawQuery = q.Encode()
				}
			}
			req.AddCookie(&http.Cookie{Name: "gatehouse_sso", Value: browser})
		}
		rec := httptest.NewRecorder()
		z.h.ServeHTTP(rec, req)
		z.check(t, "callback "+truncateSeed(req.URL.RawQuery), rec)
	})
}

func truncateSeed(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
