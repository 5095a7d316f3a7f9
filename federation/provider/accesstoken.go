package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// signAccessToken issues the RFC 9068 access token for req: iss, sub,
// aud, exp, iat, nbf, jti, client_id, scope, auth_time and acr for user
// tokens, and the organization claims when asked for, signed with the
// application's access-token algorithm.
func (p *Provider) signAccessToken(ctx context.Context, c *client, req op.TokenRequest, jti string, exp time.Time) (string, error) {
	claims, err := p.accessTokenClaims(ctx, req)
	if err != nil {
		return "", err
	}
	now := p.now()
	claims["iss"] = p.cfg.Issuer
	claims["sub"] = req.GetSubject()
	claims["aud"] = req.GetAudience()
	claims["client_id"] = c.GetID()
	claims["jti"] = jti
	claims["iat"], claims["nbf"], claims["exp"] = now.Unix(), now.Unix(), exp.Unix()
	switch r := req.(type) {
	case authRequest:
		claims["auth_time"] = r.GetAuthTime().Unix()
		if r.ar.Acr != "" {
			claims["acr"] = r.ar.Acr
		}
	case *refreshRequest:
		claims["auth_time"] = r.g.AuthTime.Unix()
		if r.g.Acr != "" {
			claims["acr"] = r.g.Acr
		}
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", p.serverError(ctx, "marshal access token", err)
	}
	k, err := p.keys.signer(ctx, jose.SignatureAlgorithm(c.app.AccessTokenSigningAlgorithm))
	if err != nil {
		return "", p.serverError(ctx, "signing key", err)
	}
	s, err := k.accessTokenSigner()
	if err != nil {
		return "", p.serverError(ctx, "access token signer", err)
	}
	obj, err := s.Sign(payload)
	if err != nil {
		return "", p.serverError(ctx, "sign access token", err)
	}
	return obj.CompactSerialize()
}

// accessTokenSigner is built once per key: building a signer is not free
// and this is the hot path of client credentials.
func (k *signingKey) accessTokenSigner() (jose.Signer, error) {
	k.atOnce.Do(func() {
		k.at, k.atErr = jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: jose.JSONWebKey{Key: k.private, KeyID: k.id}},
			(&jose.SignerOptions{}).WithType(accessTokenType))
		if k.atErr != nil {
			k.atErr = fmt.Errorf("access token signer %s: %w", k.id, k.atErr)
		}
	})
	return k.at, k.atErr
}
