package web

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/gatehouse-id/gatehouse/ent/connection"
	"github.com/gatehouse-id/gatehouse/ent/user"
	"github.com/gatehouse-id/gatehouse/federation/connectors"
	"github.com/gatehouse-id/gatehouse/graph"
	"github.com/gatehouse-id/gatehouse/internal/httpserver"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// The registry cmd gives the pages shows each preset's defaults.
var _ PresetMappings = (*connectors.Registry)(nil)

// portalIdP is crewjam/saml's own IdentityProvider, served in-process as
// the customer's IdP: it trusts the SP whose metadata URL the IT admin
// copies from the portal (fetched from Gatehouse when a request comes),
// and signs in its one user at once.
type portalIdP struct {
	srv   *httptest.Server
	idp   *saml.IdentityProvider
	mu    sync.Mutex
	spURL string // the SP metadata URL copied from the portal
}

func (p *portalIdP) GetServiceProvider(_ *http.Request, id string) (*saml.EntityDescriptor, error) {
	p.mu.Lock()
	u := p.spURL
	p.mu.Unlock()
	if u == "" || id != u { // the SP entity id is its metadata URL
		return nil, os.ErrNotExist
	}
	res, err := http.Get(u)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	var sp saml.EntityDescriptor
	if err := xml.Unmarshal(b, &sp); err != nil {
		return nil, fmt.Errorf("SP metadata at %s: %w", u, err)
	}
	return &sp, nil
}

// GetSession signs in the IdP's user without a form (auto-login).
func (p *portalIdP) GetSession(http.ResponseWriter, *http.Request, *saml.IdpAuthnRequest) *saml.Session {
	return &saml.Session{ID: "s1", NameID: "it-admin@initech.com", NameIDFormat: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
		UserName: "itadmin", UserEmail: "it-admin@initech.com", UserGivenName: "Samir", UserSurname: "Nagheenanajar",
		UserCommonName: "Samir Nagheenanajar", Groups: []string{"it"}}
}

func newPortalIdP(t *testing.T) *portalIdP {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "federation/saml/testdata/keys/idp.pem"))
	if err != nil {
		t.Fatal(err)
	}
	p := &portalIdP{}
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		switch block.Type {
		case "RSA PRIVATE KEY":
			key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			p.idp = &saml.IdentityProvider{Key: key}
		case "CERTIFICATE":
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { p.idp.Certificate = cert }()
		}
	}
	mux := http.NewServeMux()
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	base, _ := url.Parse(p.srv.URL)
	p.idp.MetadataURL, p.idp.SSOURL = *base.JoinPath("metadata"), *base.JoinPath("sso")
	p.idp.ServiceProviderProvider, p.idp.SessionProvider = p, p
	p.idp.SignatureMethod = dsig.RSASHA256SignatureMethod
	p.idp.WantAuthnRequestsSigned = true
	mux.HandleFunc("/sso", func(w http.ResponseWriter, r *http.Request) { p.idp.ServeSSO(w, r) })
	mux.HandleFunc("/metadata", func(w http.ResponseWriter, r *http.Request) { p.idp.ServeMetadata(w, r) })
	return p
}

