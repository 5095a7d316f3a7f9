package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/grant"
	"github.com/gatehouse-id/gatehouse/ent/membership"
	"github.com/gatehouse-id/gatehouse/ent/predicate"
	"github.com/gatehouse-id/gatehouse/ent/refreshtoken"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/ent/session"
	"github.com/gatehouse-id/gatehouse/ent/user"
	"github.com/gatehouse-id/gatehouse/internal/secret"
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

// refreshRequest is a validated refresh token with its grant; it
// implements op.RefreshTokenRequest.
type refreshRequest struct {
	g      *ent.Grant
	rt     *ent.RefreshToken
	scopes []string
}

func (r *refreshRequest) GetAMR() []string            { return r.g.Amr }
func (r *refreshRequest) GetAudience() []string       { return []string{r.g.ClientID} }
func (r *refreshRequest) GetAuthTime() time.Time      { return r.g.AuthTime }
func (r *refreshRequest) GetClientID() string         { return r.g.ClientID }
func (r *refreshRequest) GetScopes() []string         { return r.scopes }
func (r *refreshRequest) GetSubject() string          { return string(r.g.UserID) }
func (r *refreshRequest) SetCurrentScopes(s []string) { r.scopes = s }

// recordSigning tells SigningKey which application's ID-token algorithm
// to use for the ID token the library is about to sign (see reqState).
func (p *Provider) recordSigning(ctx context.Context, clientID string) (*client, error) {
	c, err := p.clients.get(ctx, clientID)
	if err != nil {
		return nil, oidc.ErrInvalidClient().WithParent(err)
	}
	if st := stateFrom(ctx); st != nil {
		st.mu.Lock()
		st.signing = c
		st.mu.Unlock()
	}
	return c, nil
}

// createGrant records one code redemption: the refresh family and the
// parent of its access tokens. Its absolute end is the application's
// refresh-token lifetime.
func (p *Provider) createGrant(ctx context.Context, c *client, ar *ent.AuthRequest) (*ent.Grant, error) {
	if ar.OrganizationID != "" {
		if err := p.activeMember(ctx, ar.UserID, ar.OrganizationID); err != nil {
			return nil, err
		}
	}
	if err := p.userActive(ctx, ar.UserID); err != nil {
		return nil, err
	}
	create := p.db.Grant.Create().
		SetClientID(ar.ClientID).SetUserID(ar.UserID).SetAuthRequestID(ar.ID).
		SetScopes(ar.Scopes).SetAudience([]string{ar.ClientID}).SetAmr(ar.Amr).SetAcr(ar.Acr).
		SetExpiresAt(p.now().Add(time.Duration(c.app.RefreshTokenLifetimeSeconds) * time.Second))
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
	g, err := create.Save(ctx)
	if err != nil {
		return nil, p.serverError(ctx, "create grant", err)
	}
	return g, nil
}

// newRefreshToken issues an opaque 256-bit refresh token, stored as its
// SHA-256. Its idle limit never outlives the grant.
func (p *Provider) newRefreshToken(ctx context.Context, db *ent.Client, c *client, g *ent.Grant) (string, error) {
	token := secret.Token(32)
	idle := p.now().Add(time.Duration(c.app.RefreshTokenIdleLifetimeSeconds) * time.Second)
	if idle.After(g.ExpiresAt) {
		idle = g.ExpiresAt
	}
	err := db.RefreshToken.Create().SetGrantID(g.ID).SetTokenHash(secret.Hash(token)).SetIdleExpiresAt(idle).Exec(ctx)
	if err != nil {
		return "", p.serverError(ctx, "create refresh token", err)
	}
	return token, nil
}

