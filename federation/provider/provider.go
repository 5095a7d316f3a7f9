package provider

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/application"
	"github.com/gatehouse-id/gatehouse/internal/safehttp"
	"github.com/gatehouse-id/gatehouse/internal/seal"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// Endpoint paths. Discovery documents them; Register routes them.
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

// supportedScopes are the scopes discovery advertises (scopes_supported).
var supportedScopes = []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopeOfflineAccess, scopeOrganization}

// LoggedOutPath is where end_session sends a browser that brought no
// registered post_logout_redirect_uri (RP-Initiated Logout §2). The hosted
// pages serve it and revoke the session of the cookie there.
const LoggedOutPath = "/login/logged-out"

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
	// Tenants decides the identity rules the provider applies (active
	// user, active membership, sessions, organization policies). Defaults
	// to a service over Client with Now.
	Tenants *tenants.Service
	// Dialect is Client's database, dialect.SQLite or dialect.Postgres
	// (entgo.io/ent/dialect). On PostgreSQL a refresh reads and rotates in
	// one statement; any other value takes two.
	Dialect string
	// Sealer seals signing keys at rest (the master key).
	Sealer *seal.Sealer
	// CryptoKey keys op's own encryption (opaque tokens and state we do not
	// use, but the library requires it). Derive it from the master key in cmd.
	CryptoKey [32]byte
	Logger    *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
	// AllowHTTPIssuer allows an http:// issuer (op.WithAllowInsecure): for
	// loopback and development; cmd sets it only when its config allows.
	AllowHTTPIssuer bool
	// AuditRefresh writes a token.refresh audit event for every refresh
	// rotation, in the rotation's statement (refresh.go). Off by default:
	// it costs about an eighth of the PostgreSQL refresh rate.
	AuditRefresh bool
	// LoginPath is where authorize hands the browser:
	// LoginPath+"?authRequest=<id>". Defaults to "/login".
	LoginPath string
	// ClientCacheTTL bounds how long a changed application (secret, redirect
	// URIs, lifetimes) may still be served from memory. Defaults to 30s.
	ClientCacheTTL time.Duration
	// KeyRefreshInterval bounds how long a node keeps signing with a key
	// another node has rotated away, and how long a key another node
	// created may be missing from this node's JWKS. Defaults to 30s.
	KeyRefreshInterval time.Duration
	// JWKSMaxAge is the Cache-Control max-age of the JWKS document: how
	// long a relying party may go without seeing a new key. Defaults to 5m.
	JWKSMaxAge time.Duration
	// KeyPublishAhead is how long a rotated-in key is published before it
	// signs (REL-03): a relying party that refreshes its JWKS no more often
	// than JWKSMaxAge allows has it before the first token it signs. It must
	// be at least 2×KeyRefreshInterval + JWKSMaxAge (a node may serve a key
	// list one refresh interval old; the rest is margin), and defaults to
	// that plus 30s of clock skew between nodes: 6m30s with the defaults.
	KeyPublishAhead time.Duration
	// HTTPClient fetches applications' jwks_uri for private_key_jwt. It
	// must refuse internal addresses (MT-10). Defaults to safehttp.New
	// with its defaults: https only, public addresses only, 5s, 256 KiB.
	HTTPClient *safehttp.Client
	// ClientJWKSCacheTTL is how long a JWK Set fetched from a jwks_uri is
	// used before it is fetched again; an assertion with a kid the set
	// lacks fetches it sooner, at most once a minute. Defaults to 5m.
	ClientJWKSCacheTTL time.Duration
	// Audit writes the audit events of refused requests, rate-limited per
	// client address and reason. Defaults to Tenants' (the limiter /graphql
	// uses too).
	Audit *tenants.Audit
}

// minPublishAhead is the shortest KeyPublishAhead that keeps a rotation
// invisible to relying parties that honour the JWKS Cache-Control.
func minPublishAhead(refresh, maxAge time.Duration) time.Duration { return 2*refresh + maxAge }

