package provider

import (
	"context"
	"errors"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/grant"
	"github.com/gatehouse-id/gatehouse/ent/refreshtoken"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/internal/secret"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// storage is op.Storage on ent. Each method is a thin adapter; the rules
// live in the Provider methods it calls.
type storage struct{ p *Provider }

var (
	_ op.Storage                        = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*storage)(nil)
	_ op.CanTerminateSessionFromRequest = (*storage)(nil)
)

// --- authorization requests (the authorize endpoint itself is ours) ---

func (s *storage) CreateAuthRequest(context.Context, *oidc.AuthRequest, string) (op.AuthRequest, error) {
	return nil, oidc.ErrServerError().WithParent(errNotSupported) // authorize is served by Provider.authorize
}

func (s *storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	ar, err := s.p.db.AuthRequest.Get(systemCtx(ctx), pulid.ID(id))
	if err != nil {
		return nil, oidc.ErrInvalidRequest().WithParent(err)
	}
	return authRequest{ar}, nil
}

// AuthRequestByCode redeems the code: see Provider.redeemCode.
func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	ar, err := s.p.redeemCode(ctx, code)
	if err != nil {
		recordRefusal(ctx, err)
		return nil, err
	}
	return authRequest{ar}, nil
}

func (s *storage) SaveAuthCode(context.Context, string, string) error {
	return errNotSupported // codes are issued by CompleteLogin
}

// DeleteAuthRequest keeps the row: it is what recognises a replayed code.
// Rows expire (expires_at) and are purged with other expired state.
func (s *storage) DeleteAuthRequest(context.Context, string) error { return nil }

// --- tokens ---

func (s *storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	id, _, exp, err := s.p.createTokens(ctx, req, false)
	return id, exp, err
}

func (s *storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, _ string) (string, string, time.Time, error) {
	return s.p.createTokens(ctx, req, true)
}

// TokenRequestByRefreshToken is never reached: refresh requests are
// served before the library sees them (refresh.go).
func (s *storage) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, errNotSupported
}

// TerminateSession revokes every grant of the user at the client
// (end_session, OIDC RP-Initiated Logout §2).
func (s *storage) TerminateSession(ctx context.Context, userID, clientID string) error {
	if userID == "" || clientID == "" {
		return nil
	}
	return s.p.revokeGrants(ctx, revocation{action: actionGrantRevoke, reason: "end_session", clientID: clientID},
		grant.UserID(pulid.ID(userID)), grant.ClientID(clientID))
}

// TerminateSessionFromRequest ends the OP session too (RP-Initiated
// Logout §2, §3): the id_token_hint's sid names the hosted pages' Session,
// which is revoked when it belongs to the hint's subject, so the next
// authorize in that browser asks for a login again. Without a hint the
// browser goes to LoggedOutPath, where the hosted pages revoke the
// session of the cookie.
func (s *storage) TerminateSessionFromRequest(ctx context.Context, req *op.EndSessionRequest) (string, error) {
	if err := s.TerminateSession(ctx, req.UserID, req.ClientID); err != nil {
		return "", err
	}
	if c := req.IDTokenHintClaims; c != nil && c.SessionID != "" && req.UserID != "" {
		if err := s.p.revokeSession(ctx, pulid.ID(c.SessionID), pulid.ID(req.UserID), req.ClientID); err != nil {
			return "", s.p.serverError(ctx, "revoke session", err)
		}
	}
	return req.RedirectURI, nil
}

// grantTokenPrefix marks a "token id" that is a grant, as returned by
// GetRefreshTokenInfo: revoking a refresh token revokes its whole grant,
// access tokens included (RFC 7009 §2.1).
const grantTokenPrefix = "grant:"

