package graph

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/membership"
	"github.com/gatehouse-id/gatehouse/ent/privacy"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// maxNodes bounds nodes(ids:), like the page size of connections.
const maxNodes = 100

// node resolves a global id. Objects that do not exist, that another
// organization owns, or whose type the viewer may not see all resolve to
// null alike, so ids cannot be probed (SECURITY-CHECKLIST MT-01).
func (r *Resolver) node(ctx context.Context, id pulid.ID) (ent.Noder, error) {
	n, err := r.client().Noder(ctx, id, ent.WithNodeType(ent.IDToType))
	if ent.IsNotFound(err) || errors.Is(err, privacy.Deny) {
		return nil, nil
	}
	return n, err
}

func (r *Resolver) nodes(ctx context.Context, ids []pulid.ID) ([]ent.Noder, error) {
	if len(ids) > maxNodes {
		return nil, &tenants.InputError{Field: "ids", Reason: fmt.Sprintf("must list at most %d ids", maxNodes)}
	}
	out := make([]ent.Noder, len(ids))
	for i, id := range ids {
		n, err := r.node(ctx, id)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

// nullIfNotFound turns "not found" into a null result, the GraphQL
// convention for single-object lookups.
func nullIfNotFound[T any](v *T, err error) (*T, error) {
	if ent.IsNotFound(err) || errors.Is(err, tenants.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return v, nil
}

// exactlyOne checks that exactly one of two alternative arguments is set.
func exactlyOne(a string, hasA bool, b string, hasB bool) error {
	if hasA == hasB {
		return &tenants.InputError{Field: a, Reason: fmt.Sprintf("give exactly one of %s and %s", a, b)}
	}
	return nil
}

// normalizeUserWhere lower-cases email filters, since emails are stored
// normalized.
func normalizeUserWhere(w *ent.UserWhereInput) {
	if w == nil {
		return
	}
	for _, p := range []*string{w.Email, w.EmailNEQ, w.EmailHasPrefix, w.EmailHasSuffix, w.EmailContains} {
		if p != nil {
			*p = strings.ToLower(strings.TrimSpace(*p))
		}
	}
	for i := range w.EmailIn {
		w.EmailIn[i] = strings.ToLower(strings.TrimSpace(w.EmailIn[i]))
	}
	for _, sub := range w.And {
		normalizeUserWhere(sub)
	}
	for _, sub := range w.Or {
		normalizeUserWhere(sub)
	}
	normalizeUserWhere(w.Not)
}

func stringsAs[T ~string](in []string) []T {
	out := make([]T, len(in))
	for i, s := range in {
		out[i] = T(s)
	}
	return out
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// nonEmptyID is id, or null when it is empty (a funnel step outside any
// organization or application).
func nonEmptyID(id pulid.ID) *pulid.ID {
	if id == "" {
		return nil
	}
	return &id
}

// hiddenInvitee reports whether m is an invitation whose user the viewer
// may not see: an organization-scoped caller learns who an invited address
// belongs to (and so whether it was registered) only once the user accepts.
func hiddenInvitee(ctx context.Context, m *ent.Membership) bool {
	if m.Status != membership.StatusINVITED {
		return false
	}
	v := viewer.FromContext(ctx)
	return v == nil || !(v.Unrestricted() || v.UserID == m.UserID)
}
