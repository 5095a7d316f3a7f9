package provider

import (
	"context"
	"net/url"
	"testing"

	"github.com/gatehouse-id/gatehouse/ent/grant"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// TestRevokeUserSessionsEndsRefresh: an administrator ending a user's
// sessions (tenants.RevokeUserSessions, GraphQL's revokeUserSessions)
// ends the refresh tokens and access tokens of the sign-ins made in them;
// a verified access token names the grant it came from, and so its
// session.
func TestRevokeUserSessionsEndsRefresh(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		svc := tenants.NewService(e.db, tenants.WithClock(e.clock.Now))
		ses, token, err := svc.CreateSession(e.ctx, tenants.NewSession{UserID: e.user.ID, AMR: []string{"pwd"}})
		must(t, err)
		tok := e.signIn(t, Authentication{OrganizationID: e.org.ID, AMR: []string{"pwd"}, SessionID: ses.ID}, "offline_access")
		if tok.RefreshToken == "" {
			t.Fatal("no refresh token")
		}
		at, err := e.p.VerifyAccessToken(ctx, tok.AccessToken)
		must(t, err)
		g, err := e.db.Grant.Query().Where(grant.ID(at.Grant)).Only(e.ctx)
		if err != nil || g.SessionID != ses.ID {
			t.Fatalf("the access token names grant %q (%v), want one of session %s", at.Grant, err, ses.ID)
		}

		admin := viewer.NewContext(ctx, &viewer.Viewer{Kind: viewer.Instance, Actor: "key_admin"})
		if n, err := svc.RevokeUserSessions(admin, e.user.ID, ""); err != nil || n != 1 {
			t.Fatalf("RevokeUserSessions = %d, %v", n, err)
		}
		if live, _, err := svc.LiveSession(e.ctx, token); err != nil || live != nil {
			t.Errorf("LiveSession after revocation = %v, %v", live, err)
		}
		status, body := refreshForm(t, e, url.Values{"refresh_token": {tok.RefreshToken}}, "web", webSecret)
		if status != 400 || body["error"] != "invalid_grant" {
			t.Errorf("refresh after the sessions ended: %d %v, want invalid_grant", status, body)
		}
		if _, err := e.p.VerifyAccessToken(ctx, tok.AccessToken); err == nil {
			t.Error("the access token still verifies after its session ended")
		}
	})
}
