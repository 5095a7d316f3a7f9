package provider

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/authrequest"
	"github.com/gatehouse-id/gatehouse/ent/grant"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/ent/user"
	"github.com/gatehouse-id/gatehouse/internal/secret"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// Access-token ids (jti). A user token's jti starts with its grant id, so
// revoking the grant (code replay, refresh reuse, logout, user disabled)
// reaches every access token issued under it without storing them; a
// machine token's jti starts with "cc.". A single token is revoked by a
// RevokedToken row for its jti.
const ccJTIPrefix = "cc."

func userJTI(g pulid.ID) string { return string(g) + "." + secret.Token(10) }

// grantOfJTI returns the grant id a user access token's jti names.
func grantOfJTI(jti string) (pulid.ID, bool) {
	g, _, ok := strings.Cut(jti, ".")
	if !ok || !pulid.ID(g).Valid() || pulid.ID(g).Prefix() != "grt" {
		return "", false
	}
	return pulid.ID(g), true
}

// refreshRequest is a validated refresh token with its grant and the
// scopes this refresh asks for (refresh.go).
type refreshRequest struct {
	g       *ent.Grant
	tokenID pulid.ID // the presented refresh token
	scopes  []string
}

// createGrant records one code redemption: the refresh family and the
// parent of its access tokens, its first refresh token when withRefresh,
// and the token.issue audit event, in one transaction. Its lifetimes are
// the application's, shortened by the organization's session policy
// (grantLifetimes). The caller has checked the membership
// (grantOrganization). A replay of the code while the grant was being
// made (OIDC-05) leaves it revoked.
func (p *Provider) createGrant(ctx context.Context, c *client, ar *ent.AuthRequest, withRefresh bool) (_ *ent.Grant, refreshToken string, _ error) {
	if err := p.userActive(ctx, ar.UserID); err != nil {
		return nil, "", err
	}
	expires, idle := grantLifetimes(c, ar, p.now())
	var g *ent.Grant
	err := p.inTx(ctx, func(tx *ent.Tx) error {
		create := tx.Grant.Create().
			SetClientID(ar.ClientID).SetUserID(ar.UserID).SetAuthRequestID(ar.ID).
			SetScopes(ar.Scopes).SetAudience([]string{ar.ClientID}).SetAmr(ar.Amr).SetAcr(ar.Acr).
			SetExpiresAt(expires).SetNillableIdleLifetimeSeconds(idle)
		if ar.AuthTime != nil {
			create.SetAuthTime(*ar.AuthTime)
		} else {
			create.SetAuthTime(p.now())
		}
		if ar.OrganizationID != "" {
			create.SetOrganizationID(ar.OrganizationID)
		}
		if ar.SessionID != "" {
			create.SetSessionID(ar.SessionID)
		}
		var err error
		if g, err = create.Save(ctx); err != nil {
			return fmt.Errorf("create grant: %w", err)
		}
		if withRefresh {
			refreshToken = secret.Token(32) // opaque, 256 bits, stored as its SHA-256 (rotations: refresh.go)
			err := tx.RefreshToken.Create().SetGrantID(g.ID).SetTokenHash(secret.Hash(refreshToken)).SetIdleExpiresAt(p.idleExpiry(c, g)).Exec(ctx)
			if err != nil {
				return fmt.Errorf("create refresh token: %w", err)
			}
		}
		e := grantEvent(ctx, actionTokenIssue, c.GetID(), g, "")
		e.Metadata["grant_type"] = string(oidc.GrantTypeCode)
		e.Metadata["scopes"] = ar.Scopes
		e.Metadata["refresh_token"] = withRefresh
		return tenants.WriteAudit(ctx, tx.AuditEvent, p.now(), e)
	})
	if err != nil {
		return nil, "", p.serverError(ctx, "create grant", err)
	}
	// A replay of the code that ran before the grant existed had nothing
	// to revoke; it left its mark (redeemCode), and the grant is revoked
	// now. The redemption still answers, as it would have had the replay
	// come a moment later: with tokens that no longer verify or refresh.
	replayed, err := p.db.AuthRequest.Query().Where(authrequest.ID(ar.ID), authrequest.CodeReplayedAtNotNil()).Exist(ctx)
	if err != nil {
		return nil, "", p.serverError(ctx, "check code replay", err)
	}
	if replayed {
		if err := p.revokeGrants(ctx, revocation{action: actionGrantRevoke, reason: "code replay", clientID: ar.ClientID}, grant.ID(g.ID)); err != nil {
			return nil, "", p.serverError(ctx, "revoke replayed code's grant", err)
		}
	}
	return g, refreshToken, nil
}

