package provider

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/revokedtoken"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
)

// AccessToken is a verified access token issued by this provider.
type AccessToken struct {
	// Subject is the user id, or the client id for client credentials.
	Subject, ClientID, JTI string
	Scopes                 []string
	// OrganizationID is set when the token carries organization claims.
	OrganizationID pulid.ID
	Expiry         time.Time
	// Grant is the grant a user's token was issued from (its jti names
	// it); empty for client credentials.
	Grant pulid.ID
}

// ErrInvalidToken is returned by VerifyAccessToken for every token that
// must not be accepted; the reason is in the wrapped error, for logs only.
var ErrInvalidToken = errors.New("provider: invalid access token")

// maxTokenSize bounds what is parsed at all (OIDC-12: parser DoS).
const maxTokenSize = 8 << 10

// verifiedClaims are the claims of an access token whose signature one of
// our keys verified.
type verifiedClaims struct {
	Issuer    string          `json:"iss"`
	Subject   string          `json:"sub"`
	ClientID  string          `json:"client_id"`
	Scope     string          `json:"scope"`
	JTI       string          `json:"jti"`
	Audience  json.RawMessage `json:"aud"`
	Expiry    *float64        `json:"exp"`
	NotBefore *float64        `json:"nbf"`
	IssuedAt  *float64        `json:"iat"`
	OrgID     string          `json:"org_id"`
	// grant is the unrevoked grant of a user token, as checkNotRevoked
	// found it.
	grant *ent.Grant
}

// verifyJWS checks a JWS against our published keys: one signature, a kid
// we published, and the algorithm of that key (never the header's choice:
// RFC 8725 §3.1; alg none and HS256-with-a-public-key fail here). No key
// is ever taken or fetched from the token (jwk, jku, x5u, x5c).
func (p *Provider) verifyJWS(ctx context.Context, jws *jose.JSONWebSignature) ([]byte, error) {
	h, err := singleSignatureHeader(jws)
	if err != nil {
		return nil, err
	}
	k := p.keys.byKeyID(ctx, h.KeyID)
	if k == nil {
		return nil, errors.New("unknown kid")
	}
	if h.Algorithm != string(k.alg) {
		return nil, errors.New("algorithm does not match key")
	}
	return jws.Verify(k.public.Key)
}

// checkAccessTokenType requires typ at+jwt (RFC 9068 §4: resource
// servers MUST check it), so an ID token never passes for an access token.
func checkAccessTokenType(jws *jose.JSONWebSignature) error {
	if len(jws.Signatures) != 1 {
		return errors.New("want exactly one signature")
	}
	typ, _ := jws.Signatures[0].Protected.ExtraHeaders[jose.HeaderType].(string)
	typ = strings.ToLower(typ)
	if typ != accessTokenType && typ != "application/"+accessTokenType {
		return fmt.Errorf("typ %q is not %s", typ, accessTokenType)
	}
	return nil
}

// parseAccessToken verifies signature, issuer and time claims.
func (p *Provider) parseAccessToken(ctx context.Context, token string) (*verifiedClaims, error) {
	if err := checkCompactJWS(token); err != nil {
		return nil, err
	}
	jws, err := jose.ParseSignedCompact(token, algorithms)
	if err != nil {
		return nil, err
	}
	_, c, err := p.verifyAccessJWS(ctx, jws)
	return c, err
}

// verifyAccessJWS checks typ, signature, issuer and time claims of a
// parsed access token and returns its payload and claims.
func (p *Provider) verifyAccessJWS(ctx context.Context, jws *jose.JSONWebSignature) ([]byte, *verifiedClaims, error) {
	if err := checkAccessTokenType(jws); err != nil {
		return nil, nil, err
	}
	payload, err := p.verifyJWS(ctx, jws)
	if err != nil {
		return nil, nil, err
	}
	var c verifiedClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, nil, fmt.Errorf("claims: %w", err)
	}
	return payload, &c, p.checkClaims(&c)
}

// checkClaims applies iss, exp, nbf and iat with one symmetric skew
// (RFC 8725 §3.11, RFC 9068 §4), requires exp, iat, sub and client_id
// (RFC 9068 §2.2) and the jti shape of our access tokens, so an ID token
// is never accepted as an access token.
func (p *Provider) checkClaims(c *verifiedClaims) error {
	now := p.now()
	at := func(f *float64) time.Time { return time.Unix(0, int64(*f*1e9)) }
	switch {
	case c.Issuer != p.cfg.Issuer:
		return errors.New("wrong issuer")
	case c.Expiry == nil || !now.Before(at(c.Expiry).Add(clockSkew)):
		return errors.New("expired")
	case c.NotBefore != nil && now.Add(clockSkew).Before(at(c.NotBefore)):
		return errors.New("not yet valid")
	case c.IssuedAt == nil:
		return errors.New("missing iat")
	case now.Add(clockSkew).Before(at(c.IssuedAt)):
		return errors.New("issued in the future")
	case c.Subject == "" || c.ClientID == "":
		return errors.New("missing sub or client_id")
	}
	if _, ok := grantOfJTI(c.JTI); !ok && !strings.HasPrefix(c.JTI, ccJTIPrefix) {
		return errors.New("not an access token")
	}
	return nil
}