// Provider is the OpenID Provider. It is safe for concurrent use; every
// piece of state is in the database, so several Providers (nodes) can
// serve one issuer.
type Provider struct {
	cfg        Config
	db         *ent.Client
	tenants    *tenants.Service
	log        *slog.Logger
	now        func() time.Time
	keys       *keyStore
	clients    *clientCache
	clientJWKS *clientJWKS
	audit      *tenants.Audit
	op         *op.Provider
	handler    http.Handler
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
	case u.Scheme != "https" && !(cfg.AllowHTTPIssuer && u.Scheme == "http"):
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
	if cfg.KeyRefreshInterval <= 0 {
		cfg.KeyRefreshInterval = 30 * time.Second
	}
	if cfg.JWKSMaxAge <= 0 {
		cfg.JWKSMaxAge = 5 * time.Minute
	}
	if cfg.KeyPublishAhead == 0 {
		cfg.KeyPublishAhead = minPublishAhead(cfg.KeyRefreshInterval, cfg.JWKSMaxAge) + clockSkew
	}
	if floor := minPublishAhead(cfg.KeyRefreshInterval, cfg.JWKSMaxAge); cfg.KeyPublishAhead < floor {
		problems = append(problems, fmt.Sprintf("key publish-ahead %s is shorter than 2×key refresh interval + JWKS max-age (%s)", cfg.KeyPublishAhead, floor))
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
	if cfg.Tenants == nil {
		cfg.Tenants = tenants.NewService(cfg.Client, tenants.WithClock(cfg.Now), tenants.WithLogger(cfg.Logger), tenants.WithDialect(cfg.Dialect))
	}
	if cfg.LoginPath == "" {
		cfg.LoginPath = "/login"
	}
	if cfg.ClientCacheTTL <= 0 {
		cfg.ClientCacheTTL = 30 * time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = safehttp.New(safehttp.Config{})
	}
	if cfg.ClientJWKSCacheTTL <= 0 {
		cfg.ClientJWKSCacheTTL = 5 * time.Minute
	}
	if cfg.Audit == nil {
		cfg.Audit = cfg.Tenants.Audit() // one limit per node for every surface's refusals
	}
	p := &Provider{cfg: cfg, db: cfg.Client, tenants: cfg.Tenants, log: cfg.Logger, now: cfg.Now, audit: cfg.Audit}
	p.keys = newKeyStore(cfg.Client, cfg.Sealer, cfg.Now, cfg.KeyRefreshInterval, cfg.KeyPublishAhead, cfg.Logger)
	p.clients = &clientCache{db: cfg.Client, now: cfg.Now, ttl: cfg.ClientCacheTTL, loginPath: cfg.LoginPath, log: p.log}
	p.clientJWKS = &clientJWKS{http: cfg.HTTPClient, now: cfg.Now, ttl: cfg.ClientJWKSCacheTTL, log: cfg.Logger}
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
		op.WithCrypto(passThroughCrypto{}),
		op.WithAccessTokenKeySet(keySet{p: p, access: true}),
		op.WithIDTokenHintKeySet(keySet{p: p}),
		op.WithAccessTokenVerifierOpts(op.WithSupportedAccessTokenSigningAlgorithms(algorithmNames...)),
		op.WithIDTokenHintVerifierOpts(op.WithSupportedIDTokenHintSigningAlgorithms(algorithmNames...)),
	}
	if cfg.AllowHTTPIssuer {
		opts = append(opts, op.WithAllowInsecure())
	}
	opCfg := &op.Config{
		CryptoKey:                sha256.Sum256(cfg.CryptoKey[:]),
		DefaultLogoutRedirectURI: LoggedOutPath,
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		AuthMethodPrivateKeyJWT:  true,
		GrantTypeRefreshToken:    true,
		SupportedScopes:          supportedScopes,
	}
	p.op, err = op.NewProvider(opCfg, st, op.StaticIssuer(cfg.Issuer), opts...)
	if err != nil {
		return nil, fmt.Errorf("provider: %w", err)
	}
	p.handler = p.routes()
	return p, nil
}

