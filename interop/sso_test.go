package interop

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/gatehouse-id/gatehouse/internal/dnstest"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/interop/seed"
)

// TestSSOInterop signs people of customer organizations in to an
// application through identity providers no one here wrote — npm's
// oidc-provider, crewjam/saml's IdentityProvider and npm's samlify — with
// the real binary on each database backend: the organization, its domain
// (verified against an in-process DNS server) and its connection are set
// up over GraphQL as an operator would, the browser goes app → authorize →
// identifier → IdP login → callback or ACS → code, and the tokens carry the
// organization's claims.
//
// go test -run 'TestSSOInterop/sqlite/OIDC' ./interop targets one cell.
func TestSSOInterop(t *testing.T) {
	bin := buildGatehouse(t)
	for _, db := range testdb.Empty(t) {
		t.Run(db.Name, func(t *testing.T) {
			t.Parallel()
			e := startSSO(t, bin, db)
			t.Run("OIDC", func(t *testing.T) { testSSOOIDC(t, e) })
			t.Run("SAML", func(t *testing.T) { testSSOSAMLGo(t, e) })
			t.Run("SAMLSamlify", func(t *testing.T) { testSSOSAMLNode(t, e) })
			t.Run("IdPMetadataSamples", func(t *testing.T) { testIdPMetadataSamples(t, e) })
			t.Run("Chromium", func(t *testing.T) { testSSOChromium(t, e) })
		})
	}
}

// ssoServer is one running gatehouse that verifies domains against its
// own DNS server, with a first-party application to sign in to.
type ssoServer struct {
	*Server
	dns *dnstest.Server
	op  *seed.Client // the operator: an instance API key
	app Client       // WEB, first party, redirect_uri s.Callback
	rp  *goRP
}

