package tenants

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/adminportallink"
	"github.com/gatehouse-id/gatehouse/ent/connection"
	"github.com/gatehouse-id/gatehouse/ent/portalsession"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/internal/secret"
	"github.com/gatehouse-id/gatehouse/tenants/authz"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// The admin portal (as WorkOS's): an organization's administrator, or the
// SaaS product with its API key, creates a short-lived, single-use link
// for the customer's IT admin (CreateAdminPortalLink). Spending it starts
// a portal session (RedeemAdminPortalLink), which /graphql and the portal
// pages turn into a Portal viewer (PortalViewer): that one organization,
// and only the permissions the link's intent needs. This file is the one
// home of those rules.

// PortalIntent is what an admin portal link is for.
type PortalIntent string

const (
	// PortalIntentSSO sets up an SSO connection.
	PortalIntentSSO PortalIntent = "SSO"
	// PortalIntentDomainVerification adds and verifies a domain.
	PortalIntentDomainVerification PortalIntent = "DOMAIN_VERIFICATION"
)

const (
	// AdminPortalLinkTTL is how long a link may wait to be opened.
	AdminPortalLinkTTL = 5 * time.Minute
	// PortalSessionLifetime is a portal session's absolute lifetime.
	PortalSessionLifetime = time.Hour
	// PortalSessionIdle ends a portal session not used for this long.
	PortalSessionIdle = 15 * time.Minute
)

// The portal session cookie, shared by the pages (web) and /graphql
// (graph): PortalCookieSecure under an https issuer (the __Host- prefix:
// Secure, Path=/, no Domain), PortalCookie under http (development).
const (
	PortalCookie       = "gatehouse_portal"
	PortalCookieSecure = "__Host-gatehouse_portal"
)

// Audit actions of the admin portal.
const (
	ActionPortalLinkCreated    = "portal.link_created"
	ActionPortalSessionStarted = "portal.session_started"
)

// createPermission is what creating a link for intent needs in the
// organization; portalPermissions what the session it starts holds there.
// organization:read also lets the session read the organization's domains
// and connections (there is no narrower read permission).
func (i PortalIntent) createPermission() (authz.Permission, bool) {
	switch i {
	case PortalIntentSSO:
		return authz.ConnectionsManage, true
	case PortalIntentDomainVerification:
		return authz.DomainsManage, true
	}
	return "", false
}

// PortalPermissions are the permissions a portal session of intent i
// holds in its organization.
func (i PortalIntent) PortalPermissions() []authz.Permission {
	p, ok := i.createPermission()
	if !ok {
		return nil
	}
	return []authz.Permission{authz.OrganizationRead, p}
}

// CreateAdminPortalLinkInput describes a link to create.
type CreateAdminPortalLinkInput struct {
	OrganizationID pulid.ID
	Intent         PortalIntent
	// ReturnURL is where the portal's last step offers to go back to
	// (absolute https; optional).
	ReturnURL string
}

