package tenants

import (
	"context"
	"fmt"
	"slices"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/membership"
	"github.com/gatehouse-id/gatehouse/ent/predicate"
	"github.com/gatehouse-id/gatehouse/ent/role"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/tenants/authz"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// AddMemberInput adds an existing user to an organization.
type AddMemberInput struct {
	OrganizationID pulid.ID
	UserID         pulid.ID
	// Roles are role keys of the organization; default member.
	Roles  []string
	Status *membership.Status
}

// AddMember adds a user to an organization. The user must be visible to the
// viewer: a key scoped to organization B can add its own users to B, never
// reach for users it cannot see. An organization-scoped caller adds a user
// whose email domain the organization has not verified as INVITED: the user
// accepts at sign-in.
func (s *Service) AddMember(ctx context.Context, in AddMemberInput) (*ent.Membership, error) {
	if in.Status != nil && membership.StatusValidator(*in.Status) != nil {
		return nil, invalid("status", "must be INVITED, ACTIVE or SUSPENDED")
	}
	if err := require(ctx, in.OrganizationID, authz.MembersManage); err != nil {
		return nil, err
	}
	var m *ent.Membership
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		if _, err := tx.Organization.Get(ctx, in.OrganizationID); err != nil {
			return translate(err, "organization")
		}
		u, err := tx.User.Get(ctx, in.UserID)
		if err != nil {
			return translate(err, "user")
		}
		status := in.Status
		if scoped(ctx) {
			owned, err := emailDomainVerified(ctx, tx, []pulid.ID{in.OrganizationID}, u.Email)
			if err != nil {
				return err
			}
			switch {
			case owned:
			case status == nil:
				status = new(membership.StatusINVITED)
			case *status != membership.StatusINVITED:
				return &ForbiddenError{Field: "status", Reason: "a user outside the organization's verified domains joins by invitation (INVITED)"}
			}
		}
		m, err = s.addMember(ctx, tx, in.OrganizationID, in.UserID, in.Roles, status, "")
		return err
	})
	return unwrap(m, err)
}

// addMember creates the membership and its audit event: member.add, or,
// when invitedEmail is set, member.invite naming the address rather than
// the user (whose id would tell an organization-scoped reader of the audit
// trail whether the address existed before).
func (s *Service) addMember(ctx context.Context, tx *ent.Tx, org, usr pulid.ID, roleKeys []string, status *membership.Status, invitedEmail string) (*ent.Membership, error) {
	if len(roleKeys) == 0 {
		roleKeys = []string{RoleMember}
	}
	roles, err := rolesByKey(ctx, tx, org, roleKeys)
	if err != nil {
		return nil, err
	}
	if err := requireGrant(ctx, org, "roles", rolesPermissions(roles)); err != nil {
		return nil, err
	}
	m, err := tx.Membership.Create().
		SetOrganizationID(org).
		SetUserID(usr).
		SetNillableStatus(status).
		AddRoles(roles...).
		Save(ctx)
	if err != nil {
		return nil, translateWrite(err, "membership", "userID", "is already a member of this organization")
	}
	e := event{action: "member.add", org: org, targetType: "Membership", targetID: m.ID,
		metadata: map[string]any{"userID": string(usr), "roles": roleKeys}}
	if invitedEmail != "" {
		e.action, e.metadata = "member.invite", map[string]any{"email": invitedEmail, "roles": roleKeys}
	}
	return m, s.audit(ctx, tx, e)
}

// rolesByKey loads the roles named by keys in org, failing on any unknown key.
func rolesByKey(ctx context.Context, tx *ent.Tx, org pulid.ID, keys []string) ([]*ent.Role, error) {
	keys = uniqueStrings(keys)
	if len(keys) > 50 {
		return nil, invalid("roles", "must list at most 50 roles")
	}
	roles, err := tx.Role.Query().Where(role.OrganizationID(org), role.KeyIn(keys...)).All(ctx)
	if err != nil {
		return nil, translate(err, "role")
	}
	if len(roles) != len(keys) {
		for _, k := range keys {
			if !slices.ContainsFunc(roles, func(r *ent.Role) bool { return r.Key == k }) {
				return nil, invalid("roles", "role %q does not exist in this organization", k)
			}
		}
	}
	return roles, nil
}

// UpdateMemberRolesInput replaces a membership's roles.
type UpdateMemberRolesInput struct {
	MembershipID pulid.ID
	Roles        []string
}

// UpdateMemberRoles replaces a membership's roles. The caller must hold
// every permission the member holds now and every one the new roles grant
// (an admin can neither make anyone owner nor demote an owner). It refuses
// to take the owner role from an organization's last owner (keepOwners).
func (s *Service) UpdateMemberRoles(ctx context.Context, in UpdateMemberRolesInput) (*ent.Membership, error) {
	if len(in.Roles) == 0 {
		return nil, invalid("roles", "must list at least one role")
	}
	var m *ent.Membership
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		var err error
		if m, err = s.manageableMember(ctx, tx, in.MembershipID); err != nil {
			return err
		}
		roles, err := rolesByKey(ctx, tx, m.OrganizationID, in.Roles)
		if err != nil {
			return err
		}
		if err := requireGrant(ctx, m.OrganizationID, "roles", rolesPermissions(roles)); err != nil {
			return err
		}
		if !slices.Contains(in.Roles, RoleOwner) {
			if err := s.keepOwners(ctx, tx, "membershipID", membership.ID(m.ID)); err != nil {
				return err
			}
		}
		if m, err = m.Update().ClearRoles().AddRoles(roles...).Save(ctx); err != nil {
			return translate(err, "membership")
		}
		return s.audit(ctx, tx, event{action: "member.roles.update", org: m.OrganizationID,
			targetType: "Membership", targetID: m.ID, metadata: map[string]any{"roles": uniqueStrings(in.Roles)}})
	})
	return unwrap(m, err)
}