func startSSO(t *testing.T, bin string, db testdb.Database) *ssoServer {
	t.Helper()
	dns := dnstest.Start(t)
	s := launch(t, bin, db, "GATEHOUSE_DNS_RESOLVER="+dns.Addr())
	e := &ssoServer{Server: s, dns: dns, op: &seed.Client{Issuer: s.Issuer, APIKey: s.APIKey}}
	var err error
	e.app, err = e.op.CreateApplication(t.Context(), map[string]any{
		"name": "dashboard", "type": "WEB", "firstParty": true,
		"redirectURIs": []string{s.Callback},
		"grantTypes":   []string{"AUTHORIZATION_CODE", "REFRESH_TOKEN"},
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := oidc.NewProvider(t.Context(), s.Issuer)
	if err != nil {
		t.Fatalf("go-oidc discovery of %s: %v", s.Issuer, err)
	}
	e.rp = &goRP{s: s, ctx: t.Context(), p: p}
	return e
}

// do runs one GraphQL operation as the operator, failing the test on an
// error.
func (e *ssoServer) do(t *testing.T, query string, vars map[string]any, out any) {
	t.Helper()
	if err := e.op.Do(t.Context(), query, vars, out); err != nil {
		t.Fatal(err)
	}
}

// customer creates an organization and proves its domain the way its IT
// admin would: addDomain, the TXT record published at txtRecordName,
// verifyDomain.
func (e *ssoServer) customer(t *testing.T, name, slug, domain string) string {
	t.Helper()
	orgID, err := e.op.CreateOrganization(t.Context(), name, slug)
	if err != nil {
		t.Fatal(err)
	}
	var added struct {
		AddDomain struct {
			Domain struct{ ID, TxtRecordName, VerificationToken string }
		}
	}
	e.do(t, `mutation($o: ID!, $d: String!) { addDomain(input: {organizationID: $o, domain: $d}) { domain { id txtRecordName verificationToken } } }`,
		map[string]any{"o": orgID, "d": domain}, &added)
	d := added.AddDomain.Domain
	if d.TxtRecordName != "_gatehouse-challenge."+domain || !strings.HasPrefix(d.VerificationToken, "gatehouse-verification=") {
		t.Fatalf("addDomain %s: record %q token %q", domain, d.TxtRecordName, d.VerificationToken)
	}
	e.dns.SetTXT(d.TxtRecordName, "v=spf1 -all", d.VerificationToken)
	var verified struct {
		VerifyDomain struct {
			Domain        struct{ Verified bool }
			FailureReason *string
		}
	}
	e.do(t, `mutation($id: ID!) { verifyDomain(input: {id: $id}) { domain { verified } failureReason } }`, map[string]any{"id": d.ID}, &verified)
	if !verified.VerifyDomain.Domain.Verified {
		t.Fatalf("verifyDomain %s with the record published: not verified (%v)", domain, verified.VerifyDomain.FailureReason)
	}
	return orgID
}

// conn is the part of a Connection the tests read.
type conn struct {
	ID            string
	State         string
	Protocol      string
	ACSURL        string
	SPEntityID    string
	SPMetadataURL string
	RedirectURI   *string
	IdPEntityID   *string
	SSOURL        *string
}

const connFields = `id state protocol acsURL spEntityID spMetadataURL redirectURI`

// activate activates c and checks that it is ACTIVE.
func (e *ssoServer) activate(t *testing.T, id string) {
	t.Helper()
	var out struct{ ActivateConnection struct{ Connection conn } }
	e.do(t, `mutation($id: ID!) { activateConnection(input: {id: $id}) { connection { `+connFields+` } } }`, map[string]any{"id": id}, &out)
	if out.ActivateConnection.Connection.State != "ACTIVE" {
		t.Fatalf("activateConnection %s: state %q", id, out.ActivateConnection.Connection.State)
	}
}

// member is the JIT user and their memberships, read back over GraphQL.
type member struct {
	ID          string
	Status      string
	Memberships struct {
		Edges []struct {
			Node struct {
				ID, OrganizationID, Status string
			}
		}
	}
}

func (e *ssoServer) user(t *testing.T, email string) member {
	t.Helper()
	var out struct{ User *member }
	e.do(t, `query($e: String!) { user(email: $e) { id status memberships { edges { node { id organizationID status } } } } }`,
		map[string]any{"e": email}, &out)
	if out.User == nil {
		t.Fatalf("no user %s after the SSO sign-in", email)
	}
	return *out.User
}

// requireJIT checks that email's user exists, is ACTIVE, and has an
// ACTIVE membership in orgID; it returns the user and the membership id.
func (e *ssoServer) requireJIT(t *testing.T, email, orgID string) (member, string) {
	t.Helper()
	u := e.user(t, email)
	if u.Status != "ACTIVE" {
		t.Errorf("JIT user %s status %s, want ACTIVE", email, u.Status)
	}
	for _, m := range u.Memberships.Edges {
		if m.Node.OrganizationID == orgID {
			if m.Node.Status != "ACTIVE" {
				t.Errorf("JIT membership of %s in %s: %s, want ACTIVE", email, orgID, m.Node.Status)
			}
			return u, m.Node.ID
		}
	}
	t.Fatalf("JIT user %s has no membership in %s: %+v", email, orgID, u.Memberships)
	return u, ""
}

// ssoClaims are the claims an SSO sign-in must put in the tokens.
type ssoClaims struct {
	Subject  string   `json:"sub"`
	Email    string   `json:"email"`
	AMR      []string `json:"amr"`
	OrgID    string   `json:"org_id"`
	OrgSlug  string   `json:"org_slug"`
	OrgRoles []string `json:"org_roles"`
}

// requireOrgTokens checks the ID token and the access token of a sign-in
// through connection connID into orgID (slug) as email.
func requireOrgTokens(t *testing.T, idt *oidc.IDToken, accessToken, email, orgID, slug, connID string) ssoClaims {
	t.Helper()
	var c ssoClaims
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	if c.OrgID != orgID || c.OrgSlug != slug || !slices.Equal(c.OrgRoles, []string{"member"}) {
		t.Errorf("ID token organization claims org_id=%q org_slug=%q org_roles=%v, want %s, %s, [member]", c.OrgID, c.OrgSlug, c.OrgRoles, orgID, slug)
	}
	if c.Email != email {
		t.Errorf("ID token email %q, want %q", c.Email, email)
	}
	// The federation and the upstream's method (both IdPs here say they
	// checked a password; neither connection trusts their amr), never the
	// connection's internal id (tenants.TokenAMR).
	if !slices.Equal(c.AMR, []string{"fed", "pwd"}) {
		t.Errorf("ID token amr %v, want [fed pwd] for a sign-in through %s", c.AMR, connID)
	}
	at, err := jwtClaims(accessToken)
	if err != nil {
		t.Errorf("access token is not a JWT: %v", err)
	} else if at["org_id"] != orgID || at["sub"] != c.Subject {
		t.Errorf("access token org_id=%v sub=%v, want %s and the ID token's %s", at["org_id"], at["sub"], orgID, c.Subject)
	}
	return c
}

// requireRefreshRefused wants the refresh token refused with invalid_grant.
func (e *ssoServer) requireRefreshRefused(t *testing.T, refreshToken, what string) {
	t.Helper()
	e.rp.requireTokenError(t, e.app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}},
		http.StatusBadRequest, "invalid_grant", what)
}

// removeMember removes a membership over GraphQL.
func (e *ssoServer) removeMember(t *testing.T, membershipID string) {
	t.Helper()
	var out struct {
		RemoveMember struct{ RemovedMembershipID string }
	}
	e.do(t, `mutation($m: ID!) { removeMember(input: {membershipID: $m}) { removedMembershipID } }`, map[string]any{"m": membershipID}, &out)
	if out.RemoveMember.RemovedMembershipID != membershipID {
		t.Fatalf("removeMember %s: %+v", membershipID, out)
	}
}