// refreshTokenRequest validates a presented refresh token (RFC 6749 §6).
// A token that was already rotated is a reuse: the whole grant is revoked
// (RFC 9700 §4.14.2). Concurrent retries with one token are treated as
// reuse too — the simplest rule that cannot be raced.
func (p *Provider) refreshTokenRequest(ctx context.Context, token string) (*refreshRequest, error) {
	ctx = systemCtx(ctx)
	if token == "" || len(token) > 256 {
		return nil, errors.New("malformed refresh token")
	}
	rt, err := p.db.RefreshToken.Query().Where(refreshtoken.TokenHash(secret.Hash(token))).WithGrant().Only(ctx)
	if ent.IsNotFound(err) {
		return nil, errors.New("unknown refresh token")
	}
	if err != nil {
		return nil, p.serverError(ctx, "load refresh token", err)
	}
	g, now := rt.Edges.Grant, p.now()
	switch {
	case g.RevokedAt != nil:
		return nil, errors.New("grant revoked")
	case rt.UsedAt != nil:
		if err := p.revokeGrants(ctx, "refresh token reuse", grant.ID(g.ID)); err != nil {
			return nil, p.serverError(ctx, "revoke reused family", err)
		}
		p.log.WarnContext(ctx, "provider: refresh token reused; grant revoked", "grant", g.ID, "client_id", g.ClientID)
		return nil, errors.New("refresh token reused")
	case !now.Before(g.ExpiresAt):
		return nil, errors.New("grant expired")
	case !now.Before(rt.IdleExpiresAt):
		return nil, errors.New("refresh token idle too long")
	}
	if err := p.userActive(ctx, g.UserID); err != nil {
		p.revokeGrantsOrLog(ctx, "user disabled", g.ID)
		return nil, err
	}
	if g.OrganizationID != "" {
		if err := p.activeMember(ctx, g.UserID, g.OrganizationID); err != nil {
			p.revokeGrantsOrLog(ctx, "membership ended", g.ID)
			return nil, err
		}
	}
	return &refreshRequest{g: g, rt: rt, scopes: g.Scopes}, nil
}

// rotateRefreshToken marks the presented token used with one conditional
// UPDATE and issues its successor, in one transaction (one commit, one
// WAL flush). Losing the race is reuse.
func (p *Provider) rotateRefreshToken(ctx context.Context, c *client, r *refreshRequest) (string, error) {
	tx, err := p.db.Tx(ctx)
	if err != nil {
		return "", p.serverError(ctx, "begin refresh rotation", err)
	}
	n, err := tx.RefreshToken.Update().
		Where(refreshtoken.ID(r.rt.ID), refreshtoken.UsedAtIsNil()).SetUsedAt(p.now()).Save(ctx)
	if err != nil {
		_ = tx.Rollback()
		return "", p.serverError(ctx, "rotate refresh token", err)
	}
	if n != 1 {
		_ = tx.Rollback()
		p.revokeGrantsOrLog(ctx, "refresh token reuse", r.g.ID)
		return "", errInvalidGrant(errors.New("refresh token reused"))
	}
	token, err := p.newRefreshToken(ctx, tx.Client(), c, r.g)
	if err != nil {
		_ = tx.Rollback()
		return "", err
	}
	if err := tx.Commit(); err != nil {
		return "", p.serverError(ctx, "commit refresh rotation", err)
	}
	return token, nil
}

// revokeGrants revokes every unrevoked grant matching preds.
func (p *Provider) revokeGrants(ctx context.Context, reason string, preds ...predicate.Grant) error {
	preds = append(preds, grant.RevokedAtIsNil())
	return p.db.Grant.Update().Where(preds...).SetRevokedAt(p.now()).SetRevokeReason(reason).Exec(systemCtx(ctx))
}

// revokeGrantsOrLog revokes grant id on a path that has already decided to
// refuse the request: the refusal stands either way, but a revocation that
// did not happen must be seen, since the family stays alive.
func (p *Provider) revokeGrantsOrLog(ctx context.Context, reason string, id pulid.ID) {
	if err := p.revokeGrants(ctx, reason, grant.ID(id)); err != nil {
		p.log.ErrorContext(ctx, "provider: grant revocation failed; tokens of the grant stay valid", "grant", id, "reason", reason, "error", err)
	}
}

// isActiveMember reports whether user has an ACTIVE membership in org: one
// EXISTS query (orgClaims loads the roles when the claims are needed).
func (p *Provider) isActiveMember(ctx context.Context, userID, orgID pulid.ID) (bool, error) {
	return p.db.Membership.Query().Where(membership.UserID(userID), membership.OrganizationID(orgID),
		membership.StatusEQ(membership.StatusACTIVE)).Exist(systemCtx(ctx))
}

