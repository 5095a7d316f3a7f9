package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/tenants/authz"
)

// portalIntents are what an admin portal link may be for: setting up an
// SSO connection, or verifying a domain. The intent bounds the
// permissions of the portal session the link starts.
var portalIntents = []string{"SSO", "DOMAIN_VERIFICATION"}

// AdminPortalLink is a link an organization's administrator (or the SaaS
// product, with its API key) hands to the customer's IT admin: opening it
// and confirming starts a portal session (PortalSession). Only the token's
// hash is kept; the link is single use (used_at is set by one conditional
// UPDATE) and short-lived. Read and written as System by tenants only.
type AdminPortalLink struct{ ent.Schema }

// Mixin implements ent.Schema.
func (AdminPortalLink) Mixin() []ent.Mixin { return []ent.Mixin{pulid.MixinWithPrefix("apl")} }

// Fields implements ent.Schema.
func (AdminPortalLink) Fields() []ent.Field {
	return []ent.Field{
		orgIDField(),
		field.Enum("intent").Values(portalIntents...).Immutable(),
		field.String("token_hash").Unique().NotEmpty().Immutable().Sensitive(),
		field.String("created_by").NotEmpty().Immutable().Comment("the audit actor who created the link"),
		field.String("return_url").Optional().Immutable().Comment("where the portal's last step sends the IT admin back"),
		field.Time("created_at").Default(time.Now).Immutable(),
		field.Time("expires_at").Immutable(),
		field.Time("used_at").Optional().Nillable(),
	}
}

// Indexes implements ent.Schema.
func (AdminPortalLink) Indexes() []ent.Index {
	return []ent.Index{index.Fields("organization_id"), index.Fields("expires_at")}
}

// Annotations implements ent.Schema.
func (AdminPortalLink) Annotations() []schema.Annotation { return []schema.Annotation{entgql.Skip()} }

// Policy implements ent.Schema.
func (AdminPortalLink) Policy() ent.Policy { return authz.Policy() }

// PortalSession is the customer IT admin's session in the admin portal,
// started by spending an AdminPortalLink: the browser holds the token in
// an HttpOnly cookie, and /graphql turns it into a Portal viewer limited
// to the organization and to what the intent needs. It ends 1 hour after
// it began, or 15 minutes after its last use.
type PortalSession struct{ ent.Schema }

// Mixin implements ent.Schema.
func (PortalSession) Mixin() []ent.Mixin { return []ent.Mixin{pulid.MixinWithPrefix("pss")} }

// Fields implements ent.Schema.
func (PortalSession) Fields() []ent.Field {
	return []ent.Field{
		orgIDField(),
		field.Enum("intent").Values(portalIntents...).Immutable(),
		field.String("token_hash").Unique().NotEmpty().Immutable().Sensitive(),
		field.String("link_id").GoType(pulid.ID("")).NotEmpty().Immutable().Comment("the link that started it"),
		field.String("return_url").Optional().Immutable(),
		field.Time("created_at").Default(time.Now).Immutable(),
		field.Time("expires_at").Immutable().Comment("absolute end"),
		field.Time("last_used_at"),
	}
}

// Indexes implements ent.Schema.
func (PortalSession) Indexes() []ent.Index {
	return []ent.Index{index.Fields("organization_id"), index.Fields("expires_at")}
}

// Annotations implements ent.Schema.
func (PortalSession) Annotations() []schema.Annotation { return []schema.Annotation{entgql.Skip()} }

// Policy implements ent.Schema.
func (PortalSession) Policy() ent.Policy { return authz.Policy() }
