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

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql/sqlgraph"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/ent/user"
	"github.com/gatehouse-id/gatehouse/internal/secret"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// The refresh token grant (RFC 6749 §6) is served here rather than by the
// library, like client credentials: a refresh is one read (the token, its
// grant, its user and whether it was already rotated, in one join) and one
// INSERT of its successor, whose unique parent_id lets exactly one of any
// number of concurrent rotations win (OAuth 2.1 §4.3.1, RFC 9700 §4.14.2).
// On PostgreSQL both are one statement (rotateRefreshSQL); on SQLite, in
// process, they are two. Either way the checks in Go decide: the one
// statement inserts only when the same checks pass in SQL, a successor it
// inserted for a refused refresh is deleted again, and a refresh it did not
// rotate is rotated by the plain INSERT, which tells a lost race (reuse)
// apart. The library's path read the same rows four times and wrote in a
// transaction of its own.

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
	// The request, for the origin of the audit events below (without copying r).
	st := &reqState{authenticated: c, req: r}
	ctx := systemCtx(context.WithValue(r.Context(), reqStateKey{}, st))
	fail := func(e *oidc.Error) { // every refusal after the client is known
		p.rejected(ctx, r, c.GetID(), e)
		writeOAuthError(w, e)
	}
	requested := strings.Fields(form.Get("scope"))
	succ := newSuccessor()
	req, u, rotated, e := p.refreshTokenRequest(ctx, c, token, requested, &succ)
	if e == nil && len(requested) > 0 {
		// RFC 6749 §6: a narrower scope, never one the grant lacks.
		for _, s := range requested {
			if !slices.Contains(req.g.Scopes, s) {
				e = oidc.ErrInvalidScope().WithDescription("scope %q was not granted", s)
				break
			}
		}
		req.scopes = requested
	}
	if e != nil {
		if rotated {
			p.unrotate(ctx, succ)
		}
		fail(e)
		return
	}
	org, err := p.grantOrganization(ctx, req.g.UserID, req.g.OrganizationID, req.scopes)
	if err != nil {
		if errors.Is(err, ErrNotMember) {
			p.revokeGrantsOrLog(ctx, revocation{action: actionGrantRevoke, reason: "membership ended", clientID: c.GetID()}, req.g.ID)
		} else if rotated {
			p.unrotate(ctx, succ)
		}
		fail(asOAuthError(err))
		return
	}
	if !rotated {
		if e := p.rotateRefreshToken(ctx, c, req, succ); e != nil {
			fail(e)
			return
		}
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
		RefreshToken: succ.token, Scope: at.Scope}
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
		ACR: req.g.Acr, AMR: tenants.TokenAMR(req.g.Amr), AuthorizedParty: c.GetID(), ClientID: c.GetID(), AccessTokenHash: atHash,
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
	IdleLifetime  sql.NullInt64
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
	g."auth_time", g."expires_at", g."revoked_at", g."idle_lifetime_seconds",
	u."id", u."status", u."email", u."email_verified", u."name", u."given_name", u."family_name",
	u."locale", u."picture", u."updated_at"
