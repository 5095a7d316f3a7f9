package tenants_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/auditevent"
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
// non-members and of other organizations, stay.
func TestPolicyChangeEndsSignIns(t *testing.T) {
	for _, c := range []struct {
		name string
		in   func(org pulid.ID) tenants.UpdateOrganizationPolicyInput
		// strong is a sign-in the new rule still accepts.
		strong []string
	}{
		{"mfa required", func(org pulid.ID) tenants.UpdateOrganizationPolicyInput {
			return tenants.UpdateOrganizationPolicyInput{OrganizationID: org, MfaRequired: ptr(true)}
		}, []string{"pwd", "otp"}},
		{"sso enforced", func(org pulid.ID) tenants.UpdateOrganizationPolicyInput {
			return tenants.UpdateOrganizationPolicyInput{OrganizationID: org, EnforceSSO: ptr(true)}
		}, []string{"sso:conn_01J0000000000000000000000"}},
		{"password not allowed", func(org pulid.ID) tenants.UpdateOrganizationPolicyInput {
			return tenants.UpdateOrganizationPolicyInput{OrganizationID: org, AllowedLoginMethods: []tenants.LoginMethod{tenants.LoginPasskey}}
		}, []string{"hwk"}},
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
				ada := client.User.Create().SetEmail("ada@example.com").SaveX(sys)     // member of acme
				grace := client.User.Create().SetEmail("grace@example.com").SaveX(sys) // member of globex only
				client.Membership.Create().SetUserID(ada.ID).SetOrganizationID(acme.ID).ExecX(sys)
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

				pol, err := svc.UpdateOrganizationPolicy(admin, c.in(acme.ID))
				must(t, err)
				ev := client.AuditEvent.Query().Where(auditevent.Action("policy.update"), auditevent.TargetID(string(pol.ID))).
					Order(ent.Desc(auditevent.FieldCreatedAt), ent.Desc(auditevent.FieldID)).FirstX(sys)
				if ev.Metadata["sessions_ended"] != float64(1) && ev.Metadata["sessions_ended"] != 1 {
					t.Errorf("policy.update metadata %v, want sessions_ended 1", ev.Metadata)
				}
				if ev.Metadata["grants_revoked"] != float64(2) && ev.Metadata["grants_revoked"] != 2 {
					t.Errorf("policy.update metadata %v, want grants_revoked 2", ev.Metadata)
				}

				for _, s := range []struct {
					what    string
					s       *ent.Session
					revoked bool
				}{{"password-only member session", weak, true}, {"member session the rule accepts", strong, false}, {"non-member session", bystander, false}} {
					if got := client.Session.GetX(sys, s.s.ID); (got.RevokedAt != nil) != s.revoked {
						t.Errorf("%s: revoked %v, want %v", s.what, got.RevokedAt != nil, s.revoked)
					}
				}
				for _, g := range []struct {
					what    string
					g       *ent.Grant
					revoked bool
				}{{"password-only grant into the organization", weakGrant, true}, {"grant of an ended session", weakSessionsGrant, true},
					{"grant the rule accepts", strongGrant, false}, {"another organization's grant", otherOrgGrant, false}} {
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
