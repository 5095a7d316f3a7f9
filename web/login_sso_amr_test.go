package web

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/ent/organizationpolicy"
	"github.com/gatehouse-id/gatehouse/federation"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
)

// The IdP's own methods (Identity.AMR) count only when the connection
// trusts them (trust_upstream_amr, ATO-05 i): then an upstream
// multi-factor sign-in satisfies an organization's mfaRequired with no
// second factor asked here, and the request's amr says "mfa"; untrusted,
// the same answer leaves the MFA step to this instance (a new user enrolls
// an authenticator), and the amr says what was proven here. Either way the
// IdP's methods are kept in their own namespace (tenants.UpstreamFactors),
// and an untrusted "mfa" nowhere.
func TestSSOUpstreamAMR(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newSSOEnv(t, db)
		e.client.OrganizationPolicy.Update().Where(organizationpolicy.OrganizationID(e.org.ID)).SetMfaRequired(true).ExecX(sys(t.Context()))
		signIn := func(b *browser, id, email string) response {
			t.Helper()
			r := b.identify(id, email)
			answer := fakeAnswer{InResponseTo: r.field("SAMLRequest"), Identity: federation.Identity{Subject: email, Email: email,
				AMR: []string{"pwd", "mfa"}, AuthTime: e.clock.Now()}}
			acs := e.acs(e.saml, r.field("RelayState"), answer)
			wantStatus(t, acs, http.StatusSeeOther)
			return b.get(local(t, acs))
		}
		sso := "sso:" + string(e.saml.ID)

		// Untrusted: the upstream's "mfa" is a claim, not a factor here.
		b := e.browser()
		id := e.flow.add(LoginRequest{FirstParty: true, WantsOrganization: true, Scopes: []string{"openid", "organization"}})
		page := signIn(b, id, "peter@initech.com")
		wantStatus(t, page, http.StatusOK)
		if !strings.Contains(page.body, "Set up an authenticator app") || b.cookie("gatehouse_login") == "" {
			t.Fatalf("untrusted upstream mfa: not the MFA step:\n%s", page.body)
		}
		if _, ok := e.flow.completed(id); ok {
			t.Fatal("untrusted upstream mfa completed the request without a second factor")
		}
		_, _, done := b.enrollTOTP(id, page)
		wantRedirect(t, done, id)
		if a, _ := e.flow.completed(id); !slices.Equal(a.AMR, []string{sso, "upstream:pwd", "otp"}) || a.OrganizationID != e.org.ID {
			t.Errorf("untrusted: completed %+v, want amr [%s upstream:pwd otp]", a, sso)
		}

		// Trusted: the upstream's multi-factor sign-in is enough.
		e.client.Connection.UpdateOne(e.saml).SetTrustUpstreamAmr(true).ExecX(sys(t.Context()))
		b = e.browser()
		id = e.flow.add(LoginRequest{FirstParty: true, WantsOrganization: true, Scopes: []string{"openid", "organization"}})
		wantRedirect(t, signIn(b, id, "milton@initech.com"), id)
		a, ok := e.flow.completed(id)
		if !ok || !slices.Equal(a.AMR, []string{sso, "upstream:pwd", "mfa"}) || a.OrganizationID != e.org.ID {
			t.Errorf("trusted: completed %+v (%v), want amr [%s upstream:pwd mfa]", a, ok, sso)
		}
		if b.cookie("gatehouse_login") != "" {
			t.Error("the login transaction outlived the sign-in")
		}
	})
}