// Handler serves every endpoint at its own path, on a mux of its own
// (tests; a server registers the endpoints on its own mux with Register).
func (p *Provider) Handler() http.Handler { return p.handler }

// RotateKeys adds a new signing key per algorithm (`gatehouse keys
// rotate`). The new keys are in JWKS at once but sign only after
// Config.KeyPublishAhead, so relying parties that cache JWKS never meet an
// unknown kid; the keys they replace sign until then and stay in JWKS
// until every token they signed has expired (their retirement + the
// longest access or ID token lifetime of any application + clock skew).
// This is a planned rotation: it does not stop a compromised key from
// verifying before it expires.
func (p *Provider) RotateKeys(ctx context.Context) ([]string, error) {
	ctx = systemCtx(ctx)
	maxLifetime, err := p.maxTokenLifetime(ctx)
	if err != nil {
		return nil, fmt.Errorf("rotate keys: %w", err)
	}
	ids, activation, err := p.keys.rotate(ctx, maxLifetime+clockSkew)
	if err == nil {
		p.log.InfoContext(ctx, "provider: signing keys rotated", "keys", ids, "activates_at", activation)
	}
	return ids, err
}

// RevokeKey ends the signing key kid at once (see keyStore.revoke): it
// leaves JWKS, tokens it signed stop verifying here, and if it was signing
// a new key takes over immediately. It returns the new key's id, or "".
// Other nodes follow within KeyRefreshInterval.
func (p *Provider) RevokeKey(ctx context.Context, kid string) (string, error) {
	ctx = systemCtx(ctx)
	replacement, err := p.keys.revoke(ctx, kid)
	if err == nil {
		p.log.WarnContext(ctx, "provider: signing key revoked", "kid", kid, "replacement", replacement)
	}
	return replacement, err
}

// ResealKeys re-seals every signing key that the master key now sealing
// (the first of Config.Sealer's keys) did not seal, in one transaction,
// and returns how many it re-sealed (`gatehouse keys rotate-master`).
// Afterwards the keys that came before can be dropped from the
// configuration. Running it again, or on two nodes at once, re-seals
// nothing twice: each row is updated only if it still holds what was read.
func (p *Provider) ResealKeys(ctx context.Context) (int, error) {
	ctx = systemCtx(ctx)
	var n int
	err := p.inTx(ctx, func(tx *ent.Tx) (err error) {
		n, err = p.keys.reseal(ctx, tx)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("reseal signing keys: %w", err)
	}
	p.log.InfoContext(ctx, "provider: signing keys re-sealed", "count", n, "master_key_id", p.cfg.Sealer.KeyID())
	return n, nil
}

// MasterKeyID is the id of the master key that seals (seal.Sealer.KeyID).
func (p *Provider) MasterKeyID() string { return p.cfg.Sealer.KeyID() }

// maxTokenLifetime is the longest access or ID token lifetime of any
// application, at least an hour.
func (p *Provider) maxTokenLifetime(ctx context.Context) (time.Duration, error) {
	maxLifetime := time.Hour
	apps, err := p.db.Application.Query().
		Select(application.FieldAccessTokenLifetimeSeconds, application.FieldIDTokenLifetimeSeconds).All(systemCtx(ctx))
	if err != nil {
		return 0, err
	}
	for _, a := range apps {
		for _, s := range []int{a.AccessTokenLifetimeSeconds, a.IDTokenLifetimeSeconds} {
			if d := time.Duration(s) * time.Second; d > maxLifetime {
				maxLifetime = d
			}
		}
	}
	return maxLifetime, nil
}

// jwksHandler serves the precomputed key set (RFC 7517 §5) with a max-age
// relying parties may cache it for; KeyPublishAhead is longer than that.
// The header values are built once: this endpoint is hit by every relying
// party that verifies tokens.
func (p *Provider) jwksHandler() http.Handler {
	contentType, cors := []string{"application/json"}, []string{"*"}
	cacheControl := []string{fmt.Sprintf("public, max-age=%d", int(p.cfg.JWKSMaxAge/time.Second))}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeOAuthError(w, oidc.ErrInvalidRequest().WithDescription("jwks accepts GET"))
			return
		}
		body := p.keys.jwksDocument(r.Context())
		h := w.Header()
		h["Content-Type"], h["Cache-Control"], h["Access-Control-Allow-Origin"] = contentType, cacheControl, cors
		_, _ = w.Write(body)
	})
}

