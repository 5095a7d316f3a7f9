// Package viewer carries the authenticated caller (the principal) through a
// request's context. The data layer's privacy rules read it to decide which
// rows the caller may see or change; nothing else grants access.
package viewer

import (
	"context"
	"slices"

	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
)

// Kind says how far a viewer's authority reaches.
type Kind int

const (
	// Instance callers (an unscoped API key, the CLI) may read and change
	// everything in the instance.
	Instance Kind = iota + 1
	// Organization callers (an API key with org:<id> scopes, later an
	// organization admin's token) may read and change only their
	// organizations and what those organizations own.
	Organization
	// User callers (an end user's token) see only themselves: their profile,
	// memberships and the organizations they belong to.
	User
	// System is Gatehouse itself acting outside any caller's request (API key
	// authentication, migrations, the CLI's bootstrap). Never derived from
	// request input.
	System
	// Portal is a customer IT admin in the admin portal (a portal session
	// started from an admin portal link): one organization, with only the
	// permissions the link's intent needs. The authorizer treats it as an
	// Organization viewer over that organization; audit events name it
	// apart.
	Portal
)

func (k Kind) String() string {
	switch k {
	case Instance:
		return "instance"
	case Organization:
		return "organization"
	case User:
		return "user"
	case System:
		return "system"
	case Portal:
		return "portal"
	}
	return "unknown"
}

// Viewer is the authenticated principal of one request.
type Viewer struct {
	Kind Kind
	// Actor identifies the caller in audit events: an API key id, a user id
	// or "system".
	Actor string
	// Organizations lists the organizations an Organization viewer may act
	// on. Empty for every other kind.
	Organizations []pulid.ID
	// Permissions are, per organization in Organizations, what the viewer
	// may do there (tenants/authz decides what each permission allows). An
	// organization's own API key holds "*" there; a user's admin token and a
	// key the user minted hold the user's current roles' permissions.
	Permissions map[pulid.ID][]string
	// UserID is the end user behind a User viewer, or behind an
	// Organization viewer made from that user's admin token.
	UserID pulid.ID
	// SessionID is the hosted-page session the user's access token was
	// issued from, when known: the one a session list marks as current.
	SessionID pulid.ID
	// OnBehalfOf is the user whose permissions bound an Organization viewer:
	// the user of an admin token, or the user who minted the API key. Empty
	// for keys minted by an instance-wide caller.
	OnBehalfOf pulid.ID
	// IP and UserAgent describe the request, for audit events.
	IP        string
	UserAgent string
	RequestID string
}

// CanAccessOrganization reports whether v may act on organization id.
func (v *Viewer) CanAccessOrganization(id pulid.ID) bool {
	switch v.Kind {
	case Instance, System:
		return true
	case Organization, Portal:
		return slices.Contains(v.Organizations, id)
	}
	return false
}

// OrganizationScoped reports whether v acts within listed organizations
// with per-organization permissions: an Organization or a Portal viewer.
func (v *Viewer) OrganizationScoped() bool { return v.Kind == Organization || v.Kind == Portal }

// ScopedTo returns an Organization viewer over orgs holding every
// permission there, as an organization's own API key does.
func ScopedTo(actor string, orgs ...pulid.ID) *Viewer {
	v := &Viewer{Kind: Organization, Actor: actor, Organizations: orgs, Permissions: map[pulid.ID][]string{}}
	for _, o := range orgs {
		v.Permissions[o] = []string{"*"}
	}
	return v
}

// Unrestricted reports whether v sees the whole instance.
func (v *Viewer) Unrestricted() bool { return v.Kind == Instance || v.Kind == System }

type ctxKey struct{}

// NewContext returns ctx carrying v.
func NewContext(ctx context.Context, v *Viewer) context.Context {
	return context.WithValue(ctx, ctxKey{}, v)
}

// FromContext returns the viewer in ctx, or nil when there is none.
func FromContext(ctx context.Context) *Viewer {
	v, _ := ctx.Value(ctxKey{}).(*Viewer)
	return v
}

// SystemContext returns ctx acting as Gatehouse itself. Use it only for work
// that no caller's input selects (authenticating a credential, bootstrapping).
func SystemContext(ctx context.Context) context.Context {
	return NewContext(ctx, &Viewer{Kind: System, Actor: "system"})
}
