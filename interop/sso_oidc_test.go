package interop

import (
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// The people of Initech, the customer whose IdP is npm's oidc-provider.
const (
	initechDomain   = "initech.test"
	initechPassword = "tps reports on fridays"
)

// oidcCustomer is an organization whose active OIDC connection points at
// a running oidc-provider.
type oidcCustomer struct {
	orgID, slug, connID string
}

// setUpOIDCCustomer creates Initech with its verified domain and an
// active OIDC connection to npm's oidc-provider (node/oidc-idp.mjs),
// started on a port picked first so that the connection can name its
// issuer, with the connection's redirectURI registered. logins are the
// IdP's users.
func (e *ssoServer) setUpOIDCCustomer(t *testing.T, slug, domain string, logins ...string) oidcCustomer {
	t.Helper()
	c := oidcCustomer{slug: slug}
	c.orgID = e.customer(t, "Initech "+slug, slug, domain)
	addr := freeAddr(t)
	issuer := "http://" + addr
	const clientID, secret = "gatehouse-initech", "oidc-provider-secret-8c1e"
	var created struct{ CreateOIDCConnection struct{ Connection conn } }
	e.do(t, `mutation($o: ID!, $iss: String!, $id: String!, $secret: String!) { createOIDCConnection(input: {organizationID: $o,
		name: "Initech IdP", preset: OKTA, issuer: $iss, clientID: $id, clientSecret: $secret, scopes: ["openid", "email", "profile"]}) { connection { `+connFields+` } } }`,
		map[string]any{"o": c.orgID, "iss": issuer, "id": clientID, "secret": secret}, &created)
	cn := created.CreateOIDCConnection.Connection
	if cn.State != "DRAFT" || cn.Protocol != "OIDC" || cn.RedirectURI == nil || *cn.RedirectURI != e.Issuer+"/sso/oidc/"+cn.ID+"/callback" {
		t.Fatalf("createOIDCConnection: %+v (redirectURI %v)", cn, cn.RedirectURI)
	}
	c.connID = cn.ID
	got := startNodePeer(t, "oidc-idp.mjs", []string{
		"OIDC_IDP_CLIENT_ID=" + clientID, "OIDC_IDP_CLIENT_SECRET=" + secret, "OIDC_IDP_REDIRECT_URI=" + *cn.RedirectURI,
		"OIDC_IDP_LOGIN=" + joinComma(logins), "OIDC_IDP_PASSWORD=" + initechPassword,
	}, portOf(addr))
	if got != issuer {
		t.Fatalf("oidc-provider listens at %s, want %s", got, issuer)
	}
	e.activate(t, c.connID)
	return c
}

// testSSOOIDC: Peter of Initech signs in to the application through
// Initech's oidc-provider; the JIT user and membership appear, a second
// sign-in finds the same user, Bill's existing account (address verified)
// is linked rather than duplicated, and once Peter is removed from Initech
// his refresh tokens stop working.
func testSSOOIDC(t *testing.T, e *ssoServer) {
	peter := "peter@" + initechDomain
	bill := "bill@" + initechDomain       // has an account already, email verified
	bob := "bob.slydell@" + initechDomain // has an account already, email not verified
	c := e.setUpOIDCCustomer(t, "initech", initechDomain, peter, bill, bob)

	start := time.Now()
	tok, idt, asked := e.browser(t, peter, initechPassword).signIn(t)
	t.Logf("sign-in through oidc-provider: %s", time.Since(start).Round(time.Millisecond))
	if !asked {
		t.Error("oidc-provider's login form was never shown")
	}
	claims := requireOrgTokens(t, idt, tok.AccessToken, peter, c.orgID, c.slug, c.connID)
	u, membership := e.requireJIT(t, peter, c.orgID)
	if claims.Subject != u.ID {
		t.Errorf("ID token sub %s, JIT user %s", claims.Subject, u.ID)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token for offline_access")
	}

	// Again, from another browser: the IdP asks again, the same user.
	tok2, idt2, _ := e.browser(t, peter, initechPassword).signIn(t)
	again := requireOrgTokens(t, idt2, tok2.AccessToken, peter, c.orgID, c.slug, c.connID)
	if again.Subject != claims.Subject {
		t.Errorf("second sign-in: sub %s, first %s; want the linked user", again.Subject, claims.Subject)
	}
	if n := len(e.user(t, peter).Memberships.Edges); n != 1 {
		t.Errorf("after two sign-ins Peter has %d memberships, want 1", n)
	}

	// An account that exists already, with the address verified here, is
	// linked (the IdP verified it too, at the organization's verified
	// domain) and joins Initech.
	billID := e.createUser(t, bill, true)
	tok3, idt3, _ := e.browser(t, bill, initechPassword).signIn(t)
	if got := requireOrgTokens(t, idt3, tok3.AccessToken, bill, c.orgID, c.slug, c.connID); got.Subject != billID {
		t.Errorf("sign-in of an existing verified account: sub %s, want the account %s", got.Subject, billID)
	}
	e.requireJIT(t, bill, c.orgID)

	// The refresh token works while Peter is a member, and not after.
	cfg := e.rp.config(e.app)
	fresh, err := cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Hour)}).Token()
	if err != nil {
		t.Fatalf("refresh while a member: %v", err)
	}
	e.removeMember(t, membership)
	e.requireRefreshRefused(t, fresh.RefreshToken, "refresh after removal from the organization")
	e.requireRefreshRefused(t, tok2.RefreshToken, "refresh of the second sign-in after removal from the organization")
}

func joinComma(s []string) string { return strings.Join(s, ",") }

// portOf is the port of host:port.
func portOf(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }

// createUser creates an account with a password and no organization, as
// the operator would; emailVerified says whether its address is proved.
func (e *ssoServer) createUser(t *testing.T, email string, emailVerified bool) string {
	t.Helper()
	var out struct {
		CreateUser struct{ User struct{ ID string } }
	}
	e.do(t, `mutation($e: String!, $v: Boolean!) { createUser(input: {email: $e, emailVerified: $v, password: "a password of their own"}) { user { id } } }`,
		map[string]any{"e": email, "v": emailVerified}, &out)
	if out.CreateUser.User.ID == "" {
		t.Fatalf("createUser %s: no id", email)
	}
	return out.CreateUser.User.ID
}
