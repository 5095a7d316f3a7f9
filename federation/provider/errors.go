package provider

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// Errors for the hosted login (CompleteLogin, LoginRequest, FailLogin).
var (
	// ErrUnknownRequest: the auth request does not exist, has expired or was
	// already completed. The login page should say the link is stale.
	ErrUnknownRequest = errors.New("provider: unknown or expired authorization request")
	// ErrNotMember: the organization is required (scope organization or
	// organization:<id>) or chosen, and the user has no ACTIVE membership in it.
	ErrNotMember = errors.New("provider: user is not an active member of the organization")
	// ErrUserInactive: the user does not exist or is disabled.
	ErrUserInactive = errors.New("provider: user is not active")
	// ErrReauthenticate: max_age or prompt=login asks for a fresher
	// authentication than Authentication.AuthTime (OIDC Core §3.1.2.1).
	ErrReauthenticate = errors.New("provider: authentication is too old for this request")
	// ErrUnknownACR: Authentication.ACR is neither empty nor one of
	// ACRSingleFactor, ACRMultiFactor.
	ErrUnknownACR = errors.New("provider: unknown authentication context class")
)

// writeOAuthError writes an RFC 6749 §5.2 error body. invalid_client gets
// 401 with a WWW-Authenticate challenge (RFC 6749 §5.2).
func writeOAuthError(w http.ResponseWriter, e *oidc.Error) {
	status := http.StatusBadRequest
	switch e.ErrorType {
	case oidc.InvalidClient:
		status = http.StatusUnauthorized
		w.Header().Set("WWW-Authenticate", `Basic realm="gatehouse"`)
	case oidc.ServerError:
		status = http.StatusInternalServerError
	}
	body := map[string]string{"error": string(e.ErrorType)}
	if e.Description != "" {
		body["error_description"] = e.Description
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// errInvalidGrant is the one answer for every bad code or refresh token:
// the client learns nothing about why (RFC 6749 §5.2).
func errInvalidGrant(parent error) *oidc.Error {
	return oidc.ErrInvalidGrant().WithParent(parent)
}
