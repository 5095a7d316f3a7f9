package graph

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/99designs/gqlgen/graphql/playground"

	"github.com/gatehouse-id/gatehouse/graph/generated"
	"github.com/gatehouse-id/gatehouse/internal/httpserver"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// MaxBodyBytes is the largest request body /graphql reads; larger ones get 413.
const MaxBodyBytes = 1 << 20

// Config configures the GraphQL endpoint.
type Config struct {
	Service *tenants.Service
	Logger  *slog.Logger
	// VerifyToken checks an access token issued by Gatehouse's OpenID
	// provider; nil accepts API keys only.
	VerifyToken func(ctx context.Context, token string) (tenants.TokenClaims, error)
	// Issuer is the instance's issuer URL: connections' endpoint fields
	// (acsURL, spEntityID, redirectURI…) are built under it.
	Issuer string
	// ParseSAMLMetadata reads an IdP's SAML metadata (federation/saml);
	// nil answers metadataXML and metadataURL with a clear error.
	ParseSAMLMetadata ParseSAMLMetadataFunc
	// SAMLSPMetadata renders a connection's SP metadata
	// (federation/saml); nil leaves Connection.spMetadataXML null.
	SAMLSPMetadata SAMLSPMetadataFunc
	// Dev turns on introspection, field suggestions and the playground at
	// GET /graphql. Never in production (SECURITY-CHECKLIST MT-07).
	Dev bool
}

// NewHandler returns the /graphql endpoint: POST with a JSON body only
// (no GET, form or multipart transports: MT-08), authenticated by API key or
// access token, with body, depth, alias, page-size and complexity limits.
func NewHandler(cfg Config) http.Handler {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	srv := handler.New(generated.NewExecutableSchema(generated.Config{
		Resolvers: &Resolver{Service: cfg.Service, Issuer: cfg.Issuer,
			ParseSAMLMetadata: cfg.ParseSAMLMetadata, SAMLSPMetadata: cfg.SAMLSPMetadata},
		Complexity: complexity(),
	}))
	srv.AddTransport(transport.POST{})
	// No query cache: shapeLimits writes default page sizes into each
	// request's own document (parsing a typical query costs microseconds).
	srv.SetParserTokenLimit(parserTokenLimit)
	srv.SetDisableSuggestion(!cfg.Dev)
	if cfg.Dev {
		srv.Use(extension.Introspection{})
	}
	srv.Use(extension.FixedComplexityLimit(MaxComplexity))
	srv.Use(shapeLimits{})
	srv.Use(textInput{})
	srv.AroundFields(markResolverErrors)
	srv.SetErrorPresenter(presentErrors(logger))
	srv.SetRecoverFunc(recoverPanic(logger))

	api := httpserver.Chain(srv,
		httpserver.LimitBody(MaxBodyBytes, httpserver.StaticJSON(http.StatusRequestEntityTooLarge,
			errorBody("request body is larger than 1 MiB", "PAYLOAD_TOO_LARGE"))),
		Authenticate(cfg.Service, cfg.VerifyToken, cfg.Issuer, logger))
	var play http.Handler
	if cfg.Dev {
		play = playground.Handler("Gatehouse", "/graphql")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost:
			api.ServeHTTP(w, r)
		case r.Method == http.MethodGet && play != nil:
			play.ServeHTTP(w, r)
		default:
			w.Header().Set("Allow", http.MethodPost)
			writeError(w, http.StatusMethodNotAllowed, "use POST with a JSON body", "METHOD_NOT_ALLOWED")
		}
	})
}