FROM "refresh_tokens" rt
JOIN "grants" g ON g."id" = rt."grant_id"
JOIN "users" u ON u."id" = g."user_id"
LEFT JOIN "refresh_tokens" nx ON nx."parent_id" = rt."id"
WHERE rt."token_hash" = $1`

// rotateRefreshSQL is refreshRowQuery and, in the same statement, the
// INSERT of the successor when the checks of refreshTokenRequest pass in
// SQL too: the client, the grant neither revoked nor expired, the token
// neither rotated nor idle too long, the user active ($7,
// tenants.UserActiveStatus), the requested scopes ($8, a JSON array)
// within the grant's, and an active membership ($9,
// tenants.MembershipActiveStatus) when the grant names an organization.
// The statuses are parameters so that the rules stay tenants'; the test
// table of TestRefreshPaths runs every rule through this statement and
// through the two-statement path. ON CONFLICT leaves a concurrent rotation's
// successor alone, and the last column says whether this one inserted.
// PostgreSQL only: SQLite has no data-modifying WITH.
const rotateRefreshSQL = rotateRefreshCTEs + rotateRefreshResult

// rotateRefreshAuditedSQL is rotateRefreshSQL that also writes the
// rotation's token.refresh event (Config.AuditRefresh) when it stores the
// successor: tenants.AuditRow's values as $10… (the organization and the
// grant come from the row read; $18, the metadata, gets the user id).
const rotateRefreshAuditedSQL = rotateRefreshCTEs + `,
audit AS (
	INSERT INTO "audit_events" (` + tenants.AuditColumns + `)
	SELECT $10, rt."organization_id", $11, $12, $13, $14, rt."grant_id", $15, $16, $17,
		$18::jsonb || jsonb_build_object('user_id', rt."user_id"), $4
	FROM rt WHERE EXISTS (SELECT FROM next))` + rotateRefreshResult

// rotateRefreshResult is the row read and whether the successor was stored.
const rotateRefreshResult = `
SELECT rt.*, EXISTS (SELECT FROM next) FROM rt`

// rotateRefreshCTEs read the presented token (rt) and store its successor
// when the rules allow (next), for both statements above.
const rotateRefreshCTEs = `WITH rt ("token_id", "idle_expires_at", "successor_id",
	"grant_id", "client_id", "organization_id", "session_id", "scopes", "amr", "acr",
	"auth_time", "expires_at", "revoked_at", "idle_lifetime_seconds",
	"user_id", "status", "email", "email_verified", "name", "given_name", "family_name",
	"locale", "picture", "updated_at") AS (` + refreshRowQuery + `),
