package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/gatehouse-id/gatehouse/tenants/authz"

	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
)

// Connection is one organization's upstream identity provider, spoken to over
// SAML 2.0 or OpenID Connect. Protocol settings arrive with federation.
type Connection struct{ ent.Schema }

// Mixin implements ent.Schema.
func (Connection) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("conn"), TimeMixin{}}
}

// Fields implements ent.Schema.
func (Connection) Fields() []ent.Field {
	return []ent.Field{
		orgIDField(),
		field.Enum("protocol").Values("SAML", "OIDC").Immutable(),
		field.String("name").NotEmpty().MaxLen(200).
			Annotations(entgql.OrderField("NAME")),
		field.Enum("state").Values("DRAFT", "ACTIVE", "INACTIVE").Default("DRAFT"),
	}
}

// Edges implements ent.Schema.
func (Connection) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("organization", Organization.Type).Ref("connections").
			Field("organization_id").Unique().Required().Immutable(),
	}
}

// Indexes implements ent.Schema.
func (Connection) Indexes() []ent.Index {
	// An organization's connections page by id, and deleting the organization
	// finds them for ON DELETE CASCADE without scanning the table.
	return []ent.Index{index.Fields("organization_id", "id")}
}

// Annotations implements ent.Schema.
func (Connection) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// Policy implements ent.Schema: the authorizer decides every read and write.
func (Connection) Policy() ent.Policy { return authz.Policy() }
