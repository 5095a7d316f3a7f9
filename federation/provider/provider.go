package provider

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/internal/seal"
)

// Endpoint paths. Discovery documents them; Paths lists their prefixes.
const (
	pathDiscovery     = "/.well-known/openid-configuration"
	pathASMetadata    = "/.well-known/oauth-authorization-server" // RFC 8414 §3
	pathAuthorize     = "/oauth/v2/authorize"
	pathCallback      = "/oauth/v2/authorize/callback"
	pathToken         = "/oauth/v2/token"
	pathIntrospect    = "/oauth/v2/introspect"
	pathRevoke        = "/oauth/v2/revoke"
	pathKeys          = "/oauth/v2/keys"
	pathUserinfo      = "/oidc/v1/userinfo"
	pathEndSession    = "/oidc/v1/end_session"
	scopeOrganization = "organization"
	scopeAdmin        = "gatehouse:admin"
)

// Lifetimes fixed by the protocol rather than by applications.
const (
	// loginTimeout is how long the browser has to finish the hosted login.
	loginTimeout = 30 * time.Minute
	// codeLifetime: RFC 6749 §4.1.2 recommends at most 10 minutes; the
	// security checklist asks for at most 60 seconds (OIDC-05).
	codeLifetime = 60 * time.Second
	// clockSkew is accepted symmetrically on exp, nbf and iat (RFC 8725 §3.11).
	clockSkew = 30 * time.Second
)

// Config configures a Provider. Library packages never read the
// environment: cmd/gatehouse fills this in.
type Config struct {
	// Issuer is the provider's URL without a trailing slash, e.g.
	// http://127.0.0.1:8080. Tokens carry it as iss.
	Issuer string
	Client *ent.Client
	// Sealer seals signing keys at rest (the master key).
	Sealer *seal.Sealer
	// CryptoKey keys op's own encryption (opaque tokens and state we do not
	// use, but the library requires it). Derive it from the master key in cmd.
	CryptoKey [32]byte
	Logger    *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
	// Dev allows an http:// issuer (op.WithAllowInsecure).
	Dev bool
	// LoginPath is where authorize hands the browser:
	// LoginPath+"?authRequest=<id>". Defaults to "/login".
	LoginPath string
	// ClientCacheTTL bounds how long a changed application (secret, redirect
	// URIs, lifetimes) may still be served from memory. Defaults to 30s.
	ClientCacheTTL time.Duration
	// KeyRefreshInterval bounds how long a node keeps signing with a key
	// another node has rotated away. Defaults to 30s.
	KeyRefreshInterval time.Duration
}

// Provider is the OpenID Provider. It is safe for concurrent use; every
// piece of state is in the database, so several Providers (nodes) can
// serve one issuer.
type Provider struct {
	cfg     Config
	db      *ent.Client
	log     *slog.Logger
	now     func() time.Time
	keys    *keyStore
	clients *clientCache
	op      *op.Provider
	handler http.Handler
}

// New validates cfg, makes sure every algorithm has an active signing key
// (creating them on first start) and builds the HTTP handler.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	var problems []string
	u, err := url.Parse(cfg.Issuer)
	switch {
	case cfg.Issuer == "" || err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "":
		problems = append(problems, "issuer must be an absolute URL without query or fragment")
	case strings.HasSuffix(cfg.Issuer, "/"):
		problems = append(problems, "issuer must not end with a slash")
	case u.Scheme != "https" && !(cfg.Dev && u.Scheme == "http"):
		problems = append(problems, "issuer must use https (http only in dev mode)")
	}
	if cfg.Client == nil {
		problems = append(problems, "ent client is required")
	}
	if cfg.Sealer == nil {
		problems = append(problems, "sealer is required")
	}
	if cfg.CryptoKey == ([32]byte{}) {
		problems = append(problems, "crypto key is required")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("provider config: %s", strings.Join(problems, "; "))
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.LoginPath == "" {
		cfg.LoginPath = "/login"
	}
	if cfg.ClientCacheTTL <= 0 {
		cfg.ClientCacheTTL = 30 * time.Second
	}
	if cfg.KeyRefreshInterval <= 0 {
		cfg.KeyRefreshInterval = 30 * time.Second
	}
	p := &Provider{cfg: cfg, db: cfg.Client, log: cfg.Logger, now: cfg.Now}
	p.keys = newKeyStore(cfg.Client, cfg.Sealer, cfg.Now, cfg.KeyRefreshInterval)
	p.clients = &clientCache{db: cfg.Client, now: cfg.Now, ttl: cfg.ClientCacheTTL, loginPath: cfg.LoginPath}
	if err := p.keys.ensure(systemCtx(ctx)); err != nil {
		return nil, fmt.Errorf("provider keys: %w", err)
	}
	st := &storage{p: p}
	opts := []op.Option{
		op.WithCustomAuthEndpoint(op.NewEndpoint(pathAuthorize)),
		op.WithCustomTokenEndpoint(op.NewEndpoint(pathToken)),
		op.WithCustomIntrospectionEndpoint(op.NewEndpoint(pathIntrospect)),
		op.WithCustomUserinfoEndpoint(op.NewEndpoint(pathUserinfo)),
		op.WithCustomRevocationEndpoint(op.NewEndpoint(pathRevoke)),
		op.WithCustomEndSessionEndpoint(op.NewEndpoint(pathEndSession)),
		op.WithCustomKeysEndpoint(op.NewEndpoint(pathKeys)),
		op.WithAccessTokenKeySet(keySet{p: p, access: true}),
		op.WithIDTokenHintKeySet(keySet{p: p}),
		op.WithAccessTokenVerifierOpts(op.WithSupportedAccessTokenSigningAlgorithms(algorithmNames...)),
		op.WithIDTokenHintVerifierOpts(op.WithSupportedIDTokenHintSigningAlgorithms(algorithmNames...)),
	}
	if cfg.Dev {
		opts = append(opts, op.WithAllowInsecure())
	}
	opCfg := &op.Config{
		CryptoKey:                sha256.Sum256(cfg.CryptoKey[:]),
		DefaultLogoutRedirectURI: cfg.LoginPath + "/logged-out",
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		AuthMethodPrivateKeyJWT:  true,
		GrantTypeRefreshToken:    true,
		SupportedScopes:          []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopeOfflineAccess, scopeOrganization},
	}
	p.op, err = op.NewProvider(opCfg, st, op.StaticIssuer(cfg.Issuer), opts...)
	if err != nil {
		return nil, fmt.Errorf("provider: %w", err)
	}
	p.handler = p.routes()
	return p, nil
}