// grantLifetimes are the absolute end of the grant a redemption of ar
// makes now, and its idle lifetime when the policy's is shorter than the
// application's (nil otherwise): the application's refresh-token
// lifetimes, bounded by the session lifetimes of the organization policy
// that CompleteLogin stored on ar (tenants.LoginPolicies: the grant's
// organization, or every organization of the user for a grant in none).
// Refresh tokens end when a session of that sign-in would.
func grantLifetimes(c *client, ar *ent.AuthRequest, now time.Time) (time.Time, *int) {
	expires := now.Add(time.Duration(c.app.RefreshTokenLifetimeSeconds) * time.Second)
	if ar.PolicyExpiresAt != nil && ar.PolicyExpiresAt.Before(expires) {
		expires = *ar.PolicyExpiresAt
	}
	idle := ar.PolicyIdleLifetimeSeconds
	if idle != nil && time.Duration(*idle)*time.Second >= c.refreshIdleLifetime() {
		idle = nil
	}
	return expires, idle
}

// idleExpiry is when a refresh token issued now for g lapses unused: the
// application's idle lifetime, or the grant's own when shorter, never
// past the grant's absolute end.
func (p *Provider) idleExpiry(c *client, g *ent.Grant) time.Time {
	d := c.refreshIdleLifetime()
	if g.IdleLifetimeSeconds != nil {
		d = min(d, time.Duration(*g.IdleLifetimeSeconds)*time.Second)
	}
	idle := p.now().Add(d)
	if idle.After(g.ExpiresAt) {
		return g.ExpiresAt
	}
	return idle
}

// revokeGrantsOrLog revokes grant id on a path that has already decided to
// refuse the request: the refusal stands either way, but a revocation that
// did not happen must be seen, since the family stays alive.
func (p *Provider) revokeGrantsOrLog(ctx context.Context, rev revocation, id pulid.ID) {
	if err := p.revokeGrants(ctx, rev, grant.ID(id)); err != nil {
		p.log.ErrorContext(ctx, "provider: grant revocation failed; tokens of the grant stay valid", "grant", id, "reason", rev.reason, "error", err)
	}
}

// isActiveUser reports whether user id exists and is active (tenants.ActiveUser).
func (p *Provider) isActiveUser(ctx context.Context, id pulid.ID) (bool, error) {
	return p.db.User.Query().Where(user.ID(id), tenants.ActiveUser()).Exist(systemCtx(ctx))
}

// activeMember is tenants' IsActiveMember as the token endpoint answers it.
func (p *Provider) activeMember(ctx context.Context, userID, orgID pulid.ID) error {
	ok, err := p.tenants.IsActiveMember(ctx, userID, orgID)
	if err != nil {
		return p.serverError(ctx, "check membership", err)
	}
	if !ok {
		return errInvalidGrant(ErrNotMember)
	}
	return nil
}

// revokeSession ends the hosted pages' Session id of user (logout by
// clientID's end_session) with the grants issued from it, and records it
// (session.revoke) in the same transaction (tenants.RevokeSession). An
// unknown, foreign or already revoked session is left alone and records
// nothing.
func (p *Provider) revokeSession(ctx context.Context, id, userID pulid.ID, clientID string) error {
	e := tenants.Event{Action: actionSessionRevoke, TargetType: "Session", TargetID: string(id), Reason: "end_session",
		Origin: origin(ctx), Metadata: map[string]any{"user_id": string(userID), "client_id": clientID}}
	clientActor(&e, clientID)
	_, err := p.tenants.RevokeSession(ctx, id, userID, "logout", &e)
	return err
}

// userActive is isActiveUser as the token endpoint answers it.
func (p *Provider) userActive(ctx context.Context, id pulid.ID) error {
	ok, err := p.isActiveUser(ctx, id)
	if err != nil {
		return p.serverError(ctx, "check user", err)
	}
	if !ok {
		return errInvalidGrant(ErrUserInactive)
	}
	return nil
}

// organizationClaims are what the organization scopes add to ID and
// access tokens.
type organizationClaims struct {
	OrgID       string   `json:"org_id"`
	OrgSlug     string   `json:"org_slug"`
	OrgRoles    []string `json:"org_roles"`
	Permissions []string `json:"permissions"`
}

// grantOrganization checks the ACTIVE membership a grant in orgID needs
// and returns the organization claims when scopes ask for them: one query
// either way, none without an organization.
func (p *Provider) grantOrganization(ctx context.Context, userID, orgID pulid.ID, scopes []string) (*organizationClaims, error) {
	switch {
	case orgID == "":
		return nil, nil
	case wantsOrgClaims(scopes):
		return p.orgClaims(ctx, userID, orgID)
	}
	return nil, p.activeMember(ctx, userID, orgID)
}