// CreateAdminPortalLink creates a link and returns its token (shown once,
// kept only as a hash) and when it expires. The caller needs
// connections:manage (intent SSO) or domains:manage (DOMAIN_VERIFICATION)
// in the organization.
func (s *Service) CreateAdminPortalLink(ctx context.Context, in CreateAdminPortalLinkInput) (token string, expires time.Time, err error) {
	p, ok := in.Intent.createPermission()
	if !ok {
		return "", time.Time{}, invalid("intent", "must be SSO or DOMAIN_VERIFICATION")
	}
	if err := checkHTTPSURL("returnURL", &in.ReturnURL); err != nil {
		return "", time.Time{}, err
	}
	if err := require(ctx, in.OrganizationID, p); err != nil {
		return "", time.Time{}, err
	}
	if v := viewer.FromContext(ctx); v != nil && v.Kind == viewer.Portal {
		// Else a session could renew itself past its hour.
		return "", time.Time{}, &ForbiddenError{Field: "organizationID", Reason: "a portal session cannot create portal links"}
	}
	actor := "anonymous"
	if v := viewer.FromContext(ctx); v != nil {
		actor = v.Actor
	}
	token = secret.Token(32)
	now := s.now()
	expires = now.Add(AdminPortalLinkTTL)
	err = s.inTx(ctx, func(tx *ent.Tx) error {
		if _, err := tx.Organization.Get(ctx, in.OrganizationID); err != nil {
			return translate(err, "organization")
		}
		l, err := tx.AdminPortalLink.Create().SetOrganizationID(in.OrganizationID).
			SetIntent(adminportallink.Intent(in.Intent)).SetTokenHash(secret.Hash(token)).SetCreatedBy(actor).
			SetReturnURL(in.ReturnURL).SetCreatedAt(now).SetExpiresAt(expires).Save(viewer.SystemContext(ctx))
		if err != nil {
			return fmt.Errorf("store admin portal link: %w", err)
		}
		return s.audit(ctx, tx, event{action: ActionPortalLinkCreated, org: in.OrganizationID,
			targetType: "admin_portal_link", targetID: l.ID,
			metadata: map[string]any{"intent": string(in.Intent), "expires_at": expires.UTC().Format(time.RFC3339)}})
	})
	if err != nil {
		return "", time.Time{}, err
	}
	return token, expires, nil
}

// PortalSession is a started portal session.
type PortalSession struct {
	ID             pulid.ID
	OrganizationID pulid.ID
	Intent         PortalIntent
	ReturnURL      string
	ExpiresAt      time.Time
}

// Viewer is the Portal viewer of the session: its organization only,
// with the permissions its intent needs.
func (p *PortalSession) Viewer() *viewer.Viewer {
	return &viewer.Viewer{Kind: viewer.Portal, Actor: string(p.ID), Organizations: []pulid.ID{p.OrganizationID},
		Permissions: map[pulid.ID][]string{p.OrganizationID: p.Intent.PortalPermissions()}}
}

// RedeemAdminPortalLink spends a link and starts a portal session: it
// returns the session's token (for the browser's cookie). Of parallel
// redemptions of one link exactly one succeeds (one conditional UPDATE);
// a spent, expired or unknown link is ErrUnauthenticated.
func (s *Service) RedeemAdminPortalLink(ctx context.Context, token string) (string, *PortalSession, error) {
	if token == "" || len(token) > 128 {
		return "", nil, ErrUnauthenticated
	}
	sys := viewer.SystemContext(ctx)
	now := s.now()
	hash := secret.Hash(token)
	n, err := s.client.AdminPortalLink.Update().Where(adminportallink.TokenHash(hash), adminportallink.UsedAtIsNil(),
		adminportallink.ExpiresAtGT(now)).SetUsedAt(now).Save(sys)
	if err != nil {
		return "", nil, fmt.Errorf("spend admin portal link: %w", err)
	}
	if n != 1 {
		return "", nil, ErrUnauthenticated
	}
	l, err := s.client.AdminPortalLink.Query().Where(adminportallink.TokenHash(hash)).Only(sys)
	if err != nil {
		return "", nil, fmt.Errorf("read admin portal link: %w", err)
	}
	sessionToken := secret.Token(32)
	ps := &PortalSession{OrganizationID: l.OrganizationID, Intent: PortalIntent(l.Intent), ReturnURL: l.ReturnURL,
		ExpiresAt: now.Add(PortalSessionLifetime)}
	err = s.inTx(sys, func(tx *ent.Tx) error {
		row, err := tx.PortalSession.Create().SetOrganizationID(l.OrganizationID).
			SetIntent(portalsession.Intent(l.Intent)).SetTokenHash(secret.Hash(sessionToken)).SetLinkID(l.ID).
			SetReturnURL(l.ReturnURL).SetCreatedAt(now).SetExpiresAt(ps.ExpiresAt).SetLastUsedAt(now).Save(sys)
		if err != nil {
			return fmt.Errorf("store portal session: %w", err)
		}
		ps.ID = row.ID
		// The session acts from here on: it is the audit actor.
		actx := viewer.NewContext(ctx, ps.Viewer())
		return s.audit(actx, tx, event{action: ActionPortalSessionStarted, org: l.OrganizationID,
			targetType: "portal_session", targetID: row.ID,
			metadata: map[string]any{"intent": string(l.Intent), "link_id": string(l.ID), "created_by": l.CreatedBy}})
	})
	if err != nil {
		return "", nil, err
	}
	return sessionToken, ps, nil
}