// RevokeToken (RFC 7009 §2.1): the token must have been issued to the
// revoking client. Unknown or invalid tokens are not an error (§2.2).
func (s *storage) RevokeToken(ctx context.Context, tokenOrID, _ string, clientID string) *oidc.Error {
	ctx = systemCtx(ctx)
	if gid, ok := strings.CutPrefix(tokenOrID, grantTokenPrefix); ok {
		g, err := s.p.db.Grant.Get(ctx, pulid.ID(gid))
		if ent.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return s.p.serverError(ctx, "load grant", err)
		}
		if g.ClientID != clientID {
			return oidc.ErrUnauthorizedClient().WithDescription("token was not issued to this client")
		}
		if err := s.p.revokeGrants(ctx, revocation{action: actionTokenRevoke, reason: "revoked by client", clientID: clientID}, grant.ID(g.ID)); err != nil {
			return s.p.serverError(ctx, "revoke grant", err)
		}
		return nil
	}
	c, err := tokenClaims(ctx, tokenOrID)
	if err != nil {
		return nil
	}
	if c.ClientID != clientID {
		return oidc.ErrUnauthorizedClient().WithDescription("token was not issued to this client")
	}
	// Kept until the token fails its own exp check (checkClaims requires
	// exp); a row that is there already is the same revocation.
	exp := time.Unix(int64(*c.Expiry), 0).Add(clockSkew)
	err = s.p.inTx(ctx, func(tx *ent.Tx) error {
		if err := tx.RevokedToken.Create().SetJti(c.JTI).SetExpiresAt(exp).Exec(ctx); err != nil {
			return err
		}
		e := tenants.Event{Action: actionTokenRevoke, TargetType: "AccessToken", TargetID: c.JTI, Reason: "revoked_by_client",
			Origin: origin(ctx), Metadata: map[string]any{"client_id": c.ClientID, "subject": c.Subject}}
		if c.grant != nil {
			e.Organization = c.grant.OrganizationID
		}
		clientActor(&e, clientID)
		return tenants.WriteAudit(ctx, tx.AuditEvent, s.p.now(), e)
	})
	if err != nil && !ent.IsConstraintError(err) {
		return s.p.serverError(ctx, "revoke token", err)
	}
	return nil
}

func (s *storage) GetRefreshTokenInfo(ctx context.Context, clientID, token string) (string, string, error) {
	if token == "" || len(token) > 256 {
		return "", "", op.ErrInvalidRefreshToken
	}
	rt, err := s.p.db.RefreshToken.Query().Where(refreshtoken.TokenHash(secret.Hash(token))).WithGrant().Only(systemCtx(ctx))
	if err != nil && !ent.IsNotFound(err) {
		return "", "", s.p.serverError(ctx, "load refresh token", err)
	}
	if err != nil || rt.Edges.Grant.ClientID != clientID {
		return "", "", op.ErrInvalidRefreshToken
	}
	return string(rt.Edges.Grant.UserID), grantTokenPrefix + string(rt.GrantID), nil
}

// --- keys ---

// SigningKey is the ID-token key: the library signs only the ID token of
// a code exchange (access tokens are ours, accesstoken.go), with the
// algorithm of the application that authenticated (see reqState).
func (s *storage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	alg := jose.RS256
	if c := authenticatedClient(ctx); c != nil {
		alg = jose.SignatureAlgorithm(c.app.IDTokenSigningAlgorithm)
	}
	k, err := s.p.keys.signer(ctx, alg)
	if err != nil {
		return nil, s.p.serverError(ctx, "signing key", err)
	}
	return k, nil
}

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return algorithms, nil
}

func (s *storage) KeySet(ctx context.Context) ([]op.Key, error) {
	keys := s.p.keys.published(systemCtx(ctx))
	out := make([]op.Key, 0, len(keys))
	for _, k := range keys {
		out = append(out, publicKey{k})
	}
	return out, nil
}

// --- clients ---

func (s *storage) GetClientByClientID(ctx context.Context, clientID string) (op.Client, error) {
	c, err := s.p.clients.get(ctx, clientID)
	if errors.Is(err, errUnknownClient) {
		return nil, oidc.ErrInvalidClient().WithDescription("unknown client")
	}
	if err != nil {
		return nil, s.p.serverError(ctx, "load client", err)
	}
	if a := authenticatedClient(ctx); a != nil && a.GetID() == c.GetID() && c.AuthMethod() == oidc.AuthMethodPrivateKeyJWT {
		return assertedClient{c}, nil
	}
	return c, nil
}

