// Package connectors turns an organization's stored connection into the
// federation.Connector that speaks its protocol (federation/saml,
// federation/oidc), and an upstream Identity into what tenants signs in
// (SignInFederated). It is the one place that knows both the stored
// settings (ent, tenants) and the protocol packages: a new protocol is a
// new case here and a new package beside the others.
package connectors

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/connection"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/ent/schema/sso"
	"github.com/gatehouse-id/gatehouse/federation"
	"github.com/gatehouse-id/gatehouse/federation/oidc"
	"github.com/gatehouse-id/gatehouse/federation/saml"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// Config is what every connector shares.
type Config struct {
	Tenants *tenants.Service
	// Issuer is Gatehouse's public URL; each connection's endpoints hang
	// below it (federation.ConnectionEndpoints).
	Issuer string
	// HTTPClient makes the calls to organizations' OIDC providers: outside
	// development, internal/safehttp's (their issuers are URLs a tenant
	// typed).
	HTTPClient *http.Client
	// Now is the clock assertions and tokens are checked against.
	Now func() time.Time
}

// Registry builds connectors and keeps each until its connection changes
// (updated_at): an OIDC connector has fetched its provider's discovery
// document, a SAML one has parsed its keys. Concurrent first uses of a
// connection share one build (one discovery fetch), singleflight-style.
type Registry struct {
	cfg      Config
	mu       sync.Mutex
	cache    map[pulid.ID]cached
	inflight map[flightKey]*flight
}

type cached struct {
	updated time.Time
	c       federation.Connector
}

// flightKey names one build: a connection as of one update.
type flightKey struct {
	id      pulid.ID
	updated int64 // UnixNano of updated_at
}

// flight is a build in progress; done is closed when c and err are set.
type flight struct {
	done    chan struct{}
	waiters int // callers that joined it (tests count them)
	c       federation.Connector
	err     error
}

// New returns a Registry.
func New(cfg Config) *Registry {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Registry{cfg: cfg, cache: map[pulid.ID]cached{}, inflight: map[flightKey]*flight{}}
}