// orgClaimsQuery reads an ACTIVE membership's organization slug and roles,
// one row per role (one row with NULL role columns for a member without
// roles), in fixed SQL that SQLite and PostgreSQL both accept (see
// refreshRowQuery): one round trip where ent's eager loading took three.
const orgClaimsQuery = `SELECT o."slug", r."key", r."permissions"
FROM "memberships" m
JOIN "organizations" o ON o."id" = m."organization_id"
LEFT JOIN "membership_roles" mr ON mr."membership_id" = m."id"
LEFT JOIN "roles" r ON r."id" = mr."role_id"
WHERE m."user_id" = $1 AND m."organization_id" = $2 AND m."status" = $3
ORDER BY r."key"`

// orgClaims returns the organization claims for an ACTIVE membership, or
// invalid_grant: a user who is not an active member cannot get a token for
// the organization. Roles are in key order; permissions in the order of
// their first role.
func (p *Provider) orgClaims(ctx context.Context, userID, orgID pulid.ID) (*organizationClaims, error) {
	claims, err := p.loadOrgClaims(ctx, userID, orgID)
	switch {
	case err != nil:
		return nil, p.serverError(ctx, "load membership", err)
	case claims == nil:
		return nil, errInvalidGrant(ErrNotMember)
	}
	return claims, nil
}

// loadOrgClaims runs orgClaimsQuery; nil when there is no ACTIVE membership.
func (p *Provider) loadOrgClaims(ctx context.Context, userID, orgID pulid.ID) (*organizationClaims, error) {
	rows, err := p.db.QueryContext(ctx, orgClaimsQuery, string(userID), string(orgID), string(tenants.MembershipActiveStatus))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var claims *organizationClaims
	seen := map[string]bool{}
	for rows.Next() {
		var (
			slug        string
			key         sql.NullString
			permissions []byte
		)
		if err := rows.Scan(&slug, &key, &permissions); err != nil {
			return nil, err
		}
		if claims == nil {
			claims = &organizationClaims{OrgID: string(orgID), OrgSlug: slug, OrgRoles: []string{}, Permissions: []string{}}
		}
		if !key.Valid {
			continue
		}
		claims.OrgRoles = append(claims.OrgRoles, key.String)
		if len(permissions) == 0 {
			continue
		}
		var perms []string
		if err := json.Unmarshal(permissions, &perms); err != nil {
			return nil, fmt.Errorf("role %s permissions: %w", key.String, err)
		}
		for _, perm := range perms {
			if !seen[perm] {
				seen[perm] = true
				claims.Permissions = append(claims.Permissions, perm)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return claims, rows.Close()
}

// createTokens is CreateAccessToken and CreateAccessAndRefreshTokens for
// a redeemed code, the one grant the library still runs (client
// credentials and refresh are served ahead of it: clientcredentials.go,
// refresh.go). The "id" it returns to the library is the signed access
// token itself (see accesstoken.go); its jti names the grant.
func (p *Provider) createTokens(ctx context.Context, req op.TokenRequest, withRefresh bool) (string, string, time.Time, error) {
	ctx = systemCtx(ctx)
	r, ok := req.(authRequest)
	if !ok {
		return "", "", time.Time{}, fmt.Errorf("create tokens: unexpected request %T", req)
	}
	ar := r.ar
	c, err := p.clients.get(ctx, ar.ClientID)
	if err != nil {
		return "", "", time.Time{}, oidc.ErrInvalidClient().WithParent(err)
	}
	org, err := p.grantOrganization(ctx, ar.UserID, ar.OrganizationID, ar.Scopes)
	if err != nil {
		return "", "", time.Time{}, err
	}
	g, rt, err := p.createGrant(ctx, c, ar, withRefresh)
	if err != nil {
		return "", "", time.Time{}, err
	}
	recordOrgClaims(ctx, org)
	exp := p.now().Add(c.accessTokenLifetime())
	claims := accessTokenClaims{Subject: string(ar.UserID), Audience: r.GetAudience(), JTI: userJTI(g.ID),
		Scope: strings.Join(ar.Scopes, " "), AuthTime: r.GetAuthTime().Unix(), ACR: ar.Acr, organizationClaims: org}
	at, err := p.signAccessTokenClaims(ctx, c, &claims, exp)
	if err != nil {
		return "", "", time.Time{}, err
	}
	return at, rt, exp, nil
}

// tokenResponse is a successful token answer (RFC 6749 §5.1, OIDC Core
// §3.1.3.3).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

func writeTokenResponse(w http.ResponseWriter, resp tokenResponse) {
	body, _ := json.Marshal(resp) // strings and a number: cannot fail
	w.Header()["Content-Type"] = []string{"application/json"}
	_, _ = w.Write(body)
}
