package tenants_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/auditevent"
	"github.com/gatehouse-id/gatehouse/ent/connection"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/authz"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// portalFixture is a service on a stopped clock, the system's context
// and two organizations, Acme (the portal's) and Other.
func portalFixture(t *testing.T, db testdb.Database) (*testkit.Clock, *tenants.Service, context.Context, *ent.Organization, *ent.Organization) {
	t.Helper()
	clock := testkit.NewClock()
	svc := tenants.NewService(db.Client(), tenants.WithClock(clock.Now))
	ctx := viewer.SystemContext(context.Background())
	acme, err := svc.CreateOrganization(ctx, tenants.CreateOrganizationInput{Name: "Acme", Slug: "acme"})
	must(t, err)
	other, err := svc.CreateOrganization(ctx, tenants.CreateOrganizationInput{Name: "Other", Slug: "other"})
	must(t, err)
	return clock, svc, ctx, acme, other
}

// An admin portal link needs the intent's permission in its organization,
// is spent once (60 parallel redemptions: one session), expires after 5
// minutes; its session is a Portal viewer over that organization only,
// with the intent's permissions, ended by the idle timeout and by its
// absolute lifetime.
func TestAdminPortalLinks(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		clock, svc, ctx, acme, other := portalFixture(t, db)
		domainsOnly := viewer.NewContext(ctx, &viewer.Viewer{Kind: viewer.Organization, Actor: "key_domains",
			Organizations: []pulid.ID{acme.ID}, Permissions: map[pulid.ID][]string{acme.ID: {authz.DomainsManage}}})

		if _, _, err := svc.CreateAdminPortalLink(domainsOnly, tenants.CreateAdminPortalLinkInput{OrganizationID: acme.ID,
			Intent: tenants.PortalIntentSSO}); !errors.Is(err, tenants.ErrForbidden) {
			t.Errorf("SSO link with domains:manage only: %v, want forbidden", err)
		}
		if _, _, err := svc.CreateAdminPortalLink(domainsOnly, tenants.CreateAdminPortalLinkInput{OrganizationID: other.ID,
			Intent: tenants.PortalIntentDomainVerification}); !errors.Is(err, tenants.ErrNotFound) {
			t.Errorf("link for another organization: %v, want not found", err)
		}
		if _, _, err := svc.CreateAdminPortalLink(ctx, tenants.CreateAdminPortalLinkInput{OrganizationID: acme.ID,
			Intent: tenants.PortalIntentSSO, ReturnURL: "javascript:alert(1)"}); err == nil {
			t.Error("a javascript: return URL was accepted")
		}
		token, expires, err := svc.CreateAdminPortalLink(ctx, tenants.CreateAdminPortalLinkInput{OrganizationID: acme.ID,
			Intent: tenants.PortalIntentSSO, ReturnURL: "https://app.example.com/settings"})
		must(t, err)
		if want := clock.Now().Add(5 * time.Minute); !expires.Equal(want) {
			t.Errorf("expires %v, want %v", expires, want)
		}

		const n = 60
		var wg sync.WaitGroup
		gate := make(chan struct{})
		wins := make(chan string, n)
		for range n {
			wg.Go(func() {
				<-gate
				s, _, err := svc.RedeemAdminPortalLink(context.Background(), token)
				switch {
				case err == nil:
					wins <- s
				case !errors.Is(err, tenants.ErrUnauthenticated):
					t.Error(err)
				}
			})
		}
		close(gate)
		wg.Wait()
		close(wins)
		var sessions []string
		for s := range wins {
			sessions = append(sessions, s)
		}
		if len(sessions) != 1 {
			t.Fatalf("%d sessions from one link, want 1", len(sessions))
		}
		sess := sessions[0]
		if _, _, err := svc.RedeemAdminPortalLink(context.Background(), token); !errors.Is(err, tenants.ErrUnauthenticated) {
			t.Errorf("spent link reopened: %v", err)
		}

		// The session read back carries what the link held.
		got, err := svc.PortalSessionFor(context.Background(), sess)
		must(t, err)
		if !got.ID.Valid() || got.OrganizationID != acme.ID || got.Intent != tenants.PortalIntentSSO ||
			got.ReturnURL != "https://app.example.com/settings" ||
			!got.ExpiresAt.Equal(clock.Now().Add(tenants.PortalSessionLifetime)) {
			t.Errorf("portal session %+v", got)
		}
		v, err := svc.PortalViewer(context.Background(), sess)
		must(t, err)
		if v.Kind != viewer.Portal || !slices.Equal(v.Organizations, []pulid.ID{acme.ID}) ||
			!slices.Equal(v.Permissions[acme.ID], []string{authz.OrganizationRead, authz.ConnectionsManage, authz.DomainsManage}) {
			t.Errorf("portal viewer %+v", v)
		}
		for _, action := range []string{tenants.ActionPortalLinkCreated, tenants.ActionPortalSessionStarted} {
			ev, err := db.Client().AuditEvent.Query().Where(auditevent.Action(action)).Only(ctx)
			if err != nil {
				t.Errorf("audit %s: %v", action, err)
				continue
			}
			if ev.OrganizationID != acme.ID {
				t.Errorf("audit %s in %s", action, ev.OrganizationID)
			}
		}

		// Used every 14 minutes, the session lives its hour, then ends.
		for range 4 {
			clock.Advance(14 * time.Minute)
			if _, err := svc.PortalViewer(context.Background(), sess); err != nil {
				t.Fatalf("session used within the idle timeout: %v", err)
			}
		}
		clock.Advance(5 * time.Minute)
		if _, err := svc.PortalViewer(context.Background(), sess); !errors.Is(err, tenants.ErrUnauthenticated) {
			t.Errorf("session past its hour: %v", err)
		}

		// Idle for 15 minutes: ended.
		token2, _, err := svc.CreateAdminPortalLink(ctx, tenants.CreateAdminPortalLinkInput{OrganizationID: acme.ID,
			Intent: tenants.PortalIntentDomainVerification})
		must(t, err)
		sess2, ps, err := svc.RedeemAdminPortalLink(context.Background(), token2)
		must(t, err)
		if got := ps.Viewer().Permissions[acme.ID]; !slices.Equal(got, []string{authz.OrganizationRead, authz.DomainsManage}) {
			t.Errorf("domain verification session holds %v", got)
		}
		clock.Advance(15 * time.Minute)
		if _, err := svc.PortalViewer(context.Background(), sess2); !errors.Is(err, tenants.ErrUnauthenticated) {
			t.Errorf("idle session: %v", err)
		}

		// A link not opened within 5 minutes is void.
		token3, _, err := svc.CreateAdminPortalLink(ctx, tenants.CreateAdminPortalLinkInput{OrganizationID: acme.ID,
			Intent: tenants.PortalIntentSSO})
		must(t, err)
		clock.Advance(5 * time.Minute)
		if _, _, err := svc.RedeemAdminPortalLink(context.Background(), token3); !errors.Is(err, tenants.ErrUnauthenticated) {
			t.Errorf("expired link: %v", err)
		}
		if n, err := svc.SweepAdminPortal(ctx); err != nil || n != 5 {
			t.Errorf("sweep: %d, %v; want 5 (3 links, 2 sessions)", n, err)
		}
	})
}

