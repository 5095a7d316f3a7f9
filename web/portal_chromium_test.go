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

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/connection"
	"github.com/gatehouse-id/gatehouse/ent/domain"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/ent/user"
	"github.com/gatehouse-id/gatehouse/federation/connectors"
	"github.com/gatehouse-id/gatehouse/graph"
	"github.com/gatehouse-id/gatehouse/internal/dnsresolver"
	"github.com/gatehouse-id/gatehouse/internal/dnstest"
	"github.com/gatehouse-id/gatehouse/internal/httpserver"
	"github.com/gatehouse-id/gatehouse/internal/ratelimit"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// The registry cmd gives the pages shows each preset's defaults.
var _ PresetMappings = (*connectors.Registry)(nil)

// portalIdP is crewjam/saml's own IdentityProvider, served in-process as
// the customer's IdP: it trusts the SPs whose metadata URLs the IT admin
// copied from the portal (trust; fetched from Gatehouse when a request
// comes), and signs in its one user at once.
type portalIdP struct {
	srv     *httptest.Server
	idp     *saml.IdentityProvider
	mu      sync.Mutex
	trusted map[string]bool // SP metadata URLs copied from the portal
}

// trust registers the SP whose metadata URL (its entity id) is u.
func (p *portalIdP) trust(u string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.trusted[u] = true
}

func (p *portalIdP) GetServiceProvider(_ *http.Request, id string) (*saml.EntityDescriptor, error) {
	p.mu.Lock()
	ok := p.trusted[id] // the SP entity id is its metadata URL
	p.mu.Unlock()
	if !ok {
		return nil, os.ErrNotExist
	}
	res, err := http.Get(id)
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
		return nil, fmt.Errorf("SP metadata at %s: %w", id, err)
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
	p := &portalIdP{trusted: map[string]bool{}}
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

// portalStack is Gatehouse as cmd serves it to the admin portal: the
// pages and /graphql at one origin (http://127.0.0.1:<port>), connections
// through the real connectors' registry, domains verified against an
// in-process DNS server (internal/dnstest, as GATEHOUSE_DNS_RESOLVER
// points the service at one), and a customer's SAML IdP beside it. Its
// clock stands still unless the test moves it (Chromium keeps real time,
// so it starts at the real time).
type portalStack struct {
	*env
	base string
	svc  *tenants.Service
	dns  *dnstest.Server
	idp  *portalIdP
	// idpMetadata is the IdP's metadata XML, as the IT admin pastes it.
	idpMetadata string
}

func newPortalStack(t *testing.T, db testdb.Database) *portalStack {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	clock := testkit.NewRealClock()
	dns := dnstest.Start(t)
	resolver, err := dnsresolver.New(dns.Addr())
	if err != nil {
		t.Fatal(err)
	}
	svc := tenants.NewService(db.Client(), tenants.WithClock(clock.Now), tenants.WithSealer(testSealer(t)), tenants.WithPasswordParams(cheap),
		tenants.WithDomainChecks(tenants.DomainChecks{Resolver: resolver}))
	reg := connectors.New(connectors.Config{Tenants: svc, Issuer: base, HTTPClient: http.DefaultClient})
	e := newEnvAt(t, db, clock, func(c *Config) {
		c.Issuer, c.SSO, c.Tenants = base, reg, svc
		// Every link is opened from 127.0.0.1: the address allowance is
		// for attackers, not for a test's dozens of portal links.
		c.AddressPolicy = ratelimit.Policy{Free: 1000, Base: time.Second, Max: time.Hour, Forget: time.Hour, KeepOnSuccess: true}
	})
	api := graph.NewHandler(graph.Config{Service: svc, Issuer: base, ParseSAMLMetadata: connectors.ParseSAMLMetadata(http.DefaultClient),
		SAMLSPMetadata: reg.Metadata, Logger: e.web.cfg.Logger})
	mux := http.NewServeMux()
	mux.Handle("/graphql", api)
	mux.Handle("/", e.web.Handler())
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: httpserver.RequestID(mux)}}
	srv.Start()
	t.Cleanup(srv.Close)
	idp := newPortalIdP(t)
	md, err := xml.MarshalIndent(idp.idp.Metadata(), "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return &portalStack{env: e, base: base, svc: svc, dns: dns, idp: idp, idpMetadata: string(md)}
}

