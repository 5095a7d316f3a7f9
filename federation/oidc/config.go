package oidc

import (
	"net/http"
	"time"

	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
)

// Limits every connection shares.
const (
	// ClockSkew is how far the provider's clock may be from ours: exp,
	// iat, nbf and auth_time are compared with this much slack, both ways
	// (SECURITY-CHECKLIST OIDC-13: one constant, at most 60 s).
	ClockSkew = 60 * time.Second
	// MaxTransactionAge is how long after Begin an answer is accepted; the
	// login transaction that keeps the state usually ends sooner.
	MaxTransactionAge = 15 * time.Minute
	// maxDocumentBytes bounds the discovery document.
	maxDocumentBytes = 256 << 10
	// maxIDTokenBytes bounds the ID token we parse (OIDC-12).
	maxIDTokenBytes = 64 << 10
	// defaultTimeout bounds each call to the provider when the caller's
	// client has no timeout of its own.
	defaultTimeout = 10 * time.Second
	// finishTimeout bounds Finish's calls to the provider together (token,
	// JWKS, userinfo).
	finishTimeout = 20 * time.Second
)

// DefaultScopes are requested when Config.Scopes is empty.
var DefaultScopes = []string{"openid", "email", "profile"}

// Config is one connection's settings, as plain values.
type Config struct {
	// ConnectionID names the connection in every Identity and binds each
	// transaction's state to it.
	ConnectionID pulid.ID
	// Issuer is the provider's issuer identifier, exactly as its discovery
	// document and ID tokens state it (https://login.microsoftonline.com/{tenant}/v2.0).
	Issuer string
	// ClientID and ClientSecret are the credentials the organization
	// registered for Gatehouse at its provider.
	ClientID, ClientSecret string
	// Scopes to request; DefaultScopes when empty. openid is always sent.
	Scopes []string
	// RedirectURL is this connection's callback (…/sso/oidc/{connection}/callback),
	// registered at the provider; distinct per connection, so an answer
	// cannot be replayed at another connection's callback.
	RedirectURL string
	// HTTPClient makes every call to the provider (discovery, JWKS, token,
	// userinfo). Outside development the caller passes
	// internal/safehttp's, since the issuer is a URL a tenant typed
	// (SECURITY-CHECKLIST MT-10). Defaults to a plain client with a 10 s
	// timeout.
	HTTPClient *http.Client
	// Now is the clock tokens are checked against; time.Now when nil.
	Now func() time.Time
	// Mapping names the claims that carry the identity's fields.
	Mapping ClaimMapping
	// IssuerAliases are other spellings of Issuer the provider writes in
	// ID tokens' iss, accepted there only (never in discovery or the RFC
	// 9207 iss parameter): Google documents both https://accounts.google.com
	// and accounts.google.com (Preset.IssuerAliases).
	IssuerAliases []string
	// RequiredClaims pins claims of the ID token: a sign-in whose claim
	// (as text, or any element of a list) is none of the values is
	// refused (CodeClaimRefused). Google Workspace: {"hd": {"example.com"}},
	// since any Google account can otherwise complete the flow.
	RequiredClaims map[string][]string
}

// ClaimMapping names the claims that fill an Identity. Each field is a
// claim name, or several separated by spaces, the first one present
// winning ("email upn preferred_username"); empty means the standard OIDC
// claim (email, email_verified, name, given_name, family_name, groups).
//
// EmailVerified is honoured only when the email came from the first claim
// Email names, and only from the same source (ID token or userinfo) as the
// email: a fallback claim such as upn is never a verified address
// (SECURITY-CHECKLIST OIDC-16).
type ClaimMapping struct {
	Email, EmailVerified, Name, GivenName, FamilyName, Groups string
	// Custom maps a key of the user's metadata to the claim whose value
	// it takes (see CustomValues).
	Custom map[string]string
}

// withDefaults fills the empty fields with the standard claims.
func (m ClaimMapping) withDefaults() ClaimMapping {
	def := func(v *string, claim string) {
		if *v == "" {
			*v = claim
		}
	}
	def(&m.Email, "email")
	def(&m.EmailVerified, "email_verified")
	def(&m.Name, "name")
	def(&m.GivenName, "given_name")
	def(&m.FamilyName, "family_name")
	def(&m.Groups, "groups")
	return m
}
