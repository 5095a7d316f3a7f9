package provider

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Access tokens are JWTs per RFC 9068, with typ "at+jwt" (§2.1) so that no
// ID token or other JWT of ours can pass for one. The library signs every
// JWT with typ "JWT" (op.SignerFromKey), so the provider issues access
// tokens itself: createTokens signs the token and hands it to the library
// as the token "id"; the client's AccessTokenType is Bearer, so the
// library passes "<id>:<subject>" through Crypto.Encrypt, and
// passThroughCrypto returns the signed token unchanged. Decrypt never
// succeeds, so the library verifies presented tokens as JWTs with our key
// set (userinfo, introspection, revocation).

// accessTokenType is the JWS typ of access tokens (RFC 9068 §2.1).
const accessTokenType = "at+jwt"

// passThroughCrypto is the library's Crypto (op.WithCrypto).
type passThroughCrypto struct{}

var _ op.Crypto = passThroughCrypto{}

var errNotOpaque = errors.New("provider issues no opaque tokens")

// Encrypt receives "<access token>:<subject>" from op.CreateBearerToken.
// A compact JWS contains no colon, so the token is everything before the
// first one.
func (passThroughCrypto) Encrypt(s string) (string, error) {
	tok, _, ok := strings.Cut(s, ":")
	if !ok || strings.Count(tok, ".") != 2 {
		return "", errNotOpaque
	}
	return tok, nil
}

func (passThroughCrypto) Decrypt(string) (string, error) { return "", errNotOpaque }

// accessTokenClaims is the payload of an RFC 9068 access token (§2.2):
// iss, sub, aud, exp, iat, nbf, jti, client_id and scope always; auth_time
// and acr for user tokens; the organization claims when asked for.
type accessTokenClaims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  []string `json:"aud"`
	ClientID  string   `json:"client_id"`
	JTI       string   `json:"jti"`
	IssuedAt  int64    `json:"iat"`
	NotBefore int64    `json:"nbf"`
	Expiry    int64    `json:"exp"`
	Scope     string   `json:"scope"`
	AuthTime  int64    `json:"auth_time,omitempty"`
	ACR       string   `json:"acr,omitempty"`
	*organizationClaims
}

// signAccessTokenClaims fills in what every access token carries (iss,
// client_id, iat, nbf, exp) and signs claims with c's access-token
// algorithm (jws.go).
func (p *Provider) signAccessTokenClaims(ctx context.Context, c *client, claims *accessTokenClaims, exp time.Time) (string, error) {
	now := p.now().Unix()
	claims.Issuer, claims.ClientID = p.cfg.Issuer, c.GetID()
	claims.IssuedAt, claims.NotBefore, claims.Expiry = now, now, exp.Unix()
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", p.serverError(ctx, "marshal access token", err)
	}
	return p.signToken(ctx, jose.SignatureAlgorithm(c.app.AccessTokenSigningAlgorithm), accessTokenType, payload)
}