// RemoveMember deletes a membership. The caller must hold every permission
// the member holds. It refuses to remove an organization's last owner
// (keepOwners).
func (s *Service) RemoveMember(ctx context.Context, id pulid.ID) error {
	return s.inTx(ctx, func(tx *ent.Tx) error {
		m, err := s.manageableMember(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := s.keepOwners(ctx, tx, "membershipID", membership.ID(m.ID)); err != nil {
			return err
		}
		if err := tx.Membership.DeleteOne(m).Exec(ctx); err != nil {
			return translate(err, "membership")
		}
		return s.audit(ctx, tx, event{action: "member.remove", org: m.OrganizationID,
			targetType: "Membership", targetID: m.ID, metadata: map[string]any{"userID": string(m.UserID)}})
	})
}

// manageableMember loads a membership the viewer may change: visible to it,
// in an organization where it holds members:manage, and holding nothing
// the viewer does not hold.
func (s *Service) manageableMember(ctx context.Context, tx *ent.Tx, id pulid.ID) (*ent.Membership, error) {
	m, err := tx.Membership.Get(ctx, id)
	if err != nil {
		return nil, translate(err, "membership")
	}
	if err := require(ctx, m.OrganizationID, authz.MembersManage); err != nil {
		return nil, err
	}
	held, err := memberGrants(ctx, tx, m)
	if err != nil {
		return nil, err
	}
	if err := requireGrant(ctx, m.OrganizationID, "membershipID", held); err != nil {
		return nil, err
	}
	return m, nil
}

// ownerWhoCanAct selects the memberships that keep an organization owned:
// ACTIVE, holding the built-in owner role, of an ACTIVE user. An invited
// or suspended owner, or one whose account is disabled, cannot act for the
// organization and does not count.
func ownerWhoCanAct() predicate.Membership {
	return membership.And(ActiveMembership(), membership.HasRolesWith(role.Key(RoleOwner), role.Builtin(true)),
		membership.HasUserWith(ActiveUser()))
}

// keepOwners is the one last-owner rule. It refuses, with a ConflictError
// on field, a change that would leave an organization without an owner
// who can act (ownerWhoCanAct). leaving selects the memberships the change
// takes from the owners: one membership demoted or removed
// (membership.ID), every membership of a user being disabled
// (membership.UserID). Every such change calls it in its transaction
// before it writes.
//
// It first writes the row of each organization that would lose an owner,
// in id order, so that on PostgreSQL two transactions taking owners from
// the same organization take turns (never deadlock) and the second counts
// what the first committed; SQLite serializes every writer anyway.
func (s *Service) keepOwners(ctx context.Context, tx *ent.Tx, field string, leaving predicate.Membership) error {
	sys := viewer.SystemContext(ctx) // the caller's right to make the change was checked; the count must see every owner
	orgs, err := tx.Membership.Query().Where(leaving, ownerWhoCanAct()).
		Unique(true).Select(membership.FieldOrganizationID).Strings(sys)
	if err != nil || len(orgs) == 0 {
		return translate(err, "membership")
	}
	slices.Sort(orgs)
	ids := make([]pulid.ID, len(orgs))
	now := s.now()
	for i, o := range orgs {
		ids[i] = pulid.ID(o)
		if err := tx.Organization.UpdateOneID(ids[i]).SetUpdatedAt(now).Exec(sys); err != nil {
			return translate(err, "organization")
		}
	}
	kept, err := tx.Membership.Query().Where(membership.OrganizationIDIn(ids...), ownerWhoCanAct(), membership.Not(leaving)).
		Unique(true).Select(membership.FieldOrganizationID).Strings(sys)
	if err != nil {
		return translate(err, "membership")
	}
	for _, o := range orgs {
		if !slices.Contains(kept, o) {
			return &ConflictError{Field: field, Reason: "is the organization's last owner; make another member owner first"}
		}
	}
	return nil
}

// CreateRoleInput creates a custom role.
type CreateRoleInput struct {
	OrganizationID pulid.ID
	Key            string
	Name           string
	Description    *string
	Permissions    []string
}

// CreateRole creates a custom role in an organization.
func (s *Service) CreateRole(ctx context.Context, in CreateRoleInput) (*ent.Role, error) {
	if err := checkSlug("key", in.Key); err != nil {
		return nil, err
	}
	if err := checkName("name", in.Name, 200); err != nil {
		return nil, err
	}
	if err := checkOptionalText("description", in.Description, 1000); err != nil {
		return nil, err
	}
	if err := checkPermissions("permissions", in.Permissions); err != nil {
		return nil, err
	}
	if err := require(ctx, in.OrganizationID, authz.RolesManage); err != nil {
		return nil, err
	}
	if err := requireGrant(ctx, in.OrganizationID, "permissions", in.Permissions); err != nil {
		return nil, err
	}
	var r *ent.Role
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		if _, err := tx.Organization.Get(ctx, in.OrganizationID); err != nil {
			return translate(err, "organization")
		}
		var err error
		r, err = tx.Role.Create().
			SetOrganizationID(in.OrganizationID).
			SetKey(in.Key).
			SetName(in.Name).
			SetNillableDescription(in.Description).
			SetPermissions(uniqueStrings(in.Permissions)).
			Save(ctx)
		if err != nil {
			return translateWrite(err, "role", "key", fmt.Sprintf("role %q already exists in this organization", in.Key))
		}
		return s.audit(ctx, tx, event{action: "role.create", org: r.OrganizationID,
			targetType: "Role", targetID: r.ID, metadata: map[string]any{"key": r.Key}})
	})
	return unwrap(r, err)
}