// authenticatedClient is the client authenticateClient verified for this
// request, if any.
func authenticatedClient(ctx context.Context) *client {
	st := stateFrom(ctx)
	if st == nil {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.authenticated
}

// AuthorizeClientIDSecret is how the library authenticates a client. It
// accepts only the client authenticateClient already verified for this
// request, with the method the application registered (clientauth.go):
// the library asks only on endpoints where that ran first (token,
// introspection, revocation); anything else fails closed.
func (s *storage) AuthorizeClientIDSecret(ctx context.Context, clientID, _ string) error {
	if a := authenticatedClient(ctx); a != nil && a.GetID() == clientID {
		return nil
	}
	return oidc.ErrInvalidClient().WithDescription("client authentication failed")
}

// GetKeyByIDAndClientID serves private_key_jwt client assertions
// (RFC 7523 §3) from the application's jwks or jwks_uri.
func (s *storage) GetKeyByIDAndClientID(ctx context.Context, keyID, clientID string) (*jose.JSONWebKey, error) {
	c, err := s.p.clients.get(ctx, clientID)
	if err != nil || c.AuthMethod() != oidc.AuthMethodPrivateKeyJWT {
		return nil, oidc.ErrInvalidClient()
	}
	var k *jose.JSONWebKey
	err = s.p.withClientKey(ctx, c, keyID, func(key *jose.JSONWebKey) error { k = key; return nil })
	if err != nil {
		return nil, oidc.ErrInvalidClient().WithParent(err)
	}
	return k, nil
}

// ValidateJWTProfileScopes: the JWT bearer grant (RFC 7523 §2.1) is not
// offered.
func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, oidc.ErrUnsupportedGrantType()
}

// --- claims ---

func (s *storage) SetUserinfoFromScopes(ctx context.Context, ui *oidc.UserInfo, userID, _ string, scopes []string) error {
	return s.p.setUserinfo(ctx, ui, userID, scopes)
}

// SetUserinfoFromRequest adds sid and the organization claims to the ID
// token of a code exchange; the library adds the auth request's acr itself.
func (s *storage) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, _ []string) error {
	if r, ok := req.(authRequest); ok {
		appendRequestClaims(ui, r.ar.SessionID, "", issuedOrgClaims(ctx))
	}
	return nil
}

// SetUserinfoFromToken serves /userinfo (OIDC Core §5.3) for a verified,
// unrevoked user access token, with the scopes, sid, acr and organization
// of its grant.
func (s *storage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, _ string) error {
	c, err := tokenClaims(ctx, tokenID)
	if err != nil {
		return oidc.ErrAccessDenied().WithParent(err)
	}
	g := c.grant
	if g == nil || c.Subject != subject {
		return oidc.ErrAccessDenied().WithDescription("not a user token")
	}
	if err := s.p.setUserinfo(ctx, ui, subject, g.Scopes); err != nil {
		return err
	}
	var org *organizationClaims
	if g.OrganizationID != "" && wantsOrgClaims(g.Scopes) {
		if org, err = s.p.orgClaims(ctx, g.UserID, g.OrganizationID); err != nil {
			return err
		}
	}
	appendRequestClaims(ui, g.SessionID, g.Acr, org)
	return nil
}

// SetIntrospectionFromToken (RFC 7662 §2.2) answers active only for a
// verified, unrevoked access token issued to the introspecting client.
func (s *storage) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	c, err := tokenClaims(ctx, tokenID)
	if err != nil || c.Subject != subject {
		return oidc.ErrAccessDenied().WithParent(err)
	}
	if c.ClientID != clientID {
		return oidc.ErrAccessDenied().WithDescription("token belongs to another client")
	}
	resp.Active = true
	resp.Scope = strings.Fields(c.Scope)
	resp.ClientID = c.ClientID
	resp.TokenType = oidc.BearerToken
	resp.Subject = c.Subject
	resp.Issuer = c.Issuer
	resp.JWTID = c.JTI
	resp.Audience = []string{c.ClientID}
	if c.Expiry != nil {
		resp.Expiration = oidc.FromTime(time.Unix(int64(*c.Expiry), 0))
	}
	if c.IssuedAt != nil {
		resp.IssuedAt = oidc.FromTime(time.Unix(int64(*c.IssuedAt), 0))
	}
	if c.OrgID != "" {
		resp.Claims = map[string]any{"org_id": c.OrgID}
	}
	return nil
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (s *storage) Health(ctx context.Context) error { return nil }
