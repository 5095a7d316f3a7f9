package provider

import (
	"slices"
	"testing"
)

// TestAdminScopeOnlyForGrantedApplications: gatehouse:admin reaches an
// access token only when the application is granted it (its scopes);
// asked for by any other application, the scope is dropped, like an
// unknown one (RFC 6749 §3.3), whatever the application's type.
func TestAdminScopeOnlyForGrantedApplications(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		const consoleRedirect = "https://console.tenant-a.test/cb"
		console := e.app("console", "WEB", webSecret, []string{consoleRedirect}, "AUTHORIZATION_CODE", "REFRESH_TOKEN")
		must(t, e.db.Application.UpdateOne(console).SetScopes([]string{scopeAdmin}).Exec(e.ctx))
		for _, c := range []struct {
			name, client, redirect string
			want                   bool
		}{
			{"web, not granted", "web", webRedirect, false},
			{"console, granted", "console", consoleRedirect, true},
		} {
			tok := e.signInAs(t, c.client, c.redirect, webSecret, Authentication{}, scopeAdmin, "profile")
			at, err := e.p.VerifyAccessToken(e.ctx, tok.AccessToken)
			must(t, err)
			if got := slices.Contains(at.Scopes, scopeAdmin); got != c.want || !slices.Contains(at.Scopes, "profile") {
				t.Errorf("%s: access token scopes %v, want %s: %v", c.name, at.Scopes, scopeAdmin, c.want)
			}
		}
	})
}