// checkNotRevoked: no RevokedToken row for the jti; for user tokens, the
// grant is unrevoked and belongs to the subject, and the user is active.
// It keeps the grant in c.
func (p *Provider) checkNotRevoked(ctx context.Context, c *verifiedClaims) error {
	ctx = systemCtx(ctx)
	revoked, err := p.db.RevokedToken.Query().Where(revokedtoken.Jti(c.JTI)).Exist(ctx)
	if err != nil {
		return fmt.Errorf("check revocation: %w", err)
	}
	if revoked {
		return errors.New("token revoked")
	}
	gid, ok := grantOfJTI(c.JTI)
	if !ok {
		return nil
	}
	g, err := p.db.Grant.Get(ctx, gid)
	if err != nil {
		return fmt.Errorf("load grant: %w", err)
	}
	if g.RevokedAt != nil || string(g.UserID) != c.Subject || g.ClientID != c.ClientID {
		return errors.New("grant revoked")
	}
	if err := p.userActive(ctx, g.UserID); err != nil {
		return err
	}
	c.grant = g
	return nil
}

// VerifyAccessToken verifies an access token for /graphql and other
// resource servers inside Gatehouse: signature against our keys, iss,
// exp/nbf/iat, and revocation (RevokedToken, grant revoked, user disabled).
func (p *Provider) VerifyAccessToken(ctx context.Context, token string) (*AccessToken, error) {
	c, err := p.parseAccessToken(ctx, token)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if err := p.checkNotRevoked(ctx, c); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	g, _ := grantOfJTI(c.JTI)
	return &AccessToken{
		Subject: c.Subject, ClientID: c.ClientID, JTI: c.JTI, Scopes: strings.Fields(c.Scope),
		OrganizationID: pulid.ID(c.OrgID), Expiry: time.Unix(int64(*c.Expiry), 0), Grant: g,
	}, nil
}

// keySet is the oidc.KeySet the library verifies access tokens (access
// true) and id_token_hints with. For access tokens it also applies our
// claim and revocation checks, so a bad token is "invalid" to the library
// (userinfo 401, introspection active:false), and remembers the verified
// claims in the request state for the storage methods that get only the jti.
type keySet struct {
	p      *Provider
	access bool
}

func (k keySet) VerifySignature(ctx context.Context, jws *jose.JSONWebSignature) ([]byte, error) {
	if !k.access {
		// The ID-token hint of end_session: an access token, which can
		// travel to resource servers and their logs, is not one.
		if checkAccessTokenType(jws) == nil {
			return nil, errors.New("an access token is not an id_token_hint")
		}
		return k.p.verifyJWS(ctx, jws)
	}
	payload, c, err := k.p.verifyAccessJWS(ctx, jws)
	if err != nil {
		return nil, err
	}
	if err := k.p.checkNotRevoked(ctx, c); err != nil {
		return nil, err
	}
	if st := stateFrom(ctx); st != nil {
		st.mu.Lock()
		st.claims = c
		st.mu.Unlock()
	}
	return payload, nil
}

// tokenClaims returns the claims of the access token jti that keySet
// verified (signature, claims and revocation) earlier in this request:
// the library verifies a token before it asks storage about its id.
func tokenClaims(ctx context.Context, jti string) (*verifiedClaims, error) {
	st := stateFrom(ctx)
	if st == nil {
		return nil, errors.New("no request state")
	}
	st.mu.Lock()
	c := st.claims
	st.mu.Unlock()
	if c == nil || c.JTI != jti || jti == "" {
		return nil, errors.New("token not verified")
	}
	return c, nil
}

// checkCompactJWS admits only a JWS Compact Serialization (RFC 7515
// §7.1) of at most maxTokenSize: three base64url segments. The JSON
// serializations (§7.2), which can carry several signatures and an
// unprotected header, are never accepted (OIDC-11, OIDC-12).
func checkCompactJWS(token string) error {
	if len(token) > maxTokenSize || strings.Count(token, ".") != 2 {
		return errors.New("not a compact JWS")
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return errors.New("not a compact JWS")
		}
	}
	return nil
}

// singleSignatureHeader returns the protected header of a JWS that has
// exactly one signature and names its key only by kid: a key carried or
// pointed at by the token itself (jwk, jku, x5u, x5c) is never trusted
// (RFC 8725 §3.10), and critical extensions are not understood.
func singleSignatureHeader(jws *jose.JSONWebSignature) (jose.Header, error) {
	if len(jws.Signatures) != 1 {
		return jose.Header{}, errors.New("want exactly one signature")
	}
	h := jws.Signatures[0].Protected
	if h.JSONWebKey != nil || h.ExtraHeaders["jku"] != nil || h.ExtraHeaders["x5u"] != nil {
		return jose.Header{}, errors.New("key material in header")
	}
	// go-jose keeps x5c out of ExtraHeaders; Certificates reports it. No
	// root is trusted: any chain present fails here.
	if _, err := h.Certificates(x509.VerifyOptions{Roots: x509.NewCertPool()}); !errors.Is(err, jose.ErrMissingX5cHeader) {
		return jose.Header{}, errors.New("key material in header")
	}
	if _, ok := h.ExtraHeaders["crit"]; ok {
		return jose.Header{}, errors.New("crit header not supported")
	}
	return h, nil
}
