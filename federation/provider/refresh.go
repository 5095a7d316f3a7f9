package provider

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"entgo.io/ent/dialect/sql/sqlgraph"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/ent/user"
	"github.com/gatehouse-id/gatehouse/internal/secret"
)

// The refresh token grant (RFC 6749 §6) is served here rather than by the
// library, like client credentials: a refresh is two statements, one read
// (the token, its grant, its user and whether it was already rotated, in
// one join) and one INSERT of its successor, whose unique parent_id lets
// exactly one of any number of concurrent rotations win (OAuth 2.1 §4.3.1,
// RFC 9700 §4.14.2). The library's path read the same rows four times and
// wrote in a transaction of its own.

// refreshGrant rotates the presented refresh token of the authenticated
// client c and issues an access token and, for OpenID grants, an ID token.
func (p *Provider) refreshGrant(w http.ResponseWriter, r *http.Request, c *client) {
	form := r.PostForm
	if len(form["refresh_token"]) > 1 || len(form["scope"]) > 1 || len(form["grant_type"]) > 1 {
		writeOAuthError(w, oidc.ErrInvalidRequest().WithDescription("grant_type, refresh_token and scope must not be repeated"))
		return
	}
	token := form.Get("refresh_token")
	if token == "" {
		writeOAuthError(w, oidc.ErrInvalidRequest().WithDescription("refresh_token missing"))
		return
	}
	if !c.hasGrant(oidc.GrantTypeRefreshToken) {
		writeOAuthError(w, oidc.ErrUnauthorizedClient().WithDescription("the refresh_token grant is not registered for this client"))
		return
	}
	ctx := systemCtx(r.Context())
	req, u, e := p.refreshTokenRequest(ctx, c, token)
	if e != nil {
		writeOAuthError(w, e)
		return
	}
	if requested := strings.Fields(form.Get("scope")); len(requested) > 0 {
		// RFC 6749 §6: a narrower scope, never one the grant lacks.
		for _, s := range requested {
			if !slices.Contains(req.g.Scopes, s) {
				writeOAuthError(w, oidc.ErrInvalidScope().WithDescription("scope %q was not granted", s))
				return
			}
		}
		req.scopes = requested
	}
	org, err := p.grantOrganization(ctx, req.g.UserID, req.g.OrganizationID, req.scopes)
	if err != nil {
		if errors.Is(err, ErrNotMember) {
			p.revokeGrantsOrLog(ctx, "membership ended", req.g.ID)
		}
		writeOAuthError(w, asOAuthError(err))
		return
	}
	next, e := p.rotateRefreshToken(ctx, c, req)
	if e != nil {
		writeOAuthError(w, e)
		return
	}
	now := p.now()
	lifetime := c.accessTokenLifetime()
	at := accessTokenClaims{Subject: string(req.g.UserID), Audience: []string{c.GetID()}, JTI: userJTI(req.g.ID),
		Scope: strings.Join(req.scopes, " "), AuthTime: req.g.AuthTime.Unix(), ACR: req.g.Acr, organizationClaims: org}
	accessToken, err := p.signAccessTokenClaims(ctx, c, &at, now.Add(lifetime))
	if err != nil {
		writeOAuthError(w, oidc.ErrServerError())
		return
	}
	resp := tokenResponse{AccessToken: accessToken, TokenType: oidc.BearerToken, ExpiresIn: int64(lifetime.Seconds()),
		RefreshToken: next, Scope: at.Scope}
	if slices.Contains(req.scopes, oidc.ScopeOpenID) {
		if resp.IDToken, err = p.refreshedIDToken(ctx, c, req, u, org, accessToken); err != nil {
			writeOAuthError(w, oidc.ErrServerError())
			return
		}
	}
	writeTokenResponse(w, resp)
}

// idTokenClaims is the payload of a refreshed ID token, with the same
// members the library gives the ID token of a code exchange (OIDC Core
// §2, §5.1), typed so that it marshals in one pass.
type idTokenClaims struct {
	Issuer          string   `json:"iss"`
	Subject         string   `json:"sub"`
	Audience        []string `json:"aud"`
	Expiry          int64    `json:"exp"`
	IssuedAt        int64    `json:"iat"`
	AuthTime        int64    `json:"auth_time"`
	ACR             string   `json:"acr,omitempty"`
	AMR             []string `json:"amr,omitempty"`
	AuthorizedParty string   `json:"azp"`
	ClientID        string   `json:"client_id"`
	AccessTokenHash string   `json:"at_hash"`
	SessionID       string   `json:"sid,omitempty"`
	oidc.UserInfoProfile
	oidc.UserInfoEmail
	*organizationClaims
}

