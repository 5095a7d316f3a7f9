// Package oidc is the OpenID Connect relying party for one organization's
// connection: Gatehouse signs a person in at the organization's own
// identity provider (Entra ID, Okta, Google Workspace, any OpenID
// Provider) with the authorization code flow, and returns what the
// provider asserted as a federation.Identity.
//
// It takes plain values (Config), never the database: the integrator
// builds one Connector per connection from the stored settings and keeps
// it while the settings are unchanged (New fetches the provider's
// discovery document once). The pages keep Begin's Step.State
// server-side with the login transaction and give it back to Finish once.
//
// What it checks, after github.com/zitadel/oidc/v3's client packages:
//
//   - code flow with PKCE S256, state and nonce (RFC 9700 §2.1, §4.7;
//     SECURITY-CHECKLIST OIDC-08), state compared in constant time and
//     bound to the connection and its issuer;
//   - RFC 9207 iss in the authorization response: when present it must be
//     the issuer, and it must be present when discovery advertises it
//     (mix-up defence, OIDC-07);
//   - discovery: the document's issuer must equal the configured one
//     (OIDC Discovery §4.3); fetched through the caller's HTTP client,
//     which outside development is internal/safehttp's (MT-10);
//   - the ID token (OIDC Core §3.1.3.7): a signature from the provider's
//     JWKS (cached; fetched again for an unknown kid, so a key rotation
//     needs no configuration, REL-04) with an asymmetric algorithm only
//     (never none or HS*; OIDC-11),
//     iss, aud, azp, exp and iat against Config.Now with ClockSkew, nonce,
//     at_hash when present;
//   - userinfo (OIDC Core §5.3.2): merged only when its sub equals the ID
//     token's; the signed ID token wins for every claim it carries, and
//     email_verified is taken from the same source as the email (OIDC-16).
//
// Every refusal is a *Rejection whose Code is a stable word for the audit
// log and metrics and whose Reason says precisely what was wrong.
package oidc
