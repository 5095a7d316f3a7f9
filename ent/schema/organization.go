package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"github.com/gatehouse-id/gatehouse/tenants/authz"

	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
)

// Organization is one customer of the SaaS product: it owns memberships,
// roles, domains, connections and one policy. Deleting it deletes what it
// owns (ON DELETE CASCADE); its audit events stay.
type Organization struct{ ent.Schema }

// Mixin implements ent.Schema.
func (Organization) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("org"), TimeMixin{}}
}

// Fields implements ent.Schema.
func (Organization) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(200).
			Annotations(entgql.OrderField("NAME")),
		field.String("slug").Unique().NotEmpty().MaxLen(64).
			Annotations(entgql.OrderField("SLUG")),
		field.String("logo_url").Optional().MaxLen(2048),
		field.String("primary_color").Optional().MaxLen(7),
		field.JSON("metadata", map[string]any{}).Optional(),
	}
}

// Edges implements ent.Schema.
func (Organization) Edges() []ent.Edge {
	cascade := entsql.OnDelete(entsql.Cascade)
	return []ent.Edge{
		edge.To("memberships", Membership.Type).Annotations(cascade, entgql.RelayConnection()),
		edge.To("roles", Role.Type).Annotations(cascade),
		edge.To("domains", Domain.Type).Annotations(cascade, entgql.RelayConnection()),
		edge.To("connections", Connection.Type).Annotations(cascade, entgql.RelayConnection()),
		edge.To("policy", OrganizationPolicy.Type).Unique().Annotations(cascade),
		edge.To("api_keys", APIKey.Type).Annotations(cascade, entgql.Skip()),
	}
}

// Annotations implements ent.Schema.
func (Organization) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.QueryField(), entgql.RelayConnection()}
}

// Policy implements ent.Schema: the authorizer decides every read and write.
func (Organization) Policy() ent.Policy { return authz.Policy() }