// refreshedIDToken is the ID token of a refresh (OIDC Core §12.2): the
// original authentication's iss, sub, aud, azp, auth_time, acr and amr, a
// new iat and exp, no nonce, at_hash of the new access token, and the
// same user, session and organization claims as at sign-in.
func (p *Provider) refreshedIDToken(ctx context.Context, c *client, req *refreshRequest, u *ent.User, org *organizationClaims, accessToken string) (string, error) {
	alg := jose.SignatureAlgorithm(c.app.IDTokenSigningAlgorithm)
	atHash, err := oidc.ClaimHash(accessToken, alg)
	if err != nil {
		return "", p.serverError(ctx, "at_hash", err)
	}
	var ui oidc.UserInfo
	userinfoFromUser(&ui, u, req.scopes)
	now := p.now()
	payload, err := json.Marshal(idTokenClaims{
		Issuer: p.cfg.Issuer, Subject: string(u.ID), Audience: []string{c.GetID()},
		Expiry: now.Add(c.IDTokenLifetime()).Unix(), IssuedAt: now.Unix(), AuthTime: req.g.AuthTime.Unix(),
		ACR: req.g.Acr, AMR: req.g.Amr, AuthorizedParty: c.GetID(), ClientID: c.GetID(), AccessTokenHash: atHash,
		SessionID: string(req.g.SessionID), UserInfoProfile: ui.UserInfoProfile, UserInfoEmail: ui.UserInfoEmail,
		organizationClaims: org,
	})
	if err != nil {
		return "", p.serverError(ctx, "marshal id token", err)
	}
	return p.signToken(ctx, alg, idTokenType, payload)
}

// refreshRow is one refresh token with its grant, its user and its
// successor, if it has one: what a refresh needs, read in one statement.
type refreshRow struct {
	TokenID       string
	IdleExpiresAt time.Time
	SuccessorID   sql.NullString
	GrantID       string
	ClientID      string
	OrgID         sql.NullString
	SessionID     sql.NullString
	Scopes        []byte
	AMR           []byte
	ACR           sql.NullString
	AuthTime      time.Time
	ExpiresAt     time.Time
	RevokedAt     sql.NullTime
	UserID        string
	Status        string
	Email         string
	EmailVerified bool
	Name          sql.NullString
	GivenName     sql.NullString
	FamilyName    sql.NullString
	Locale        sql.NullString
	Picture       sql.NullString
	UpdatedAt     time.Time
}

// refreshRowQuery reads a refreshRow by token hash. It is written once,
// in SQL that SQLite and PostgreSQL both accept (double-quoted names, a
// $1 parameter), rather than built by ent per request: building and
// reflecting cost more CPU than the database spent answering it. The
// LEFT JOIN finds a successor through the unique parent_id index.
const refreshRowQuery = `SELECT rt."id", rt."idle_expires_at", nx."id",
	g."id", g."client_id", g."organization_id", g."session_id", g."scopes", g."amr", g."acr",
	g."auth_time", g."expires_at", g."revoked_at",
	u."id", u."status", u."email", u."email_verified", u."name", u."given_name", u."family_name",
	u."locale", u."picture", u."updated_at"
FROM "refresh_tokens" rt
JOIN "grants" g ON g."id" = rt."grant_id"
JOIN "users" u ON u."id" = g."user_id"
LEFT JOIN "refresh_tokens" nx ON nx."parent_id" = rt."id"
WHERE rt."token_hash" = $1`

// loadRefreshRow reads the refresh token whose SHA-256 is hash; nil when
// there is none.
func (p *Provider) loadRefreshRow(ctx context.Context, hash string) (*refreshRow, error) {
	rows, err := p.db.QueryContext(ctx, refreshRowQuery, hash)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	var r refreshRow
	err = rows.Scan(&r.TokenID, &r.IdleExpiresAt, &r.SuccessorID,
		&r.GrantID, &r.ClientID, &r.OrgID, &r.SessionID, &r.Scopes, &r.AMR, &r.ACR,
		&r.AuthTime, &r.ExpiresAt, &r.RevokedAt,
		&r.UserID, &r.Status, &r.Email, &r.EmailVerified, &r.Name, &r.GivenName, &r.FamilyName,
		&r.Locale, &r.Picture, &r.UpdatedAt)
	if err != nil {
		return nil, err
	}
	return &r, rows.Close()
}

// grant and user rebuild the ent values the claims code works with.
func (row *refreshRow) grant() (*ent.Grant, error) {
	g := &ent.Grant{ID: pulid.ID(row.GrantID), ClientID: row.ClientID, UserID: pulid.ID(row.UserID),
		OrganizationID: pulid.ID(row.OrgID.String), SessionID: pulid.ID(row.SessionID.String), Acr: row.ACR.String,
		AuthTime: row.AuthTime, ExpiresAt: row.ExpiresAt}
	if row.RevokedAt.Valid {
		g.RevokedAt = &row.RevokedAt.Time
	}
	if err := json.Unmarshal(row.Scopes, &g.Scopes); err != nil {
		return nil, err
	}
	if len(row.AMR) > 0 {
		if err := json.Unmarshal(row.AMR, &g.Amr); err != nil {
			return nil, err
		}
	}
	return g, nil
}

