package provider

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/authrequest"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/federation"
	"github.com/gatehouse-id/gatehouse/internal/secret"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// The hosted pages see the provider through federation's protocol-neutral
// types; the provider converts its auth requests to them and completes
// them from them.
type (
	// LoginRequest is a pending authorization request as the pages see it.
	LoginRequest = federation.LoginRequest
	// Authentication is what the pages established about the user.
	Authentication = federation.Authentication
)

// LoginRequest returns the pending request id. Missing, expired and
// already completed requests are all ErrUnknownRequest.
func (p *Provider) LoginRequest(ctx context.Context, id string) (*LoginRequest, error) {
	ar, err := p.pendingRequest(ctx, id)
	if err != nil {
		return nil, err
	}
	c, err := p.clients.get(ctx, ar.ClientID)
	if errors.Is(err, errUnknownClient) {
		return nil, ErrUnknownRequest // the application was deleted since authorize
	}
	if err != nil {
		return nil, err
	}
	orgID, wants := requestedOrganization(ar.Scopes)
	lr := &LoginRequest{
		ID: string(ar.ID), ClientID: ar.ClientID, ClientName: c.app.Name, ApplicationID: c.app.ID, FirstParty: c.app.FirstParty,
		Scopes: ar.Scopes, Prompt: ar.Prompt, LoginHint: ar.LoginHint,
		RequestedOrganizationID: orgID, WantsOrganization: wants, ExpiresAt: ar.ExpiresAt,
		ACRValues: requestedACRs(ar.AcrValues), ProfileFields: c.app.ProfileFields,
	}
	if ar.MaxAgeSeconds != nil {
		d := time.Duration(*ar.MaxAgeSeconds) * time.Second
		lr.MaxAge = &d
	}
	return lr, nil
}

func (p *Provider) pendingRequest(ctx context.Context, id string) (*ent.AuthRequest, error) {
	if !pulid.ID(id).Valid() || pulid.ID(id).Prefix() != "areq" {
		return nil, ErrUnknownRequest
	}
	ar, err := p.db.AuthRequest.Get(systemCtx(ctx), pulid.ID(id))
	if ent.IsNotFound(err) {
		return nil, ErrUnknownRequest
	}
	if err != nil {
		return nil, fmt.Errorf("load auth request: %w", err)
	}
	if ar.Done || !p.now().Before(ar.ExpiresAt) {
		return nil, ErrUnknownRequest
	}
	return ar, nil
}

