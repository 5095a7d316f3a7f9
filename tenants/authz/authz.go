// Package authz is the authorizer: the one place that decides which rows a
// viewer may read and change. Every ent schema installs Policy, so tenant
// isolation is enforced where data is read and written — by id, by list, by
// filter, by nested edge and by mutation — and no resolver has to remember it.
//
// The rules, by viewer kind (tenants/viewer):
//   - no viewer: denied;
//   - Instance and System: everything;
//   - Organization: its organizations and what they own; users who are
//     members of them; never applications or instance-wide API keys;
//   - User: their own profile, memberships and organizations, read-only.
//
// Audit events are append-only for everyone.
package authz

import (
	"context"
	"errors"
	"fmt"

	"entgo.io/ent"
	"entgo.io/ent/entql"

	gen "github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/privacy"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// Policy is the privacy policy of every entity.
func Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{privacy.FilterFunc(filterReads)},
		Mutation: privacy.MutationPolicy{privacy.MutationRuleFunc(checkWrite), privacy.MutationRuleFunc(filterWrites)},
	}
}

// ErrNoViewer is returned (wrapped in a privacy denial) when a query runs
// without an authenticated viewer in its context.
var ErrNoViewer = fmt.Errorf("no viewer in context")

func orgValues(ids []pulid.ID) []any {
	vs := make([]any, len(ids))
	for i, id := range ids {
		vs[i] = string(id)
	}
	return vs
}

// fieldIn is field IN orgs; with no orgs, a predicate no row matches
// (entql writes an empty IN list as "IN ()", which PostgreSQL refuses).
func fieldIn(field string, orgs []pulid.ID) entql.P {
	if len(orgs) == 0 {
		return entql.FieldNil("id")
	}
	return entql.FieldIn(field, orgValues(orgs)...)
}

// filterReads narrows every query to the rows the viewer may see.
func filterReads(ctx context.Context, f privacy.Filter) error {
	v := viewer.FromContext(ctx)
	switch {
	case v == nil:
		return privacy.Denyf("%w", ErrNoViewer)
	case v.Unrestricted():
		return privacy.Allow
	case v.OrganizationScoped():
		return filterOrganizationReads(v, f)
	case v.Kind == viewer.User:
		return filterUserScope(v.UserID, f)
	}
	return privacy.Denyf("unknown viewer kind %s", v.Kind)
}

// readPermission is the permission an Organization viewer needs, in a
// row's organization, to read a row of f's type.
func readPermission(f privacy.Filter) (Permission, bool) {
	switch f.(type) {
	case *gen.OrganizationFilter, *gen.DomainFilter, *gen.ConnectionFilter, *gen.OrganizationPolicyFilter:
		return OrganizationRead, true
	case *gen.MembershipFilter, *gen.RoleFilter, *gen.UserFilter:
		return MembersRead, true
	case *gen.AuditEventFilter, *gen.FunnelCountFilter:
		return AuditRead, true
	case *gen.APIKeyFilter:
		return APIKeysManage, true
	}
	return "", false
}

// writePermission is the permission an Organization viewer needs, in a
// row's organization, to make mutation m. Users are global: changing one
// needs members:manage in every organization the user belongs to.
func writePermission(m gen.Mutation) (Permission, bool) {
	switch m.(type) {
	case *gen.OrganizationMutation:
		if m.Op().Is(ent.OpDelete | ent.OpDeleteOne) {
			return OrganizationDelete, true
		}
		return OrganizationUpdate, true
	case *gen.MembershipMutation, *gen.UserMutation:
		return MembersManage, true
	case *gen.RoleMutation:
		return RolesManage, true
	case *gen.DomainMutation:
		return DomainsManage, true
	case *gen.ConnectionMutation:
		return ConnectionsManage, true
	case *gen.OrganizationPolicyMutation:
		return PolicyManage, true
	case *gen.APIKeyMutation:
		return APIKeysManage, true
	}
	return "", false
}

// filterOrganizationReads restricts f to the rows of the organizations
// where v holds f's read permission.
func filterOrganizationReads(v *viewer.Viewer, f privacy.Filter) error {
	p, ok := readPermission(f)
	if !ok {
		// Applications and anything added later without a rule here are
		// instance-level: an organization viewer never sees them.
		return privacy.Denyf("%T is not visible to an organization viewer", f)
	}
	return filterOrganizationScope(orgsWith(v, p), f)
}

