package tenants

import (
	"context"
	"slices"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/application"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/internal/safehttp"
	"github.com/gatehouse-id/gatehouse/internal/secret"
)

// GrantType is an OAuth 2.1 grant an application may use.
type GrantType string

// Grant types.
const (
	GrantAuthorizationCode GrantType = "AUTHORIZATION_CODE"
	GrantRefreshToken      GrantType = "REFRESH_TOKEN"
	GrantClientCredentials GrantType = "CLIENT_CREDENTIALS"
)

// Token lifetime bounds, in seconds.
const (
	minTokenLifetime        = 60
	maxAccessTokenLifetime  = 24 * 3600
	maxRefreshTokenLifetime = 365 * 24 * 3600
)

// ApplicationSettings are the OAuth settings shared by create and update.
type ApplicationSettings struct {
	RedirectURIs                    []string
	PostLogoutRedirectURIs          []string
	GrantTypes                      []GrantType
	AccessTokenLifetimeSeconds      *int
	IDTokenLifetimeSeconds          *int
	RefreshTokenLifetimeSeconds     *int
	RefreshTokenIdleLifetimeSeconds *int
	AccessTokenSigningAlgorithm     *application.AccessTokenSigningAlgorithm
	IDTokenSigningAlgorithm         *application.IDTokenSigningAlgorithm
	TokenEndpointAuthMethod         *application.TokenEndpointAuthMethod
	// JWKS holds the client's public keys for private_key_jwt (RFC 7523).
	JWKS map[string]any
	// JWKSURI is where the provider fetches those keys instead (https; the
	// fetch refuses internal addresses). An empty string clears it.
	JWKSURI *string
	// Scopes are granted to the application, whatever its type: what a
	// MACHINE application may request with client credentials, and, with
	// gatehouse:admin, a user-facing application's right to ask for admin
	// tokens (the provider drops that scope for applications without it).
	Scopes []string
	// FirstParty applications skip the consent screen.
	FirstParty *bool
	// ProfileFields are the profile claims the application needs
	// (ProfileFields): a user without one is asked at sign-in
	// (MissingProfile). nil leaves them as they are; empty clears them.
	ProfileFields []string
}

// CreateApplicationInput registers an OAuth client.
type CreateApplicationInput struct {
	Name string
	Type application.Type
	ApplicationSettings
}

// UpdateApplicationInput changes an application; nil lists stay as they are.
type UpdateApplicationInput struct {
	ID   pulid.ID
	Name *string
	ApplicationSettings
}

// isPublic reports whether clients of type t cannot keep a secret (RFC 6749 §2.1).
func isPublic(t application.Type) bool {
	return t == application.TypeSPA || t == application.TypeNATIVE
}