// organization creates an organization as the API does.
func (p *portalStack) organization(name, slug string) *ent.Organization {
	p.t.Helper()
	o, err := p.svc.CreateOrganization(sys(p.t.Context()), tenants.CreateOrganizationInput{Name: name, Slug: slug})
	if err != nil {
		p.t.Fatal(err)
	}
	return o
}

// link is the path of a fresh portal link of org for intent.
func (p *portalStack) link(org pulid.ID, intent tenants.PortalIntent) string {
	p.t.Helper()
	return p.linkMadeAt(p.svc, org, intent)
}

// expiredLink is the path of a portal link of org made just over
// tenants.AdminPortalLinkTTL ago.
func (p *portalStack) expiredLink(org pulid.ID, intent tenants.PortalIntent) string {
	p.t.Helper()
	past := tenants.NewService(p.client, tenants.WithClock(func() time.Time {
		return p.clock.Now().Add(-tenants.AdminPortalLinkTTL - time.Second)
	}))
	return p.linkMadeAt(past, org, intent)
}

func (p *portalStack) linkMadeAt(svc *tenants.Service, org pulid.ID, intent tenants.PortalIntent) string {
	p.t.Helper()
	token, _, err := svc.CreateAdminPortalLink(sys(p.t.Context()), tenants.CreateAdminPortalLinkInput{OrganizationID: org, Intent: intent})
	if err != nil {
		p.t.Fatal(err)
	}
	u, err := url.Parse(graph.PortalURL(p.base, token))
	if err != nil {
		p.t.Fatal(err)
	}
	return u.Path
}

// startPortalFlow readies an IT admin's walk through the portal: one
// Chromium for d, a portalStack on the first database (its flows are the
// same on each), and the customer's organization. A run on shifted
// clocks skips it: Chromium and the IdP keep real time.
func startPortalFlow(t *testing.T, d time.Duration) (context.Context, *portalStack, *ent.Organization) {
	t.Helper()
	if testkit.Shift() != 0 {
		t.Skipf("runs on the real clock (Chromium and the IdP keep time), which %s does not move", testkit.ShiftEnv)
	}
	browser := chromiumWithin(t, d)
	p := newPortalStack(t, testdb.All(t)[0])
	return browser, p, p.organization("Initech", "initech")
}

