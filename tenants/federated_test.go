package tenants_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/auditevent"
	"github.com/gatehouse-id/gatehouse/ent/connectionloginattempt"
	"github.com/gatehouse-id/gatehouse/ent/domain"
	"github.com/gatehouse-id/gatehouse/ent/federatedidentity"
	"github.com/gatehouse-id/gatehouse/ent/membership"
	"github.com/gatehouse-id/gatehouse/ent/samlassertionuse"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/ent/user"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// release runs fn n times at once: every goroutine waits at a barrier
// until all have started, so the calls race for real.
func release(n int, fn func(i int)) {
	start := make(chan struct{})
	var ready, done sync.WaitGroup
	for i := range n {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			fn(i)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
}

// activeSAML makes an ACTIVE SAML connection of org.
func (f *connFixture) activeSAML(t *testing.T, org *ent.Organization, settings tenants.ConnectionSettings) *ent.Connection {
	t.Helper()
	c, err := f.svc.CreateSAMLConnection(f.admin, tenants.CreateSAMLConnectionInput{OrganizationID: org.ID, Name: "IdP",
		IdP:                SAMLIdP("https://idp.example/"+string(org.Slug), "https://idp.example/sso", []string{idpCert(t, "idp")}),
		ConnectionSettings: settings})
	must(t, err)
	c, err = f.svc.ActivateConnection(f.admin, c.ID)
	must(t, err)
	return c
}

func (f *connFixture) verifyDomain(t *testing.T, org *ent.Organization, name string) {
	t.Helper()
	f.client.Domain.Create().SetOrganizationID(org.ID).SetDomain(name).SetTxtToken("t").
		SetVerificationState(domain.VerificationStateVERIFIED).ExecX(f.sys)
}

// TestRememberAssertionConcurrent: 60 uses of one assertion id released at
// once find exactly one fresh, on every database; the id is per
// connection; it is remembered past its NotOnOrAfter by ReplayRetention,
// then swept and forgotten.
func TestRememberAssertionConcurrent(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		f := newConnFixture(t, db)
		a := f.activeSAML(t, f.acme, tenants.ConnectionSettings{})
		b := f.activeSAML(t, f.beta, tenants.ConnectionSettings{})
		until := f.clock.Now().Add(5 * time.Minute)

		const n = 60
		var fresh sync.Map
		errs := make(chan error, n)
		release(n, func(i int) {
			ok, err := f.svc.RememberAssertion(f.sys, string(a.ID), "_assertion-1", until)
			if err != nil {
				errs <- err
			}
			fresh.Store(i, ok)
		})
		close(errs)
		for err := range errs {
			t.Fatalf("RememberAssertion: %v", err)
		}
		count := 0
		fresh.Range(func(_, v any) bool {
			if v.(bool) {
				count++
			}
			return true
		})
		if count != 1 {
			t.Fatalf("%d of %d concurrent uses were fresh, want exactly 1", count, n)
		}
		// federation/saml's ReplayCache, through the adapter cmd hands it.
		var cache interface {
			Remember(ctx context.Context, connectionID, assertionID string, notOnOrAfter time.Time) (bool, error)
		} = f.svc.ReplayCache()
		if ok, err := cache.Remember(f.sys, string(b.ID), "_assertion-1", until); err != nil || !ok {
			t.Errorf("same id at another connection: %v, %v; want fresh", ok, err)
		}
		if ok, err := cache.Remember(f.sys, string(b.ID), "_assertion-1", until); err != nil || ok {
			t.Errorf("the same again through the adapter: %v, %v; want a replay", ok, err)
		}

		// Still remembered just before NotOnOrAfter + ReplayRetention, even
		// by a sweep then; swept by the next one due after it.
		f.clock.Advance(5*time.Minute + tenants.ReplayRetention - time.Second)
		if ok, err := f.svc.RememberAssertion(f.sys, string(a.ID), "_assertion-1", until); err != nil || ok {
			t.Errorf("within retention: fresh=%v, %v; want a replay", ok, err)
		}
		f.clock.Advance(time.Minute) // past retention, and a sweep is due
		if ok, err := f.svc.RememberAssertion(f.sys, string(a.ID), "_other", until); err != nil || !ok {
			t.Fatalf("another id: %v, %v", ok, err)
		}
		if n := f.client.SAMLAssertionUse.Query().Where(samlassertionuse.AssertionID("_assertion-1")).CountX(f.sys); n != 0 {
			t.Errorf("%d expired uses left after the sweep, want 0", n)
		}
		if _, err := f.svc.RememberAssertion(f.sys, string(a.ID), "", until); err == nil {
			t.Error("empty assertion id accepted")
		}
	})
}

