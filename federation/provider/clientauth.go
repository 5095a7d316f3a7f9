package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/gatehouse-id/gatehouse/ent"
)

// Client authentication happens here, before the library sees the request
// (OIDC-10). The library authenticates the client only after it has looked
// at the grant (a code is redeemed before the secret is checked, so a
// wrong secret with a bad code answered invalid_grant), accepts RS256
// assertions only, with aud = issuer only and no jti replay check. So
// every request to the token, introspection and revocation endpoints is
// authenticated first, with the method the application registered; a
// failure is 401 invalid_client with WWW-Authenticate whatever the grant.
//
// An authenticated request is then handed to the library as Basic
// "<client_id>:<secret or nothing>", which storage accepts only for the
// client this request already authenticated (reqState.authenticated).
// The assertion itself is never verified twice, which would trip its own
// replay check.

// Client assertions (RFC 7523 §3).
const (
	// assertionMaxLifetime bounds exp - now, and so how long a used jti
	// must be remembered.
	assertionMaxLifetime = time.Hour
	// assertionJTIPrefix marks used assertion ids in the RevokedToken
	// table; access-token jtis never start with it.
	assertionJTIPrefix = "pkjwt:"
	maxAssertionJTI    = 256
)

// assertionAlgorithms are the JWS algorithms accepted for client
// assertions. HS* is absent: a client's JWKS holds public keys only.
var assertionAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256, jose.ES384, jose.EdDSA}

func assertionAlgorithmNames() []string {
	out := make([]string, len(assertionAlgorithms))
	for i, a := range assertionAlgorithms {
		out[i] = string(a)
	}
	return out
}

// authenticateClient authenticates the client of a token, introspection or
// revocation request with its registered method and returns it.
// The returned error is what the client sees; the reason is logged.
func (p *Provider) authenticateClient(r *http.Request) (*client, *oidc.Error) {
	ctx := r.Context()
	fail := func(reason string, err error) *oidc.Error {
		p.log.InfoContext(ctx, "provider: client authentication failed", "path", r.URL.Path, "reason", reason, "error", err)
		parent := errors.New(reason) // the audit event's detail; never shown
		if wm, ok := errors.AsType[wrongMethodError](err); ok {
			// The one reason worth telling: a client sent the wrong kind of
			// credential and cannot fix it without knowing the right one.
			return oidc.ErrInvalidClient().WithDescription("%s", wm.Error()).WithParent(parent)
		}
		return oidc.ErrInvalidClient().WithDescription("client authentication failed").WithParent(parent)
	}
	if r.URL.RawQuery != "" { // parsed only when present: the token endpoint's hot path has none
		if q := r.URL.Query(); q.Has("client_secret") || q.Has("client_assertion") {
			// RFC 6749 §2.3.1: credentials never in the request URI.
			return nil, oidc.ErrInvalidRequest().WithDescription("client credentials must not be sent in the URL")
		}
	}
	form := r.PostForm
	basicID, basicSecret, hasBasic := r.BasicAuth()
	formID, formSecret := form.Get("client_id"), form.Get("client_secret")
	assertion, assertionType := form.Get("client_assertion"), form.Get("client_assertion_type")
	hasAssertion := assertion != "" || assertionType != ""
	methods := 0
	for _, b := range []bool{hasBasic, formSecret != "", hasAssertion} {
		if b {
			methods++
		}
	}
	if methods > 1 {
		// RFC 6749 §2.3: one method per request.
		return nil, oidc.ErrInvalidRequest().WithDescription("client authentication must not use more than one method")
	}
	var (
		c      *client
		method oidc.AuthMethod
		err    error
	)
	if hasAssertion {
		method = oidc.AuthMethodPrivateKeyJWT
		if assertionType != oidc.ClientAssertionTypeJWTAssertion {
			return nil, fail("unsupported client_assertion_type", nil)
		}
		c, err = p.verifyClientAssertion(ctx, assertion, formID, r.URL.Path)
		if err != nil {
			var oe *oidc.Error
			if errors.As(err, &oe) && oe.ErrorType == oidc.ServerError {
				return nil, oe
			}
			return nil, fail("client assertion", err)
		}
	} else {
		id, secret := formID, formSecret
		switch {
		case hasBasic:
			method = oidc.AuthMethodBasic
			var err1, err2 error
			id, err1 = url.QueryUnescape(basicID)
			secret, err2 = url.QueryUnescape(basicSecret)
			if err1 != nil || err2 != nil {
				return nil, fail("malformed basic credentials", errors.Join(err1, err2))
			}
			if formID != "" && formID != id {
				return nil, fail("client_id differs from basic credentials", nil)
			}
		case formSecret != "":
			method = oidc.AuthMethodPost
		default:
			method = oidc.AuthMethodNone
		}
		c, err = p.clients.get(ctx, id)
		switch {
		case errors.Is(err, errUnknownClient):
			return nil, fail("unknown client", err)
		case err != nil:
			return nil, p.serverError(ctx, "load client", err)
		case c.AuthMethod() != method:
			return nil, fail("used "+string(method), wrongMethodError{registered: c.AuthMethod()})
		case method != oidc.AuthMethodNone && !c.checkSecret(secret):
			return nil, fail("wrong secret", nil)
		}
	}
	if method == oidc.AuthMethodPrivateKeyJWT || method == oidc.AuthMethodPost {
		// Hand the library an authentication it checks through storage
		// only (AuthorizeClientIDSecret): never the assertion again, and
		// Basic where the library knows no client_secret_post
		// (introspection).
		for _, v := range []url.Values{r.Form, r.PostForm} {
			for _, k := range []string{"client_assertion", "client_assertion_type", "client_id", "client_secret"} {
				v.Del(k)
			}
		}
		r.SetBasicAuth(url.QueryEscape(c.GetID()), "")
	}
	return c, nil
}