// Handler serves every endpoint at its own path; mount it at Paths.
func (p *Provider) Handler() http.Handler { return p.handler }

// Paths lists the path prefixes cmd must route to Handler.
func (p *Provider) Paths() []string {
	return []string{pathDiscovery, pathASMetadata, "/oauth/v2/", "/oidc/v1/"}
}

// RotateKeys adds a new signing key per algorithm and retires the old ones
// (`gatehouse keys rotate`). Retired keys stay in JWKS until every token
// they signed has expired: retired_at + the longest access or ID token
// lifetime of any application.
func (p *Provider) RotateKeys(ctx context.Context) ([]string, error) {
	ctx = systemCtx(ctx)
	maxLifetime := time.Hour
	apps, err := p.db.Application.Query().All(ctx)
	if err != nil {
		return nil, fmt.Errorf("rotate keys: %w", err)
	}
	for _, a := range apps {
		for _, s := range []int{a.AccessTokenLifetimeSeconds, a.IDTokenLifetimeSeconds} {
			if d := time.Duration(s) * time.Second; d > maxLifetime {
				maxLifetime = d
			}
		}
	}
	return p.keys.rotate(ctx, maxLifetime+clockSkew)
}

func (p *Provider) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(pathDiscovery, p.discovery)
	mux.HandleFunc(pathASMetadata, p.discovery)
	mux.HandleFunc(pathAuthorize, p.authorize)
	mux.HandleFunc(pathCallback, p.callback)
	lib := p.library(p.op)
	for _, path := range []string{pathToken, pathIntrospect, pathRevoke, pathKeys, pathUserinfo, pathEndSession} {
		mux.Handle(path, lib)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeOAuthError(w, oidc.ErrInvalidRequest().WithDescription("unknown endpoint"))
	})
	return mux
}

// library wraps the op handler: the form is parsed once up front (a
// malformed body is invalid_request, never the library's 500), request
// state is installed, and 401s carry a WWW-Authenticate challenge
// (RFC 6749 §5.2, RFC 6750 §3).
func (p *Provider) library(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			writeOAuthError(w, oidc.ErrInvalidRequest().WithDescription("malformed request body"))
			return
		}
		r = withState(r)
		if r.URL.Path == pathToken || r.URL.Path == pathIntrospect || r.URL.Path == pathRevoke || r.URL.Path == pathUserinfo {
			w.Header().Set("Cache-Control", "no-store")
		}
		cw := &challengeWriter{ResponseWriter: w, path: r.URL.Path}
		defer func() {
			if v := recover(); v != nil {
				p.log.ErrorContext(r.Context(), "provider: panic in library handler", "path", r.URL.Path, "panic", fmt.Sprint(v))
				if !cw.wrote {
					writeOAuthError(w, oidc.ErrServerError())
				}
			}
		}()
		h.ServeHTTP(cw, r)
	})
}

// challengeWriter adds WWW-Authenticate to 401 answers and turns the
// library's plain-text 500 for a malformed end_session request into
// invalid_request.
type challengeWriter struct {
	http.ResponseWriter
	path  string
	wrote bool
	skip  bool
}

func (c *challengeWriter) WriteHeader(status int) {
	c.wrote = true
	if status == http.StatusUnauthorized && c.Header().Get("WWW-Authenticate") == "" {
		if c.path == pathUserinfo {
			c.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		} else {
			c.Header().Set("WWW-Authenticate", `Basic realm="gatehouse"`)
		}
	}
	if status == http.StatusInternalServerError && c.path == pathEndSession &&
		!strings.HasPrefix(c.Header().Get("Content-Type"), "application/json") {
		c.skip = true
		writeOAuthError(c.ResponseWriter, oidc.ErrInvalidRequest().WithDescription("malformed end_session request"))
		return
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c *challengeWriter) Write(b []byte) (int, error) {
	if !c.wrote {
		c.WriteHeader(http.StatusOK)
	}
	if c.skip {
		return len(b), nil
	}
	return c.ResponseWriter.Write(b)
}

// serverError logs err with context and returns the generic server error.
func (p *Provider) serverError(ctx context.Context, msg string, err error) *oidc.Error {
	p.log.ErrorContext(ctx, "provider: "+msg, "error", err)
	return oidc.ErrServerError().WithParent(err)
}

var errNotSupported = errors.New("not supported by this provider")
