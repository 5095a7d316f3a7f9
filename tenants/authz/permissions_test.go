package authz_test

import (
	"testing"

	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/tenants/authz"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// TestPermissionDecisions is the pure decision table behind every check:
// permissions decide, not role names; owners hold everything; nobody
// grants what they do not hold.
func TestPermissionDecisions(t *testing.T) {
	const x, y pulid.ID = "org_x", "org_y"
	perms := func(role string) []string { return authz.RolePermissions(role, true, []string{"stale"}) }
	member := func(ps []string) *viewer.Viewer {
		return &viewer.Viewer{Kind: viewer.Organization, Organizations: []pulid.ID{x}, Permissions: map[pulid.ID][]string{x: ps}}
	}
	owner, admin, plain := member(perms(authz.RoleOwner)), member(perms(authz.RoleAdmin)), member(perms(authz.RoleMember))
	auditor := member(authz.RolePermissions("auditor", false, []string{authz.AuditRead, "invoices:read"}))
	instance := &viewer.Viewer{Kind: viewer.Instance}
	user := &viewer.Viewer{Kind: viewer.User, UserID: "usr_1"}
	for _, c := range []struct {
		name string
		v    *viewer.Viewer
		org  pulid.ID
		p    string
		want bool
	}{
		{"owner deletes", owner, x, authz.OrganizationDelete, true},
		{"owner holds product permissions", owner, x, "invoices:read", true},
		{"admin deletes", admin, x, authz.OrganizationDelete, false},
		{"admin manages members", admin, x, authz.MembersManage, true},
		{"admin manages roles", admin, x, authz.RolesManage, true},
		{"admin mints keys", admin, x, authz.APIKeysManage, true},
		{"member reads members", plain, x, authz.MembersRead, true},
		{"member manages members", plain, x, authz.MembersManage, false},
		{"custom role reads audit", auditor, x, authz.AuditRead, true},
		{"custom role reads members", auditor, x, authz.MembersRead, false},
		{"owner elsewhere", owner, y, authz.OrganizationRead, false},
		{"instance", instance, y, authz.OrganizationDelete, true},
		{"user viewer", user, x, authz.OrganizationRead, false},
		{"no viewer", nil, x, authz.OrganizationRead, false},
	} {
		if got := authz.Can(c.v, c.org, c.p); got != c.want {
			t.Errorf("Can(%s, %s) = %v, want %v", c.name, c.p, got, c.want)
		}
	}
	for _, c := range []struct {
		name string
		v    *viewer.Viewer
		ps   []string
		want bool
	}{
		{"owner grants owner", owner, perms(authz.RoleOwner), true},
		{"admin grants owner", admin, perms(authz.RoleOwner), false},
		{"admin grants admin", admin, perms(authz.RoleAdmin), true},
		{"admin grants *", admin, []string{authz.All}, false},
		{"admin grants organization:delete", admin, []string{authz.OrganizationDelete}, false},
		{"admin grants a product permission", admin, []string{"invoices:read"}, false},
		{"custom role grants its own", auditor, []string{"invoices:read"}, true},
		{"member grants admin", plain, perms(authz.RoleAdmin), false},
		{"instance grants owner", instance, perms(authz.RoleOwner), true},
	} {
		if got := authz.CanGrant(c.v, x, c.ps); got != c.want {
			t.Errorf("CanGrant(%s) = %v, want %v", c.name, got, c.want)
		}
	}
	// Built-in roles mean what BuiltinRoles says, whatever their row stores;
	// custom roles mean their row.
	if got := authz.RolePermissions(authz.RoleOwner, true, []string{authz.MembersRead}); len(got) != 1 || got[0] != authz.All {
		t.Errorf("owner's permissions = %v, want [*]", got)
	}
	if got := authz.RolePermissions(authz.RoleOwner, false, []string{authz.MembersRead}); len(got) != 1 || got[0] != authz.MembersRead {
		t.Errorf("a custom role keyed owner = %v, want its row", got)
	}
}