// A customer IT admin's whole SSO setup in Chromium: the portal link,
// "Generic SAML", the SP details copied into the IdP, the IdP's metadata
// XML pasted, a test sign-in at the IdP in a new tab whose result page
// shows the attributes, and activation: the connection is ACTIVE, and
// the test created no user.
func TestChromiumAdminPortalSSO(t *testing.T) {
	t.Parallel()
	if testkit.Shift() != 0 {
		t.Skipf("runs on the real clock (Chromium and the IdP keep time), which %s does not move", testkit.ShiftEnv)
	}
	db := testdb.All(t)[0]
	browser := chromiumWithin(t, 4*time.Minute)
	start := time.Now()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	clock := testkit.NewRealClock()
	svc := tenants.NewService(db.Client(), tenants.WithClock(clock.Now), tenants.WithSealer(testSealer(t)), tenants.WithPasswordParams(cheap))
	reg := connectors.New(connectors.Config{Tenants: svc, Issuer: base, HTTPClient: http.DefaultClient})
	e := newEnvAt(t, db, clock, func(c *Config) { c.Issuer, c.SSO, c.Tenants = base, reg, svc })
	api := graph.NewHandler(graph.Config{Service: svc, Issuer: base, ParseSAMLMetadata: connectors.ParseSAMLMetadata(http.DefaultClient),
		SAMLSPMetadata: reg.Metadata, Logger: e.web.cfg.Logger})
	mux := http.NewServeMux()
	mux.Handle("/graphql", api)
	mux.Handle("/", e.web.Handler())
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: httpserver.RequestID(mux)}}
	srv.Start()
	t.Cleanup(srv.Close)
	idp := newPortalIdP(t)
	idpMetadata, err := xml.MarshalIndent(idp.idp.Metadata(), "", " ")
	if err != nil {
		t.Fatal(err)
	}

	ctx := sys(t.Context())
	initech, err := svc.CreateOrganization(ctx, tenants.CreateOrganizationInput{Name: "Initech", Slug: "initech"})
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := svc.CreateAdminPortalLink(ctx, tenants.CreateAdminPortalLinkInput{OrganizationID: initech.ID, Intent: tenants.PortalIntentSSO})
	if err != nil {
		t.Fatal(err)
	}
	link := graph.PortalURL(base, token)

	value := func(tab context.Context, id string) string {
		t.Helper()
		v, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.getElementById(`+fmt.Sprintf("%q", id)+`).value`))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	err = chromedp.Do(browser,
		chromedp.Navigate(link),
		chromedp.Click(byButton("Start setup")),
		settled("#step-provider"),
		chromedp.Click(chromedp.CSS(`input[name=provider][value=generic_saml]`)),
		chromedp.Click(byButton("Create connection")),
		chromedp.WaitVisible(chromedp.CSS("#sp-acs")),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitValue(t, browser, "sp-metadata")
	// The portal with its SP details on screen passes axe-core (WCAG 2
	// A and AA), as every hosted page does (TestChromiumPages).
	if axe, err := os.ReadFile(filepath.Join(repoRoot(t), axePath)); err == nil {
		(&tab{t: t, ctx: browser, state: "portal-sso", lang: "en"}).accessible(string(axe))
	} else {
		t.Logf("axe-core not installed (npm ci in interop/node): the accessibility check is left out")
	}
	acs, entity, mdURL := value(browser, "sp-acs"), value(browser, "sp-entity"), value(browser, "sp-metadata")
	conns := e.client.Connection.Query().AllX(ctx)
	if len(conns) != 1 || conns[0].State != connection.StateDRAFT || conns[0].Preset != connection.PresetGENERIC ||
		acs != base+"/sso/saml/"+string(conns[0].ID)+"/acs" || entity != mdURL {
		t.Fatalf("connection %+v; ACS %q, entity %q, metadata %q", conns, acs, entity, mdURL)
	}
	// The generic preset's defaults are shown (federation/saml.Presets).
	if ph, _ := chromedp.Run(browser, chromedp.Evaluate[string](`document.getElementById("map-email").placeholder`)); ph != "urn:oid:0.9.2342.19200300.100.1.3" {
		t.Errorf("email mapping placeholder %q, want the generic preset's", ph)
	}
	// The IT admin copies the SP details into the IdP.
	idp.mu.Lock()
	idp.spURL = mdURL
	idp.mu.Unlock()

	err = chromedp.Do(browser,
		chromedp.SetValue(chromedp.CSS("#metadata-xml"), string(idpMetadata)),
		chromedp.Click(byButton("Save")),
		chromedp.WaitVisible(chromedp.CSS("#step-test")),
	)
	if err != nil {
		t.Fatal(err)
	}

	// The test sign-in opens a new tab: the IdP signs in at once and the
	// answer comes back to the result page.
	opened := chromedp.WaitNewTarget(browser, func(info *target.Info) bool {
		// Not the portal's own tab: one on its way to the IdP or back.
		return info.Type == "page" && (info.URL == base+"/portal/test" || strings.HasPrefix(info.URL, idp.srv.URL) ||
			strings.HasPrefix(info.URL, base+"/sso/"))
	})
	if err := chromedp.Do(browser, chromedp.Click(byButton("Test sign-in"))); err != nil {
		t.Fatal(err)
	}
	t.Logf("clicked test sign-in after %v", time.Since(start))
	var id target.ID
	select {
	case id = <-opened:
	case <-time.After(30 * time.Second):
		t.Fatal("the test sign-in opened no tab")
	}
	// The new tab ends on the result page (/sso/saml/<id>/complete); the
	// result page itself is TestPortalTestSignIn's. The portal shows the
	// recorded attempt, read through the API (lastLoginAttempts).
	deadline := time.Now().Add(60 * time.Second)
	for {
		infos, err := chromedp.Targets(browser)
		if err != nil {
			t.Fatal(err)
		}
		url := ""
		for _, info := range infos {
			if info.TargetID == id {
				url = info.URL
			}
		}
		if strings.HasPrefix(url, base+"/sso/saml/"+string(conns[0].ID)+"/complete") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the test tab is at %q", url)
		}
		time.Sleep(100 * time.Millisecond) // polls the browser; no outcome depends on it
	}
	// The IT admin closes the test tab and goes on in the portal's.
	if _, err := chromedp.CallBrowser(browser, target.CloseTarget, target.CloseTargetParams{TargetID: id}); err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(browser,
		chromedp.Click(byButton("Show the latest result")),
		chromedp.WaitVisible(chromedp.CSS("#attempt p")),
	)
	if err != nil {
		t.Fatal(err)
	}
	shown, _ := chromedp.Run(browser, chromedp.Evaluate[string](`document.getElementById("attempt").innerText + " / " + document.getElementById("portal-error").innerText`))
	if !strings.Contains(shown, "it-admin@initech.com") || !strings.Contains(shown, "urn:oid:2.5.4.42: Samir") {
		t.Fatalf("the portal shows the attempt as:\n%s", shown)
	}
	err = chromedp.Do(browser,
		chromedp.Click(byButton("Activate connection")),
		chromedp.Poll[chromedp.Void](`document.getElementById("connection-state").textContent === "ACTIVE"`),
	)
	if err != nil {
		t.Fatal(err)
	}
	c := e.client.Connection.GetX(ctx, conns[0].ID)
	if c.State != connection.StateACTIVE {
		t.Errorf("connection %s, want ACTIVE", c.State)
	}
	if n := e.client.User.Query().Where(user.Email("it-admin@initech.com")).CountX(ctx); n != 0 {
		t.Errorf("the test sign-in created %d users", n)
	}
}

// waitValue waits until the input id has a value.
func waitValue(t *testing.T, tab context.Context, id string) {
	t.Helper()
	if err := chromedp.Do(tab, chromedp.Poll[chromedp.Void](`document.getElementById(`+fmt.Sprintf("%q", id)+`).value !== ""`)); err != nil {
		t.Fatalf("%s never filled: %v", id, err)
	}
}