next AS (
	INSERT INTO "refresh_tokens" ("id", "grant_id", "token_hash", "created_at", "idle_expires_at", "parent_id")
	SELECT $2, rt."grant_id", $3, $4,
		LEAST($5, rt."expires_at", COALESCE($4::timestamptz + make_interval(secs => rt."idle_lifetime_seconds"), $5)),
		rt."token_id" FROM rt
	WHERE rt."client_id" = $6 AND rt."revoked_at" IS NULL AND rt."successor_id" IS NULL
		AND rt."expires_at" > $4 AND rt."idle_expires_at" > $4 AND rt."status" = $7
		AND rt."scopes" @> $8::jsonb
		AND (COALESCE(rt."organization_id", '') = '' OR EXISTS (SELECT FROM "memberships" m
			WHERE m."user_id" = rt."user_id" AND m."organization_id" = rt."organization_id" AND m."status" = $9))
	ON CONFLICT ("parent_id") DO NOTHING
	RETURNING "id")`

// successor is the refresh token a refresh issues, made before the
// presented one is read so that PostgreSQL can store it in the same
// statement, with the id of its token.refresh event when rotations are
// audited.
type successor struct {
	id          pulid.ID
	token, hash string
	eventID     string
}

func newSuccessor() successor {
	token := secret.Token(32)
	return successor{id: pulid.New("rt"), token: token, hash: secret.Hash(token)}
}

// loadRefreshRow reads the refresh token whose SHA-256 is hash (nil when
// there is none). On PostgreSQL it also stores succ when the refresh will
// be accepted, and rotated says whether it did.
func (p *Provider) loadRefreshRow(ctx context.Context, c *client, hash string, requested []string, succ *successor) (_ *refreshRow, rotated bool, _ error) {
	var (
		rows *sql.Rows
		err  error
	)
	if p.cfg.Dialect == dialect.Postgres {
		scopes, merr := json.Marshal(append([]string{}, requested...))
		if merr != nil {
			return nil, false, merr
		}
		now := p.now()
		idle := now.Add(c.refreshIdleLifetime()) // SQL caps it at the grant's idle lifetime and end, as idleExpiry does
		args := []any{hash, string(succ.id), succ.hash, now, idle, c.GetID(),
			string(tenants.UserActiveStatus), string(scopes), string(tenants.MembershipActiveStatus)}
		query := rotateRefreshSQL
		if p.cfg.AuditRefresh {
			ev, aerr := tenants.AuditRow(ctx, now, refreshEvent(ctx, c, nil))
			if aerr != nil {
				return nil, false, aerr
			}
			succ.eventID = ev[0].(string)
			// id, action, actor, actor type, target type, ip, user agent,
			// request id, metadata: the rest comes from the row read.
			args = append(args, ev[0], ev[2], ev[3], ev[4], ev[5], ev[7], ev[8], ev[9], ev[10])
			query = rotateRefreshAuditedSQL
		}
		rows, err = p.db.QueryContext(ctx, query, args...)
	} else {
		rows, err = p.db.QueryContext(ctx, refreshRowQuery, hash)
	}
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, false, rows.Err()
	}
	var r refreshRow
	dest := []any{&r.TokenID, &r.IdleExpiresAt, &r.SuccessorID,
		&r.GrantID, &r.ClientID, &r.OrgID, &r.SessionID, &r.Scopes, &r.AMR, &r.ACR,
		&r.AuthTime, &r.ExpiresAt, &r.RevokedAt, &r.IdleLifetime,
		&r.UserID, &r.Status, &r.Email, &r.EmailVerified, &r.Name, &r.GivenName, &r.FamilyName,
		&r.Locale, &r.Picture, &r.UpdatedAt}
	if p.cfg.Dialect == dialect.Postgres {
		dest = append(dest, &rotated)
	}
	if err := rows.Scan(dest...); err != nil {
		return nil, false, err
	}
	return &r, rotated, rows.Close()
}

// grant and user rebuild the ent values the claims code works with.
func (row *refreshRow) grant() (*ent.Grant, error) {
	g := &ent.Grant{ID: pulid.ID(row.GrantID), ClientID: row.ClientID, UserID: pulid.ID(row.UserID),
		OrganizationID: pulid.ID(row.OrgID.String), SessionID: pulid.ID(row.SessionID.String), Acr: row.ACR.String,
		AuthTime: row.AuthTime, ExpiresAt: row.ExpiresAt}
	if row.RevokedAt.Valid {
		g.RevokedAt = &row.RevokedAt.Time
	}
	if row.IdleLifetime.Valid {
		idle := int(row.IdleLifetime.Int64)
		g.IdleLifetimeSeconds = &idle
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
// active. rotated says whether the read also stored succ (PostgreSQL; see
// loadRefreshRow), which the caller deletes again if it refuses the
// refresh after all.
func (p *Provider) refreshTokenRequest(ctx context.Context, c *client, token string, requested []string, succ *successor) (_ *refreshRequest, _ *ent.User, rotated bool, _ *oidc.Error) {
	if len(token) > 256 {
		return nil, nil, false, errInvalidGrant(errors.New("malformed refresh token"))
	}
	row, rotated, err := p.loadRefreshRow(ctx, c, secret.Hash(token), requested, succ)
	if err != nil {
		return nil, nil, false, p.serverError(ctx, "load refresh token", err)
	}
	if row == nil {
		return nil, nil, false, errInvalidGrant(errors.New("unknown refresh token"))
	}
	refuse := func(err error) (*refreshRequest, *ent.User, bool, *oidc.Error) {
		return nil, nil, rotated, errInvalidGrant(err)
	}
	g, err := row.grant()
	if err != nil {
		return nil, nil, rotated, p.serverError(ctx, "decode grant", err)
	}
	now := p.now()
	switch {
	case g.ClientID != c.GetID():
		return refuse(errors.New("refresh token of another client"))
	case g.RevokedAt != nil:
		return refuse(errors.New("grant revoked"))
	case row.SuccessorID.Valid:
		p.revokeReusedGrant(ctx, g)
		return refuse(errRefreshReused)
	case !now.Before(g.ExpiresAt):
		return refuse(errors.New("grant expired"))
	case !now.Before(row.IdleExpiresAt):
		return refuse(errors.New("refresh token idle too long"))
	case row.Status != string(tenants.UserActiveStatus):
		p.revokeGrantsOrLog(ctx, revocation{action: actionGrantRevoke, reason: "user disabled", clientID: c.GetID()}, g.ID)
		return refuse(ErrUserInactive)
	}
	return &refreshRequest{g: g, tokenID: pulid.ID(row.TokenID), scopes: g.Scopes}, row.user(), rotated, nil
}

// insertSuccessorSQL stores a rotated refresh token, in SQL both
// databases accept (see refreshRowQuery).
const insertSuccessorSQL = `INSERT INTO "refresh_tokens"
	("id", "grant_id", "token_hash", "created_at", "idle_expires_at", "parent_id") VALUES ($1, $2, $3, $4, $5, $6)`

// rotateRefreshToken stores succ as the successor of the presented token
// with one INSERT. The unique parent_id makes the first rotation win on
// every node; losing that race is a reuse. A rotation writes its
// token.refresh event, in the same transaction, only with
// Config.AuditRefresh: a row per refresh costs about an eighth of the
// PostgreSQL refresh rate (docs/ARCHITECTURE.md, "Audit events"); reuse,
// revocation and every refusal are audited either way.
func (p *Provider) rotateRefreshToken(ctx context.Context, c *client, r *refreshRequest, succ successor) *oidc.Error {
	now := p.now()
	args := []any{string(succ.id), string(r.g.ID), succ.hash, now, p.idleExpiry(c, r.g), string(r.tokenID)}
	var err error
	if p.cfg.AuditRefresh {
		err = p.inTx(ctx, func(tx *ent.Tx) error {
			if _, err := tx.ExecContext(ctx, insertSuccessorSQL, args...); err != nil {
				return err
			}
			return tenants.WriteAudit(ctx, tx.AuditEvent, now, refreshEvent(ctx, c, r.g))
		})
	} else {
		_, err = p.db.ExecContext(ctx, insertSuccessorSQL, args...)
	}
	switch {
	case sqlgraph.IsUniqueConstraintError(err):
		p.revokeReusedGrant(ctx, r.g)
		return errInvalidGrant(errRefreshReused)
	case sqlgraph.IsForeignKeyConstraintError(err):
		return errInvalidGrant(errors.New("grant deleted"))
	case err != nil:
		return p.serverError(ctx, "rotate refresh token", err)
	}
	return nil
}

// unrotate deletes the successor rotateRefreshSQL stored for a refresh
// that the checks in Go then refused, so that the refusal does not spend
// the presented token. If it fails, the token stays spent: its next use is
// a reuse, which revokes the grant; safe, but logged.
func (p *Provider) unrotate(ctx context.Context, succ successor) {
	var err error
	if succ.eventID == "" {
		_, err = p.db.ExecContext(ctx, `DELETE FROM "refresh_tokens" WHERE "id" = $1`, string(succ.id))
	} else {
		// The statement's token.refresh event goes with it: that refresh
		// did not happen.
		_, err = p.db.ExecContext(ctx, `WITH e AS (DELETE FROM "audit_events" WHERE "id" = $2)
	DELETE FROM "refresh_tokens" WHERE "id" = $1`, string(succ.id), succ.eventID)
	}
	if err != nil {
		p.log.ErrorContext(ctx, "provider: delete the successor of a refused refresh", "err", err)
	}
}

// revokeReusedGrant revokes the family of a reused refresh token and
// records the reuse in the same transaction (always, even when a
// concurrent revocation got there first).
func (p *Provider) revokeReusedGrant(ctx context.Context, g *ent.Grant) {
	e := grantEvent(ctx, actionRefreshReused, g.ClientID, g, "refresh_token_reused")
	p.revokeGrantsOrLog(ctx, revocation{action: actionRefreshReused, reason: "refresh token reuse", clientID: g.ClientID, event: &e}, g.ID)
	p.log.WarnContext(ctx, "provider: refresh token reused; grant revoked", "grant", g.ID, "client_id", g.ClientID)
}

// refreshEvent is the token.refresh event of a rotation for client c of
// grant g; nil g leaves the organization, the grant and the user to the
// statement that stores it (rotateRefreshAuditedSQL).
func refreshEvent(ctx context.Context, c *client, g *ent.Grant) tenants.Event {
	e := tenants.Event{Action: actionTokenRefresh, Actor: c.GetID(), ActorType: "client", TargetType: "Grant",
		Origin: origin(ctx), Metadata: map[string]any{"client_id": c.GetID()}}
	if g != nil {
		e.Organization, e.TargetID, e.Metadata["user_id"] = g.OrganizationID, string(g.ID), string(g.UserID)
	}
	return e
}

// errRefreshReused is the refusal of a reused refresh token, recorded by
// its own audit event (token.refresh.reused) rather than as a rejection.
var errRefreshReused = errors.New("refresh token reused")

// asOAuthError is err as the token endpoint answers it.
func asOAuthError(err error) *oidc.Error {
	var oe *oidc.Error
	if errors.As(err, &oe) {
		return oe
	}
	return oidc.ErrServerError()
}
