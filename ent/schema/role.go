package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/gatehouse-id/gatehouse/tenants/authz"

	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
)

// Role is a named set of permissions within one organization. Every
// organization starts with the built-in roles owner, admin and member.
type Role struct{ ent.Schema }

// Mixin implements ent.Schema.
func (Role) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("rol"), TimeMixin{}}
}

// Fields implements ent.Schema.
func (Role) Fields() []ent.Field {
	return []ent.Field{
		orgIDField(),
		field.String("key").NotEmpty().MaxLen(64).Immutable().
			Comment("stable machine name, unique within the organization (owner, admin, billing-viewer)"),
		field.String("name").NotEmpty().MaxLen(200),
		field.String("description").Optional().MaxLen(1000),
		field.Strings("permissions").Optional(),
		field.Bool("builtin").Default(false).Immutable(),
	}
}

// Edges implements ent.Schema.
func (Role) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("organization", Organization.Type).Ref("roles").
			Field("organization_id").Unique().Required().Immutable(),
		edge.From("memberships", Membership.Type).Ref("roles").
			Annotations(entgql.Skip()),
	}
}

// Indexes implements ent.Schema.
func (Role) Indexes() []ent.Index {
	return []ent.Index{index.Fields("organization_id", "key").Unique()}
}

// Policy implements ent.Schema: the authorizer decides every read and write.
func (Role) Policy() ent.Policy { return authz.Policy() }