// Connector returns c's connector. It does not look at c's state: the
// pages decide which connections may be used. A caller that finds the
// same build under way waits for it (or for its own ctx) instead of
// fetching again: the first sign-ins after a start or a change would
// otherwise each fetch the provider's discovery document. The build runs
// on the first caller's context without its cancellation (one browser
// that goes away does not fail the others; the fetches bound themselves),
// and a failed build is not kept: the next caller tries again.
func (r *Registry) Connector(ctx context.Context, c *ent.Connection) (federation.Connector, error) {
	key := flightKey{c.ID, c.UpdatedAt.UnixNano()}
	r.mu.Lock()
	if hit, ok := r.cache[c.ID]; ok && hit.updated.Equal(c.UpdatedAt) {
		r.mu.Unlock()
		return hit.c, nil
	}
	if f, ok := r.inflight[key]; ok {
		f.waiters++
		r.mu.Unlock()
		select {
		case <-f.done:
			return f.c, f.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f := &flight{done: make(chan struct{})}
	r.inflight[key] = f
	r.mu.Unlock()

	f.c, f.err = r.build(context.WithoutCancel(ctx), c)
	r.mu.Lock()
	delete(r.inflight, key)
	if f.err == nil {
		r.cache[c.ID] = cached{updated: c.UpdatedAt, c: f.c}
	}
	r.mu.Unlock()
	close(f.done)
	return f.c, f.err
}

// build makes c's connector.
func (r *Registry) build(ctx context.Context, c *ent.Connection) (federation.Connector, error) {
	switch c.Protocol {
	case connection.ProtocolSAML:
		return r.samlConnector(ctx, c)
	case connection.ProtocolOIDC:
		return r.oidcConnector(ctx, c)
	}
	return nil, fmt.Errorf("connection %s: unknown protocol %q", c.ID, c.Protocol)
}

// Metadata is c's SAML service provider metadata (entity id, ACS, every
// key), for its IdP's administrator.
func (r *Registry) Metadata(ctx context.Context, c *ent.Connection) ([]byte, error) {
	if c.Protocol != connection.ProtocolSAML {
		return nil, fmt.Errorf("connection %s is not a SAML connection", c.ID)
	}
	conn, err := r.Connector(ctx, c)
	if err != nil {
		return nil, err
	}
	return conn.(*saml.Connector).Metadata()
}

// SignInInput is the package function SignInInput, for the pages.
func (r *Registry) SignInInput(c *ent.Connection, id federation.Identity) tenants.FederatedIdentityInput {
	return SignInInput(c, id)
}

func (r *Registry) samlConnector(ctx context.Context, c *ent.Connection) (federation.Connector, error) {
	pairs, err := r.cfg.Tenants.ConnectionSAMLKeys(ctx, c)
	if err != nil {
		return nil, err
	}
	keys := make([]saml.KeyPair, 0, len(pairs))
	for _, p := range pairs {
		keys = append(keys, saml.KeyPair{Key: p.PrivateKey, Certificate: p.Certificate})
	}
	certs, err := tenants.ConnectionIdPCertificates(c)
	if err != nil {
		return nil, err
	}
	binding := saml.BindingRedirect
	if c.IdpSSOBinding == saml.BindingPOST { // stored as checked by tenants: "", or one of the two URNs
		binding = saml.BindingPOST
	}
	mapping := saml.Presets[strings.ToLower(string(c.Preset))]
	overrideMapping(c.AttributeMapping, &mapping.Email, &mapping.FirstName, &mapping.LastName, &mapping.Name, &mapping.Groups, &mapping.Custom)
	ep := federation.ConnectionEndpoints(r.cfg.Issuer, c.ID)
	return saml.New(saml.Config{
		ConnectionID: c.ID, SPEntityID: ep.SAMLEntityID, ACSURL: ep.SAMLACS, MetadataURL: ep.SAMLMetadata,
		Keys: keys, IdP: saml.IdP{EntityID: c.IdpEntityID, SSOURL: c.IdpSSOURL, Binding: binding, Certificates: certs},
		AllowIdPInitiated: c.AllowIdpInitiated, Mapping: mapping, Replay: r.cfg.Tenants.ReplayCache(), Now: r.cfg.Now,
	})
}

func (r *Registry) oidcConnector(ctx context.Context, c *ent.Connection) (federation.Connector, error) {
	secret, err := r.cfg.Tenants.ConnectionOIDCClientSecret(ctx, c)
	if err != nil {
		return nil, err
	}
	preset := oidc.Presets[strings.ToLower(string(c.Preset))]
	mapping := preset.Mapping
	overrideMapping(c.AttributeMapping, &mapping.Email, &mapping.GivenName, &mapping.FamilyName, &mapping.Name, &mapping.Groups, &mapping.Custom)
	scopes := c.OidcScopes
	if len(scopes) == 0 {
		scopes = preset.Scopes
	}
	ep := federation.ConnectionEndpoints(r.cfg.Issuer, c.ID)
	return oidc.New(ctx, oidc.Config{
		ConnectionID: c.ID, Issuer: c.OidcIssuer, ClientID: c.OidcClientID, ClientSecret: secret,
		Scopes: scopes, RedirectURL: ep.OIDCRedirectURI, HTTPClient: r.cfg.HTTPClient, Now: r.cfg.Now,
		Mapping: mapping, IssuerAliases: preset.IssuerAliases,
	})
}

// overrideMapping lays a connection's own attribute names over its
// preset's: each name the administrator gave replaces the preset's.
func overrideMapping(m sso.AttributeMapping, email, first, last, name, groups *string, custom *map[string]string) {
	for _, f := range []struct {
		dst *string
		v   string
	}{{email, m.Email}, {first, m.FirstName}, {last, m.LastName}, {name, m.Name}, {groups, m.Groups}} {
		if f.v != "" {
			*f.dst = f.v
		}
	}
	if len(m.Custom) > 0 {
		*custom = m.Custom
	}
}

// SignInInput is what tenants.SignInFederated takes from what c's IdP
// asserted. A SAML IdP says nothing about whether it verified the
// address; its assertion is the organization's own statement, and
// SignInFederated links or verifies an address only within that
// organization's VERIFIED domains, so it is taken as vouched for. An OIDC
// provider says so itself (email_verified).
func SignInInput(c *ent.Connection, id federation.Identity) tenants.FederatedIdentityInput {
	verified := id.EmailVerified
	if c.Protocol == connection.ProtocolSAML {
		verified = true
	}
	var metadata map[string]any
	for key, attr := range c.AttributeMapping.Custom {
		if v := id.Attributes[attr]; len(v) > 0 {
			if metadata == nil {
				metadata = map[string]any{}
			}
			if len(v) == 1 {
				metadata[key] = v[0]
			} else {
				metadata[key] = v
			}
		}
	}
	return tenants.FederatedIdentityInput{
		Subject: id.Subject, Email: id.Email, EmailVerified: verified,
		Name: id.Name, GivenName: id.GivenName, FamilyName: id.FamilyName, Groups: id.Groups, Metadata: metadata,
	}
}

// ParseSAMLMetadata reads an IdP's SAML metadata for a new or changed
// connection: the document given, or the one at url, fetched with client
// (internal/safehttp's outside development: the URL is a tenant's).
func ParseSAMLMetadata(client *http.Client) func(ctx context.Context, xml []byte, url string) (tenants.SAMLIdP, error) {
	return func(ctx context.Context, xml []byte, url string) (tenants.SAMLIdP, error) {
		var (
			idp saml.IdP
			err error
		)
		if url != "" {
			idp, err = saml.FetchIdPMetadata(ctx, client, url)
		} else {
			idp, err = saml.ParseIdPMetadata(xml)
		}
		if err != nil {
			return tenants.SAMLIdP{}, err
		}
		return tenants.SAMLIdP{EntityID: idp.EntityID, SSOURL: idp.SSOURL, SSOBinding: idp.Binding,
			Certificates: tenants.CertificatesPEM(idp.Certificates)}, nil
	}
}

// FetchSAMLMetadata fetches and reads the IdP metadata at a connection's
// metadata URL with client (ParseSAMLMetadata), for
// tenants.RefreshConnectionMetadata.
func FetchSAMLMetadata(client *http.Client) tenants.MetadataFetch {
	parse := ParseSAMLMetadata(client)
	return func(ctx context.Context, url string) (tenants.SAMLIdP, error) {
		return parse(ctx, nil, url)
	}
}