// filterOrganizationScope restricts f to the organizations in orgs. A user
// is in an organization's scope once a membership there is accepted: an
// invited user's account stays private until the user accepts.
func filterOrganizationScope(orgs []pulid.ID, f privacy.Filter) error {
	inScope := fieldIn("organization_id", orgs)
	switch f.(type) {
	case *gen.OrganizationFilter:
		f.Where(fieldIn("id", orgs))
	case *gen.MembershipFilter, *gen.RoleFilter, *gen.DomainFilter,
		*gen.ConnectionFilter, *gen.OrganizationPolicyFilter,
		*gen.AuditEventFilter, *gen.APIKeyFilter, *gen.FunnelCountFilter:
		f.Where(inScope)
	case *gen.UserFilter:
		f.Where(entql.HasEdgeWith("memberships", entql.And(inScope, entql.FieldNEQ("status", "INVITED"))))
	default:
		return privacy.Denyf("%T is not visible to an organization viewer", f)
	}
	return privacy.Skip
}

// filterUserScope restricts f to what an end user may read about themselves.
func filterUserScope(user pulid.ID, f privacy.Filter) error {
	if user == "" {
		return privacy.Denyf("user viewer without a user id")
	}
	self := string(user)
	switch f.(type) {
	case *gen.UserFilter:
		f.Where(entql.FieldEQ("id", self))
	case *gen.MembershipFilter:
		f.Where(entql.FieldEQ("user_id", self))
	case *gen.OrganizationFilter:
		f.Where(entql.HasEdgeWith("memberships", entql.FieldEQ("user_id", self)))
	case *gen.RoleFilter:
		f.Where(entql.HasEdgeWith("memberships", entql.FieldEQ("user_id", self)))
	default:
		return privacy.Denyf("%T is not visible to a user viewer", f)
	}
	return privacy.Skip
}

// checkWrite decides creates, which filters cannot narrow, and refuses the
// writes no viewer below Instance may make.
func checkWrite(ctx context.Context, m gen.Mutation) error {
	v := viewer.FromContext(ctx)
	if v == nil {
		return privacy.Denyf("%w", ErrNoViewer)
	}
	if _, ok := m.(*gen.AuditEventMutation); ok {
		if m.Op().Is(ent.OpCreate) {
			return privacy.Allow
		}
		return privacy.Denyf("audit events are append-only")
	}
	if v.Unrestricted() {
		return privacy.Allow
	}
	if !v.OrganizationScoped() {
		return privacy.Denyf("%s viewers may not change %s", v.Kind, m.Type())
	}
	switch m := m.(type) {
	case *gen.OrganizationMutation:
		if m.Op().Is(ent.OpCreate) {
			return privacy.Denyf("organization viewers may not create organizations")
		}
	case *gen.ApplicationMutation:
		return privacy.Denyf("applications are instance-level")
	case *gen.UserMutation:
		// Users are global; a scoped viewer may create one (the service adds
		// it to the viewer's organization in the same transaction, and
		// decides what the viewer may assert about it) and may change only
		// users it fully owns (see filterWrites).
		if m.Op().Is(ent.OpCreate) && len(orgsWith(v, MembersManage)) == 0 {
			return privacy.Denyf("creating users needs %s", MembersManage)
		}
	default:
		if !m.Op().Is(ent.OpCreate) {
			return privacy.Skip
		}
		p, ok := writePermission(m)
		org, set := m.Field("organization_id")
		id, _ := org.(pulid.ID)
		if !ok || !set || !Can(v, id, p) {
			return privacy.Denyf("%s outside the viewer's organizations or permissions", m.Type())
		}
	}
	return privacy.Skip
}

// filterWrites narrows updates and deletes to rows in the organizations
// where the viewer holds the mutation's permission. For users, that means
// the user has an accepted membership there and every membership of the
// user is in such an organization: changing a user who also belongs to
// another organization would reach into that organization.
func filterWrites(ctx context.Context, m gen.Mutation) error {
	v := viewer.FromContext(ctx)
	if v == nil {
		return privacy.Denyf("%w", ErrNoViewer)
	}
	if v.Unrestricted() {
		return privacy.Allow
	}
	p, ok := writePermission(m)
	if !ok {
		return privacy.Denyf("%s is not writable by an organization viewer", m.Type())
	}
	orgs := orgsWith(v, p)
	return privacy.FilterFunc(func(_ context.Context, f privacy.Filter) error {
		if err := filterOrganizationScope(orgs, f); !errors.Is(err, privacy.Skip) {
			return err
		}
		if _, ok := f.(*gen.UserFilter); ok {
			outside := entql.Not(fieldIn("organization_id", orgs))
			f.Where(entql.Not(entql.HasEdgeWith("memberships", outside)))
		}
		return privacy.Allow
	}).EvalMutation(ctx, m)
}