func (row *refreshRow) user() *ent.User {
	return &ent.User{ID: pulid.ID(row.UserID), Status: user.Status(row.Status), Email: row.Email, EmailVerified: row.EmailVerified,
		Name: row.Name.String, GivenName: row.GivenName.String, FamilyName: row.FamilyName.String,
		Locale: row.Locale.String, Picture: row.Picture.String, UpdatedAt: row.UpdatedAt}
}

// refreshTokenRequest validates a presented refresh token for client c
// (RFC 6749 §6). Every refusal is invalid_grant with nothing said about
// why. A token that was already rotated is a reuse: its whole grant is
// revoked (RFC 9700 §4.14.2); so is the grant of a user who is no longer
// active.
func (p *Provider) refreshTokenRequest(ctx context.Context, c *client, token string) (*refreshRequest, *ent.User, *oidc.Error) {
	if len(token) > 256 {
		return nil, nil, errInvalidGrant(errors.New("malformed refresh token"))
	}
	row, err := p.loadRefreshRow(ctx, secret.Hash(token))
	if err != nil {
		return nil, nil, p.serverError(ctx, "load refresh token", err)
	}
	if row == nil {
		return nil, nil, errInvalidGrant(errors.New("unknown refresh token"))
	}
	g, err := row.grant()
	if err != nil {
		return nil, nil, p.serverError(ctx, "decode grant", err)
	}
	now := p.now()
	switch {
	case g.ClientID != c.GetID():
		return nil, nil, errInvalidGrant(errors.New("refresh token of another client"))
	case g.RevokedAt != nil:
		return nil, nil, errInvalidGrant(errors.New("grant revoked"))
	case row.SuccessorID.Valid:
		p.revokeReusedGrant(ctx, g)
		return nil, nil, errInvalidGrant(errors.New("refresh token reused"))
	case !now.Before(g.ExpiresAt):
		return nil, nil, errInvalidGrant(errors.New("grant expired"))
	case !now.Before(row.IdleExpiresAt):
		return nil, nil, errInvalidGrant(errors.New("refresh token idle too long"))
	case row.Status != string(user.StatusACTIVE):
		p.revokeGrantsOrLog(ctx, "user disabled", g.ID)
		return nil, nil, errInvalidGrant(ErrUserInactive)
	}
	return &refreshRequest{g: g, tokenID: pulid.ID(row.TokenID), scopes: g.Scopes}, row.user(), nil
}

// insertSuccessorSQL stores a rotated refresh token, in SQL both
// databases accept (see refreshRowQuery).
const insertSuccessorSQL = `INSERT INTO "refresh_tokens"
	("id", "grant_id", "token_hash", "created_at", "idle_expires_at", "parent_id") VALUES ($1, $2, $3, $4, $5, $6)`

// rotateRefreshToken issues the successor of the presented token with one
// INSERT. Its unique parent_id makes the first rotation win on every node;
// losing that race is a reuse.
func (p *Provider) rotateRefreshToken(ctx context.Context, c *client, r *refreshRequest) (string, *oidc.Error) {
	token := secret.Token(32)
	_, err := p.db.ExecContext(ctx, insertSuccessorSQL,
		string(pulid.New("rt")), string(r.g.ID), secret.Hash(token), p.now(), p.idleExpiry(c, r.g), string(r.tokenID))
	switch {
	case sqlgraph.IsUniqueConstraintError(err):
		p.revokeReusedGrant(ctx, r.g)
		return "", errInvalidGrant(errors.New("refresh token reused"))
	case sqlgraph.IsForeignKeyConstraintError(err):
		return "", errInvalidGrant(errors.New("grant deleted"))
	case err != nil:
		return "", p.serverError(ctx, "rotate refresh token", err)
	}
	return token, nil
}

func (p *Provider) revokeReusedGrant(ctx context.Context, g *ent.Grant) {
	p.revokeGrantsOrLog(ctx, "refresh token reuse", g.ID)
	p.log.WarnContext(ctx, "provider: refresh token reused; grant revoked", "grant", g.ID, "client_id", g.ClientID)
}

// asOAuthError is err as the token endpoint answers it.
func asOAuthError(err error) *oidc.Error {
	var oe *oidc.Error
	if errors.As(err, &oe) {
		return oe
	}
	return oidc.ErrServerError()
}