// CompleteLogin binds the authenticated user to request id and returns the
// URL the browser must go to next: the provider's callback, which delivers
// the code to the client. It enforces: the user is ACTIVE; the
// organization, when chosen or required, is one where the user has an
// ACTIVE membership (else ErrNotMember); max_age and prompt=login
// (ErrReauthenticate); the login policy of the organization in question
// accepts the authentication's methods (ErrPolicyRefused). A request
// completes once (ErrUnknownRequest after).
func (p *Provider) CompleteLogin(ctx context.Context, id string, a Authentication) (string, error) {
	ctx = systemCtx(ctx)
	ar, err := p.pendingRequest(ctx, id)
	if err != nil {
		return "", err
	}
	now := p.now()
	if a.AuthTime.IsZero() {
		a.AuthTime = now
	}
	acr, ok := effectiveACR(a.ACR, a.AMR)
	if !ok {
		return "", ErrUnknownACR
	}
	active, err := p.isActiveUser(ctx, a.UserID)
	if err != nil {
		return "", fmt.Errorf("check user: %w", err)
	}
	if !active {
		return "", ErrUserInactive
	}
	if ar.MaxAgeSeconds != nil && now.Sub(a.AuthTime) > time.Duration(*ar.MaxAgeSeconds)*time.Second+clockSkew {
		return "", ErrReauthenticate
	}
	if slices.Contains(ar.Prompt, oidc.PromptLogin) && a.AuthTime.Before(ar.CreatedAt.Add(-clockSkew)) {
		return "", ErrReauthenticate
	}
	orgID, wants := requestedOrganization(ar.Scopes)
	switch {
	case orgID != "" && a.OrganizationID == "":
		a.OrganizationID = pulid.ID(orgID)
	case orgID != "" && a.OrganizationID != pulid.ID(orgID):
		return "", ErrNotMember
	case wants && a.OrganizationID == "":
		return "", ErrNotMember
	}
	if a.OrganizationID != "" {
		ok, err := p.tenants.IsActiveMember(ctx, a.UserID, a.OrganizationID)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", ErrNotMember
		}
	}
	// The pages asked the login policy already; asking again here means no
	// page can mint a code the policy refuses (a policy changed meanwhile,
	// a page that forgot). max_age was checked above, with skew.
	policies, err := p.tenants.LoginPolicies(ctx, a.UserID, a.OrganizationID)
	if err != nil {
		return "", err
	}
	code := secret.Token(32)
	var policyEnd *time.Time
	var policyIdle *int
	if len(policies) > 0 { // with none, nothing beyond what the pages decided
		d := tenants.LoginPolicy{}.Decide(tenants.LoginInput{
			User: &ent.User{ID: a.UserID, Status: tenants.UserActiveStatus}, Policies: policies,
			Factors: tenants.FactorsOf(a.AMR, a.AuthTime), Client: tenants.LoginClient{ID: ar.ClientID}, Now: now,
		})
		if d.Outcome != tenants.Done {
			return "", ErrPolicyRefused
		}
		// The policy's session lifetimes bound the grant this code makes
		// (createGrant), without a query at the token endpoint.
		l := tenants.LifetimesOf(tenants.DefaultSessionLifetimes, policies)
		end, idle := a.AuthTime.Add(l.Absolute).UTC(), max(1, int(l.Idle/time.Second))
		policyEnd, policyIdle = &end, &idle
	}
	// The sign-in's user.login event is written with the change it
	// records, the request bound to the user; where the browser came from
	// is the page's origin (tenants.WithOrigin).
	err = p.inTx(ctx, func(tx *ent.Tx) error {
		upd := tx.AuthRequest.Update().
			Where(authrequest.ID(ar.ID), authrequest.Done(false), authrequest.ExpiresAtGT(now)).
			SetUserID(a.UserID).SetAuthTime(a.AuthTime.UTC()).SetAmr(a.AMR).SetAcr(acr).
			SetDone(true).SetCodeHash(secret.Hash(code)).SetExpiresAt(now.Add(codeLifetime)).
			SetNillablePolicyExpiresAt(policyEnd).SetNillablePolicyIdleLifetimeSeconds(policyIdle)
		if a.SessionID != "" {
			upd.SetSessionID(a.SessionID)
		}
		if a.OrganizationID != "" {
			upd.SetOrganizationID(a.OrganizationID)
		}
		n, err := upd.Save(ctx)
		if err != nil {
			return fmt.Errorf("complete auth request: %w", err)
		}
		if n != 1 {
			return ErrUnknownRequest // completed concurrently
		}
		return tenants.WriteAudit(ctx, tx.AuditEvent, now, tenants.LoginEvent(tenants.Login{
			UserID: a.UserID, OrganizationID: a.OrganizationID, ClientID: ar.ClientID, SessionID: a.SessionID,
			AMR: a.AMR, AuthTime: a.AuthTime, DeviceID: a.DeviceID,
		}))
	})
	if err != nil {
		return "", err
	}
	return p.cfg.Issuer + pathCallback + "?" + url.Values{"id": {id}, "code": {code}}.Encode(), nil
}

// FailLogin ends request id with an OAuth error and returns the URL that
// tells the client (with state and iss; for response_mode=form_post, the
// provider's page that posts it, as for a success): e.g. "login_required" for
// prompt=none without a session, "access_denied" when the user declines
// consent, "consent_required", "account_selection_required" (OIDC Core
// §3.1.2.6). Only those error codes are accepted.
func (p *Provider) FailLogin(ctx context.Context, id, errorCode, description string) (string, error) {
	allowed := []string{"login_required", "access_denied", "consent_required", "interaction_required", "account_selection_required"}
	if !slices.Contains(allowed, errorCode) {
		return "", errors.New("provider: FailLogin: unsupported error code " + errorCode)
	}
	ar, err := p.pendingRequest(ctx, id)
	if err != nil {
		return "", err
	}
	mode := oidc.ResponseMode(ar.ResponseMode)
	// A form_post answer is a page the provider serves (the callback), so
	// the failed request stays readable for as long as a code would.
	expires := p.now()
	if mode == oidc.ResponseModeFormPost {
		expires = expires.Add(codeLifetime)
	}
	n, err := p.db.AuthRequest.Update().Where(authrequest.ID(ar.ID), authrequest.Done(false)).
		SetDone(true).SetExpiresAt(expires).Save(systemCtx(ctx))
	if err != nil {
		return "", fmt.Errorf("fail auth request: %w", err)
	}
	if n != 1 {
		return "", ErrUnknownRequest
	}
	if mode == oidc.ResponseModeFormPost {
		// The callback renders the auto-submitting form, as for a code. The
		// MAC keeps anyone from posting another error through it.
		q := url.Values{"id": {id}, "error": {errorCode}, "error_description": {description}}
		q.Set("mac", p.failureMAC(id, errorCode, description))
		return p.cfg.Issuer + pathCallback + "?" + q.Encode(), nil
	}
	return authResponseURL(ar.RedirectURI, mode, p.authResponseParams(errorCode, description, ar.State, "")), nil
}

// failureMAC authenticates a FailLogin result on its way through the
// browser to the callback.
func (p *Provider) failureMAC(id, errorCode, description string) string {
	key := sha256.Sum256(append([]byte("gatehouse provider failure delivery\x00"), p.cfg.CryptoKey[:]...))
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte(id + "\x00" + errorCode + "\x00" + description))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
