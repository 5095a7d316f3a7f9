package oidc

import (
	"errors"
	"fmt"

	"github.com/gatehouse-id/gatehouse/federation"
)

// Rejection codes: one stable word per reason a sign-in at the upstream
// provider is refused, for the audit log, metrics and the connection's
// test page.
const (
	CodeDiscoveryFailed         = "discovery_failed"          // the discovery document could not be fetched or read
	CodeIssuerMismatch          = "issuer_mismatch"           // discovery, the iss response parameter or the state names another issuer (OIDC-07)
	CodeStateInvalid            = "state_invalid"             // the state kept since Begin is unreadable or belongs to another connection
	CodeStateExpired            = "state_expired"             // the answer came after MaxTransactionAge
	CodeStateMismatch           = "state_mismatch"            // the state parameter is missing or not this transaction's (OIDC-08)
	CodeMalformedResponse       = "malformed_response"        // a response parameter sent twice, or neither code nor error
	CodeUpstreamError           = "upstream_error"            // the provider answered with an error (access_denied…)
	CodeExchangeFailed          = "exchange_failed"           // the token endpoint refused the code or could not be reached
	CodeTokenInvalid            = "token_invalid"             // the ID token is missing or fails a check (signature, aud, exp…)
	CodeNonceMismatch           = "nonce_mismatch"            // the ID token's nonce is not this transaction's (OIDC-08)
	CodeUserinfoFailed          = "userinfo_failed"           // the userinfo endpoint failed or answered unreadably
	CodeUserinfoSubjectMismatch = "userinfo_subject_mismatch" // userinfo describes another subject (OIDC Core §5.3.2)
	CodeClaimRefused            = "claim_refused"             // a claim pinned by Config.RequiredClaims has another value
)

// Rejection is why a sign-in at the upstream provider was refused: federation's own type, so
// that the pages read every protocol's refusals alike with no wrapping.
// Code is a stable machine word (the Code… constants); Reason is precise
// human text for the audit log and the connection's test page, never
// shown to the person signing in; Err is the underlying library error,
// when there is one.
type Rejection = federation.Rejection

func reject(code, format string, args ...any) *Rejection {
	return &Rejection{Code: code, Reason: fmt.Sprintf(format, args...)}
}

func rejectErr(code string, err error, format string, args ...any) *Rejection {
	return &Rejection{Code: code, Reason: fmt.Sprintf(format, args...) + ": " + err.Error(), Err: err}
}

// CodeOf is the Rejection code of err, or "" when err is not a Rejection.
func CodeOf(err error) string {
	var r *Rejection
	if errors.As(err, &r) {
		return r.Code
	}
	return ""
}
