package provider

import (
	"errors"
	"slices"
	"testing"

	"github.com/gatehouse-id/gatehouse/ent/membership"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
)

// TestOrgClaims reads the organization claims of a membership: roles in
// key order, each permission once in the order of its first role, empty
// lists (never null) for a member without roles, and ErrNotMember for
// anyone who is not an ACTIVE member of that organization.
func TestOrgClaims(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx, db := e.ctx, e.db
		billing, err := db.Role.Create().SetOrganizationID(e.org.ID).SetKey("billing").SetName("Billing").
			SetPermissions([]string{"invoices:read", "members:read"}).Save(ctx)
		must(t, err)
		viewer, err := db.Role.Create().SetOrganizationID(e.org.ID).SetKey("viewer").SetName("Viewer").Save(ctx)
		must(t, err)
		m, err := db.Membership.Query().Where(membership.UserID(e.user.ID), membership.OrganizationID(e.org.ID)).Only(ctx)
		must(t, err)
		must(t, m.Update().AddRoles(viewer, billing).Exec(ctx))

		c, err := e.p.orgClaims(ctx, e.user.ID, e.org.ID)
		must(t, err)
		if c.OrgID != string(e.org.ID) || c.OrgSlug != "acme" ||
			!slices.Equal(c.OrgRoles, []string{"admin", "billing", "viewer"}) ||
			!slices.Equal(c.Permissions, []string{"members:read", "members:write", "invoices:read"}) {
			t.Errorf("claims = %+v", c)
		}

		bob, err := db.User.Create().SetEmail("bob@example.com").Save(ctx)
		must(t, err)
		_, err = db.Membership.Create().SetOrganizationID(e.org.ID).SetUserID(bob.ID).Save(ctx)
		must(t, err)
		c, err = e.p.orgClaims(ctx, bob.ID, e.org.ID)
		must(t, err)
		if c.OrgRoles == nil || c.Permissions == nil || len(c.OrgRoles)+len(c.Permissions) != 0 {
			t.Errorf("member without roles: %+v, want empty lists", c)
		}

		other, err := db.Organization.Create().SetName("Other").SetSlug("other").Save(ctx)
		must(t, err)
		must(t, m.Update().SetStatus(membership.StatusSUSPENDED).Exec(ctx))
		for _, c := range []struct {
			name  string
			orgID pulid.ID
		}{{"suspended member", e.org.ID}, {"not a member", other.ID}} {
			if _, err := e.p.orgClaims(ctx, e.user.ID, c.orgID); !errors.Is(err, ErrNotMember) {
				t.Errorf("%s: err = %v, want ErrNotMember", c.name, err)
			}
		}
	})
}
