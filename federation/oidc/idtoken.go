package oidc

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
)

// idToken is a verified ID token: the typed claims the checks read and
// every claim as sent.
type idToken struct {
	claims *zoidc.IDTokenClaims
	raw    map[string]any
}

// verifyIDToken validates the ID token of a code flow (OIDC Core
// §3.1.3.7): signed by a key of the provider's JWKS with an accepted
// algorithm, iss the issuer, aud containing our client id, azp ours when
// present (required with several audiences), exp and iat (and nbf,
// auth_time after prompt=login) against Config.Now within ClockSkew, the
// transaction's nonce, and at_hash when present. zitadel's verifier is
// not used whole because it reads time.Now.
func (c *Connector) verifyIDToken(ctx context.Context, raw, accessToken string, tx transaction) (idToken, error) {
	if raw == "" {
		return idToken{}, reject(CodeTokenInvalid, "the token response carries no id_token")
	}
	if len(raw) > maxIDTokenBytes {
		return idToken{}, reject(CodeTokenInvalid, "the id_token is %d bytes; at most %d are read", len(raw), maxIDTokenBytes)
	}
	claims := new(zoidc.IDTokenClaims)
	payload, err := zoidc.ParseToken(raw, claims)
	if err != nil {
		return idToken{}, rejectErr(CodeTokenInvalid, err, "the id_token is not a readable JWT")
	}
	if err := zoidc.CheckSignature(ctx, raw, payload, claims, c.algs, c.keys); err != nil {
		return idToken{}, rejectErr(CodeTokenInvalid, err, "the id_token's signature (alg %s) does not verify with %s's keys (accepted algorithms %v)", headerAlg(raw), c.cfg.Issuer, c.algs)
	}
	if err := zoidc.CheckSubject(claims); err != nil {
		return idToken{}, rejectErr(CodeTokenInvalid, err, "the id_token")
	}
	if claims.Issuer != c.cfg.Issuer && !slices.Contains(c.cfg.IssuerAliases, claims.Issuer) {
		return idToken{}, reject(CodeTokenInvalid, "the id_token's iss is %s, not %q", quote(claims.Issuer), c.cfg.Issuer)
	}
	if err := zoidc.CheckAudience(claims, c.cfg.ClientID); err != nil {
		return idToken{}, rejectErr(CodeTokenInvalid, err, "the id_token's aud %v", []string(claims.Audience))
	}
	if err := zoidc.CheckAZPVerifier(claims, zoidc.DefaultAZPVerifier(c.cfg.ClientID)); err != nil {
		return idToken{}, rejectErr(CodeTokenInvalid, err, "the id_token's azp %s", quote(claims.AuthorizedParty))
	}
	if err := c.checkTimes(claims, tx); err != nil {
		return idToken{}, err
	}
	if subtle.ConstantTimeCompare([]byte(claims.Nonce), []byte(tx.Nonce)) != 1 {
		if claims.Nonce == "" {
			return idToken{}, reject(CodeNonceMismatch, "the id_token carries no nonce")
		}
		return idToken{}, reject(CodeNonceMismatch, "the id_token's nonce is another sign-in's")
	}
	if err := rp.VerifyAccessToken(accessToken, claims.AccessTokenHash, claims.GetSignatureAlgorithm()); err != nil {
		return idToken{}, rejectErr(CodeTokenInvalid, err, "the id_token's at_hash does not match the access token")
	}
	all := map[string]any{}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&all); err != nil {
		return idToken{}, rejectErr(CodeTokenInvalid, err, "the id_token's claims")
	}
	return idToken{claims: claims, raw: all}, nil
}

// checkTimes applies Config.Now to exp, iat, nbf and, after prompt=login,
// auth_time.
func (c *Connector) checkTimes(claims *zoidc.IDTokenClaims, tx transaction) error {
	now := c.cfg.Now()
	at := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	exp, iat, nbf := claims.GetExpiration(), claims.GetIssuedAt(), claims.NotBefore.AsTime()
	switch {
	case exp.IsZero():
		return reject(CodeTokenInvalid, "the id_token carries no exp")
	case !now.Before(exp.Add(ClockSkew)):
		return reject(CodeTokenInvalid, "the id_token expired at %s (now %s, skew %s)", at(exp), at(now), ClockSkew)
	case iat.IsZero():
		return reject(CodeTokenInvalid, "the id_token carries no iat")
	case iat.After(now.Add(ClockSkew)):
		return reject(CodeTokenInvalid, "the id_token was issued at %s, in the future (now %s, skew %s)", at(iat), at(now), ClockSkew)
	case !nbf.IsZero() && nbf.After(now.Add(ClockSkew)):
		return reject(CodeTokenInvalid, "the id_token is not valid before %s (now %s, skew %s)", at(nbf), at(now), ClockSkew)
	}
	if auth := claims.GetAuthTime(); tx.ForceAuthn && !auth.IsZero() {
		if started := time.Unix(tx.Started, 0); auth.Before(started.Add(-ClockSkew)) {
			return reject(CodeTokenInvalid, "prompt=login was asked at %s but the person last authenticated at %s", at(started), at(auth))
		}
	}
	return nil
}

// headerAlg is the alg a JWT's header names, for a rejection's reason.
func headerAlg(raw string) string {
	var h struct {
		Alg string `json:"alg"`
	}
	head, _, ok := bytes.Cut([]byte(raw), []byte("."))
	if !ok {
		return `""`
	}
	dec, err := base64.RawURLEncoding.DecodeString(string(head))
	if err != nil || json.Unmarshal(dec, &h) != nil {
		return `""`
	}
	return quote(h.Alg)
}
