package tenants_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/auditevent"
	"github.com/gatehouse-id/gatehouse/ent/domain"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// Turning on a rule a password cannot satisfy (mfaRequired, enforceSSO,
// a method list without PASSWORD) ends, in the same change, the members'
// sessions that proved only a password and the organization's grants
// (refresh-token families) that did, and the grants of the ended
// sessions; sessions and grants that satisfy the rule, and those of
// non-members and of other organizations, stay. enforceSSO reaches only
// members at the organization's verified domains: a contractor's
// password sign-ins stay (ScopeEnforceSSO).
func TestPolicyChangeEndsSignIns(t *testing.T) {
	for _, c := range []struct {
		name string
		in   func(org pulid.ID) tenants.UpdateOrganizationPolicyInput
		// strong is a sign-in the new rule still accepts.
		strong []string
		// contractor: the rule reaches a member at another domain.
		contractor bool
	}{
		{"mfa required", func(org pulid.ID) tenants.UpdateOrganizationPolicyInput {
			return tenants.UpdateOrganizationPolicyInput{OrganizationID: org, MfaRequired: ptr(true)}
		}, []string{"pwd", "otp"}, true},
		{"sso enforced", func(org pulid.ID) tenants.UpdateOrganizationPolicyInput {
			return tenants.UpdateOrganizationPolicyInput{OrganizationID: org, EnforceSSO: ptr(true)}
		}, []string{"sso:conn_01J0000000000000000000000"}, false},
		{"password not allowed", func(org pulid.ID) tenants.UpdateOrganizationPolicyInput {
			return tenants.UpdateOrganizationPolicyInput{OrganizationID: org, AllowedLoginMethods: []tenants.LoginMethod{tenants.LoginPasskey}}
		}, []string{"hwk"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			testdb.Each(t, func(t *testing.T, db testdb.Database) {
				now := testkit.NewClock().Now()
				client := db.Client()
				svc := tenants.NewService(client, tenants.WithClock(func() time.Time { return now }))
				admin := viewer.NewContext(context.Background(), &viewer.Viewer{Kind: viewer.Instance, Actor: "key_admin"})
				sys := viewer.SystemContext(context.Background())
				acme, err := svc.CreateOrganization(admin, tenants.CreateOrganizationInput{Name: "Acme", Slug: "acme"})
				must(t, err)
				globex, err := svc.CreateOrganization(admin, tenants.CreateOrganizationInput{Name: "Globex", Slug: "globex"})
				must(t, err)
				client.Domain.Create().SetOrganizationID(acme.ID).SetDomain("acme.example").SetTxtToken("t").
					SetVerificationState(domain.VerificationStateVERIFIED).ExecX(sys)
				ada := client.User.Create().SetEmail("ada@acme.example").SaveX(sys)         // member of acme, at its domain
				grace := client.User.Create().SetEmail("grace@example.com").SaveX(sys)      // member of globex only
				con := client.User.Create().SetEmail("contractor@gmail.example").SaveX(sys) // member of acme, at another domain
				client.Membership.Create().SetUserID(ada.ID).SetOrganizationID(acme.ID).ExecX(sys)
				client.Membership.Create().SetUserID(con.ID).SetOrganizationID(acme.ID).ExecX(sys)
				client.Membership.Create().SetUserID(grace.ID).SetOrganizationID(globex.ID).ExecX(sys)
				sessionOf := func(u *ent.User, amr []string) *ent.Session {
					s, _, err := svc.CreateSession(sys, tenants.NewSession{UserID: u.ID, AMR: amr})
					must(t, err)
					return s
				}
				grantOf := func(u *ent.User, org pulid.ID, s *ent.Session, amr []string) *ent.Grant {
					c := client.Grant.Create().SetClientID("app").SetUserID(u.ID).SetScopes([]string{"openid"}).
						SetAuthTime(now).SetAmr(amr).SetExpiresAt(now.Add(time.Hour))
					if org != "" {
						c.SetOrganizationID(org)
					}
					if s != nil {
						c.SetSessionID(s.ID)
					}
					return c.SaveX(sys)
				}
				weak := sessionOf(ada, []string{"pwd"})
				strong := sessionOf(ada, c.strong)
				bystander := sessionOf(grace, []string{"pwd"})
				weakGrant := grantOf(ada, acme.ID, nil, []string{"pwd"})
				weakSessionsGrant := grantOf(ada, globex.ID, weak, []string{"pwd"}) // from the ended session, elsewhere
				strongGrant := grantOf(ada, acme.ID, strong, c.strong)
				otherOrgGrant := grantOf(grace, globex.ID, bystander, []string{"pwd"})
				conSession := sessionOf(con, []string{"pwd"})
				conGrant := grantOf(con, acme.ID, conSession, []string{"pwd"})
				sessionsEnded, grantsRevoked := 1, 2
				if c.contractor {
					sessionsEnded, grantsRevoked = 2, 3
				}

				pol, err := svc.UpdateOrganizationPolicy(admin, c.in(acme.ID))
				must(t, err)
				ev := client.AuditEvent.Query().Where(auditevent.Action("policy.update"), auditevent.TargetID(string(pol.ID))).
					Order(ent.Desc(auditevent.FieldCreatedAt), ent.Desc(auditevent.FieldID)).FirstX(sys)
				if ev.Metadata["sessions_ended"] != float64(sessionsEnded) {
					t.Errorf("policy.update metadata %v, want sessions_ended %d", ev.Metadata, sessionsEnded)
				}
				if ev.Metadata["grants_revoked"] != float64(grantsRevoked) {
					t.Errorf("policy.update metadata %v, want grants_revoked %d", ev.Metadata, grantsRevoked)
				}

				for _, s := range []struct {
					what    string
					s       *ent.Session
					revoked bool
				}{{"password-only member session", weak, true}, {"member session the rule accepts", strong, false}, {"non-member session", bystander, false},
					{"contractor's password session", conSession, c.contractor}} {
					if got := client.Session.GetX(sys, s.s.ID); (got.RevokedAt != nil) != s.revoked {
						t.Errorf("%s: revoked %v, want %v", s.what, got.RevokedAt != nil, s.revoked)
					}
				}
				for _, g := range []struct {
					what    string
					g       *ent.Grant
					revoked bool
				}{{"password-only grant into the organization", weakGrant, true}, {"grant of an ended session", weakSessionsGrant, true},
					{"grant the rule accepts", strongGrant, false}, {"another organization's grant", otherOrgGrant, false},
					{"contractor's password grant", conGrant, c.contractor}} {
					if got := client.Grant.GetX(sys, g.g.ID); (got.RevokedAt != nil) != g.revoked {
						t.Errorf("%s: revoked %v, want %v", g.what, got.RevokedAt != nil, g.revoked)
					}
				}
			})
		})
	}
}

