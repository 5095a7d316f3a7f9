package provider

import (
	"encoding/json"
	"net/http"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/gatehouse-id/gatehouse/federation"
)

// Errors for the hosted login (CompleteLogin, LoginRequest, FailLogin):
// federation's, so that pages compare them without importing the provider.
var (
	ErrUnknownRequest = federation.ErrUnknownRequest
	ErrNotMember      = federation.ErrNotMember
	ErrUserInactive   = federation.ErrUserInactive
	ErrReauthenticate = federation.ErrReauthenticate
	ErrUnknownACR     = federation.ErrUnknownACR
	ErrPolicyRefused  = federation.ErrPolicyRefused
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
