package tenants

import (
	"context"
	"fmt"
	"slices"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/membership"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/tenants/authz"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// Built-in role keys (defined with their permissions in tenants/authz).
const (
	RoleOwner  = authz.RoleOwner
	RoleAdmin  = authz.RoleAdmin
	RoleMember = authz.RoleMember
)

// require fails unless the viewer holds p in org: with ErrNotFound when
// org is outside an organization viewer's reach (another tenant's
// organization and a missing one answer alike), with ErrForbidden when the
// viewer is in org without p.
func require(ctx context.Context, org pulid.ID, p authz.Permission) error {
	v := viewer.FromContext(ctx)
	switch {
	case authz.Can(v, org, p):
		return nil
	case v != nil && v.OrganizationScoped() && !v.CanAccessOrganization(org):
		return fmt.Errorf("organization: %w", ErrNotFound)
	}
	return &ForbiddenError{Field: "organizationID", Reason: "needs the " + p + " permission in this organization"}
}

// scoped reports whether the viewer is an organization-scoped caller (an
// organization's API key, an admin token or a key a user minted), whose
// reach over global users is limited to what the organization owns.
func scoped(ctx context.Context) bool {
	v := viewer.FromContext(ctx)
	return v == nil || !v.Unrestricted()
}

// requireGrant fails with a ForbiddenError on field unless the viewer holds
// every permission in ps in org: no one hands out, takes away or acts upon
// more than they hold.
func requireGrant(ctx context.Context, org pulid.ID, field string, ps []string) error {
	if authz.CanGrant(viewer.FromContext(ctx), org, ps) {
		return nil
	}
	return &ForbiddenError{Field: field, Reason: "needs permissions the caller does not hold in this organization"}
}

// rolesPermissions is the union of what roles grant.
func rolesPermissions(roles []*ent.Role) []string {
	ps := make([][]string, len(roles))
	for i, r := range roles {
		ps[i] = authz.RolePermissions(r.Key, r.Builtin, r.Permissions)
	}
	return union(ps...)
}

// memberPermissions returns, per organization, what usr may do there
// through its ACTIVE memberships' roles; only organizations in orgs when
// orgs is not empty. A user who is not ACTIVE holds nothing. Read as
// System: it decides what a credential may do, before any viewer exists.
func memberPermissions(ctx context.Context, c *ent.Client, usr pulid.ID, orgs ...pulid.ID) (map[pulid.ID][]string, error) {
	sys := viewer.SystemContext(ctx)
	q := c.Membership.Query().Where(membership.UserID(usr), ActiveMembership(),
		membership.HasUserWith(ActiveUser())).WithRoles()
	if len(orgs) > 0 {
		q.Where(membership.OrganizationIDIn(orgs...))
	}
	ms, err := q.All(sys)
	if err != nil {
		return nil, fmt.Errorf("look up member permissions: %w", err)
	}
	out := make(map[pulid.ID][]string, len(ms))
	for _, m := range ms {
		if ps := rolesPermissions(m.Edges.Roles); len(ps) > 0 {
			out[m.OrganizationID] = ps
		}
	}
	return out, nil
}

// organizationViewer returns the viewer for a credential that acts on
// behalf of usr with perms (from memberPermissions).
func organizationViewer(actor string, usr pulid.ID, perms map[pulid.ID][]string) *viewer.Viewer {
	v := &viewer.Viewer{Kind: viewer.Organization, Actor: actor, UserID: usr, OnBehalfOf: usr, Permissions: perms}
	for o := range perms {
		v.Organizations = append(v.Organizations, o)
	}
	slices.Sort(v.Organizations)
	return v
}

// memberGrants returns what a membership's roles grant, read as System so
// that a caller who may manage members but not read every role still has
// the target's full weight counted.
func memberGrants(ctx context.Context, tx *ent.Tx, m *ent.Membership) ([]string, error) {
	roles, err := tx.Membership.QueryRoles(m).All(viewer.SystemContext(ctx))
	if err != nil {
		return nil, translate(err, "membership")
	}
	return rolesPermissions(roles), nil
}