// Register puts every endpoint on mux at its own path, so that one mux
// routes a request once and metrics name the endpoint; other paths under
// the provider's prefixes get an OAuth error.
func (p *Provider) Register(mux *http.ServeMux) {
	discovery := p.discoveryHandler()
	mux.Handle(pathDiscovery, discovery)
	mux.Handle(pathASMetadata, discovery)
	mux.HandleFunc(pathAuthorize, p.authorize)
	mux.HandleFunc(pathCallback, p.callback)
	mux.Handle(pathKeys, p.jwksHandler())
	lib := p.library()
	for _, path := range []string{pathToken, pathIntrospect, pathRevoke, pathUserinfo, pathEndSession} {
		mux.Handle(path, lib)
	}
	for _, prefix := range []string{"/oauth/v2/", "/oidc/v1/"} {
		mux.HandleFunc(prefix, unknownEndpoint)
	}
}

func unknownEndpoint(w http.ResponseWriter, _ *http.Request) {
	writeOAuthError(w, oidc.ErrInvalidRequest().WithDescription("unknown endpoint"))
}

func (p *Provider) routes() http.Handler {
	mux := http.NewServeMux()
	p.Register(mux)
	mux.HandleFunc("/", unknownEndpoint)
	return mux
}

// library wraps the op handler: the form is parsed once up front (a
// malformed body is invalid_request, never the library's 500), request
// state is installed, and 401s carry a WWW-Authenticate challenge
// (RFC 6749 §5.2, RFC 6750 §3).
func (p *Provider) library() http.Handler {
	noStore := []string{"no-store"}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			writeOAuthError(w, oidc.ErrInvalidRequest().WithDescription("malformed request body"))
			return
		}
		path := r.URL.Path
		if path == pathToken || path == pathIntrospect || path == pathRevoke || path == pathUserinfo {
			w.Header()["Cache-Control"] = noStore
		}
		cw := &challengeWriter{ResponseWriter: w, path: path}
		defer func() {
			if v := recover(); v != nil {
				p.log.ErrorContext(r.Context(), "provider: panic in library handler", "path", path, "panic", fmt.Sprint(v))
				if !cw.wrote {
					writeOAuthError(w, oidc.ErrServerError())
				}
			}
		}()
		var authenticated *client
		if path == pathToken || path == pathIntrospect || path == pathRevoke {
			c, e := p.authenticateClient(r)
			if e != nil {
				p.rejected(r.Context(), r, claimedClientID(r), e)
				writeOAuthError(w, e)
				return
			}
			if path == pathToken {
				// Two grants are served ahead of the library, and only code
				// redemption reaches it: its other grants (JWT bearer, token
				// exchange, device code) are not offered, and the JWT bearer
				// one would verify assertions for any client it names.
				switch grant := oidc.GrantType(r.PostForm.Get("grant_type")); grant {
				case oidc.GrantTypeClientCredentials:
					p.clientCredentials(cw, r, c)
					return
				case oidc.GrantTypeRefreshToken:
					p.refreshGrant(cw, r, c)
					return
				case oidc.GrantTypeCode:
				case "":
					writeOAuthError(w, oidc.ErrInvalidRequest().WithDescription("grant_type missing"))
					return
				default:
					writeOAuthError(w, oidc.ErrUnsupportedGrantType().WithDescription("%s not supported", grant))
					return
				}
			}
			authenticated = c
		}
		if (path == pathIntrospect || path == pathUserinfo) && !compactBearer(r) {
			// The library would parse a JWS JSON serialization, and any
			// size (OIDC-11, OIDC-12): such a token is invalid here.
			if path == pathIntrospect {
				cw.Header().Set("Content-Type", "application/json")
				_, _ = cw.Write([]byte(`{"active":false}`))
			} else {
				http.Error(cw, "access token invalid", http.StatusUnauthorized)
			}
			return
		}
		req := withState(r, authenticated)
		p.op.ServeHTTP(cw, req)
		if cw.errorCode != "" && authenticated != nil {
			p.rejected(r.Context(), r, authenticated.GetID(), libraryRefusal(req.Context(), cw.errorCode))
		}
	})
}

