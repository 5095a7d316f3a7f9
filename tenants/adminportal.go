package tenants

import (
	"context"
	"database/sql"
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

// PortalCookieName is the portal session cookie's name under an https
// issuer or not.
func PortalCookieName(https bool) string {
	if https {
		return PortalCookieSecure
	}
	return PortalCookie
}

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
// holds in its organization. SSO setup also verifies the organization's
// domains (domains:manage, as DOMAIN_VERIFICATION): home-realm discovery
// sends only addresses at a VERIFIED domain to the connection, so a
// connection without one serves no one. Members, roles, API keys and
// portal links stay out of every portal session's reach.
func (i PortalIntent) PortalPermissions() []authz.Permission {
	p, ok := i.createPermission()
	if !ok {
		return nil
	}
	if i == PortalIntentSSO {
		return []authz.Permission{authz.OrganizationRead, p, authz.DomainsManage}
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
	l, err := s.spendAdminPortalLink(ctx, token, now)
	if err != nil {
		return "", nil, err
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
	now := s.now()
	rows, err := s.client.QueryContext(ctx, usePortalSessionSQL, now, secret.Hash(token), now.Add(-PortalSessionIdle))
	if err != nil {
		return nil, fmt.Errorf("use portal session: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("use portal session: %w", err)
		}
		return nil, ErrUnauthenticated
	}
	var (
		ps        PortalSession
		id, org   string
		returnURL sql.NullString
		expires   sql.NullTime
	)
	if err := rows.Scan(&id, &org, &ps.Intent, &returnURL, &expires); err != nil {
		return nil, fmt.Errorf("read portal session: %w", err)
	}
	ps.ID, ps.OrganizationID, ps.ReturnURL, ps.ExpiresAt = pulid.ID(id), pulid.ID(org), returnURL.String, expires.Time
	return &ps, nil
}

// usePortalSessionSQL marks a live session used and returns it: one
// statement on every request a portal session makes ($1 now, $2 the token
// hash, $3 the idle cutoff; SQLite and PostgreSQL both take
// UPDATE … RETURNING).
const usePortalSessionSQL = `UPDATE "portal_sessions" SET "last_used_at" = $1
WHERE "token_hash" = $2 AND "expires_at" > $1 AND "last_used_at" > $3
RETURNING "id", "organization_id", "intent", "return_url", "expires_at"`

// spendAdminPortalLink marks the unspent, unexpired link of token used at
// now and returns it, in one conditional statement: of parallel
// redemptions exactly one gets the row.
func (s *Service) spendAdminPortalLink(ctx context.Context, token string, now time.Time) (*ent.AdminPortalLink, error) {
	rows, err := s.client.QueryContext(ctx, spendAdminPortalLinkSQL, now, secret.Hash(token))
	if err != nil {
		return nil, fmt.Errorf("spend admin portal link: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("spend admin portal link: %w", err)
		}
		return nil, ErrUnauthenticated
	}
	var (
		l                    ent.AdminPortalLink
		id, org              string
		returnURL, createdBy sql.NullString
	)
	if err := rows.Scan(&id, &org, &l.Intent, &returnURL, &createdBy); err != nil {
		return nil, fmt.Errorf("read admin portal link: %w", err)
	}
	l.ID, l.OrganizationID, l.ReturnURL, l.CreatedBy = pulid.ID(id), pulid.ID(org), returnURL.String, createdBy.String
	return &l, nil
}

// spendAdminPortalLinkSQL: $1 now, $2 the token hash.
const spendAdminPortalLinkSQL = `UPDATE "admin_portal_links" SET "used_at" = $1
WHERE "token_hash" = $2 AND "used_at" IS NULL AND "expires_at" > $1
RETURNING "id", "organization_id", "intent", "return_url", "created_by"`

// PortalViewer is the viewer of a portal session token (PortalSessionFor).
func (s *Service) PortalViewer(ctx context.Context, token string) (*viewer.Viewer, error) {
	ps, err := s.PortalSessionFor(ctx, token)
	if err != nil {
		return nil, err
	}
	return ps.Viewer(), nil
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

// PortalResumeConnection is the connection an SSO portal session takes
// up instead of creating one: its organization's most recent DRAFT
// connection (ids sort by creation), or nil when it has none. Not only
// the drafts this session made: a setup begun under an earlier link
// (whose session ended, or whose tab was closed) is resumed by the next
// one rather than left behind as a second draft; the session can read
// and change every connection of the organization anyway
// (connections:manage), and a DRAFT serves no sign-in. ACTIVE and
// INACTIVE connections are not setups in progress.
func (s *Service) PortalResumeConnection(ctx context.Context, ps *PortalSession) (*ent.Connection, error) {
	if ps.Intent != PortalIntentSSO {
		return nil, nil
	}
	c, err := s.client.Connection.Query().
		Where(connection.OrganizationID(ps.OrganizationID), connection.StateEQ(connection.StateDRAFT)).
		Order(ent.Desc(connection.FieldID)).First(viewer.NewContext(ctx, ps.Viewer()))
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find draft connection: %w", err)
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
