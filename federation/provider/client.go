package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/application"
	"github.com/gatehouse-id/gatehouse/internal/secret"
)

// client adapts an Application to op.Client.
type client struct {
	app       *ent.Application
	loginPath string
	jwks      *jose.JSONWebKeySet // parsed app.Jwks, for private_key_jwt
}

var _ op.Client = (*client)(nil)

func (c *client) GetID() string                    { return c.app.ClientID }
func (c *client) RedirectURIs() []string           { return c.app.RedirectUris }
func (c *client) PostLogoutRedirectURIs() []string { return c.app.PostLogoutRedirectUris }
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) LoginURL(id string) string { return c.loginPath + "?authRequest=" + id }

// AccessTokenType is Bearer although access tokens are JWTs: the provider
// signs them itself (typ at+jwt) and the library passes them through
// passThroughCrypto; see accesstoken.go.
func (c *client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }
func (c *client) IDTokenLifetime() time.Duration {
	return time.Duration(c.app.IDTokenLifetimeSeconds) * time.Second
}
func (c *client) DevMode() bool { return false }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) IsScopeAllowed(scope string) bool { return knownScope(scope) }

// IDTokenUserinfoClaimsAssertion is true: profile and email claims go into
// the ID token too, not only to userinfo (OIDC Core §5.4 allows both).
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) ClockSkew() time.Duration             { return 0 }

func (c *client) ApplicationType() op.ApplicationType {
	switch c.app.Type {
	case application.TypeSPA:
		return op.ApplicationTypeUserAgent
	case application.TypeNATIVE:
		return op.ApplicationTypeNative
	}
	return op.ApplicationTypeWeb
}

// public reports whether the client cannot keep a secret (RFC 6749 §2.1).
func (c *client) public() bool {
	return c.app.Type == application.TypeSPA || c.app.Type == application.TypeNATIVE
}

func (c *client) AuthMethod() oidc.AuthMethod {
	if c.public() {
		return oidc.AuthMethodNone
	}
	switch c.app.TokenEndpointAuthMethod {
	case application.TokenEndpointAuthMethodCLIENT_SECRET_POST:
		return oidc.AuthMethodPost
	case application.TokenEndpointAuthMethodPRIVATE_KEY_JWT:
		return oidc.AuthMethodPrivateKeyJWT
	case application.TokenEndpointAuthMethodNONE:
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic
}

// appGrantTypes maps an application's registered grant types to OAuth's.
var appGrantTypes = map[string]oidc.GrantType{
	"AUTHORIZATION_CODE": oidc.GrantTypeCode,
	"REFRESH_TOKEN":      oidc.GrantTypeRefreshToken,
	"CLIENT_CREDENTIALS": oidc.GrantTypeClientCredentials,
}

func (c *client) GrantTypes() []oidc.GrantType {
	var out []oidc.GrantType
	for _, g := range c.app.GrantTypes {
		if t, ok := appGrantTypes[g]; ok {
			out = append(out, t)
		}
	}
	return out
}

func (c *client) hasGrant(g oidc.GrantType) bool {
	return slices.ContainsFunc(c.app.GrantTypes, func(s string) bool { return appGrantTypes[s] == g })
}

func (c *client) accessTokenLifetime() time.Duration {
	return time.Duration(c.app.AccessTokenLifetimeSeconds) * time.Second
}

// refreshIdleLifetime is how long a refresh token of c may go unused.
func (c *client) refreshIdleLifetime() time.Duration {
	return time.Duration(c.app.RefreshTokenIdleLifetimeSeconds) * time.Second
}

// checkSecret verifies a client secret in constant time against the stored
// SHA-256 (client secrets are high-entropy; a slow KDF buys nothing).
func (c *client) checkSecret(s string) bool {
	return c.app.SecretHash != "" && s != "" && secret.Matches(c.app.SecretHash, s)
}

// clientCache keeps applications in memory so the token endpoint does not
// read the database per request. Entries live for ttl: a changed secret,
// redirect URI or deleted application takes effect on every node within
// ttl (Config.ClientCacheTTL). Unknown client ids are not cached.
type clientCache struct {
	db        *ent.Client
	now       func() time.Time
	ttl       time.Duration
	loginPath string
	log       *slog.Logger
	mu        sync.RWMutex
	entries   map[string]cachedClient
}

type cachedClient struct {
	c       *client
	expires time.Time
}

var errUnknownClient = errors.New("unknown client")

func (cc *clientCache) get(ctx context.Context, clientID string) (*client, error) {
	if clientID == "" || len(clientID) > 256 {
		return nil, errUnknownClient
	}
	now := cc.now()
	cc.mu.RLock()
	e, ok := cc.entries[clientID]
	cc.mu.RUnlock()
	if ok && now.Before(e.expires) {
		return e.c, nil
	}
	app, err := cc.db.Application.Query().Where(application.ClientID(clientID)).Only(systemCtx(ctx))
	if ent.IsNotFound(err) {
		return nil, errUnknownClient
	}
	if err != nil {
		return nil, fmt.Errorf("load client: %w", err)
	}
	c := &client{app: app, loginPath: cc.loginPath}
	if len(app.Jwks) > 0 {
		// Inline keys pass the same checks as keys fetched from jwks_uri.
		raw, err := json.Marshal(app.Jwks)
		if err == nil {
			c.jwks, err = parseClientJWKS(raw)
		}
		if err != nil {
			// The client cannot authenticate with private_key_jwt; say why.
			cc.log.WarnContext(ctx, "provider: registered jwks unusable", "client_id", clientID, "error", err)
		}
	}
	cc.mu.Lock()
	if cc.entries == nil {
		cc.entries = map[string]cachedClient{}
	}
	cc.entries[clientID] = cachedClient{c: c, expires: now.Add(cc.ttl)}
	cc.mu.Unlock()
	return c, nil
}

// withClientKey calls verify with the client's key for a private_key_jwt
// assertion (RFC 7523 §3) and returns its error: the key comes from the
// inline jwks if the client registered one, else from its jwks_uri
// (clientjwks.go), which is fetched again if verify fails.
func (p *Provider) withClientKey(ctx context.Context, c *client, kid string, verify func(*jose.JSONWebKey) error) error {
	switch {
	case len(c.app.Jwks) > 0:
		if c.jwks == nil {
			return errors.New("registered jwks is not a JWK Set")
		}
		return verifyWithKey(c.jwks, kid, verify)
	case c.app.JwksURI != "":
		return p.clientJWKS.verify(ctx, c, kid, verify)
	}
	return errors.New("client has registered neither jwks nor jwks_uri")
}

// knownScope lists the scopes this provider understands; others are
// dropped from authorization requests (RFC 6749 §3.3 lets the AS ignore them).
func knownScope(s string) bool {
	switch s {
	case oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopeOfflineAccess, scopeOrganization, scopeAdmin:
		return true
	}
	return strings.HasPrefix(s, scopeOrganization+":")
}
