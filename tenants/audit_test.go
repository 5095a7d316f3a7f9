package tenants_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/auditevent"
	"github.com/gatehouse-id/gatehouse/ent/membership"
	_ "github.com/gatehouse-id/gatehouse/ent/runtime"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

func ptr[T any](v T) *T { return &v }

// TestEveryMutationIsAudited: each successful change writes its audit event
// with actor, target and request details; a failed change writes none.
func TestEveryMutationIsAudited(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		client := db.Client()
		svc := tenants.NewService(client)
		ctx := viewer.NewContext(context.Background(), &viewer.Viewer{
			Kind: viewer.Instance, Actor: "key_admin", IP: "192.0.2.7", UserAgent: "test-agent", RequestID: "req-1"})
		sys := viewer.SystemContext(context.Background())

		// expect runs fn and checks that exactly the named actions were appended.
		expect := func(name string, actions []string, fn func() error) {
			t.Helper()
			before := client.AuditEvent.Query().CountX(sys)
			err := fn()
			events := client.AuditEvent.Query().Order(ent.Asc(auditevent.FieldID)).Offset(before).AllX(sys)
			if len(actions) == 0 {
				if err == nil {
					t.Errorf("%s: succeeded, want an error", name)
				}
				if len(events) != 0 {
					t.Errorf("%s: failed change wrote %d audit events", name, len(events))
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			var got []string
			for _, e := range events {
				got = append(got, e.Action)
				if e.Actor != "key_admin" || e.ActorType != "instance" || e.IP != "192.0.2.7" ||
					e.UserAgent != "test-agent" || e.RequestID != "req-1" || e.TargetID == "" {
					t.Errorf("%s: event %s lacks who/where: %+v", name, e.Action, e)
				}
			}
			if len(got) != len(actions) {
				t.Fatalf("%s: audit actions %v, want %v", name, got, actions)
			}
			for i := range got {
				if got[i] != actions[i] {
					t.Errorf("%s: audit actions %v, want %v", name, got, actions)
				}
			}
		}

		var (
			org                *ent.Organization
			owner, second      *ent.User
			m, ownerMembership *ent.Membership
			d                  *ent.Domain
			app                *ent.Application
			key                *ent.APIKey
		)
		// One row a change, in order: later rows use what earlier ones
		// made. actions nil: the change must fail and write nothing.
		for _, step := range []struct {
			name    string
			actions []string
			run     func() error
		}{
			{"createOrganization", []string{"organization.create"}, func() (err error) {
				org, err = svc.CreateOrganization(ctx, tenants.CreateOrganizationInput{Name: "Acme", Slug: "acme"})
				return err
			}},
			{"duplicate slug", nil, func() error {
				_, err := svc.CreateOrganization(ctx, tenants.CreateOrganizationInput{Name: "Acme", Slug: "acme"})
				var conflict *tenants.ConflictError
				if !errors.As(err, &conflict) || conflict.Field != "slug" {
					t.Errorf("duplicate slug: err = %v, want a slug conflict", err)
				}
				return err
			}},
			{"updateOrganization", []string{"organization.update"}, func() error {
				_, err := svc.UpdateOrganization(ctx, tenants.UpdateOrganizationInput{ID: org.ID, Name: ptr("Acme Inc")})
				return err
			}},
			{"createUser with organization", []string{"user.create", "member.add"}, func() (err error) {
				owner, _, err = svc.CreateUser(ctx, tenants.CreateUserInput{Email: "ada@example.com", OrganizationID: &org.ID, Roles: []string{"owner"}})
				return err
			}},
			{"createUser with unknown role rolls back", nil, func() error {
				_, _, err := svc.CreateUser(ctx, tenants.CreateUserInput{Email: "bob@example.com", OrganizationID: &org.ID, Roles: []string{"nope"}})
				if _, err := svc.UserByEmail(ctx, "bob@example.com"); !errors.Is(err, tenants.ErrNotFound) {
					t.Errorf("user of a rolled-back createUser exists: %v", err)
				}
				return err
			}},
			{"createUser", []string{"user.create"}, func() (err error) {
				second, _, err = svc.CreateUser(ctx, tenants.CreateUserInput{Email: "grace@example.com"})
				return err
			}},
			{"updateUser", []string{"user.update"}, func() error {
				_, err := svc.UpdateUser(ctx, tenants.UpdateUserInput{ID: second.ID, Name: ptr("Grace")})
				return err
			}},
			{"addMember", []string{"member.add"}, func() (err error) {
				m, err = svc.AddMember(ctx, tenants.AddMemberInput{OrganizationID: org.ID, UserID: second.ID})
				return err
			}},
			{"createRole", []string{"role.create"}, func() error {
				_, err := svc.CreateRole(ctx, tenants.CreateRoleInput{OrganizationID: org.ID, Key: "billing", Name: "Billing"})
				return err
			}},
			{"updateMemberRoles", []string{"member.roles.update"}, func() error {
				_, err := svc.UpdateMemberRoles(ctx, tenants.UpdateMemberRolesInput{MembershipID: m.ID, Roles: []string{"billing", "member"}})
				return err
			}},
			{"removing the last owner", nil, func() error {
				ownerMembership = client.Membership.Query().Where(membership.UserID(owner.ID)).OnlyX(sys)
				err := svc.RemoveMember(ctx, ownerMembership.ID)
				var conflict *tenants.ConflictError
				if !errors.As(err, &conflict) {
					t.Errorf("removing last owner: err = %v, want a conflict", err)
				}
				return err
			}},
			{"demoting the last owner", nil, func() error {
				_, err := svc.UpdateMemberRoles(ctx, tenants.UpdateMemberRolesInput{MembershipID: ownerMembership.ID, Roles: []string{"member"}})
				return err
			}},
			{"removeMember", []string{"member.remove"}, func() error { return svc.RemoveMember(ctx, m.ID) }},
			{"addDomain", []string{"domain.add"}, func() (err error) {
				d, err = svc.AddDomain(ctx, tenants.AddDomainInput{OrganizationID: org.ID, Domain: "Acme.Example."})
				if err == nil && d.Domain != "acme.example" {
					t.Errorf("domain stored as %q, want acme.example", d.Domain)
				}
				return err
			}},
			{"removeDomain", []string{"domain.remove"}, func() error { return svc.RemoveDomain(ctx, d.ID) }},
			{"updateOrganizationPolicy", []string{"policy.update"}, func() error {
				_, err := svc.UpdateOrganizationPolicy(ctx, tenants.UpdateOrganizationPolicyInput{OrganizationID: org.ID, MfaRequired: ptr(true)})
				return err
			}},
			{"idle above absolute lifetime", nil, func() error {
				_, err := svc.UpdateOrganizationPolicy(ctx, tenants.UpdateOrganizationPolicyInput{OrganizationID: org.ID,
					SessionAbsoluteLifetimeSeconds: ptr(3600), SessionIdleLifetimeSeconds: ptr(7200)})
				return err
			}},
			{"createApplication", []string{"application.create"}, func() (err error) {
				app, _, err = svc.CreateApplication(ctx, tenants.CreateApplicationInput{Name: "web", Type: "WEB",
					ApplicationSettings: tenants.ApplicationSettings{RedirectURIs: []string{"https://app.example/cb"}}})
				return err
			}},
			{"updateApplication", []string{"application.update"}, func() error {
				_, err := svc.UpdateApplication(ctx, tenants.UpdateApplicationInput{ID: app.ID, Name: ptr("Web")})
				return err
			}},
			{"rotateApplicationSecret", []string{"application.secret.rotate"}, func() error {
				_, _, err := svc.RotateApplicationSecret(ctx, app.ID)
				return err
			}},
			{"deleteApplication", []string{"application.delete"}, func() error { return svc.DeleteApplication(ctx, app.ID) }},
			{"createAPIKey", []string{"apikey.create"}, func() (err error) {
				key, _, err = svc.CreateAPIKey(ctx, tenants.CreateAPIKeyInput{Name: "ci", Scopes: []string{"org:" + string(org.ID)}})
				return err
			}},
			{"revokeAPIKey", []string{"apikey.revoke"}, func() error {
				_, err := svc.RevokeAPIKey(ctx, key.ID)
				return err
			}},
			{"deleteOrganization", []string{"organization.delete"}, func() error { return svc.DeleteOrganization(ctx, org.ID) }},
		} {
			expect(step.name, step.actions, step.run)
		}

		// Deleting the organization cascaded to what it owned, and kept its history.
		if n := client.Membership.Query().CountX(sys) + client.Role.Query().CountX(sys) + client.OrganizationPolicy.Query().CountX(sys) + client.APIKey.Query().CountX(sys); n != 0 {
			t.Errorf("%d owned rows survived deleting the organization", n)
		}
		if n := client.AuditEvent.Query().Where(auditevent.OrganizationID(org.ID)).CountX(sys); n < 10 {
			t.Errorf("only %d audit events of the deleted organization remain", n)
		}
		if n := client.User.Query().CountX(sys); n != 2 {
			t.Errorf("%d users remain, want 2: users are global and outlive organizations", n)
		}
	})
}

// AuditMetadataColumn names the metadata column of AuditColumns, which
// statements written in SQL cast to jsonb.
func TestAuditMetadataColumn(t *testing.T) {
	cols := strings.Split(tenants.AuditColumns, ", ")
	if len(cols) <= tenants.AuditMetadataColumn || cols[tenants.AuditMetadataColumn] != `"metadata"` {
		t.Fatalf("AuditColumns[%d] is not the metadata: %v", tenants.AuditMetadataColumn, cols)
	}
}
