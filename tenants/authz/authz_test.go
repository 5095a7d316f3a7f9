package authz_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/migrate"
	"github.com/gatehouse-id/gatehouse/ent/privacy"
	_ "github.com/gatehouse-id/gatehouse/ent/runtime"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/tenants/authz"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// queriers returns, for every ent type, a function that queries all its
// rows. TestEveryTableHasAQuerier keeps the list complete.
func queriers(c *ent.Client) map[string]func(context.Context) (int, error) {
	return map[string]func(context.Context) (int, error){
		"organizations":             c.Organization.Query().Count,
		"users":                     c.User.Query().Count,
		"memberships":               c.Membership.Query().Count,
		"roles":                     c.Role.Query().Count,
		"domains":                   c.Domain.Query().Count,
		"connections":               c.Connection.Query().Count,
		"organization_policies":     c.OrganizationPolicy.Query().Count,
		"applications":              c.Application.Query().Count,
		"api_keys":                  c.APIKey.Query().Count,
		"audit_events":              c.AuditEvent.Query().Count,
		"signing_keys":              c.SigningKey.Query().Count,
		"auth_requests":             c.AuthRequest.Query().Count,
		"grants":                    c.Grant.Query().Count,
		"refresh_tokens":            c.RefreshToken.Query().Count,
		"revoked_tokens":            c.RevokedToken.Query().Count,
		"sessions":                  c.Session.Query().Count,
		"consents":                  c.Consent.Query().Count,
		"login_transactions":        c.LoginTransaction.Query().Count,
		"passkeys":                  c.Passkey.Query().Count,
		"totp_credentials":          c.TOTPCredential.Query().Count,
		"recovery_codes":            c.RecoveryCode.Query().Count,
		"email_challenges":          c.EmailChallenge.Query().Count,
		"web_authn_ceremonies":      c.WebAuthnCeremony.Query().Count,
		"funnel_counts":             c.FunnelCount.Query().Count,
		"saml_assertion_uses":       c.SAMLAssertionUse.Query().Count,
		"connection_login_attempts": c.ConnectionLoginAttempt.Query().Count,
		"federated_identities":      c.FederatedIdentity.Query().Count,
		"sso_attempts":              c.SSOAttempt.Query().Count,
		"admin_portal_links":        c.AdminPortalLink.Query().Count,
		"portal_sessions":           c.PortalSession.Query().Count,
		"domain_events":             c.DomainEvent.Query().Count,
	}
}

// TestEveryTableHasAQuerier fails when a table is added without adding it
// to the coverage tests below (SECURITY-CHECKLIST MT-03).
func TestEveryTableHasAQuerier(t *testing.T) {
	q := queriers(ent.NewClient())
	for _, table := range migrate.Tables {
		if _, ok := q[table.Name]; !ok && !isJoinTable(table.Name) {
			t.Errorf("table %s has no entry in queriers: add it, and decide its rule in tenants/authz", table.Name)
		}
	}
}

func isJoinTable(name string) bool { return name == "membership_roles" }

func clientFor(t *testing.T, db testdb.Database) *ent.Client {
	return db.Client()
}

// TestNoViewerNoData: a query without a viewer is denied for every type.
func TestNoViewerNoData(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		c := clientFor(t, db)
		for table, count := range queriers(c) {
			if _, err := count(context.Background()); !errors.Is(err, privacy.Deny) {
				t.Errorf("%s without a viewer: err = %v, want privacy denial", table, err)
			}
		}
		_, err := c.Organization.Create().SetName("x").SetSlug("x").Save(context.Background())
		if !errors.Is(err, privacy.Deny) {
			t.Errorf("create without a viewer: err = %v, want privacy denial", err)
		}
	})
}

