// Package provider is Gatehouse's OpenID Provider: OAuth 2.1 and OpenID
// Connect on github.com/zitadel/oidc/v3/pkg/op, with every piece of state
// (auth requests, codes, grants, refresh tokens, signing keys) in the ent
// database so any number of nodes can serve one issuer.
//
// The library does the protocol plumbing (token endpoint parsing,
// userinfo, introspection, revocation, end_session). This package owns
// what the library leaves to storage or gets wrong for us:
//
//   - client authentication, before any grant is looked at, with the
//     registered method; private_key_jwt with RS256/PS256/ES256/ES384/EdDSA
//     keys and single-use assertion jti (RFC 7523, OIDC-10), the keys
//     registered inline (jwks, which wins if both are set) or fetched
//     from the client's jwks_uri through internal/safehttp (MT-10),
//     cached, and fetched again at most once a minute for an unknown kid
//     so client key rotation needs no configuration change (REL-04);
//   - the authorization endpoint and its response (exact redirect URIs, PKCE
//     S256 only, RFC 9207 iss in every response, form_post);
//   - single-use codes with replay revocation (RFC 9700 §4.5, RFC 6749
//     §4.1.2), refresh-token rotation with family revocation (RFC 9700
//     §4.14.2), absolute and idle limits;
//   - JWT access tokens (RFC 9068, typ at+jwt) whose jti names their grant,
//     so revoking a grant reaches every access token issued under it;
//   - signing keys per algorithm, sealed at rest, published
//     Config.KeyPublishAhead before they sign so cached JWKS never miss a
//     kid (REL-03);
//   - acr (ACRSingleFactor, ACRMultiFactor), derived from the sign-in's
//     factors, and the amr claim (tenants.TokenAMR: "fed" and the upstream
//     IdP's methods for a federated sign-in);
//   - RP-initiated logout that also ends the hosted pages' session;
//   - Sweep / RunSweeper for expired state;
//   - organization claims (org_id, org_slug, org_roles, permissions);
//   - audit events through tenants' writer (audit.go): token issue,
//     refresh, revocation, reuse, replay and logout in the transaction of
//     the change they record, refused requests rate-limited; none per
//     client-credentials token.
//
// The hosted login (web/) drives a request with LoginRequest and
// CompleteLogin (or FailLogin); it serves LoggedOutPath. /graphql verifies
// tokens with VerifyAccessToken; `gatehouse serve` runs RunSweeper.
package provider