// wrongMethodError: the client authenticated with a method other than the
// one it registered (token_endpoint_auth_method). Its text is the
// error_description the client sees.
type wrongMethodError struct{ registered oidc.AuthMethod }

func (e wrongMethodError) Error() string {
	return "client authentication failed: the client is registered for " + string(e.registered)
}

// assertionClaims are the claims of a client assertion (RFC 7523 §3).
type assertionClaims struct {
	Issuer    string        `json:"iss"`
	Subject   string        `json:"sub"`
	Audience  oidc.Audience `json:"aud"`
	Expiry    *json.Number  `json:"exp"`
	NotBefore *json.Number  `json:"nbf"`
	IssuedAt  *json.Number  `json:"iat"`
	JTI       string        `json:"jti"`
}

// numericDate reads a NumericDate claim (RFC 7519 §2); fractions are kept.
func numericDate(n *json.Number) (time.Time, bool) {
	if n == nil {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, int64(f*1e9)), true
}

// verifyClientAssertion checks a private_key_jwt client assertion
// (RFC 7523 §3, OIDC Core §9, OIDC-10, OIDC-11): one signature by a key in
// the client's registered JWKS with that key's algorithm (RS256, PS256,
// ES256, ES384 or EdDSA; never a key from the token), iss = sub = the
// client, aud naming this issuer, its token endpoint or the endpoint
// called, exp in the future and at most an hour away, and a jti never
// seen before: it is recorded until exp, on every node (REL-08).
func (p *Provider) verifyClientAssertion(ctx context.Context, assertion, formClientID, path string) (*client, error) {
	if err := checkCompactJWS(assertion); err != nil {
		return nil, err
	}
	jws, err := jose.ParseSignedCompact(assertion, assertionAlgorithms)
	if err != nil {
		return nil, fmt.Errorf("parse assertion: %w", err)
	}
	h, err := singleSignatureHeader(jws)
	if err != nil {
		return nil, err
	}
	// The claims are read before the signature is checked, to find the
	// client's keys, and trusted only once it is: Verify checks these
	// very payload bytes.
	var claims assertionClaims
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &claims); err != nil {
		return nil, fmt.Errorf("assertion claims: %w", err)
	}
	if claims.Issuer == "" || claims.Issuer != claims.Subject {
		return nil, errors.New("iss and sub must both be the client_id")
	}
	if formClientID != "" && formClientID != claims.Issuer {
		return nil, errors.New("client_id differs from the assertion's issuer")
	}
	c, err := p.clients.get(ctx, claims.Issuer)
	if errors.Is(err, errUnknownClient) {
		return nil, err
	}
	if err != nil {
		return nil, p.serverError(ctx, "load client", err)
	}
	if c.AuthMethod() != oidc.AuthMethodPrivateKeyJWT {
		return nil, wrongMethodError{registered: c.AuthMethod()}
	}
	err = p.withClientKey(ctx, c, h.KeyID, func(key *jose.JSONWebKey) error {
		if key.Algorithm != "" && key.Algorithm != h.Algorithm {
			return errors.New("algorithm does not match the registered key")
		}
		if _, err := jws.Verify(key.Key); err != nil {
			return fmt.Errorf("verify assertion: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	iss := p.cfg.Issuer
	if !slices.ContainsFunc(claims.Audience, func(a string) bool {
		return a == iss || a == iss+"/" || a == iss+pathToken || a == iss+path
	}) {
		return nil, errors.New("aud names neither this issuer nor its token endpoint")
	}
	now := p.now()
	exp, ok := numericDate(claims.Expiry)
	switch {
	case !ok:
		return nil, errors.New("exp missing")
	case !now.Before(exp.Add(clockSkew)):
		return nil, errors.New("assertion expired")
	case exp.After(now.Add(assertionMaxLifetime + clockSkew)):
		return nil, errors.New("assertion lives too long")
	}
	if nbf, ok := numericDate(claims.NotBefore); ok && now.Add(clockSkew).Before(nbf) {
		return nil, errors.New("assertion not yet valid")
	}
	if iat, ok := numericDate(claims.IssuedAt); ok && now.Add(clockSkew).Before(iat) {
		return nil, errors.New("assertion issued in the future")
	}
	if claims.JTI == "" || len(claims.JTI) > maxAssertionJTI {
		return nil, errors.New("jti missing or too long")
	}
	// Single use until exp: the unique jti column makes the first insert
	// win on every node.
	err = p.db.RevokedToken.Create().
		SetJti(assertionJTIPrefix + c.GetID() + ":" + claims.JTI).
		SetExpiresAt(exp.Add(clockSkew)).Exec(systemCtx(ctx))
	if ent.IsConstraintError(err) {
		return nil, errors.New("assertion replayed")
	}
	if err != nil {
		return nil, p.serverError(ctx, "record assertion jti", err)
	}
	return c, nil
}

// assertedClient is a client that authenticated with private_key_jwt in
// this request (authenticateClient). The library sees it as a Basic
// client whose empty secret storage accepts for this request only.
type assertedClient struct{ *client }

func (assertedClient) AuthMethod() oidc.AuthMethod { return oidc.AuthMethodBasic }