// TestRecordLoginAttempt: a connection keeps its newest 20 attempts, with
// what the IdP sent or why it was refused, and only a manager reads them.
func TestRecordLoginAttempt(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		f := newConnFixture(t, db)
		c := f.activeSAML(t, f.acme, tenants.ConnectionSettings{})
		for i := range 25 {
			a := tenants.LoginAttempt{Succeeded: i%2 == 0, Subject: fmt.Sprint("sub-", i), Email: "ada@acme.example",
				Attributes: map[string][]string{"groups": {"eng", "ops"}}}
			if !a.Succeeded {
				a.ErrorCode, a.ErrorReason = "audience_mismatch", fmt.Sprintf("audience mismatch: got X%d, want Y", i)
			}
			must(t, f.svc.RecordLoginAttempt(f.sys, c.ID, a))
		}
		got, err := f.svc.LoginAttempts(as(f.acme.ID, "connections:manage"), c)
		must(t, err)
		if len(got) != 20 || got[0].Subject != "sub-24" || got[19].Subject != "sub-5" {
			t.Fatalf("%d attempts, newest %q, oldest %q; want 20 from sub-24 to sub-5", len(got), got[0].Subject, got[len(got)-1].Subject)
		}
		if got[1].Succeeded || got[1].ErrorCode != "audience_mismatch" || got[1].ErrorReason != "audience mismatch: got X23, want Y" ||
			!slices.Equal(got[0].Attributes["groups"], []string{"eng", "ops"}) {
			t.Errorf("attempt stored as %+v", got[1])
		}
		if n := f.client.ConnectionLoginAttempt.Query().Where(connectionloginattempt.ConnectionID(c.ID)).CountX(f.sys); n != 20 {
			t.Errorf("%d rows kept, want 20", n)
		}
	})
}

