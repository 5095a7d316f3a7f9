package tenants

import (
	"context"
	"fmt"
	"slices"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/application"
	"github.com/gatehouse-id/gatehouse/ent/grant"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/ent/user"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// AdminScope is the OAuth scope with which a user's access token may
// administer, over GraphQL, the organizations where the user's roles grant
// permissions; only applications granted it may obtain it.
const AdminScope = "gatehouse:admin"

// TokenClaims are the verified claims of an access token issued by
// Gatehouse's OpenID provider.
type TokenClaims struct {
	Subject        pulid.ID
	ClientID       string
	Scopes         []string
	OrganizationID pulid.ID // org_id, when the token names an organization
	// GrantID is the grant (refresh-token family) the token was issued
	// from, when the verifier knows it; its session becomes the viewer's
	// SessionID.
	GrantID pulid.ID
}

// ViewerForToken decides what a user's access token may do over GraphQL.
// Only tokens that carry AdminScope, issued to an application granted
// AdminScope, are accepted (ErrInsufficientScope otherwise). Such a token
// is an Organization viewer over the organizations where the user's ACTIVE
// memberships grant any permission — only the token's organization when it
// names one — holding exactly those permissions; with none, a User viewer
// who sees only itself.
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
	if !slices.Contains(c.Scopes, AdminScope) {
		return nil, ErrInsufficientScope
	}
	app, err := s.client.Application.Query().Where(application.ClientID(c.ClientID)).Only(sys)
	if ent.IsNotFound(err) {
		return nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, fmt.Errorf("look up token client: %w", err)
	}
	if !slices.Contains(app.Scopes, AdminScope) {
		return nil, ErrInsufficientScope
	}
	var orgs []pulid.ID
	if c.OrganizationID != "" {
		orgs = []pulid.ID{c.OrganizationID}
	}
	perms, err := memberPermissions(ctx, s.client, u.ID, orgs...)
	if err != nil {
		return nil, err
	}
	var v *viewer.Viewer
	if len(perms) == 0 {
		v = &viewer.Viewer{Kind: viewer.User, Actor: string(u.ID), UserID: u.ID}
	} else {
		v = organizationViewer(string(u.ID), u.ID, perms)
	}
	if c.GrantID != "" {
		g, err := s.client.Grant.Query().Where(grant.ID(c.GrantID), grant.UserID(u.ID)).
			Select(grant.FieldSessionID).Only(sys)
		switch {
		case err == nil:
			v.SessionID = g.SessionID
		case !ent.IsNotFound(err):
			return nil, fmt.Errorf("look up token grant: %w", err)
		}
	}
	return v, nil
}