// What a portal session may do in its organization: SSO setup also
// verifies domains (discovery needs one), DOMAIN_VERIFICATION only that;
// neither touches members, roles, policy, audit, API keys or the
// organization itself.
func TestPortalPermissions(t *testing.T) {
	never := []authz.Permission{authz.OrganizationUpdate, authz.OrganizationDelete, authz.MembersRead, authz.MembersManage,
		authz.RolesManage, authz.PolicyManage, authz.AuditRead, authz.APIKeysManage, authz.All}
	for _, tc := range []struct {
		intent     tenants.PortalIntent
		may, mayNo []authz.Permission
	}{
		{tenants.PortalIntentSSO, []authz.Permission{authz.OrganizationRead, authz.ConnectionsManage, authz.DomainsManage}, nil},
		{tenants.PortalIntentDomainVerification, []authz.Permission{authz.OrganizationRead, authz.DomainsManage},
			[]authz.Permission{authz.ConnectionsManage}},
		{"MEMBERS", nil, []authz.Permission{authz.OrganizationRead}},
	} {
		t.Run(string(tc.intent), func(t *testing.T) {
			got := tc.intent.PortalPermissions()
			for _, p := range tc.may {
				if !slices.Contains(got, p) {
					t.Errorf("lacks %s: %v", p, got)
				}
			}
			for _, p := range append(tc.mayNo, never...) {
				if slices.Contains(got, p) {
					t.Errorf("holds %s: %v", p, got)
				}
			}
		})
	}
}

// An SSO portal session takes up its organization's newest DRAFT
// connection; not an ACTIVE or INACTIVE one, not another organization's,
// and a domain verification session none.
func TestPortalResumeConnection(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		_, svc, ctx, acme, other := portalFixture(t, db)
		session := func(intent tenants.PortalIntent) *tenants.PortalSession {
			t.Helper()
			token, _, err := svc.CreateAdminPortalLink(ctx, tenants.CreateAdminPortalLinkInput{OrganizationID: acme.ID, Intent: intent})
			must(t, err)
			_, ps, err := svc.RedeemAdminPortalLink(context.Background(), token)
			must(t, err)
			return ps
		}
		sso := session(tenants.PortalIntentSSO)
		resumed := func(ps *tenants.PortalSession) pulid.ID {
			t.Helper()
			c, err := svc.PortalResumeConnection(context.Background(), ps)
			must(t, err)
			if c == nil {
				return ""
			}
			return c.ID
		}
		if id := resumed(sso); id != "" {
			t.Errorf("resumes %s with no connection at all", id)
		}
		conn := func(org pulid.ID, name string, state connection.State) pulid.ID {
			return db.Client().Connection.Create().SetOrganizationID(org).SetProtocol(connection.ProtocolSAML).
				SetName(name).SetState(state).SaveX(ctx).ID
		}
		conn(acme.ID, "live", connection.StateACTIVE)
		conn(acme.ID, "retired", connection.StateINACTIVE)
		if id := resumed(sso); id != "" {
			t.Errorf("resumes %s: an active or inactive connection is no setup in progress", id)
		}
		conn(acme.ID, "older draft", connection.StateDRAFT)
		newest := conn(acme.ID, "newest draft", connection.StateDRAFT)
		conn(other.ID, "other's draft", connection.StateDRAFT)
		if id := resumed(sso); id != newest {
			t.Errorf("resumes %q, want the newest draft %s", id, newest)
		}
		if id := resumed(session(tenants.PortalIntentDomainVerification)); id != "" {
			t.Errorf("a domain verification session resumes %s", id)
		}
	})
}
