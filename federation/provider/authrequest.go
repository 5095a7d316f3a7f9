package provider

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/authrequest"
	"github.com/gatehouse-id/gatehouse/ent/grant"
	"github.com/gatehouse-id/gatehouse/internal/secret"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// authRequest adapts a stored AuthRequest to op.AuthRequest.
type authRequest struct{ ar *ent.AuthRequest }

var _ op.AuthRequest = authRequest{}

func (a authRequest) GetID() string         { return string(a.ar.ID) }
func (a authRequest) GetACR() string        { return a.ar.Acr }
func (a authRequest) GetAMR() []string      { return tenants.TokenAMR(a.ar.Amr) }
func (a authRequest) GetAudience() []string { return []string{a.ar.ClientID} }
func (a authRequest) GetAuthTime() time.Time {
	if a.ar.AuthTime == nil {
		return time.Time{}
	}
	return *a.ar.AuthTime
}
func (a authRequest) GetClientID() string { return a.ar.ClientID }
func (a authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.ar.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.ar.CodeChallenge, Method: oidc.CodeChallengeMethod(a.ar.CodeChallengeMethod)}
}
func (a authRequest) GetNonce() string                   { return a.ar.Nonce }
func (a authRequest) GetRedirectURI() string             { return a.ar.RedirectURI }
func (a authRequest) GetResponseType() oidc.ResponseType { return oidc.ResponseType(a.ar.ResponseType) }
func (a authRequest) GetResponseMode() oidc.ResponseMode { return oidc.ResponseMode(a.ar.ResponseMode) }
func (a authRequest) GetScopes() []string                { return a.ar.Scopes }
func (a authRequest) GetState() string                   { return a.ar.State }
func (a authRequest) GetSubject() string                 { return string(a.ar.UserID) }
func (a authRequest) Done() bool                         { return a.ar.Done }

// requestedOrganization returns the organization scope's argument
// ("organization:<id>") and whether any organization scope is present.
func requestedOrganization(scopes []string) (id string, wanted bool) {
	for _, s := range scopes {
		if s == scopeOrganization {
			wanted = true
		}
		if rest, ok := strings.CutPrefix(s, scopeOrganization+":"); ok {
			return rest, true
		}
	}
	return "", wanted
}

// redeemCode makes an authorization code single-use with one conditional
// UPDATE (RFC 6749 §4.1.2, RFC 9700 §4.2.4): of any number of concurrent
// redemptions on any number of nodes, exactly one changes the row. A
// redemption of a code that was already redeemed revokes every grant
// issued from it (its refresh family and, through the jti, its access
// tokens).
func (p *Provider) redeemCode(ctx context.Context, code string) (*ent.AuthRequest, error) {
	ctx = systemCtx(ctx)
	if code == "" || len(code) > 256 {
		return nil, errInvalidGrant(errors.New("malformed code"))
	}
	h := secret.Hash(code)
	now := p.now()
	n, err := p.db.AuthRequest.Update().
		Where(authrequest.CodeHash(h), authrequest.CodeUsedAtIsNil(), authrequest.Done(true), authrequest.ExpiresAtGT(now)).
		SetCodeUsedAt(now).Save(ctx)
	if err != nil {
		return nil, p.serverError(ctx, "redeem code", err)
	}
	ar, err := p.db.AuthRequest.Query().Where(authrequest.CodeHash(h)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, errInvalidGrant(errors.New("unknown code"))
	}
	if err != nil {
		return nil, p.serverError(ctx, "load auth request", err)
	}
	if n == 1 {
		return ar, nil
	}
	if ar.CodeUsedAt != nil {
		// Replay: RFC 6749 §4.1.2 says SHOULD revoke; we always do. The
		// mark comes first: the first redemption may not have created its
		// grant yet, and createGrant looks for the mark once it has, so
		// one of the two revokes it whatever the interleaving.
		if err := p.db.AuthRequest.UpdateOneID(ar.ID).SetCodeReplayedAt(now).Exec(ctx); err != nil {
			return nil, p.serverError(ctx, "mark replayed code", err)
		}
		// The revocation and its audit event are one transaction; the mark
		// above is committed before it, or the interleaving above breaks.
		e := tenants.Event{Action: actionCodeReplayed, Organization: ar.OrganizationID, TargetType: "AuthRequest",
			TargetID: string(ar.ID), Reason: "code_replayed", Origin: origin(ctx),
			Metadata: map[string]any{"client_id": ar.ClientID, "user_id": string(ar.UserID)}}
		actor := ""
		if c := authenticatedClient(ctx); c != nil {
			actor = c.GetID() // the client that presented the code, whoever it was issued to
		}
		clientActor(&e, actor)
		rev := revocation{action: actionCodeReplayed, reason: "code replay", clientID: actor, event: &e}
		if err := p.revokeGrants(ctx, rev, grant.AuthRequestID(ar.ID)); err != nil {
			return nil, p.serverError(ctx, "revoke replayed code's grants", err)
		}
		p.log.WarnContext(ctx, "provider: authorization code replayed; grants revoked", "auth_request", ar.ID, "client_id", ar.ClientID)
		return nil, errInvalidGrant(errCodeReplayed)
	}
	return nil, errInvalidGrant(errors.New("code expired"))
}

// errCodeReplayed is the refusal of a redeemed code presented again,
// recorded by its own audit event (token.code.replayed).
var errCodeReplayed = errors.New("code already redeemed")

// validatePKCE enforces OIDC-03: S256 only (RFC 9700 §2.1.1), required for
// public clients, accepted for confidential ones; the challenge is a
// base64url SHA-256, 43 characters (RFC 7636 §4.2 allows 43–128).
func validatePKCE(c *client, challenge, method string) *oidc.Error {
	if challenge == "" {
		if method != "" {
			return oidc.ErrInvalidRequest().WithDescription("code_challenge_method without code_challenge")
		}
		if c.public() {
			return oidc.ErrInvalidRequest().WithDescription("PKCE with code_challenge_method=S256 is required for this client")
		}
		return nil
	}
	if method != string(oidc.CodeChallengeMethodS256) {
		return oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	}
	if len(challenge) < 43 || len(challenge) > 128 || strings.IndexFunc(challenge, func(r rune) bool {
		return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' || r == '~')
	}) >= 0 {
		return oidc.ErrInvalidRequest().WithDescription("malformed code_challenge")
	}
	return nil
}

// promptValues are the prompt values OIDC Core §3.1.2.1 defines.
var promptValues = []string{oidc.PromptNone, oidc.PromptLogin, oidc.PromptConsent, oidc.PromptSelectAccount}

// validPrompt checks prompt values (OIDC Core §3.1.2.1): known values, and
// none only alone.
func validPrompt(prompts []string) bool {
	for _, v := range prompts {
		if !slices.Contains(promptValues, v) {
			return false
		}
		if v == oidc.PromptNone && len(prompts) > 1 {
			return false
		}
	}
	return true
}