// Authenticate resolves the Authorization: Bearer credential — an API key
// (gh_…) or, when verify is set, an access token from Gatehouse's provider —
// or, without one, the admin portal's session cookie (adminportal.go: only
// with PortalHeader and the issuer's Origin) to a viewer and puts it in the
// request context. A portal session is a Portal viewer: its one
// organization, with only what its intent needs (tenants.PortalSession).
// Without a valid credential it answers 401 in the GraphQL error format,
// before any GraphQL work.
func Authenticate(svc *tenants.Service, verify func(context.Context, string) (tenants.TokenClaims, error), issuer string, logger *slog.Logger) func(http.Handler) http.Handler {
	site, err := url.Parse(issuer)
	if err != nil {
		site = &url.URL{} // no Origin matches it: portal sessions are refused
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token, ok := bearer(r.Header.Get("Authorization"))
			portal, why, hasPortal := portalCredential(r, site)
			if !ok && !hasPortal {
				auditUnauthenticated(svc, r, "missing_credential")
				unauthenticated(w, "send an API key or access token as Authorization: Bearer <credential>")
				return
			}
			var v *viewer.Viewer
			var err error
			reason := "invalid_access_token"
			switch {
			case !ok && why != "":
				auditUnauthenticated(svc, r, portalReason)
				unauthenticated(w, why)
				return
			case !ok:
				reason = portalReason
				v, err = svc.PortalViewer(r.Context(), portal)
			case tenants.LooksLikeAPIKey(token) || verify == nil:
				reason = "invalid_api_key"
				v, err = svc.AuthenticateAPIKey(r.Context(), token)
			default:
				var claims tenants.TokenClaims
				if claims, err = verify(r.Context(), token); err != nil {
					err = tenants.ErrUnauthenticated // expired, forged, revoked: all the same to the caller
				} else {
					v, err = svc.ViewerForToken(r.Context(), claims)
				}
			}
			switch {
			case errors.Is(err, tenants.ErrUnauthenticated):
				auditUnauthenticated(svc, r, reason)
				unauthenticated(w, "the credential is not valid")
				return
			case errors.Is(err, tenants.ErrInsufficientScope):
				// RFC 6750 §3.1: a valid token that may not be used here.
				w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse", error="insufficient_scope", scope="`+tenants.AdminScope+`"`)
				writeError(w, http.StatusForbidden, "the access token needs the "+tenants.AdminScope+
					" scope, from an application granted it", CodeForbidden)
				return
			case err != nil:
				logger.ErrorContext(r.Context(), "authenticate bearer credential", "err", err,
					"request_id", httpserver.RequestIDFromContext(r.Context()))
				writeError(w, http.StatusServiceUnavailable, "authentication is unavailable; retry shortly", "UNAVAILABLE")
				return
			}
			v.IP = httpserver.ClientIP(r)
			v.UserAgent = r.UserAgent()
			v.RequestID = httpserver.RequestIDFromContext(r.Context())
			next.ServeHTTP(w, r.WithContext(viewer.NewContext(r.Context(), v)))
		})
	}
}

// actionUnauthenticated is the audit action of a 401 at /graphql.
const actionUnauthenticated = "api.unauthenticated"

// auditUnauthenticated records a 401 (metadata.reason), rate-limited per
// client address and reason so that a flood of bad credentials cannot
// flood the audit trail (tenants.Audit.Rejected).
func auditUnauthenticated(svc *tenants.Service, r *http.Request, reason string) {
	svc.Audit().Rejected(r.Context(), svc.Client(), tenants.Event{Action: actionUnauthenticated, Reason: reason,
		Actor: "anonymous", ActorType: "anonymous", Origin: tenants.Origin(httpserver.OriginOf(r)), Metadata: map[string]any{"path": r.URL.Path}})
}

// bearer extracts the token of an RFC 6750 §2.1 Authorization header.
func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

func unauthenticated(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse", error="invalid_token"`)
	writeError(w, http.StatusUnauthorized, msg, CodeUnauthenticated)
}

func errorBody(msg, code string) []byte {
	b, _ := json.Marshal(map[string]any{"errors": []any{map[string]any{
		"message": msg, "extensions": map[string]any{"code": code}}}})
	return append(b, '\n')
}

func writeError(w http.ResponseWriter, status int, msg, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(errorBody(msg, code))
}