// checkApplication validates settings for an application of type t. A
// grant-type list must fit the type: machine clients only use client
// credentials; public clients never do.
func checkApplication(t application.Type, s ApplicationSettings) error {
	for _, g := range s.GrantTypes {
		switch g {
		case GrantAuthorizationCode, GrantRefreshToken:
			if t == application.TypeMACHINE {
				return invalid("grantTypes", "%s is not available to MACHINE applications", g)
			}
		case GrantClientCredentials:
			if isPublic(t) {
				return invalid("grantTypes", "CLIENT_CREDENTIALS needs a confidential client (WEB or MACHINE)")
			}
		default:
			return invalid("grantTypes", "unknown grant type %q", g)
		}
	}
	if slices.Contains(s.GrantTypes, GrantRefreshToken) && !slices.Contains(s.GrantTypes, GrantAuthorizationCode) {
		return invalid("grantTypes", "REFRESH_TOKEN needs AUTHORIZATION_CODE")
	}
	for _, lists := range []struct {
		field string
		uris  []string
	}{{"redirectURIs", s.RedirectURIs}, {"postLogoutRedirectURIs", s.PostLogoutRedirectURIs}} {
		if len(lists.uris) > 20 {
			return invalid(lists.field, "must list at most 20 URIs")
		}
		for _, u := range lists.uris {
			if err := checkRedirectURI(lists.field, u, t == application.TypeNATIVE); err != nil {
				return err
			}
		}
	}
	if t == application.TypeMACHINE && len(s.RedirectURIs)+len(s.PostLogoutRedirectURIs) > 0 {
		return invalid("redirectURIs", "MACHINE applications do not redirect browsers")
	}
	for _, l := range []struct {
		field string
		v     *int
		max   int
	}{
		{"accessTokenLifetimeSeconds", s.AccessTokenLifetimeSeconds, maxAccessTokenLifetime},
		{"idTokenLifetimeSeconds", s.IDTokenLifetimeSeconds, maxAccessTokenLifetime},
		{"refreshTokenLifetimeSeconds", s.RefreshTokenLifetimeSeconds, maxRefreshTokenLifetime},
		{"refreshTokenIdleLifetimeSeconds", s.RefreshTokenIdleLifetimeSeconds, maxRefreshTokenLifetime},
	} {
		if l.v != nil && (*l.v < minTokenLifetime || *l.v > l.max) {
			return invalid(l.field, "must be between %d and %d seconds", minTokenLifetime, l.max)
		}
	}
	if s.AccessTokenSigningAlgorithm != nil && application.AccessTokenSigningAlgorithmValidator(*s.AccessTokenSigningAlgorithm) != nil {
		return invalid("accessTokenSigningAlgorithm", "must be RS256, ES256 or EdDSA")
	}
	if s.IDTokenSigningAlgorithm != nil && application.IDTokenSigningAlgorithmValidator(*s.IDTokenSigningAlgorithm) != nil {
		return invalid("idTokenSigningAlgorithm", "must be RS256, ES256 or EdDSA")
	}
	if err := checkScopes("scopes", s.Scopes); err != nil {
		return err
	}
	if err := checkProfileFields("profileFields", s.ProfileFields); err != nil {
		return err
	}
	if s.JWKSURI != nil && *s.JWKSURI != "" {
		// The fetch itself refuses internal addresses after DNS resolution;
		// this refuses what is wrong before any lookup (http, IP literals of
		// private ranges, credentials), with the same words.
		if err := jwksURIChecker.CheckURL(*s.JWKSURI); err != nil {
			return invalid("jwksURI", "%v", err)
		}
		if len(s.JWKS) > 0 {
			return invalid("jwksURI", "give jwks or jwksURI, not both (OpenID Connect Registration §2)")
		}
	}
	return checkJWKS("jwks", s.JWKS)
}

// checkAuthMethod checks the token endpoint authentication method against
// the client type: public clients authenticate with none, confidential ones
// with a secret or a signed JWT (RFC 7523) from keys they registered.
func checkAuthMethod(t application.Type, m application.TokenEndpointAuthMethod, jwks map[string]any, jwksURI string) error {
	switch {
	case application.TokenEndpointAuthMethodValidator(m) != nil:
		return invalid("tokenEndpointAuthMethod", "unknown method %q", m)
	case isPublic(t) && m != application.TokenEndpointAuthMethodNONE:
		return invalid("tokenEndpointAuthMethod", "%s applications are public clients: use NONE", t)
	case !isPublic(t) && m == application.TokenEndpointAuthMethodNONE:
		return invalid("tokenEndpointAuthMethod", "%s applications must authenticate", t)
	case m == application.TokenEndpointAuthMethodPRIVATE_KEY_JWT && len(jwks) == 0 && jwksURI == "":
		return invalid("jwks", "PRIVATE_KEY_JWT needs the client's public keys in jwks or at jwksURI")
	}
	return nil
}

func defaultAuthMethod(t application.Type) application.TokenEndpointAuthMethod {
	if isPublic(t) {
		return application.TokenEndpointAuthMethodNONE
	}
	return application.TokenEndpointAuthMethodCLIENT_SECRET_BASIC
}

func defaultGrantTypes(t application.Type) []GrantType {
	if t == application.TypeMACHINE {
		return []GrantType{GrantClientCredentials}
	}
	return []GrantType{GrantAuthorizationCode, GrantRefreshToken}
}

// newClientSecret returns a client secret and its stored hash.
func newClientSecret() (string, string) {
	s := secret.Token(32)
	return s, secret.Hash(s)
}

