package authz

import (
	"slices"

	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// Permission is what a role lets its members do in their organization.
// Gatehouse's own permissions are listed below; custom roles may also carry
// the SaaS product's own (invoices:read), which Gatehouse only hands on.
type Permission = string

// Gatehouse's permissions. Each mutation and each read of an organization's
// data needs one of them (see readPermission and writePermission).
const (
	OrganizationRead   Permission = "organization:read"
	OrganizationUpdate Permission = "organization:update"
	OrganizationDelete Permission = "organization:delete"
	MembersRead        Permission = "members:read"
	MembersManage      Permission = "members:manage"
	RolesManage        Permission = "roles:manage"
	DomainsManage      Permission = "domains:manage"
	ConnectionsManage  Permission = "connections:manage"
	PolicyManage       Permission = "policy:manage"
	AuditRead          Permission = "audit:read"
	APIKeysManage      Permission = "apikeys:manage"
	// All is held by owners only: every permission, Gatehouse's and the
	// product's. No custom role may carry it (it is not a valid permission
	// name).
	All Permission = "*"
)

// Built-in role keys. Every organization has these three.
const (
	RoleOwner  = "owner"
	RoleAdmin  = "admin"
	RoleMember = "member"
)

// BuiltinRole is a role every organization gets at creation.
type BuiltinRole struct {
	Key, Name   string
	Permissions []Permission
}

// BuiltinRoles are the one definition of the built-in roles' permissions.
// The permissions stored with a built-in role's row are a copy for
// display; RolePermissions reads these.
var BuiltinRoles = []BuiltinRole{
	{RoleOwner, "Owner", []Permission{All}},
	{RoleAdmin, "Admin", []Permission{OrganizationRead, OrganizationUpdate, MembersRead, MembersManage,
		RolesManage, DomainsManage, ConnectionsManage, PolicyManage, AuditRead, APIKeysManage}},
	{RoleMember, "Member", []Permission{OrganizationRead, MembersRead}},
}

// RolePermissions returns the permissions a role grants: a built-in role's
// from BuiltinRoles (whatever its row says), a custom role's from its row.
func RolePermissions(key string, builtin bool, stored []string) []Permission {
	if builtin {
		for _, r := range BuiltinRoles {
			if r.Key == key {
				return r.Permissions
			}
		}
		return nil
	}
	return stored
}

// Covers reports whether held includes every permission in wanted. All
// covers anything; nothing but All covers All.
func Covers(held, wanted []Permission) bool {
	if slices.Contains(held, All) {
		return true
	}
	for _, p := range wanted {
		if !slices.Contains(held, p) {
			return false
		}
	}
	return true
}

// Can reports whether v holds permission p in organization org. Instance
// and System viewers hold everything everywhere; an Organization viewer
// holds what its Permissions say for org; User viewers hold nothing.
func Can(v *viewer.Viewer, org pulid.ID, p Permission) bool {
	return CanGrant(v, org, []Permission{p})
}

// CanGrant reports whether v may hand out (or take away, or act upon a
// member holding) the permissions ps in org: only what v itself holds
// there. An admin cannot make anyone owner, nor create a role with
// permissions it lacks, nor touch an owner's account.
func CanGrant(v *viewer.Viewer, org pulid.ID, ps []Permission) bool {
	if v == nil {
		return false
	}
	if v.Unrestricted() {
		return true
	}
	if !v.OrganizationScoped() || !v.CanAccessOrganization(org) {
		return false
	}
	return Covers(v.Permissions[org], ps)
}

// orgsWith lists the organizations where v holds p.
func orgsWith(v *viewer.Viewer, p Permission) []pulid.ID {
	var out []pulid.ID
	for _, o := range v.Organizations {
		if Covers(v.Permissions[o], []Permission{p}) {
			out = append(out, o)
		}
	}
	return out
}
