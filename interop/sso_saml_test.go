package interop

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/gatehouse-id/gatehouse/internal/secret"
)

// The IdPs' signing keys: RSA-2048 pairs kept in federation/saml's
// testdata (certificates valid 2000–9999, so they never age); making them
// per run is slow on a shared 2-core machine.
func idpKeyFile(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "federation", "saml", "testdata", "keys", name+".pem"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func idpKey(t *testing.T, name string) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	data, err := os.ReadFile(idpKeyFile(t, name))
	if err != nil {
		t.Fatal(err)
	}
	var (
		key  *rsa.PrivateKey
		cert *x509.Certificate
	)
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		switch block.Type {
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "CERTIFICATE":
			cert, err = x509.ParseCertificate(block.Bytes)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if key == nil || cert == nil {
		t.Fatalf("%s: no RSA key and certificate", idpKeyFile(t, name))
	}
	return key, cert
}

// goIdP is crewjam/saml's own IdentityProvider, served in the test
// process as a customer's IdP: it requires signed AuthnRequests, trusts
// the SPs whose metadata it was given (fetched from Gatehouse's
// spMetadataURL), signs in its users with a login form and a session
// cookie, and answers with a signed assertion encrypted to the SP's key.
//
// Its URLs name localhost while Gatehouse's name 127.0.0.1, so the
// response posted to the ACS is cross-site, as it is with a real IdP.
type goIdP struct {
	srv      *httptest.Server
	base     string
	idp      *saml.IdentityProvider
	password string
	logins   []string

	mu       sync.Mutex
	sps      map[string]*saml.EntityDescriptor
	sessions map[string]string // session cookie → email
}

func startGoIdP(t *testing.T, password string, logins ...string) *goIdP {
	t.Helper()
	g := &goIdP{password: password, logins: logins, sps: map[string]*saml.EntityDescriptor{}, sessions: map[string]string{}}
	mux := http.NewServeMux()
	g.srv = httptest.NewServer(mux)
	t.Cleanup(g.srv.Close)
	_, port, _ := net.SplitHostPort(g.srv.Listener.Addr().String())
	g.base = "http://localhost:" + port
	base, _ := url.Parse(g.base)
	key, cert := idpKey(t, "idp")
	g.idp = &saml.IdentityProvider{
		Key: key, Certificate: cert,
		MetadataURL:             *base.JoinPath("metadata"),
		SSOURL:                  *base.JoinPath("sso"),
		ServiceProviderProvider: g,
		SessionProvider:         g,
		SignatureMethod:         dsig.RSASHA256SignatureMethod,
		WantAuthnRequestsSigned: true,
	}
	mux.HandleFunc("/metadata", g.idp.ServeMetadata)
	mux.HandleFunc("/sso", g.idp.ServeSSO)
	mux.HandleFunc("/login", g.serveLogin)
	// An IdP-initiated sign-in to the SP ?sp= names (the IdP's app tile).
	mux.HandleFunc("/idp-initiated", func(w http.ResponseWriter, r *http.Request) {
		g.idp.ServeIDPInitiated(w, r, r.URL.Query().Get("sp"), "")
	})
	return g
}

// metadataXML is the IdP's metadata document, as its admin downloads it.
func (g *goIdP) metadataXML(t *testing.T) string {
	t.Helper()
	b, err := xml.MarshalIndent(g.idp.Metadata(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// trust fetches an SP's metadata from metadataURL and trusts it.
func (g *goIdP) trust(t *testing.T, metadataURL string) {
	t.Helper()
	resp, err := http.Get(metadataURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s (SP metadata): %s\n%.300s", metadataURL, resp.Status, body)
	}
	var sp saml.EntityDescriptor
	if err := xml.Unmarshal(body, &sp); err != nil {
		t.Fatalf("SP metadata from %s: %v\n%.300s", metadataURL, err, body)
	}
	g.mu.Lock()
	g.sps[sp.EntityID] = &sp
	g.mu.Unlock()
}

// GetServiceProvider implements saml.ServiceProviderProvider.
func (g *goIdP) GetServiceProvider(_ *http.Request, id string) (*saml.EntityDescriptor, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if sp, ok := g.sps[id]; ok {
		return sp, nil
	}
	return nil, os.ErrNotExist
}

// GetSession implements saml.SessionProvider: a signed-in browser gets
// its session; any other is sent to the login form, which brings it back
// to the same request.
func (g *goIdP) GetSession(w http.ResponseWriter, r *http.Request, _ *saml.IdpAuthnRequest) *saml.Session {
	if c, err := r.Cookie("goidp_session"); err == nil {
		g.mu.Lock()
		email, ok := g.sessions[c.Value]
		g.mu.Unlock()
		if ok {
			local, _, _ := strings.Cut(email, "@")
			return &saml.Session{
				ID: c.Value, NameID: email, NameIDFormat: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
				UserName: local, UserEmail: email, UserGivenName: strings.ToUpper(local[:1]) + local[1:], UserSurname: "Crewjam",
				UserCommonName: local + " Crewjam", Groups: []string{"staff"},
			}
		}
	}
	if r.Method != http.MethodGet {
		http.Error(w, "this IdP takes AuthnRequests by HTTP-Redirect only", http.StatusBadRequest)
		return nil
	}
	http.Redirect(w, r, "/login?return="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
	return nil
}

func (g *goIdP) serveLogin(w http.ResponseWriter, r *http.Request) {
	back := r.FormValue("return")
	if !strings.HasPrefix(back, "/sso?") {
		http.Error(w, "bad return address", http.StatusBadRequest)
		return
	}
	if r.Method == http.MethodPost {
		if slices.Contains(g.logins, r.PostFormValue("username")) && r.PostFormValue("password") == g.password {
			sid := secret.Token(16)
			g.mu.Lock()
			g.sessions[sid] = r.PostFormValue("username")
			g.mu.Unlock()
			// Lax: Chromium's default. (With the HTTP-POST binding a real
			// IdP needs SameSite=None; Secure; Go's cookie jar, which the
			// test that posts uses, applies no SameSite rule.)
			http.SetCookie(w, &http.Cookie{Name: "goidp_session", Value: sid, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
			http.Redirect(w, r, back, http.StatusSeeOther)
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!doctype html><title>crewjam IdP</title><h1>Sign in to the crewjam IdP</h1>
<form method="post" action="/login"><input type="hidden" name="return" value="%s">
<label>Email <input id="username" name="username" autocomplete="username"></label>
<label>Password <input id="password" type="password" name="password"></label>
<button type="submit">Sign in</button></form>`, html.EscapeString(back))
}

// samlCustomer is an organization whose active SAML connection trusts an
// IdP.
type samlCustomer struct {
	orgID, slug string
	conn        conn
}

// setUpSAMLCustomer creates an organization with its verified domain and
// a SAML connection from the IdP's metadata document, and activates it.
func (e *ssoServer) setUpSAMLCustomer(t *testing.T, name, slug, domain, preset, metadataXML string) samlCustomer {
	t.Helper()
	c := samlCustomer{slug: slug}
	c.orgID = e.customer(t, name, slug, domain)
	c.conn = e.createSAMLConnection(t, c.orgID, name+" IdP", preset, metadataXML)
	e.activate(t, c.conn.ID)
	return c
}

// createSAMLConnection creates a DRAFT SAML connection from metadataXML
// and checks what its IT admin must paste into the IdP.
func (e *ssoServer) createSAMLConnection(t *testing.T, orgID, name, preset, metadataXML string) conn {
	t.Helper()
	var created struct{ CreateSAMLConnection struct{ Connection conn } }
	e.do(t, `mutation($o: ID!, $n: String!, $p: ConnectionPreset!, $md: String!) { createSAMLConnection(input: {organizationID: $o, name: $n,
		preset: $p, metadataXML: $md}) { connection { `+connFields+` } } }`,
		map[string]any{"o": orgID, "n": name, "p": preset, "md": metadataXML}, &created)
	cn := created.CreateSAMLConnection.Connection
	base := e.Issuer + "/sso/saml/" + cn.ID
	if cn.State != "DRAFT" || cn.Protocol != "SAML" || cn.ACSURL != base+"/acs" || cn.SPMetadataURL != base+"/metadata" || cn.SPEntityID == "" {
		t.Fatalf("createSAMLConnection: %+v", cn)
	}
	return cn
}

// testSSOSAMLGo: Samir of Hooli signs in through Hooli's IdP, crewjam's
// IdentityProvider, which reads Gatehouse's SP metadata from
// spMetadataURL: signed AuthnRequest, login form, signed and encrypted
// assertion posted cross-site to the ACS, /complete, code, tokens with
// Hooli's claims; a second sign-in, with the AuthnRequest sent by
// HTTP-POST after updateConnection, answered from the IdP's session (no
// form), finds the same user.
func testSSOSAMLGo(t *testing.T, e *ssoServer) {
	const password = "no one can see the cloud"
	samir := "samir@hooli.test"
	g := startGoIdP(t, password, samir, "chromium-saml@hooli.test")
	c := e.setUpSAMLCustomer(t, "Hooli", "hooli", "hooli.test", "GENERIC", g.metadataXML(t))
	g.trust(t, c.conn.SPMetadataURL)

	b := e.browser(t, samir, password)
	tok, idt, asked := b.signIn(t)
	if !asked {
		t.Error("the IdP's login form was never shown")
	}
	claims := requireOrgTokens(t, idt, tok.AccessToken, samir, c.orgID, c.slug, c.conn.ID)
	u, _ := e.requireJIT(t, samir, c.orgID)
	if claims.Subject != u.ID {
		t.Errorf("ID token sub %s, JIT user %s", claims.Subject, u.ID)
	}
	e.requireNameFromIdP(t, samir, "Samir", "Crewjam")

	// The same response posted again, from another browser: refused as a
	// replay (the binary's replay record, on this backend's database),
	// and kept in the connection's attempts with its reason.
	replayed := b.acsPost
	if replayed.action != c.conn.ACSURL || replayed.form.Get("SAMLResponse") == "" {
		t.Fatalf("no SAML response was posted to the ACS %s: %+v", c.conn.ACSURL, replayed)
	}
	// crewjam encrypts to the key the SP metadata publishes for it.
	if raw, err := base64.StdEncoding.DecodeString(replayed.form.Get("SAMLResponse")); err != nil || !strings.Contains(string(raw), "EncryptedAssertion") {
		t.Errorf("crewjam's response is not encrypted to the SP's key (%v): %.300s", err, raw)
	}
	if status, loc := e.postACS(t, replayed.action, replayed.form); status < 400 {
		t.Errorf("a replayed SAML response at the ACS: %d (Location %q), want a refusal", status, loc)
	}
	// Its RelayState names an attempt already answered: refused before
	// the assertion is read.
	if last := e.lastAttempt(t, c.conn.ID); last.Succeeded || last.ErrorCode != "attempt_unknown" {
		t.Errorf("newest attempt after the replay: %+v, want a failure with errorCode attempt_unknown", last)
	}

	// A new Gatehouse session in the same browser, the AuthnRequest now
	// sent by HTTP-POST (signed inside the XML): the IdP's session answers
	// without its form, and the same user is linked.
	var updated struct {
		UpdateConnection struct {
			Connection struct{ IdpSSOBinding string }
		}
	}
	e.do(t, `mutation($id: ID!) { updateConnection(input: {id: $id, ssoBinding: "`+bindingPOST+`"}) { connection { idpSSOBinding } } }`,
		map[string]any{"id": c.conn.ID}, &updated)
	if updated.UpdateConnection.Connection.IdpSSOBinding != bindingPOST {
		t.Fatalf("updateConnection ssoBinding: %+v", updated)
	}
	b.HTTP.Jar = sameIdPSessionOnly(t, b, g.base)
	tok2, idt2, asked := b.signIn(t)
	if asked {
		t.Error("the IdP showed its login form again despite its session")
	}
	if !b.postedRequest {
		t.Error("the AuthnRequest did not go by HTTP-POST after updateConnection")
	}
	if again := requireOrgTokens(t, idt2, tok2.AccessToken, samir, c.orgID, c.slug, c.conn.ID); again.Subject != claims.Subject {
		t.Errorf("second sign-in: sub %s, first %s", again.Subject, claims.Subject)
	}

	// IdP-initiated (the IdP's app tile, no AuthnRequest, no RelayState):
	// refused while the connection does not allow it; once it does, one
	// response signs in, and the same response again is refused by the
	// binary's assertion replay record on this backend's database.
	action, form := g.unsolicited(t, b, c.conn.SPEntityID)
	if status, loc := e.postACS(t, action, form); status < 400 {
		t.Errorf("IdP-initiated response while not allowed: %d (Location %q), want a refusal", status, loc)
	}
	if last := e.lastAttempt(t, c.conn.ID); last.Succeeded || last.ErrorCode != "idp_initiated_disabled" {
		t.Errorf("newest attempt after an IdP-initiated response while not allowed: %+v, want a failure with errorCode idp_initiated_disabled", last)
	}
	e.do(t, `mutation($id: ID!) { updateConnection(input: {id: $id, allowIdPInitiated: true}) { connection { id } } }`,
		map[string]any{"id": c.conn.ID}, &struct{}{})
	action, form = g.unsolicited(t, b, c.conn.SPEntityID)
	if status, loc := e.postACS(t, action, form); status != http.StatusSeeOther || !strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, e.Issuer) {
		t.Errorf("IdP-initiated response once allowed: %d (Location %q), want a redirect on Gatehouse", status, loc)
	} else {
		t.Logf("IdP-initiated sign-in lands at %s", loc)
	}
	if last := e.lastAttempt(t, c.conn.ID); !last.Succeeded {
		t.Errorf("newest attempt after an allowed IdP-initiated response: %+v, want success", last)
	}
	if status, loc := e.postACS(t, action, form); status < 400 {
		t.Errorf("the same IdP-initiated response again: %d (Location %q), want a refusal", status, loc)
	}
	if last := e.lastAttempt(t, c.conn.ID); last.Succeeded || last.ErrorCode != "replayed" {
		t.Errorf("newest attempt after a replayed IdP-initiated response: %+v, want a failure with errorCode replayed", last)
	}
}

// attempt is one of a connection's lastLoginAttempts.
type attempt struct {
	Succeeded   bool
	ErrorCode   string
	ErrorReason string
}

// lastAttempt is the connection's newest sign-in attempt.
func (e *ssoServer) lastAttempt(t *testing.T, connID string) attempt {
	t.Helper()
	var read struct {
		Node struct {
			LastLoginAttempts []struct {
				Succeeded              bool
				ErrorCode, ErrorReason *string
			}
		}
	}
	e.do(t, `query($id: ID!) { node(id: $id) { ... on Connection { lastLoginAttempts { succeeded errorCode errorReason } } } }`,
		map[string]any{"id": connID}, &read)
	if len(read.Node.LastLoginAttempts) == 0 {
		t.Fatalf("connection %s has no sign-in attempts", connID)
	}
	a := read.Node.LastLoginAttempts[0]
	return attempt{Succeeded: a.Succeeded, ErrorCode: deref(a.ErrorCode), ErrorReason: deref(a.ErrorReason)}
}

const bindingPOST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"

// unsolicited has b, signed in at the IdP, click the IdP's tile for the
// SP entityID and returns the response form the IdP's page would post to
// the ACS, without posting it.
func (g *goIdP) unsolicited(t *testing.T, b *ssoBrowser, entityID string) (string, url.Values) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, g.base+"/idp-initiated?sp="+url.QueryEscape(entityID), nil)
	back, asked := b.atIdP(t, req)
	if asked || back.Method != http.MethodPost || b.acsPost.form.Get("SAMLResponse") == "" || b.acsPost.form.Get("RelayState") != "" {
		t.Fatalf("IdP-initiated: %s %s (login form %v, RelayState %q)", back.Method, back.URL, asked, b.acsPost.form.Get("RelayState"))
	}
	return b.acsPost.action, b.acsPost.form
}

// postACS posts form to the ACS with a fresh browser and returns the
// status and the redirect target.
func (e *ssoServer) postACS(t *testing.T, action string, form url.Values) (int, string) {
	t.Helper()
	b := e.browser(t, "", "")
	resp, err := b.HTTP.PostForm(action, form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

// requireNameFromIdP checks the profile JIT provisioning took from the
// assertion.
func (e *ssoServer) requireNameFromIdP(t *testing.T, email, given, family string) {
	t.Helper()
	var out struct {
		User struct{ GivenName, FamilyName *string }
	}
	e.do(t, `query($e: String!) { user(email: $e) { givenName familyName } }`, map[string]any{"e": email}, &out)
	if g, f := out.User.GivenName, out.User.FamilyName; g == nil || f == nil || *g != given || *f != family {
		t.Errorf("JIT user %s: given %v family %v, want %s %s from the assertion", email, deref(g), deref(f), given, family)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// sameIdPSessionOnly returns a cookie jar holding only b's cookies for the
// IdP at idpBase: Gatehouse forgets the browser, the IdP does not.
func sameIdPSessionOnly(t *testing.T, b *ssoBrowser, idpBase string) http.CookieJar {
	t.Helper()
	fresh, err := newJar()
	if err != nil {
		t.Fatal(err)
	}
	u := mustURL(t, idpBase)
	fresh.SetCookies(u, b.HTTP.Jar.Cookies(u))
	if len(fresh.Cookies(u)) == 0 {
		t.Fatal(errors.New("the IdP set no session cookie"))
	}
	return fresh
}

func newJar() (http.CookieJar, error) { return cookiejar.New(nil) }

// testSSOSAMLNode: Pia of Pied Piper signs in through Pied Piper's IdP,
// npm's samlify (node/saml-idp.mjs): its metadata given to
// createSAMLConnection with the Okta preset (the attribute names it
// sends), the signed AuthnRequest checked against the SP metadata it
// fetches from the request's issuer, its login form, a signed assertion
// posted cross-site to the ACS, /complete, code, tokens with Pied Piper's
// claims.
func testSSOSAMLNode(t *testing.T, e *ssoServer) {
	const password = "middle out compression"
	pia := "pia@piedpiper.test"
	base := startNodePeer(t, "saml-idp.mjs", []string{
		"SAML_IDP_KEY_FILE=" + idpKeyFile(t, "idp-next"), "SAML_IDP_LOGIN=" + pia, "SAML_IDP_PASSWORD=" + password,
		"SAML_IDP_SP_PREFIX=" + e.Issuer + "/sso/saml/", "SAML_IDP_HOSTNAME=localhost",
	}, "0")
	resp, err := http.Get(base + "/metadata")
	if err != nil {
		t.Fatal(err)
	}
	md, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("samlify metadata: %s\n%.300s", resp.Status, md)
	}
	c := e.setUpSAMLCustomer(t, "Pied Piper", "piedpiper", "piedpiper.test", "OKTA", string(md))

	tok, idt, asked := e.browser(t, pia, password).signIn(t)
	if !asked {
		t.Error("samlify's login form was never shown")
	}
	claims := requireOrgTokens(t, idt, tok.AccessToken, pia, c.orgID, c.slug, c.conn.ID)
	u, _ := e.requireJIT(t, pia, c.orgID)
	if claims.Subject != u.ID {
		t.Errorf("ID token sub %s, JIT user %s", claims.Subject, u.ID)
	}
	e.requireNameFromIdP(t, pia, "Pia", "Samlify")

	// What the IT admin sees of the sign-in: the attributes samlify sent.
	var read struct {
		Node struct {
			LastLoginAttempts []struct {
				Succeeded  bool
				Email      *string
				Attributes []struct {
					Name   string
					Values []string
				}
			}
		}
	}
	e.do(t, `query($id: ID!) { node(id: $id) { ... on Connection { lastLoginAttempts { succeeded email attributes { name values } } } } }`,
		map[string]any{"id": c.conn.ID}, &read)
	attempts := read.Node.LastLoginAttempts
	if len(attempts) != 1 || !attempts[0].Succeeded || deref(attempts[0].Email) != pia {
		t.Fatalf("lastLoginAttempts after one sign-in: %+v", attempts)
	}
	got := map[string]string{}
	for _, a := range attempts[0].Attributes {
		got[a.Name] = strings.Join(a.Values, ",")
	}
	if got["email"] != pia || got["firstName"] != "Pia" || got["lastName"] != "Samlify" || got["groups"] != "engineering" {
		t.Errorf("lastLoginAttempts attributes %v, want samlify's email, firstName, lastName and groups", got)
	}
}
