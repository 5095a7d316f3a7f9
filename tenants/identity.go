package tenants

import (
	"context"
	"fmt"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/membership"
	"github.com/gatehouse-id/gatehouse/ent/organization"
	"github.com/gatehouse-id/gatehouse/ent/predicate"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/ent/user"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// The identity rules every surface shares (hosted pages, the OpenID
// provider, GraphQL). They are written once, here; code that must state
// them in SQL of its own (the provider's one-statement refresh) takes its
// values from these definitions, and the same test table runs against it.

// UserActiveStatus is the only user status that may sign in, hold a
// session or use a token.
const UserActiveStatus = user.StatusACTIVE

// MembershipActiveStatus is the only membership status that lets a user
// into an organization (invited and suspended members are not let in).
const MembershipActiveStatus = membership.StatusACTIVE

// ActiveUser selects users who may sign in.
func ActiveUser() predicate.User { return user.StatusEQ(UserActiveStatus) }

// IsActiveUser is ActiveUser for a loaded user.
func IsActiveUser(u *ent.User) bool { return u != nil && u.Status == UserActiveStatus }

// ActiveMembership selects memberships that let their user in.
func ActiveMembership() predicate.Membership { return membership.StatusEQ(MembershipActiveStatus) }

// ActiveMemberOf selects userID's active membership in orgID.
func ActiveMemberOf(userID, orgID pulid.ID) predicate.Membership {
	return membership.And(membership.UserID(userID), membership.OrganizationID(orgID), ActiveMembership())
}

// OrganizationsOfActiveMember selects the organizations where userID is an
// active member.
func OrganizationsOfActiveMember(userID pulid.ID) predicate.Organization {
	return organization.HasMembershipsWith(membership.UserID(userID), ActiveMembership())
}

// IsActiveMember reports whether userID is an active member of orgID.
// The hosted pages ask it for a browser that has no viewer yet, so it
// reads as the System viewer.
func (s *Service) IsActiveMember(ctx context.Context, userID, orgID pulid.ID) (bool, error) {
	ok, err := s.client.Membership.Query().Where(ActiveMemberOf(userID, orgID)).Exist(viewer.SystemContext(ctx))
	if err != nil {
		return false, fmt.Errorf("check membership: %w", err)
	}
	return ok, nil
}