// CreateApplication registers an application. Confidential clients (WEB,
// MACHINE) get a client secret, returned here once and stored only hashed.
func (s *Service) CreateApplication(ctx context.Context, in CreateApplicationInput) (*ent.Application, string, error) {
	if err := checkName("name", in.Name, 200); err != nil {
		return nil, "", err
	}
	if application.TypeValidator(in.Type) != nil {
		return nil, "", invalid("type", "must be WEB, SPA, NATIVE or MACHINE")
	}
	if in.GrantTypes == nil {
		in.GrantTypes = defaultGrantTypes(in.Type)
	}
	if err := checkApplication(in.Type, in.ApplicationSettings); err != nil {
		return nil, "", err
	}
	if slices.Contains(in.GrantTypes, GrantAuthorizationCode) && len(in.RedirectURIs) == 0 {
		return nil, "", invalid("redirectURIs", "must list at least one URI for AUTHORIZATION_CODE")
	}
	if in.TokenEndpointAuthMethod == nil {
		m := defaultAuthMethod(in.Type)
		in.TokenEndpointAuthMethod = &m
	}
	if err := checkAuthMethod(in.Type, *in.TokenEndpointAuthMethod, in.JWKS, deref(in.JWKSURI)); err != nil {
		return nil, "", err
	}
	var clientSecret, hash string
	if !isPublic(in.Type) {
		clientSecret, hash = newClientSecret()
	}
	var app *ent.Application
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		var err error
		app, err = tx.Application.Create().
			SetName(in.Name).
			SetType(in.Type).
			SetClientID(secret.Token(15)).
			SetSecretHash(hash).
			SetRedirectUris(in.RedirectURIs).
			SetPostLogoutRedirectUris(in.PostLogoutRedirectURIs).
			SetGrantTypes(uniqueStrings(in.GrantTypes)).
			SetNillableAccessTokenLifetimeSeconds(in.AccessTokenLifetimeSeconds).
			SetNillableIDTokenLifetimeSeconds(in.IDTokenLifetimeSeconds).
			SetNillableRefreshTokenLifetimeSeconds(in.RefreshTokenLifetimeSeconds).
			SetNillableRefreshTokenIdleLifetimeSeconds(in.RefreshTokenIdleLifetimeSeconds).
			SetNillableAccessTokenSigningAlgorithm(in.AccessTokenSigningAlgorithm).
			SetNillableIDTokenSigningAlgorithm(in.IDTokenSigningAlgorithm).
			SetTokenEndpointAuthMethod(*in.TokenEndpointAuthMethod).
			SetJwks(in.JWKS).
			SetJwksURI(deref(in.JWKSURI)).
			SetScopes(uniqueStrings(in.Scopes)).
			SetNillableFirstParty(in.FirstParty).
			SetProfileFields(uniqueStrings(in.ProfileFields)).
			Save(ctx)
		if err != nil {
			return translate(err, "application")
		}
		return s.audit(ctx, tx, event{action: "application.create", targetType: "Application", targetID: app.ID,
			metadata: map[string]any{"type": string(app.Type), "clientID": app.ClientID}})
	})
	if err != nil {
		return nil, "", err
	}
	return app.Unwrap(), clientSecret, nil
}