// TestOrganizationViewerSeesOnlyItsOrganization seeds two organizations and
// counts every type as a viewer scoped to one of them.
func TestOrganizationViewerSeesOnlyItsOrganization(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		c := clientFor(t, db)
		sys := viewer.SystemContext(context.Background())
		var orgs []pulid.ID
		for _, slug := range []string{"a", "b"} {
			o := c.Organization.Create().SetName(slug).SetSlug(slug).SaveX(sys)
			u := c.User.Create().SetEmail(slug + "@example.com").SaveX(sys)
			r := c.Role.Create().SetOrganizationID(o.ID).SetKey("member").SetName("Member").SaveX(sys)
			c.Membership.Create().SetOrganizationID(o.ID).SetUserID(u.ID).AddRoles(r).ExecX(sys)
			c.Domain.Create().SetOrganizationID(o.ID).SetDomain(slug + ".example").SetTxtToken("t").ExecX(sys)
			c.Connection.Create().SetOrganizationID(o.ID).SetName("idp").SetProtocol("OIDC").ExecX(sys)
			c.OrganizationPolicy.Create().SetOrganizationID(o.ID).ExecX(sys)
			c.APIKey.Create().SetOrganizationID(o.ID).SetName("k").SetPrefix("p" + slug).SetSecretHash("h").ExecX(sys)
			c.AuditEvent.Create().SetOrganizationID(o.ID).SetAction("x").SetActor("system").SetActorType("system").ExecX(sys)
			c.FunnelCount.Create().SetOrganizationID(string(o.ID)).SetDay("2026-01-01").SetEvent("signup.started").SetCount(1).ExecX(sys)
			orgs = append(orgs, o.ID)
		}
		c.Application.Create().SetName("app").SetType("WEB").SetClientID("c").ExecX(sys)
		c.APIKey.Create().SetName("instance").SetPrefix("pi").SetSecretHash("h").ExecX(sys)
		c.FunnelCount.Create().SetDay("2026-01-01").SetEvent("signup.started").SetCount(1).ExecX(sys) // no organization: instance only

		scoped := viewer.NewContext(context.Background(), viewer.ScopedTo("key_test", orgs[0]))
		for table, count := range queriers(c) {
			n, err := count(scoped)
			switch table {
			case "applications", "signing_keys", "auth_requests", "grants", "refresh_tokens", "revoked_tokens", "sessions", "consents", "login_transactions",
				"passkeys", "totp_credentials", "recovery_codes", "email_challenges", "web_authn_ceremonies",
				"saml_assertion_uses", "connection_login_attempts", "federated_identities", "domain_events", "sso_attempts",
				"admin_portal_links", "portal_sessions": // tenants reads them as System only
				if !errors.Is(err, privacy.Deny) {
					t.Errorf("%s (instance-level) for an organization viewer: n=%d err=%v, want denial", table, n, err)
				}
			default:
				if err != nil || n != 1 {
					t.Errorf("%s for an organization viewer: n=%d err=%v, want exactly its own 1", table, n, err)
				}
			}
		}

		// Within its organization, a viewer reads each table only with
		// that table's permission, and changes rows only with the write one.
		for _, tc := range []struct {
			perms   []string
			visible []string
		}{
			{nil, nil},
			{[]string{authz.AuditRead}, []string{"audit_events", "funnel_counts"}},
			{[]string{authz.MembersRead}, []string{"users", "memberships", "roles"}},
			{[]string{authz.OrganizationRead}, []string{"organizations", "domains", "connections", "organization_policies"}},
			{[]string{authz.APIKeysManage}, []string{"api_keys"}},
			{[]string{authz.OrganizationRead, authz.MembersManage, authz.RolesManage, authz.PolicyManage}, []string{"organizations", "domains", "connections", "organization_policies"}},
		} {
			ctx := viewer.NewContext(context.Background(), &viewer.Viewer{Kind: viewer.Organization, Actor: "usr_x",
				Organizations: orgs[:1], Permissions: map[pulid.ID][]string{orgs[0]: tc.perms}})
			for table, count := range queriers(c) {
				n, err := count(ctx)
				switch {
				case errors.Is(err, privacy.Deny): // instance-level, checked above
				case err != nil:
					t.Errorf("%s holding %v: %v", table, tc.perms, err)
				case slices.Contains(tc.visible, table) != (n == 1):
					t.Errorf("%s holding %v: %d rows visible", table, tc.perms, n)
				}
			}
			if n, err := c.Domain.Update().SetVerificationState("VERIFIED").Save(ctx); err != nil || n != 0 {
				t.Errorf("bulk domain update holding %v: n=%d err=%v, want 0 rows", tc.perms, n, err)
			}
			if err := c.Organization.UpdateOneID(orgs[0]).SetName("x").Exec(ctx); !ent.IsNotFound(err) {
				t.Errorf("organization update holding %v: %v, want no row", tc.perms, err)
			}
		}

		// Bulk writes with a predicate that matches everything touch only the viewer's rows.
		if n, err := c.Domain.Update().SetVerificationState("VERIFIED").Save(scoped); err != nil || n != 1 {
			t.Errorf("bulk update as organization viewer: n=%d err=%v, want 1", n, err)
		}
		if n, err := c.Domain.Delete().Exec(scoped); err != nil || n != 1 {
			t.Errorf("bulk delete as organization viewer: n=%d err=%v, want 1", n, err)
		}
		if n := c.Domain.Query().CountX(sys); n != 1 {
			t.Errorf("after scoped bulk delete %d domains remain, want the other tenant's 1", n)
		}

		// Audit events are append-only, even for the system.
		if _, err := c.AuditEvent.Delete().Exec(sys); !errors.Is(err, privacy.Deny) {
			t.Errorf("deleting audit events: err = %v, want denial", err)
		}

		me := c.User.Query().FirstX(sys)
		user := viewer.NewContext(context.Background(), &viewer.Viewer{Kind: viewer.User, Actor: string(me.ID), UserID: me.ID})
		if n, err := c.User.Query().Count(user); err != nil || n != 1 {
			t.Errorf("user viewer sees %d users (err %v), want only itself", n, err)
		}
		if n, err := c.Organization.Query().Count(user); err != nil || n != 1 {
			t.Errorf("user viewer sees %d organizations (err %v), want its 1", n, err)
		}
		if _, err := c.User.UpdateOneID(me.ID).SetName("x").Save(user); !errors.Is(err, privacy.Deny) {
			t.Errorf("user viewer changing itself directly: err = %v, want denial until viewer mutations exist", err)
		}
	})
}