// A customer IT admin's whole SSO setup in Chromium: the portal link,
// "Generic SAML", the SP details copied into the IdP, a reload (the
// draft is taken up, not made again), the IdP's metadata XML pasted, an
// attribute mapped, the domain verified over DNS (internal/dnstest), a
// reload (the setup resumes at the test, the domain listed as verified),
// a test sign-in at the IdP in a new tab whose result page shows what
// the IdP sent, the portal showing the recorded attempt, and activation:
// the connection is ACTIVE, home-realm discovery sends the domain's
// addresses to it, and the test created no user. One connection all
// along. (Failed DNS checks: TestChromiumAdminPortalDomain.)
func TestChromiumAdminPortalSSO(t *testing.T) {
	t.Parallel()
	browser, p, initech := startPortalFlow(t, 2*time.Minute)
	ctx := sys(t.Context())

	err := chromedp.Do(browser,
		chromedp.Navigate(p.base+p.link(initech.ID, tenants.PortalIntentSSO)),
		chromedp.Click(byButton("Start setup")),
		settled("#step-provider"),
		chromedp.Click(chromedp.CSS(`input[name=provider][value=generic_saml]`)),
		chromedp.Click(byButton("Create connection")),
		chromedp.WaitVisible(chromedp.CSS("#sp-acs")),
	)
	if err != nil {
		t.Fatal(err)
	}
	if title, _ := chromedp.Run(browser, chromedp.Text(chromedp.CSS("h1"))); title != "Set up single sign-on" {
		t.Errorf("heading %q", title)
	}
	waitValue(t, browser, "sp-metadata")
	acs, entity, mdURL := inputValue(t, browser, "sp-acs"), inputValue(t, browser, "sp-entity"), inputValue(t, browser, "sp-metadata")
	conns := p.client.Connection.Query().AllX(ctx)
	if len(conns) != 1 || conns[0].State != connection.StateDRAFT || conns[0].Preset != connection.PresetGENERIC ||
		acs != p.base+"/sso/saml/"+string(conns[0].ID)+"/acs" || entity != mdURL {
		t.Fatalf("connection %+v; ACS %q, entity %q, metadata %q", conns, acs, entity, mdURL)
	}
	conn := conns[0].ID
	// reload reloads the portal, as the IT admin may at any time, and
	// waits for it to take the draft up.
	reload := func(step string) {
		t.Helper()
		err := chromedp.Do(browser, chromedp.Navigate(p.base+portalPath), settled("#"+step),
			chromedp.Poll[chromedp.Void](`document.activeElement.id === "h-`+strings.TrimPrefix(step, "step-")+`"`))
		if err != nil {
			t.Fatalf("reload to %s: %v", step, err)
		}
		if n := p.client.Connection.Query().CountX(ctx); n != 1 {
			t.Fatalf("%d connections after a reload, want the one draft", n)
		}
		if v := inputValue(t, browser, "sp-acs"); v != acs {
			t.Errorf("after a reload the ACS URL shown is %q, want %q", v, acs)
		}
		if d := inputProperty(t, browser, "create-connection", "disabled"); d != "true" {
			t.Error("after a reload the IT admin can create a second connection")
		}
	}
	reload("step-configure")
	// The generic preset's defaults are shown (federation/saml.Presets).
	if ph := inputProperty(t, browser, "map-email", "placeholder"); ph != "urn:oid:0.9.2342.19200300.100.1.3" {
		t.Errorf("email mapping placeholder %q, want the generic preset's", ph)
	}
	// The IT admin copies the SP details into the IdP, pastes the IdP's
	// metadata and maps the groups attribute (eduPersonAffiliation).
	p.idp.trust(mdURL)
	const groupsAttr = "urn:oid:1.3.6.1.4.1.5923.1.1.1.1"
	err = chromedp.Do(browser,
		chromedp.SetValue(chromedp.CSS("#metadata-xml"), p.idpMetadata),
		chromedp.SendKeys(byLabel("Groups attribute"), groupsAttr),
		chromedp.Click(byButton("Save")),
		chromedp.WaitVisible(chromedp.CSS("#step-domain")),
	)
	if err != nil {
		t.Fatal(err)
	}
	c := p.client.Connection.GetX(ctx, conn)
	if c.IdpSSOURL != p.idp.idp.SSOURL.String() || len(c.IdpCertificates) != 1 || c.AttributeMapping.Groups != groupsAttr {
		t.Fatalf("saved connection: SSO URL %q, %d certificates, mapping %+v", c.IdpSSOURL, len(c.IdpCertificates), c.AttributeMapping)
	}

	// The domain: without a verified one, discovery sends no one to the
	// connection. The IT admin adds it, publishes the record, verifies.
	err = chromedp.Do(browser,
		chromedp.Poll[chromedp.Void](`document.activeElement.id === "h-domain"`),
		chromedp.SendKeys(byLabel("Domain (for example example.com)"), "initech.com"),
		chromedp.Click(byButton("Add domain")),
		chromedp.WaitVisible(chromedp.CSS("#step-dns")),
	)
	if err != nil {
		t.Fatal(err)
	}
	p.dns.SetTXT(inputValue(t, browser, "txt-name"), inputValue(t, browser, "txt-value"))
	err = chromedp.Do(browser,
		chromedp.Click(byButton("Verify domain")),
		chromedp.WaitVisible(chromedp.CSS("#domain-state.notice")),
		chromedp.WaitVisible(chromedp.CSS("#verified-domains")),
	)
	if err != nil {
		t.Fatal(err)
	}
	if d := p.client.Domain.Query().Where(domain.OrganizationID(initech.ID)).OnlyX(ctx); d.Domain != "initech.com" ||
		d.VerificationState != domain.VerificationStateVERIFIED {
		t.Fatalf("domain %s is %s", d.Domain, d.VerificationState)
	}
	// Saved and verified: a reload resumes at the test sign-in.
	reload("step-test")
	if listed, _ := chromedp.Run(browser, chromedp.Text(chromedp.CSS("#verified-list"))); listed != "initech.com" {
		t.Errorf("verified domains listed as %q", listed)
	}
	if v := inputValue(t, browser, "map-groups"); v != groupsAttr {
		t.Errorf("after a reload the groups mapping shows %q", v)
	}

	// The test sign-in opens a new tab: the IdP signs in at once and the
	// answer comes back to the result page, which shows what it sent.
	opened := chromedp.WaitNewTarget(browser, func(info *target.Info) bool {
		// Not the portal's own tab: one on its way to the IdP or back.
		return info.Type == "page" && (info.URL == p.base+"/portal/test" || strings.HasPrefix(info.URL, p.idp.srv.URL) ||
			strings.HasPrefix(info.URL, p.base+"/sso/"))
	})
	if err := chromedp.Do(browser, chromedp.Click(byButton("Test sign-in"))); err != nil {
		t.Fatal(err)
	}
	var id target.ID
	select {
	case id = <-opened:
	case <-browser.Done():
		t.Fatal("the test sign-in opened no tab")
	}
	result, closeResult := chromedp.NewContext(browser, chromedp.WithTargetID(id))
	err = chromedp.Do(result, settled(`#test-result[data-result="ok"]`))
	if err != nil {
		t.Fatal(err)
	}
	shown, err := chromedp.Run(result, chromedp.Evaluate[string](`location.pathname + " / " + document.querySelector("main").innerText`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(shown, "/sso/saml/"+string(conn)+"/complete") || !strings.Contains(shown, "it-admin@initech.com") ||
		!strings.Contains(shown, groupsAttr) || !strings.Contains(shown, "No account was created.") {
		t.Errorf("the result tab shows:\n%s", shown)
	}
	// The IT admin closes the test tab and goes on in the portal's.
	if _, err := chromedp.CallBrowser(browser, target.CloseTarget, target.CloseTargetParams{TargetID: id}); err != nil {
		t.Fatal(err)
	}
	closeResult()
	err = chromedp.Do(browser,
		chromedp.Click(byButton("Show the latest result")),
		chromedp.WaitVisible(chromedp.CSS("#attempt p")),
	)
	if err != nil {
		t.Fatal(err)
	}
	shown, _ = chromedp.Run(browser, chromedp.Evaluate[string](`document.getElementById("attempt").innerText + " / " + document.getElementById("portal-error").innerText`))
	if !strings.Contains(shown, "it-admin@initech.com") || !strings.Contains(shown, "urn:oid:2.5.4.42: Samir") {
		t.Fatalf("the portal shows the attempt as:\n%s", shown)
	}
	err = chromedp.Do(browser,
		chromedp.Click(byButton("Activate connection")),
		chromedp.Poll[chromedp.Void](`document.getElementById("connection-state").dataset.state === "ACTIVE"`),
	)
	if err != nil {
		t.Fatal(err)
	}
	if shown, _ := chromedp.Run(browser, chromedp.Text(chromedp.CSS("#connection-state"))); shown != "Active: your users sign in through this connection." {
		t.Errorf("state shown as %q", shown)
	}
	if c := p.client.Connection.GetX(ctx, conn); c.State != connection.StateACTIVE {
		t.Errorf("connection %s, want ACTIVE", c.State)
	}
	if n := p.client.Connection.Query().CountX(ctx); n != 1 {
		t.Errorf("%d connections at the end of one setup", n)
	}
	// The sign-in of anyone at initech.com now goes to the connection.
	if d, found, err := p.svc.DiscoverConnection(ctx, "peter@initech.com"); err != nil || !found ||
		d.OrganizationID != initech.ID || d.ConnectionID != conn {
		t.Errorf("discovery for peter@initech.com: %+v, %v, %v; want connection %s", d, found, err, conn)
	}
	if n := p.client.User.Query().Where(user.Email("it-admin@initech.com")).CountX(ctx); n != 0 {
		t.Errorf("the test sign-in created %d users", n)
	}
}

// A customer IT admin verifies a domain in Chromium: a fresh portal link
// for DOMAIN_VERIFICATION, the domain typed in, the TXT record to publish
// shown (its name and value, as stored). Verifying before the record
// exists says so plainly and changes nothing that counts: the domain is
// not verified and no domain.verified event is queued. Once the DNS
// server answers the record (as the customer's DNS provider would), the
// same button verifies it.
func TestChromiumAdminPortalDomain(t *testing.T) {
	t.Parallel()
	browser, p, initech := startPortalFlow(t, time.Minute)
	ctx := sys(t.Context())

	err := chromedp.Do(browser,
		chromedp.Navigate(p.base+p.link(initech.ID, tenants.PortalIntentDomainVerification)),
		chromedp.Click(byButton("Start setup")),
		settled("#org-name:not(:empty)"),
		chromedp.SendKeys(byLabel("Domain (for example example.com)"), "Initech.example"),
		chromedp.Click(byButton("Add domain")),
		chromedp.WaitVisible(chromedp.CSS("#step-dns")),
	)
	if err != nil {
		t.Fatal(err)
	}
	if title, _ := chromedp.Run(browser, chromedp.Text(chromedp.CSS("h1"))); title != "Verify your domain" {
		t.Errorf("heading %q", title)
	}
	// The keyboard goes on from the step just shown, not from the top.
	if focused, _ := chromedp.Run(browser, chromedp.Evaluate[string](`document.activeElement.id`)); focused != "h-dns" {
		t.Errorf("focus on %q after adding the domain, want the DNS step's heading", focused)
	}
	name, value := inputValue(t, browser, "txt-name"), inputValue(t, browser, "txt-value")
	d := p.client.Domain.Query().Where(domain.OrganizationID(initech.ID)).OnlyX(ctx)
	if d.Domain != "initech.example" || name != "_gatehouse-challenge.initech.example" || value != d.TxtToken ||
		!strings.HasPrefix(value, "gatehouse-verification=") {
		t.Fatalf("TXT record shown as %q = %q; domain %q with token %q", name, value, d.Domain, d.TxtToken)
	}

	// Too early: the record is not there yet.
	verify := func(state string) string {
		t.Helper()
		err := chromedp.Do(browser,
			chromedp.Evaluate[chromedp.Void](`document.getElementById("domain-state").className = ""`),
			chromedp.Click(byButton("Verify domain")),
			chromedp.WaitVisible(chromedp.CSS("#domain-state."+state)),
		)
		if err != nil {
			t.Fatal(err)
		}
		shown, err := chromedp.Run(browser, chromedp.Text(chromedp.CSS("#domain-state")))
		if err != nil {
			t.Fatal(err)
		}
		return shown
	}
	if shown := verify("error"); shown != "The domain is not verified yet: There is no TXT record at the name shown yet. DNS changes can take a few minutes to appear." {
		t.Errorf("verified too early, the portal says %q", shown)
	}
	if code, _ := chromedp.Run(browser, chromedp.Evaluate[string](`document.getElementById("domain-state").dataset.code`)); code != "NO_RECORD" {
		t.Errorf("failure code %q, want NO_RECORD", code)
	}
	if d := p.client.Domain.GetX(ctx, d.ID); d.VerificationState == domain.VerificationStateVERIFIED || d.VerifiedAt != nil {
		t.Errorf("domain %s (verified at %v) before its record exists", d.VerificationState, d.VerifiedAt)
	}
	if n := p.client.DomainEvent.Query().CountX(ctx); n != 0 {
		t.Errorf("%d domain events before the record exists", n)
	}
	if hidden, _ := chromedp.Run(browser, chromedp.Evaluate[bool](`document.getElementById("verify-domain").disabled || document.getElementById("step-dns").hidden`)); hidden {
		t.Error("after a failed check the IT admin cannot try again")
	}

	// The IT admin publishes the record as shown; the check finds it.
	asked := p.dns.Queries()
	p.dns.SetTXT(name, value)
	if shown := verify("notice"); shown != "The domain is verified." {
		t.Errorf("after publishing, the portal says %q", shown)
	}
	if p.dns.Queries() == asked {
		t.Error("the check asked no DNS question")
	}
	if d := p.client.Domain.GetX(ctx, d.ID); d.VerificationState != domain.VerificationStateVERIFIED || d.VerifiedAt == nil {
		t.Errorf("domain %s after publishing its record", d.VerificationState)
	}
	if evs := p.client.DomainEvent.Query().AllX(ctx); len(evs) != 1 || evs[0].Type != tenants.DomainEventVerified || evs[0].DomainID != d.ID {
		t.Errorf("domain events %+v", evs)
	}
}

// waitValue waits until the input id has a value.
func waitValue(t *testing.T, tab context.Context, id string) {
	t.Helper()
	if err := chromedp.Do(tab, chromedp.Poll[chromedp.Void](`document.getElementById(`+fmt.Sprintf("%q", id)+`).value !== ""`)); err != nil {
		t.Fatalf("%s never filled: %v", id, err)
	}
}

// inputValue is the value of the input id.
func inputValue(t *testing.T, tab context.Context, id string) string {
	t.Helper()
	return inputProperty(t, tab, id, "value")
}

// inputProperty is the property prop of the element id, as a string.
func inputProperty(t *testing.T, tab context.Context, id, prop string) string {
	t.Helper()
	v, err := chromedp.Run(tab, chromedp.Evaluate[string](fmt.Sprintf(`String(document.getElementById(%q)[%q])`, id, prop)))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// The admin portal's pages go through TestChromiumPages' checks
// (checkPages: screenshot, axe-core, weight, English and German): the
// link's confirmation, an expired link, a session that has ended, each
// step of both intents as portal.js shows it (SSO setup's domain step and
// a setup resumed after a reload among them), a request the API refuses,
// and a test sign-in's result, good and bad. One Chromium, SQLite, as
// TestChromiumPages.
func TestChromiumPortalPages(t *testing.T) {
	t.Parallel()
	axe, shots, db, browser := startPageChecks(t, 3*time.Minute)
	p := newPortalStack(t, db)
	initech := p.organization("Initech", "initech")

	// start spends a fresh link of intent, for an organization of the
	// state's own (else SSO setup would take up the last state's draft),
	// and waits for the portal.
	start := func(s *tab, intent tenants.PortalIntent) {
		s.open(p.link(p.organization("Initech", s.state+"-"+s.lang).ID, intent))
		s.do(chromedp.Click(chromedp.CSS(`form[action^="/portal/"] button`)), settled("#org-name:not(:empty)"))
	}
	// create starts SSO setup and creates a connection for provider.
	create := func(s *tab, provider string) {
		start(s, tenants.PortalIntentSSO)
		s.do(chromedp.Click(chromedp.CSS(`input[name=provider][value=`+provider+`]`)),
			chromedp.Click(chromedp.CSS("#create-connection")),
			chromedp.WaitVisible(chromedp.CSS("#step-configure")))
	}
	// save creates a generic SAML connection and saves the IdP's metadata
	// (or nothing).
	save := func(s *tab, metadata string) {
		create(s, "generic_saml")
		if metadata != "" {
			s.do(chromedp.SetValue(chromedp.CSS("#metadata-xml"), metadata))
		}
		s.do(chromedp.Click(chromedp.CSS("#save-connection")), chromedp.WaitVisible(chromedp.CSS("#step-test")))
	}
	// test runs the test sign-in. The form opens the IdP in a new tab; here
	// it stays in the tab, so that the result page is the tab's page.
	test := func(s *tab) {
		s.eval(`document.getElementById("test-form").removeAttribute("target"), ""`)
		s.do(chromedp.Click(chromedp.CSS("#test-form button")))
	}
	// addDomain starts domain verification and adds the state's domain.
	addDomain := func(s *tab) string {
		start(s, tenants.PortalIntentDomainVerification)
		name := s.state + "-" + s.lang + ".example"
		s.do(chromedp.SendKeys(chromedp.CSS("#domain-name"), name),
			chromedp.Click(chromedp.CSS("#add-domain")),
			chromedp.WaitVisible(chromedp.CSS("#step-dns")))
		return name
	}
	verify := func(s *tab) { s.do(chromedp.Click(chromedp.CSS("#verify-domain"))) }
	// publish puts the shown TXT record in DNS.
	publish := func(s *tab) {
		p.dns.SetTXT(s.eval(`document.getElementById("txt-name").value`), s.eval(`document.getElementById("txt-value").value`))
	}

	states := []pageState{
		{name: "portal-link", ready: `form[action^="/portal/"] button`,
			reach: func(s *tab) { s.open(p.link(initech.ID, tenants.PortalIntentSSO)) }},
		{name: "portal-link-expired", ready: "p.message",
			reach: func(s *tab) {
				s.open(p.expiredLink(initech.ID, tenants.PortalIntentSSO))
				s.do(chromedp.Click(chromedp.CSS(`form[action^="/portal/"] button`)))
			}},
		{name: "portal-session-ended", ready: "p.message",
			reach: func(s *tab) { s.open(portalPath) }},
		{name: "portal-sso-provider", ready: "#step-provider",
			reach: func(s *tab) { start(s, tenants.PortalIntentSSO) }},
		{name: "portal-sso-configure", ready: `#sp-acs`,
			reach: func(s *tab) { create(s, "okta") }},
		{name: "portal-sso-configure-oidc", ready: `#sp-redirect`,
			reach: func(s *tab) { create(s, "generic_oidc") }},
		{name: "portal-sso-saved", ready: "#h-domain:focus",
			reach: func(s *tab) { save(s, p.idpMetadata) }},
		{name: "portal-sso-domain-verified", ready: "#verified-domains",
			reach: func(s *tab) {
				save(s, p.idpMetadata)
				s.do(chromedp.SendKeys(chromedp.CSS("#domain-name"), s.state+"-"+s.lang+".example"),
					chromedp.Click(chromedp.CSS("#add-domain")),
					chromedp.WaitVisible(chromedp.CSS("#step-dns")))
				publish(s)
				verify(s)
			}},
		{name: "portal-sso-resumed", ready: "#portal-status:not(:empty)",
			reach: func(s *tab) {
				save(s, p.idpMetadata)
				s.open(portalPath)
			}},
		{name: "portal-sso-result-ok", ready: `#test-result[data-result="ok"]`,
			reach: func(s *tab) {
				save(s, p.idpMetadata)
				p.idp.trust(s.eval(`document.getElementById("sp-metadata").value`))
				s.elsewhere = append(s.elsewhere, p.idp.srv.URL+"/")
				test(s)
			}},
		{name: "portal-sso-result-failed", ready: `#test-result[data-result="failed"]`,
			reach: func(s *tab) {
				save(s, "") // no IdP yet: the test says what is missing
				test(s)
			}},
		{name: "portal-sso-active", ready: "#attempt:not(:empty)",
			reach: func(s *tab) {
				save(s, p.idpMetadata)
				s.do(chromedp.Click(chromedp.CSS("#activate")),
					chromedp.Poll[chromedp.Void](`document.getElementById("connection-state").dataset.state === "ACTIVE"`),
					chromedp.Click(chromedp.CSS("#show-attempt")))
			}},
		{name: "portal-domain", ready: "#domain-name",
			reach: func(s *tab) { start(s, tenants.PortalIntentDomainVerification) }},
		{name: "portal-domain-refused", ready: "#portal-error",
			reach: func(s *tab) {
				start(s, tenants.PortalIntentDomainVerification)
				s.do(chromedp.SendKeys(chromedp.CSS("#domain-name"), "not a domain"),
					chromedp.Click(chromedp.CSS("#add-domain")))
			}},
		{name: "portal-domain-dns", ready: "#txt-value",
			reach: func(s *tab) { addDomain(s) }},
		{name: "portal-domain-not-verified", ready: "#domain-state.error",
			reach: func(s *tab) {
				addDomain(s)
				verify(s)
			}},
		{name: "portal-domain-verified", ready: "#domain-state.notice",
			reach: func(s *tab) {
				addDomain(s)
				publish(s)
				verify(s)
			}},
	}
	checkPages(t, browser, p.env, p.base, axe, shots, states)
}
