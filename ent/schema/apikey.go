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

// APIKey authenticates a server calling the GraphQL API. The secret is shown
// once at creation; only its SHA-256 is stored. A key scoped to an
// organization (scope org:<id>) belongs to that organization.
type APIKey struct{ ent.Schema }

// Mixin implements ent.Schema.
func (APIKey) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("key"), TimeMixin{}}
}

// Fields implements ent.Schema.
func (APIKey) Fields() []ent.Field {
	return []ent.Field{
		field.String("organization_id").GoType(pulid.ID("")).Optional().Immutable(),
		field.String("name").NotEmpty().MaxLen(200),
		field.String("prefix").Unique().NotEmpty().Immutable().
			Comment("public, non-secret start of the key, shown in lists and used for lookup"),
		field.String("secret_hash").NotEmpty().Sensitive().Immutable(),
		field.Strings("scopes").Optional().Immutable(),
		field.String("created_by").GoType(pulid.ID("")).Optional().Immutable().
			Annotations(entgql.Skip(entgql.SkipWhereInput)).
			Comment("the user who minted the key with an admin token or a key of their own; the key acts with that user's current permissions and stops working when they lose apikeys:manage. Empty for keys minted by an instance-wide caller"),
		field.Time("last_used_at").Optional().Nillable(),
		field.Time("revoked_at").Optional().Nillable(),
	}
}

// Edges implements ent.Schema.
func (APIKey) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("organization", Organization.Type).Ref("api_keys").
			Field("organization_id").Unique().Immutable(),
	}
}

// Indexes implements ent.Schema.
func (APIKey) Indexes() []ent.Index {
	// An organization's API keys page by id, and deleting the organization
	// finds them for ON DELETE CASCADE without scanning the table.
	return []ent.Index{index.Fields("organization_id", "id")}
}

// Annotations implements ent.Schema.
func (APIKey) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// Policy implements ent.Schema: the authorizer decides every read and write.
func (APIKey) Policy() ent.Policy { return authz.Policy() }
