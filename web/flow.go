package web

import (
	"context"

	"github.com/gatehouse-id/gatehouse/federation/provider"
)

// Flow is the OpenID Provider as the hosted login sees it: the provider
// stores an authorization request and hands the browser to
// /login?authRequest=ID; web authenticates the user and completes it.
// *provider.Provider implements it; tests use a fake.
type Flow interface {
	// LoginRequest returns the pending request id. It is called on every
	// page of the login, so it must be cheap. ErrUnknownRequest means the
	// request is missing, expired or already completed.
	LoginRequest(ctx context.Context, id string) (*LoginRequest, error)
	// CompleteLogin records who signed in and returns the URL the browser
	// is sent to next (303). ErrNotMember: a.OrganizationID is not an
	// organization where the user is an active member (or not the one the
	// application named); ErrReauthenticate: the authentication is older
	// than max_age or prompt=login allows; ErrUserInactive: the user was
	// disabled meanwhile; ErrUnknownACR: a.ACR is not one the provider
	// defines; ErrUnknownRequest as above.
	CompleteLogin(ctx context.Context, id string, a Authentication) (redirect string, err error)
	// FailLogin ends request id with an OAuth error (OIDC Core §3.1.2.6:
	// access_denied, login_required, consent_required,
	// interaction_required, account_selection_required) and returns the
	// URL that tells the application, to which the browser is sent (303).
	// ErrUnknownRequest as above.
	FailLogin(ctx context.Context, id, errorCode, description string) (redirect string, err error)
}

var _ Flow = (*provider.Provider)(nil)

// The provider's types and errors under the names web uses.
type (
	// LoginRequest is what the hosted login knows of a pending request.
	LoginRequest = provider.LoginRequest
	// Authentication is what the hosted login established.
	Authentication = provider.Authentication
)

// Errors of Flow, the provider's own (compare with errors.Is).
var (
	ErrUnknownRequest = provider.ErrUnknownRequest
	ErrNotMember      = provider.ErrNotMember
	ErrReauthenticate = provider.ErrReauthenticate
	ErrUserInactive   = provider.ErrUserInactive
	ErrUnknownACR     = provider.ErrUnknownACR
)

// The authentication context classes the provider defines
// (LoginRequest.ACRValues).
const acrSingleFactor = provider.ACRSingleFactor