// activeMember is isActiveMember as the token endpoint answers it.
func (p *Provider) activeMember(ctx context.Context, userID, orgID pulid.ID) error {
	ok, err := p.isActiveMember(ctx, userID, orgID)
	if err != nil {
		return p.serverError(ctx, "check membership", err)
	}
	if !ok {
		return errInvalidGrant(ErrNotMember)
	}
	return nil
}

// revokeSession ends the hosted pages' Session id of user (logout). An
// unknown, foreign or already revoked session is left alone.
func (p *Provider) revokeSession(ctx context.Context, id, userID pulid.ID) error {
	if !id.Valid() || id.Prefix() != "ses" {
		return nil
	}
	return p.db.Session.Update().
		Where(session.ID(id), session.UserID(userID), session.RevokedAtIsNil()).
		SetRevokedAt(p.now()).Exec(systemCtx(ctx))
}

func (p *Provider) userActive(ctx context.Context, id pulid.ID) error {
	ok, err := p.db.User.Query().Where(user.ID(id), user.StatusEQ(user.StatusACTIVE)).Exist(systemCtx(ctx))
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

// orgClaims returns the organization claims for an ACTIVE membership, or
// invalid_grant: a user who is not an active member cannot get a token for
// the organization.
func (p *Provider) orgClaims(ctx context.Context, userID, orgID pulid.ID) (*organizationClaims, error) {
	m, err := p.db.Membership.Query().
		Where(membership.UserID(userID), membership.OrganizationID(orgID), membership.StatusEQ(membership.StatusACTIVE)).
		WithOrganization().WithRoles().Only(systemCtx(ctx))
	if ent.IsNotFound(err) {
		return nil, errInvalidGrant(ErrNotMember)
	}
	if err != nil {
		return nil, p.serverError(ctx, "load membership", err)
	}
	roles, perms := []string{}, []string{}
	seen := map[string]bool{}
	for _, r := range m.Edges.Roles {
		roles = append(roles, r.Key)
		for _, perm := range r.Permissions {
			if !seen[perm] {
				seen[perm] = true
				perms = append(perms, perm)
			}
		}
	}
	return &organizationClaims{OrgID: string(orgID), OrgSlug: m.Edges.Organization.Slug, OrgRoles: roles, Permissions: perms}, nil
}

// createTokens is CreateAccessToken and CreateAccessAndRefreshTokens. The
// "id" it returns to the library is the signed access token itself (see
// accesstoken.go); its jti names the grant.
func (p *Provider) createTokens(ctx context.Context, req op.TokenRequest, withRefresh bool, current string) (string, string, time.Time, error) {
	ctx = systemCtx(ctx)
	var (
		c   *client
		jti string
		rt  string
		err error
	)
	switch r := req.(type) {
	case authRequest:
		if c, err = p.recordSigning(ctx, r.ar.ClientID); err != nil {
			return "", "", time.Time{}, err
		}
		g, err := p.createGrant(ctx, c, r.ar)
		if err != nil {
			return "", "", time.Time{}, err
		}
		if withRefresh {
			if rt, err = p.newRefreshToken(ctx, p.db, c, g); err != nil {
				return "", "", time.Time{}, err
			}
		}
		jti = userJTI(g.ID)
	case *refreshRequest:
		if c, err = p.recordSigning(ctx, r.g.ClientID); err != nil {
			return "", "", time.Time{}, err
		}
		if rt, err = p.rotateRefreshToken(ctx, c, r); err != nil {
			return "", "", time.Time{}, err
		}
		jti = userJTI(r.g.ID)
	default:
		return "", "", time.Time{}, fmt.Errorf("create tokens: unexpected request %T", req)
	}
	exp := p.now().Add(c.accessTokenLifetime())
	at, err := p.signAccessToken(ctx, c, req, jti, exp)
	if err != nil {
		return "", "", time.Time{}, err
	}
	return at, rt, exp, nil
}