// libraryRefusal is the refusal the library answered on the token
// endpoint, with the reason our storage gave it if it was ours.
func libraryRefusal(ctx context.Context, code string) *oidc.Error {
	var reason error = errors.New("refused by the library")
	if st := stateFrom(ctx); st != nil {
		st.mu.Lock()
		if st.refusal != nil {
			reason = st.refusal
		}
		st.mu.Unlock()
	}
	var oe *oidc.Error
	if errors.As(reason, &oe) && oe.Unwrap() != nil {
		reason = oe.Unwrap()
	}
	if code == string(oidc.InvalidClient) {
		return oidc.ErrInvalidClient().WithParent(reason)
	}
	return oidc.ErrInvalidGrant().WithParent(reason)
}

// compactBearer reports whether every token an introspection or userinfo
// request could carry, wherever the library looks for it (the token and
// access_token parameters, a Bearer Authorization header), is empty or a
// compact JWS.
func compactBearer(r *http.Request) bool {
	candidates := append(slices.Clone(r.Form["token"]), r.Form["access_token"]...)
	if h := r.Header.Get("Authorization"); len(h) >= len(oidc.PrefixBearer) && strings.EqualFold(h[:len(oidc.PrefixBearer)], oidc.PrefixBearer) {
		candidates = append(candidates, h[len(oidc.PrefixBearer):])
	}
	for _, t := range candidates {
		if t != "" && checkCompactJWS(t) != nil {
			return false
		}
	}
	return true
}

// challengeWriter adds WWW-Authenticate to 401 answers: the library's
// userinfo and introspection refusals have none (RFC 6750 §3, RFC 6749
// §5.2). It also records whether the answer was started, for the panic
// handler.
type challengeWriter struct {
	http.ResponseWriter
	path   string
	wrote  bool
	status int
	// errorCode is the error of a refused token request, for its audit
	// event: invalid_grant or invalid_client, else "".
	errorCode string
}

func (c *challengeWriter) WriteHeader(status int) {
	c.wrote, c.status = true, status
	if status == http.StatusUnauthorized && c.Header().Get("WWW-Authenticate") == "" {
		if c.path == pathUserinfo {
			c.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		} else {
			c.Header().Set("WWW-Authenticate", `Basic realm="gatehouse"`)
		}
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c *challengeWriter) Write(b []byte) (int, error) {
	if !c.wrote {
		c.WriteHeader(http.StatusOK)
	}
	if c.path == pathToken && (c.status == http.StatusBadRequest || c.status == http.StatusUnauthorized) && c.errorCode == "" {
		var body struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &body) == nil && (body.Error == string(oidc.InvalidGrant) || body.Error == string(oidc.InvalidClient)) {
			c.errorCode = body.Error
		}
	}
	return c.ResponseWriter.Write(b)
}

// serverError logs err with context and returns the generic server error.
func (p *Provider) serverError(ctx context.Context, msg string, err error) *oidc.Error {
	p.log.ErrorContext(ctx, "provider: "+msg, "error", err)
	return oidc.ErrServerError().WithParent(err)
}

var errNotSupported = errors.New("not supported by this provider")
