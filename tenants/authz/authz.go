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
		Mutation: privacy.MutationPolicy{privacy.MutationRuleFunc(checkWrite), privacy.FilterFunc(filterWrites)},
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

// filterReads narrows every query to the rows the viewer may see.
func filterReads(ctx context.Context, f privacy.Filter) error {
	v := viewer.FromContext(ctx)
	switch {
	case v == nil:
		return privacy.Denyf("%w", ErrNoViewer)
	case v.Unrestricted():
		return privacy.Allow
	case v.Kind == viewer.Organization:
		return filterOrganizationScope(v.Organizations, f)
	case v.Kind == viewer.User:
		return filterUserScope(v.UserID, f)
	}
	return privacy.Denyf("unknown viewer kind %s", v.Kind)
}

// filterOrganizationScope restricts f to the organizations in orgs.
func filterOrganizationScope(orgs []pulid.ID, f privacy.Filter) error {
	if len(orgs) == 0 {
		return privacy.Denyf("viewer has no organizations")
	}
	inScope := entql.FieldIn("organization_id", orgValues(orgs)...)
	switch f.(type) {
	case *gen.OrganizationFilter:
		f.Where(entql.FieldIn("id", orgValues(orgs)...))
	case *gen.MembershipFilter, *gen.RoleFilter, *gen.DomainFilter,
		*gen.ConnectionFilter, *gen.OrganizationPolicyFilter,
		*gen.AuditEventFilter, *gen.APIKeyFilter:
		f.Where(inScope)
	case *gen.UserFilter:
		f.Where(entql.HasEdgeWith("memberships", inScope))
	default:
		// Applications and anything added later without a rule here are
		// instance-level: an organization viewer never sees them.
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
	if v.Kind != viewer.Organization {
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
		// it to the viewer's organization in the same transaction) and may
		// change only users it fully owns (see filterWrites).
	default:
		if !m.Op().Is(ent.OpCreate) {
			return privacy.Skip
		}
		org, ok := m.Field("organization_id")
		id, _ := org.(pulid.ID)
		if !ok || !v.CanAccessOrganization(id) {
			return privacy.Denyf("%s outside the viewer's organizations", m.Type())
		}
	}
	return privacy.Skip
}

// filterWrites narrows updates and deletes to rows the viewer owns. For
// users, that means every membership of the user is in the viewer's
// organizations: changing a user who also belongs to another organization
// would reach into that organization.
func filterWrites(ctx context.Context, f privacy.Filter) error {
	v := viewer.FromContext(ctx)
	if v == nil {
		return privacy.Denyf("%w", ErrNoViewer)
	}
	if v.Unrestricted() {
		return privacy.Allow
	}
	if err := filterOrganizationScope(v.Organizations, f); !errors.Is(err, privacy.Skip) {
		return err
	}
	if _, ok := f.(*gen.UserFilter); ok {
		outside := entql.FieldNotIn("organization_id", orgValues(v.Organizations)...)
		f.Where(entql.Not(entql.HasEdgeWith("memberships", outside)))
	}
	return privacy.Allow
}