// TestSignInFederated: the paths of a federated sign-in, each audited:
// provisioning (email verified only at a verified domain the IdP vouches
// for), linking an existing user only then, the link winning over a
// changed email, group → role mappings applied at every sign-in, and the
// refusals, which change nothing but the audit trail.
func TestSignInFederated(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		f := newConnFixture(t, db)
		f.verifyDomain(t, f.acme, "acme.example")
		admin := f.role(t, f.acme, "admin")
		c := f.activeSAML(t, f.acme, tenants.ConnectionSettings{GroupRoleMappings: []tenants.GroupRole{{Group: "it-admins", RoleID: admin.ID}}})
		rolesOf := func(m *ent.Membership) []string {
			var keys []string
			for _, r := range f.client.Membership.QueryRoles(m).AllX(f.sys) {
				keys = append(keys, r.Key)
			}
			slices.Sort(keys)
			return keys
		}

		// Provisioned at a verified domain the IdP vouches for.
		u, m, err := f.svc.SignInFederated(f.sys, c, tenants.FederatedIdentityInput{Subject: "00u1", Email: "Ada@Acme.example",
			EmailVerified: true, Name: "Ada L", GivenName: "Ada", FamilyName: "L", Metadata: map[string]any{"dept": "R&D"}})
		must(t, err)
		if u.Email != "ada@acme.example" || !u.EmailVerified || u.GivenName != "Ada" || u.Metadata["dept"] != "R&D" ||
			m.Status != membership.StatusACTIVE || m.OrganizationID != f.acme.ID || !slices.Equal(rolesOf(m), []string{"member"}) {
			t.Fatalf("provisioned %+v %+v roles %v", u, m, rolesOf(m))
		}
		for _, a := range []string{"user.create", "sso.user_provisioned", "sso.sign_in"} {
			if n := f.client.AuditEvent.Query().Where(auditevent.Action(a), auditevent.OrganizationID(f.acme.ID)).CountX(f.sys); n != 1 {
				t.Errorf("%d %s events, want 1", n, a)
			}
		}
		// The link wins over a changed email; a group mapping re-applies.
		u2, m2, err := f.svc.SignInFederated(f.sys, c, tenants.FederatedIdentityInput{Subject: "00u1", Email: "someone@else.example", Groups: []string{"it-admins"}})
		must(t, err)
		if u2.ID != u.ID || m2.ID != m.ID || !slices.Equal(rolesOf(m2), []string{"admin"}) {
			t.Fatalf("second sign-in: user %s membership %s roles %v", u2.ID, m2.ID, rolesOf(m2))
		}
		if _, m2, err = f.svc.SignInFederated(f.sys, c, tenants.FederatedIdentityInput{Subject: "00u1", Email: "ada@acme.example"}); err != nil || !slices.Equal(rolesOf(m2), []string{"member"}) {
			t.Fatalf("out of the group: roles %v, %v; want member", rolesOf(m2), err)
		}

		// Provisioned at an unverified domain: email not verified.
		u3, _, err := f.svc.SignInFederated(f.sys, c, tenants.FederatedIdentityInput{Subject: "00u3", Email: "cy@gmail.example", EmailVerified: true})
		must(t, err)
		if u3.EmailVerified {
			t.Error("an address outside the organization's verified domains was marked verified")
		}

		// Existing users: linked only at a verified domain, when vouched for.
		bob := f.client.User.Create().SetEmail("bob@acme.example").SaveX(f.sys)
		eve := f.client.User.Create().SetEmail("eve@gmail.example").SaveX(f.sys)
		for _, c2 := range []struct {
			name string
			in   tenants.FederatedIdentityInput
		}{
			{"verified domain, not vouched", tenants.FederatedIdentityInput{Subject: "b1", Email: "bob@acme.example"}},
			{"unverified domain, vouched", tenants.FederatedIdentityInput{Subject: "e1", Email: "eve@gmail.example", EmailVerified: true}},
		} {
			var re *tenants.SSORejectedError
			if _, _, err := f.svc.SignInFederated(f.sys, c, c2.in); !errors.As(err, &re) || re.Reason != "email_taken" || !errors.Is(err, tenants.ErrForbidden) {
				t.Errorf("%s: %v, want email_taken", c2.name, err)
			}
		}
		if n := f.client.FederatedIdentity.Query().Where(federatedidentity.UserIDIn(bob.ID, eve.ID)).CountX(f.sys); n != 0 {
			t.Errorf("%d links made by refused sign-ins", n)
		}
		ub, _, err := f.svc.SignInFederated(f.sys, c, tenants.FederatedIdentityInput{Subject: "b1", Email: "bob@acme.example", EmailVerified: true})
		if err != nil || ub.ID != bob.ID {
			t.Fatalf("linking Bob: %v, %v", ub, err)
		}
		if n := f.client.AuditEvent.Query().Where(auditevent.Action("sso.user_linked"), auditevent.TargetID(string(bob.ID))).CountX(f.sys); n != 1 {
			t.Errorf("%d sso.user_linked events for Bob, want 1", n)
		}

		// Refusals: a suspended membership, a disabled user, an inactive
		// connection; each audited with its reason.
		f.client.Membership.Update().Where(membership.UserID(bob.ID)).SetStatus(membership.StatusSUSPENDED).ExecX(f.sys)
		f.client.User.UpdateOne(u3).SetStatus(user.StatusDISABLED).ExecX(f.sys)
		for _, r := range []struct {
			subject, email, reason string
		}{{"b1", "bob@acme.example", "membership_suspended"}, {"00u3", "cy@gmail.example", "user_disabled"}} {
			var re *tenants.SSORejectedError
			if _, _, err := f.svc.SignInFederated(f.sys, c, tenants.FederatedIdentityInput{Subject: r.subject, Email: r.email}); !errors.As(err, &re) || re.Reason != r.reason {
				t.Errorf("%s: %v, want %s", r.subject, err, r.reason)
			}
		}
		_, err = f.svc.DeactivateConnection(f.admin, c.ID)
		must(t, err)
		var re *tenants.SSORejectedError
		if _, _, err := f.svc.SignInFederated(f.sys, c, tenants.FederatedIdentityInput{Subject: "new", Email: "new@acme.example", EmailVerified: true}); !errors.As(err, &re) || re.Reason != "connection_inactive" {
			t.Errorf("inactive connection: %v", err)
		}
		if n := f.client.User.Query().Where(user.Email("new@acme.example")).CountX(f.sys); n != 0 {
			t.Error("an inactive connection created a user")
		}
		for _, reason := range []string{"email_taken", "membership_suspended", "user_disabled", "connection_inactive"} {
			evs := f.client.AuditEvent.Query().Where(auditevent.Action("sso.rejected"), auditevent.OrganizationID(f.acme.ID)).AllX(f.sys)
			found := false
			for _, e := range evs {
				found = found || e.Metadata["reason"] == reason
			}
			if !found {
				t.Errorf("no sso.rejected event with reason %s", reason)
			}
		}
	})
}

