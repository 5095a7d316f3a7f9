package web

import (
	"context"

	"github.com/gatehouse-id/gatehouse/federation"
)

// Flow is the OpenID Provider as the hosted login sees it, in federation's
// protocol-neutral types: the provider stores an authorization request and
// hands the browser to /login?authRequest=ID; web authenticates the user
// and completes it. *provider.Provider implements it (cmd/gatehouse
// asserts so where it wires them); tests use a fake and, in the contract
// test, the real provider.
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
	// defines; ErrPolicyRefused: the organization's login policy does not
	// accept a.AMR; ErrUnknownRequest as above.
	CompleteLogin(ctx context.Context, id string, a Authentication) (redirect string, err error)
	// FailLogin ends request id with an OAuth error (OIDC Core §3.1.2.6:
	// access_denied, login_required, consent_required,
	// interaction_required, account_selection_required) and returns the
	// URL that tells the application, to which the browser is sent (303).
	// ErrUnknownRequest as above.
	FailLogin(ctx context.Context, id, errorCode, description string) (redirect string, err error)
}

// The shared types and errors under the names web uses.
type (
	// LoginRequest is what the hosted login knows of a pending request.
	LoginRequest = federation.LoginRequest
	// Authentication is what the hosted login established.
	Authentication = federation.Authentication
)

// Errors of Flow (compare with errors.Is).
var (
	ErrUnknownRequest = federation.ErrUnknownRequest
	ErrNotMember      = federation.ErrNotMember
	ErrReauthenticate = federation.ErrReauthenticate
	ErrUserInactive   = federation.ErrUserInactive
	ErrUnknownACR     = federation.ErrUnknownACR
	ErrPolicyRefused  = federation.ErrPolicyRefused
)

// The authentication context classes Gatehouse defines
// (LoginRequest.ACRValues).
const acrSingleFactor = federation.ACRSingleFactor
