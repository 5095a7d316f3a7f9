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

// Membership links one user to one organization, with roles.
type Membership struct{ ent.Schema }

// Mixin implements ent.Schema.
func (Membership) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("mem"), TimeMixin{}}
}

// Fields implements ent.Schema.
func (Membership) Fields() []ent.Field {
	return []ent.Field{
		orgIDField(),
		// userID is exposed in graph/schema.graphqls: an invited user stays
		// private to an organization-scoped caller until accepted (the user
		// edge answers NOT_FOUND to it, since authz hides the user's row).
		field.String("user_id").GoType(pulid.ID("")).Immutable().NotEmpty().
			Annotations(entgql.Skip(entgql.SkipType)),
		field.Enum("status").Values("INVITED", "ACTIVE", "SUSPENDED").Default("ACTIVE"),
	}
}

// Edges implements ent.Schema.
func (Membership) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("organization", Organization.Type).Ref("memberships").
			Field("organization_id").Unique().Required().Immutable(),
		edge.From("user", User.Type).Ref("memberships").
			Field("user_id").Unique().Required().Immutable(),
		// The join table's primary key is (membership_id, role_id); role_id
		// gets its own index for a role's memberships and for ON DELETE
		// CASCADE when the role is deleted.
		edge.To("roles", Role.Type).Annotations(JoinIndex("role_id")),
	}
}

// Indexes implements ent.Schema.
func (Membership) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("user_id", "organization_id").Unique(),
		// Listing an organization's members in id order is the hot path.
		index.Fields("organization_id", "id"),
	}
}

// Annotations implements ent.Schema.
func (Membership) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// Policy implements ent.Schema: the authorizer decides every read and write.
func (Membership) Policy() ent.Policy { return authz.Policy() }
