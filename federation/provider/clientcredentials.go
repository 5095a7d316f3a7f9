package provider

import (
	"net/http"
	"slices"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/gatehouse-id/gatehouse/ent/application"
	"github.com/gatehouse-id/gatehouse/internal/secret"
)

// The client credentials grant (RFC 6749 §4.4) is served here rather than
// by the library: it is the one grant whose whole cost is the token
// endpoint itself (a machine client asking for tokens at high rate), and
// the library's router, form decoder and token plumbing cost as much as
// the signature. The client has been authenticated by authenticateClient
// before this runs; nothing here touches the database.

// clientCredentials issues a machine token to the authenticated client c.
func (p *Provider) clientCredentials(w http.ResponseWriter, r *http.Request, c *client) {
	form := r.PostForm
	if len(form["grant_type"]) > 1 || len(form["scope"]) > 1 {
		// RFC 6749 §3.2: parameters must not be repeated.
		writeOAuthError(w, oidc.ErrInvalidRequest().WithDescription("grant_type and scope must not be repeated"))
		return
	}
	if c.app.Type != application.TypeMACHINE || !c.hasGrant(oidc.GrantTypeClientCredentials) {
		writeOAuthError(w, oidc.ErrUnauthorizedClient().WithDescription("client credentials are for machine applications granted them"))
		return
	}
	scopes, e := grantedScopes(c, strings.Fields(form.Get("scope")))
	if e != nil {
		writeOAuthError(w, e)
		return
	}
	ctx := systemCtx(r.Context())
	lifetime := c.accessTokenLifetime()
	claims := accessTokenClaims{
		Subject:  c.GetID(),
		Audience: []string{c.GetID()},
		JTI:      ccJTIPrefix + secret.Token(10),
		Scope:    strings.Join(scopes, " "),
	}
	token, err := p.signAccessTokenClaims(ctx, c, &claims, p.now().Add(lifetime))
	if err != nil {
		writeOAuthError(w, oidc.ErrServerError())
		return
	}
	writeTokenResponse(w, tokenResponse{AccessToken: token, TokenType: oidc.BearerToken,
		ExpiresIn: int64(lifetime.Seconds()), Scope: claims.Scope})
}

// grantedScopes limits a machine token to the scopes granted to the
// application; no scope asked for means all of them (RFC 6749 §3.3).
func grantedScopes(c *client, requested []string) ([]string, *oidc.Error) {
	if len(requested) == 0 {
		return c.app.Scopes, nil
	}
	for _, s := range requested {
		if !slices.Contains(c.app.Scopes, s) {
			return nil, oidc.ErrInvalidScope().WithDescription("scope %q is not granted to this application", s)
		}
	}
	return requested, nil
}