// PortalSessionFor returns the live session of token and marks it used
// now; an unknown, ended or idle one is ErrUnauthenticated.
func (s *Service) PortalSessionFor(ctx context.Context, token string) (*PortalSession, error) {
	if token == "" || len(token) > 128 {
		return nil, ErrUnauthenticated
	}
	sys := viewer.SystemContext(ctx)
	now := s.now()
	hash := secret.Hash(token)
	n, err := s.client.PortalSession.Update().Where(portalsession.TokenHash(hash), portalsession.ExpiresAtGT(now),
		portalsession.LastUsedAtGT(now.Add(-PortalSessionIdle))).SetLastUsedAt(now).Save(sys)
	if err != nil {
		return nil, fmt.Errorf("use portal session: %w", err)
	}
	if n != 1 {
		return nil, ErrUnauthenticated
	}
	row, err := s.client.PortalSession.Query().Where(portalsession.TokenHash(hash)).Only(sys)
	if err != nil {
		return nil, fmt.Errorf("read portal session: %w", err)
	}
	return &PortalSession{ID: row.ID, OrganizationID: row.OrganizationID, Intent: PortalIntent(row.Intent),
		ReturnURL: row.ReturnURL, ExpiresAt: row.ExpiresAt}, nil
}

// PortalViewer is the viewer of a portal session token (PortalSessionFor).
func (s *Service) PortalViewer(ctx context.Context, token string) (*viewer.Viewer, error) {
	ps, err := s.PortalSessionFor(ctx, token)
	if err != nil {
		return nil, err
	}
	return ps.Viewer(), nil
}

// EndPortalSession ends the session of token (the portal's "Done").
func (s *Service) EndPortalSession(ctx context.Context, token string) error {
	_, err := s.client.PortalSession.Delete().Where(portalsession.TokenHash(secret.Hash(token))).
		Exec(viewer.SystemContext(ctx))
	if err != nil {
		return fmt.Errorf("end portal session: %w", err)
	}
	return nil
}

// PortalTestConnection is the connection a portal session may run a test
// sign-in at: a DRAFT or INACTIVE connection of the session's own
// organization, for an SSO session. Another organization's connection is
// ErrNotFound, as a missing one.
func (s *Service) PortalTestConnection(ctx context.Context, ps *PortalSession, id pulid.ID) (*ent.Connection, error) {
	if ps.Intent != PortalIntentSSO {
		return nil, &ForbiddenError{Field: "connection", Reason: "this portal session is not for SSO setup"}
	}
	c, err := s.client.Connection.Get(viewer.NewContext(ctx, ps.Viewer()), id)
	if err != nil {
		return nil, translate(err, "connection")
	}
	if c.State == connection.StateACTIVE {
		return nil, invalid("connection", "is active already: sign in through it instead of testing")
	}
	return c, nil
}

// SweepAdminPortal deletes expired links and sessions.
func (s *Service) SweepAdminPortal(ctx context.Context) (int, error) {
	sys := viewer.SystemContext(ctx)
	now := s.now()
	a, err := s.client.AdminPortalLink.Delete().Where(adminportallink.ExpiresAtLTE(now)).Exec(sys)
	if err != nil {
		return 0, fmt.Errorf("sweep admin portal links: %w", err)
	}
	b, err := s.client.PortalSession.Delete().Where(portalsession.Or(portalsession.ExpiresAtLTE(now),
		portalsession.LastUsedAtLTE(now.Add(-PortalSessionIdle)))).Exec(sys)
	if err != nil {
		return a, fmt.Errorf("sweep portal sessions: %w", err)
	}
	return a + b, nil
}