// TestSignInFederatedConcurrent: 60 first sign-ins of one subject released
// at once make one user, one link and one membership, on every database,
// and every caller gets that user.
func TestSignInFederatedConcurrent(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		f := newConnFixture(t, db)
		f.verifyDomain(t, f.acme, "acme.example")
		c := f.activeSAML(t, f.acme, tenants.ConnectionSettings{})
		const n = 60
		users := make([]string, n)
		errs := make([]error, n)
		release(n, func(i int) {
			u, _, err := f.svc.SignInFederated(f.sys, c, tenants.FederatedIdentityInput{Subject: "00uRace", Email: "race@acme.example", EmailVerified: true})
			errs[i] = err
			if u != nil {
				users[i] = string(u.ID)
			}
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("sign-in %d: %v", i, err)
			}
			if users[i] != users[0] {
				t.Fatalf("sign-in %d got user %s, sign-in 0 %s", i, users[i], users[0])
			}
		}
		if got := f.client.User.Query().Where(user.Email("race@acme.example")).CountX(f.sys); got != 1 {
			t.Errorf("%d users, want 1", got)
		}
		if got := f.client.FederatedIdentity.Query().CountX(f.sys); got != 1 {
			t.Errorf("%d links, want 1", got)
		}
		if got := f.client.Membership.Query().Where(membership.OrganizationID(f.acme.ID), membership.UserID(pulid.ID(users[0]))).CountX(f.sys); got != 1 {
			t.Errorf("%d memberships, want 1", got)
		}
		if got := f.client.AuditEvent.Query().Where(auditevent.Action("sso.user_provisioned")).CountX(f.sys); got != 1 {
			t.Errorf("%d sso.user_provisioned events, want 1", got)
		}
		if got := f.client.AuditEvent.Query().Where(auditevent.Action("sso.sign_in")).CountX(f.sys); got != n {
			t.Errorf("%d sso.sign_in events, want %d", got, n)
		}
	})
}
