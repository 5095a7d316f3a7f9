package provider

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/gatehouse-id/gatehouse/ent/connection"
	"github.com/gatehouse-id/gatehouse/ent/membership"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/ent/user"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// A user provisioned by an SSO sign-in (tenants.SignInFederated), then
// deprovisioned — removed from the organization, disabled, or their
// membership suspended — keeps nothing there: the next refresh_token
// grant of a token issued into the organization fails with invalid_grant,
// and their session no longer completes a new authorization into it
// (what a silent prompt=none authorization asks of CompleteLogin).
func TestDeprovisionedFederatedUser(t *testing.T) {
	admin := func(ctx context.Context) context.Context {
		return viewer.NewContext(ctx, &viewer.Viewer{Kind: viewer.Instance, Actor: "key_admin"})
	}
	for _, c := range []struct {
		name      string
		deprov    func(t *testing.T, e *env, svc *tenants.Service, u pulid.ID, m pulid.ID)
		wantLogin error
	}{
		{"removed from the organization", func(t *testing.T, e *env, svc *tenants.Service, _, m pulid.ID) {
			must(t, svc.RemoveMember(admin(context.Background()), m))
		}, ErrNotMember},
		{"user disabled", func(t *testing.T, e *env, svc *tenants.Service, u, _ pulid.ID) {
			disabled := user.StatusDISABLED
			_, err := svc.UpdateUser(admin(context.Background()), tenants.UpdateUserInput{ID: u, Status: &disabled})
			must(t, err)
		}, ErrUserInactive},
		{"membership suspended", func(t *testing.T, e *env, _ *tenants.Service, _, m pulid.ID) {
			must(t, e.db.Membership.UpdateOneID(m).SetStatus(membership.StatusSUSPENDED).Exec(e.ctx))
		}, ErrNotMember},
	} {
		t.Run(c.name, func(t *testing.T) {
			forEachDB(t, func(t *testing.T, e *env) {
				svc := tenants.NewService(e.db, tenants.WithClock(e.clock.Now))
				org, err := svc.CreateOrganization(e.ctx, tenants.CreateOrganizationInput{Name: "Initech", Slug: "initech"})
				must(t, err)
				conn, err := e.db.Connection.Create().SetOrganizationID(org.ID).SetProtocol(connection.ProtocolSAML).SetName("Okta").
					SetState(connection.StateACTIVE).Save(e.ctx)
				must(t, err)
				u, m, err := svc.SignInFederated(e.ctx, conn, tenants.FederatedIdentityInput{Subject: "00u1", Email: "peter@initech.test",
					GivenName: "Peter"})
				must(t, err)
				if m == nil || m.Status != membership.StatusACTIVE || m.OrganizationID != org.ID {
					t.Fatalf("provisioned membership %+v", m)
				}
				amr := []string{tenants.FactorSSOPrefix + string(conn.ID)}
				ses, _, err := svc.CreateSession(e.ctx, tenants.NewSession{UserID: u.ID, AMR: amr})
				must(t, err)
				auth := Authentication{UserID: u.ID, SessionID: ses.ID, OrganizationID: org.ID, AMR: amr}
				tok := e.signIn(t, auth, "openid", "offline_access", "organization")
				if status, body := refreshForm(t, e, url.Values{"refresh_token": {tok.RefreshToken}}, "web", webSecret); status != 200 {
					t.Fatalf("refresh before deprovisioning: %d %v", status, body)
				} else {
					tok.RefreshToken = body["refresh_token"].(string)
				}

				c.deprov(t, e, svc, u.ID, m.ID)

				status, body := refreshForm(t, e, url.Values{"refresh_token": {tok.RefreshToken}}, "web", webSecret)
				if status != 400 || body["error"] != "invalid_grant" {
					t.Errorf("refresh after deprovisioning: %d %v, want 400 invalid_grant", status, body)
				}
				// The session's next authorization into the organization.
				resp := e.authorize(codeParams("web", webRedirect, "challenge-0123456789012345678901234567890123", "openid", "organization"))
				resp.Body.Close()
				loc, _ := url.Parse(resp.Header.Get("Location"))
				id := loc.Query().Get("authRequest")
				if id == "" {
					t.Fatalf("authorize: %d %s", resp.StatusCode, loc)
				}
				if _, err := e.p.CompleteLogin(e.ctx, id, auth); !errors.Is(err, c.wantLogin) {
					t.Errorf("CompleteLogin after deprovisioning = %v, want %v", err, c.wantLogin)
				}
			})
		})
	}
}