// UpdateApplication changes an application's name and OAuth settings.
func (s *Service) UpdateApplication(ctx context.Context, in UpdateApplicationInput) (*ent.Application, error) {
	if in.Name != nil {
		if err := checkName("name", *in.Name, 200); err != nil {
			return nil, err
		}
	}
	var app *ent.Application
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		cur, err := tx.Application.Get(ctx, in.ID)
		if err != nil {
			return translate(err, "application")
		}
		merged := in.ApplicationSettings
		if merged.GrantTypes == nil {
			for _, g := range cur.GrantTypes {
				merged.GrantTypes = append(merged.GrantTypes, GrantType(g))
			}
		}
		if merged.RedirectURIs == nil {
			merged.RedirectURIs = cur.RedirectUris
		}
		if err := checkApplication(cur.Type, merged); err != nil {
			return err
		}
		// jwks and jwksURI are one key source given two ways (OpenID Connect
		// Registration §2: never both), so giving one replaces the other.
		method, jwks, jwksURI := cur.TokenEndpointAuthMethod, cur.Jwks, cur.JwksURI
		if in.TokenEndpointAuthMethod != nil {
			method = *in.TokenEndpointAuthMethod
		}
		if in.JWKS != nil {
			jwks, jwksURI = in.JWKS, ""
		}
		if in.JWKSURI != nil {
			jwksURI = *in.JWKSURI
			if jwksURI != "" && in.JWKS == nil {
				jwks = nil
			}
		}
		if err := checkAuthMethod(cur.Type, method, jwks, jwksURI); err != nil {
			return err
		}
		if slices.Contains(merged.GrantTypes, GrantAuthorizationCode) && len(merged.RedirectURIs) == 0 {
			return invalid("redirectURIs", "must list at least one URI for AUTHORIZATION_CODE")
		}
		u := cur.Update().
			SetNillableName(in.Name).
			SetRedirectUris(merged.RedirectURIs).
			SetGrantTypes(uniqueStrings(merged.GrantTypes)).
			SetNillableAccessTokenLifetimeSeconds(in.AccessTokenLifetimeSeconds).
			SetNillableIDTokenLifetimeSeconds(in.IDTokenLifetimeSeconds).
			SetNillableRefreshTokenLifetimeSeconds(in.RefreshTokenLifetimeSeconds).
			SetNillableRefreshTokenIdleLifetimeSeconds(in.RefreshTokenIdleLifetimeSeconds).
			SetNillableAccessTokenSigningAlgorithm(in.AccessTokenSigningAlgorithm).
			SetNillableIDTokenSigningAlgorithm(in.IDTokenSigningAlgorithm).
			SetTokenEndpointAuthMethod(method).
			SetNillableFirstParty(in.FirstParty)
		if jwks == nil {
			u.ClearJwks()
		} else {
			u.SetJwks(jwks)
		}
		u.SetJwksURI(jwksURI)
		if in.Scopes != nil {
			u.SetScopes(uniqueStrings(in.Scopes))
		}
		if in.ProfileFields != nil {
			u.SetProfileFields(uniqueStrings(in.ProfileFields))
		}
		if in.PostLogoutRedirectURIs != nil {
			u.SetPostLogoutRedirectUris(in.PostLogoutRedirectURIs)
		}
		if app, err = u.Save(ctx); err != nil {
			return translate(err, "application")
		}
		return s.audit(ctx, tx, event{action: "application.update", targetType: "Application", targetID: app.ID})
	})
	return unwrap(app, err)
}

// RotateApplicationSecret replaces a confidential application's secret; the
// old secret stops working at once.
func (s *Service) RotateApplicationSecret(ctx context.Context, id pulid.ID) (*ent.Application, string, error) {
	var app *ent.Application
	clientSecret, hash := newClientSecret()
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		cur, err := tx.Application.Get(ctx, id)
		if err != nil {
			return translate(err, "application")
		}
		if isPublic(cur.Type) {
			return invalid("id", "%s applications are public clients and have no secret", cur.Type)
		}
		if app, err = cur.Update().SetSecretHash(hash).Save(ctx); err != nil {
			return translate(err, "application")
		}
		return s.audit(ctx, tx, event{action: "application.secret.rotate", targetType: "Application", targetID: app.ID})
	})
	if err != nil {
		return nil, "", err
	}
	return app.Unwrap(), clientSecret, nil
}

// DeleteApplication deletes an application.
func (s *Service) DeleteApplication(ctx context.Context, id pulid.ID) error {
	return s.inTx(ctx, func(tx *ent.Tx) error {
		app, err := tx.Application.Get(ctx, id)
		if err != nil {
			return translate(err, "application")
		}
		if err := tx.Application.DeleteOne(app).Exec(ctx); err != nil {
			return translate(err, "application")
		}
		return s.audit(ctx, tx, event{action: "application.delete", targetType: "Application", targetID: app.ID,
			metadata: map[string]any{"clientID": app.ClientID}})
	})
}

// jwksURIChecker applies the provider's fetch rules to jwksURI at save time.
var jwksURIChecker = safehttp.New(safehttp.Config{})

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
