package tenants

import (
	"context"
	"fmt"
	"slices"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/membership"
	"github.com/gatehouse-id/gatehouse/ent/role"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/ent/user"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// AdminScope is the OAuth scope with which a user's access token may
// administer, over GraphQL, the organizations the user owns or administers.
const AdminScope = "gatehouse:admin"

// TokenClaims are the verified claims of an access token issued by
// Gatehouse's OpenID provider.
type TokenClaims struct {
	Subject        pulid.ID
	ClientID       string
	Scopes         []string
	OrganizationID pulid.ID // org_id, when the token names an organization
}

// ViewerForToken decides what a user's access token may do over GraphQL:
//   - with AdminScope, an Organization viewer over the organizations where
//     the user is an ACTIVE owner or admin — only the token's organization
//     when it names one;
//   - otherwise (or with no such organization) a User viewer, who sees only
//     itself.
//
// Roles and status are read now, not from the token: demoting or disabling
// a user takes effect on the next request.
func (s *Service) ViewerForToken(ctx context.Context, c TokenClaims) (*viewer.Viewer, error) {
	sys := viewer.SystemContext(ctx)
	u, err := s.client.User.Query().Where(user.ID(c.Subject), ActiveUser()).Only(sys)
	if ent.IsNotFound(err) {
		return nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, fmt.Errorf("look up token subject: %w", err)
	}
	v := &viewer.Viewer{Kind: viewer.User, Actor: string(u.ID), UserID: u.ID}
	if !slices.Contains(c.Scopes, AdminScope) {
		return v, nil
	}
	q := s.client.Membership.Query().Where(
		membership.UserID(u.ID),
		ActiveMembership(),
		membership.HasRolesWith(role.KeyIn(RoleOwner, RoleAdmin)))
	if c.OrganizationID != "" {
		q.Where(membership.OrganizationID(c.OrganizationID))
	}
	orgs, err := q.Select(membership.FieldOrganizationID).Strings(sys)
	if err != nil {
		return nil, fmt.Errorf("look up administered organizations: %w", err)
	}
	if len(orgs) == 0 {
		return v, nil
	}
	v.Kind = viewer.Organization
	for _, o := range orgs {
		v.Organizations = append(v.Organizations, pulid.ID(o))
	}
	return v, nil
}
