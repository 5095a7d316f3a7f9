package tenants_test

import (
	"context"
	"errors"
	"testing"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/auditevent"
	"github.com/gatehouse-id/gatehouse/ent/membership"
	"github.com/gatehouse-id/gatehouse/ent/user"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// TestAcceptInvitations: the hosted sign-in makes a user's invitations
// ACTIVE once the user is signed in (as System, or as the user); nobody
// else may accept them, a disabled user's stay INVITED, and each
// acceptance is audited.
func TestAcceptInvitations(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		client := db.Client()
		svc := tenants.NewService(client)
		sys := viewer.SystemContext(context.Background())
		var orgs []*ent.Organization
		for _, slug := range []string{"acme", "beta"} {
			o, err := svc.CreateOrganization(sys, tenants.CreateOrganizationInput{Name: slug, Slug: slug})
			if err != nil {
				t.Fatal(err)
			}
			orgs = append(orgs, o)
		}
		invite := func(email string) *ent.User {
			var u *ent.User
			for _, o := range orgs {
				key := viewer.NewContext(context.Background(), viewer.ScopedTo("key_"+o.Slug, o.ID))
				_, m, err := svc.CreateUser(key, tenants.CreateUserInput{Email: email, OrganizationID: &o.ID})
				if err != nil || m.Status != membership.StatusINVITED {
					t.Fatalf("invite %s to %s: %v, %v", email, o.Slug, m, err)
				}
				u = client.User.GetX(sys, m.UserID)
			}
			return u
		}
		ada, bob := invite("ada@gmail.example"), invite("bob@gmail.example")

		for name, ctx := range map[string]context.Context{
			"another user":        viewer.NewContext(context.Background(), &viewer.Viewer{Kind: viewer.User, UserID: bob.ID}),
			"an organization key": viewer.NewContext(context.Background(), viewer.ScopedTo("key_acme", orgs[0].ID)),
			"no viewer":           context.Background(),
		} {
			if _, err := svc.AcceptInvitations(ctx, ada.ID); !errors.Is(err, tenants.ErrForbidden) {
				t.Errorf("%s accepting Ada's invitations: %v, want ErrForbidden", name, err)
			}
		}
		self := viewer.NewContext(context.Background(), &viewer.Viewer{Kind: viewer.User, Actor: string(ada.ID), UserID: ada.ID})
		got, err := svc.AcceptInvitations(self, ada.ID)
		if err != nil || len(got) != 2 {
			t.Fatalf("Ada accepting: %v, %v; want both invitations", got, err)
		}
		if n := client.Membership.Query().Where(membership.UserID(ada.ID), membership.StatusEQ(membership.StatusACTIVE)).CountX(sys); n != 2 {
			t.Errorf("Ada has %d ACTIVE memberships, want 2", n)
		}
		if n := client.AuditEvent.Query().Where(auditevent.Action("member.accept"), auditevent.Actor(string(ada.ID))).CountX(sys); n != 2 {
			t.Errorf("%d member.accept events, want 2", n)
		}
		if got, err := svc.AcceptInvitations(sys, ada.ID); err != nil || len(got) != 0 {
			t.Errorf("accepting again: %v, %v; want nothing left", got, err)
		}

		// A disabled user's invitations stay pending.
		client.User.UpdateOne(bob).SetStatus(user.StatusDISABLED).ExecX(sys)
		if got, err := svc.AcceptInvitations(sys, bob.ID); err != nil || len(got) != 0 {
			t.Errorf("disabled Bob accepting: %v, %v; want nothing", got, err)
		}
		if n := client.Membership.Query().Where(membership.UserID(bob.ID), membership.StatusEQ(membership.StatusINVITED)).CountX(sys); n != 2 {
			t.Errorf("Bob has %d INVITED memberships, want 2", n)
		}
	})
}