// Revoking a session revokes the grants issued from it, and nothing else;
// a second revocation reports that nothing was live.
func TestRevokeSession(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		now := testkit.NewClock().Now()
		client := db.Client()
		svc := tenants.NewService(client, tenants.WithClock(func() time.Time { return now }))
		sys := viewer.SystemContext(context.Background())
		ada := client.User.Create().SetEmail("ada@example.com").SaveX(sys)
		s, token, err := svc.CreateSession(sys, tenants.NewSession{UserID: ada.ID, AMR: []string{"pwd"}})
		must(t, err)
		other, _, err := svc.CreateSession(sys, tenants.NewSession{UserID: ada.ID, AMR: []string{"pwd"}})
		must(t, err)
		g := client.Grant.Create().SetClientID("app").SetUserID(ada.ID).SetScopes([]string{"openid"}).SetSessionID(s.ID).
			SetAuthTime(now).SetExpiresAt(now.Add(time.Hour)).SaveX(sys)
		og := client.Grant.Create().SetClientID("app").SetUserID(ada.ID).SetScopes([]string{"openid"}).SetSessionID(other.ID).
			SetAuthTime(now).SetExpiresAt(now.Add(time.Hour)).SaveX(sys)
		if live, _, err := svc.LiveSession(sys, token); err != nil || live == nil || live.ID != s.ID {
			t.Fatalf("LiveSession = %v, %v", live, err)
		}
		ended, err := svc.RevokeSession(sys, s.ID, ada.ID, "logout", nil)
		if err != nil || !ended {
			t.Fatalf("RevokeSession = %v, %v", ended, err)
		}
		if got := client.Grant.GetX(sys, g.ID); got.RevokedAt == nil || got.RevokeReason != "logout" {
			t.Errorf("the session's grant: %+v", got)
		}
		if got := client.Grant.GetX(sys, og.ID); got.RevokedAt != nil {
			t.Errorf("another session's grant was revoked")
		}
		if live, _, err := svc.LiveSession(sys, token); err != nil || live != nil {
			t.Errorf("LiveSession after revocation = %v, %v", live, err)
		}
		if ended, err := svc.RevokeSession(sys, s.ID, ada.ID, "logout", nil); err != nil || ended {
			t.Errorf("second RevokeSession = %v, %v", ended, err)
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
