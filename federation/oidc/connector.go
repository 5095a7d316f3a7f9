package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-id/gatehouse/federation"
)

// signingAlgs are the ID-token algorithms Gatehouse accepts, whatever the
// provider advertises: asymmetric only, so never none and never an HMAC
// keyed with the client secret or a public key (RFC 8725 §3.1–3.2,
// SECURITY-CHECKLIST OIDC-11).
var signingAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// Connector signs people in at one connection's OpenID Provider. It is
// safe for concurrent use; build one per connection with New and keep it
// while the connection's settings are unchanged.
type Connector struct {
	cfg     Config
	mapping ClaimMapping
	doc     discovery
	party   rp.RelyingParty
	keys    zoidc.KeySet
	algs    []string
}

var _ federation.Connector = (*Connector)(nil)

// discovery is the part of the provider's metadata (OpenID Connect
// Discovery §3, RFC 8414) the relying party uses.
type discovery struct {
	zoidc.DiscoveryConfiguration
	// IssParameterSupported: the provider puts iss in every authorization
	// response (RFC 9207 §3), so one without it is refused.
	IssParameterSupported bool `json:"authorization_response_iss_parameter_supported,omitempty"`
}

// New fetches the provider's discovery document from
// Issuer/.well-known/openid-configuration and returns a Connector for it.
// The document's issuer must equal Config.Issuer exactly (OIDC Discovery
// §4.3), or the error is a Rejection with CodeIssuerMismatch; an
// unreachable or unreadable document is CodeDiscoveryFailed.
func New(ctx context.Context, cfg Config) (*Connector, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: defaultTimeout}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Scopes = withOpenID(cfg.Scopes)

	doc, err := discover(ctx, cfg.HTTPClient, cfg.Issuer)
	if err != nil {
		return nil, err
	}
	algs := signingAlgs
	if adv := doc.IDTokenSigningAlgValuesSupported; len(adv) > 0 {
		algs = nil
		for _, a := range adv {
			if slices.Contains(signingAlgs, a) {
				algs = append(algs, a)
			}
		}
		if len(algs) == 0 {
			return nil, reject(CodeDiscoveryFailed, "%s signs ID tokens only with %v; Gatehouse accepts %v", cfg.Issuer, adv, signingAlgs)
		}
	}
	party, err := rp.NewRelyingPartyOAuth(&oauth2.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		RedirectURL:  cfg.RedirectURL,
		Scopes:       cfg.Scopes,
		Endpoint: oauth2.Endpoint{
			AuthURL:  doc.AuthorizationEndpoint,
			TokenURL: doc.TokenEndpoint,
		},
	}, rp.WithHTTPClient(cfg.HTTPClient), rp.WithAuthStyle(authStyle(doc.TokenEndpointAuthMethodsSupported)))
	if err != nil {
		return nil, fmt.Errorf("oidc: relying party for %s: %w", cfg.Issuer, err)
	}
	return &Connector{
		cfg:     cfg,
		mapping: cfg.Mapping.withDefaults(),
		doc:     doc,
		party:   party,
		keys:    rp.NewRemoteKeySet(cfg.HTTPClient, doc.JwksURI),
		algs:    algs,
	}, nil
}

// Issuer is the provider's issuer identifier.
func (c *Connector) Issuer() string { return c.cfg.Issuer }

// IssParameterSupported reports whether the provider advertises RFC 9207
// iss in its authorization responses, so Finish requires it.
func (c *Connector) IssParameterSupported() bool { return c.doc.IssParameterSupported }

func (cfg Config) validate() error {
	if !cfg.ConnectionID.Valid() {
		return fmt.Errorf("oidc: connection id %q is not valid", cfg.ConnectionID)
	}
	for name, raw := range map[string]string{"issuer": cfg.Issuer, "redirect URL": cfg.RedirectURL} {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return fmt.Errorf("oidc: %s %q is not an absolute http(s) URL without query, fragment or credentials", name, raw)
		}
	}
	if cfg.ClientID == "" {
		return errors.New("oidc: client id is empty")
	}
	return nil
}

// withOpenID returns scopes (DefaultScopes when empty) with openid first.
func withOpenID(scopes []string) []string {
	if len(scopes) == 0 {
		scopes = DefaultScopes
	}
	out := []string{"openid"}
	for _, s := range scopes {
		if s != "openid" && s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// authStyle picks client_secret_basic unless the provider says it takes
// only client_secret_post (RFC 8414 §2: absent means basic).
func authStyle(methods []zoidc.AuthMethod) oauth2.AuthStyle {
	if len(methods) == 0 || slices.Contains(methods, zoidc.AuthMethodBasic) {
		return oauth2.AuthStyleInHeader
	}
	if slices.Contains(methods, zoidc.AuthMethodPost) {
		return oauth2.AuthStyleInParams
	}
	return oauth2.AuthStyleAutoDetect
}

// discover fetches and checks the discovery document.
func discover(ctx context.Context, hc *http.Client, issuer string) (discovery, error) {
	var doc discovery
	where := strings.TrimSuffix(issuer, "/") + zoidc.DiscoveryEndpoint
	ctx, cancel := context.WithTimeout(ctx, defaultTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, where, nil)
	if err != nil {
		return doc, rejectErr(CodeDiscoveryFailed, err, "discovery URL %s", where)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return doc, rejectErr(CodeDiscoveryFailed, err, "fetching %s", where)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return doc, reject(CodeDiscoveryFailed, "%s answered HTTP %d; want 200", where, resp.StatusCode)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
		return doc, reject(CodeDiscoveryFailed, "%s answered with content type %q; want application/json", where, resp.Header.Get("Content-Type"))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes+1))
	if err != nil {
		return doc, rejectErr(CodeDiscoveryFailed, err, "reading %s", where)
	}
	if len(body) > maxDocumentBytes {
		return doc, reject(CodeDiscoveryFailed, "%s is larger than %d bytes", where, maxDocumentBytes)
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return doc, rejectErr(CodeDiscoveryFailed, err, "%s is not a discovery document", where)
	}
	if doc.Issuer != issuer {
		return doc, reject(CodeIssuerMismatch, "%s names issuer %q; the connection's issuer is %q (they must be equal, OIDC Discovery §4.3)", where, doc.Issuer, issuer)
	}
	for name, v := range map[string]string{"authorization_endpoint": doc.AuthorizationEndpoint, "token_endpoint": doc.TokenEndpoint, "jwks_uri": doc.JwksURI} {
		if u, err := url.Parse(v); v == "" || err != nil || !u.IsAbs() {
			return doc, reject(CodeDiscoveryFailed, "%s: %s %q is not an absolute URL", where, name, v)
		} else if strings.HasPrefix(issuer, "https:") && u.Scheme != "https" {
			return doc, reject(CodeDiscoveryFailed, "%s: %s %q is not https, as the issuer is", where, name, v)
		}
	}
	return doc, nil
}
