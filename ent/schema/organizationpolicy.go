package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"github.com/gatehouse-id/gatehouse/tenants/authz"

	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
)

// OrganizationPolicy is an organization's sign-in rules; every organization has exactly one.
type OrganizationPolicy struct{ ent.Schema }

// Mixin implements ent.Schema.
func (OrganizationPolicy) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("pol"), TimeMixin{}}
}

// Fields implements ent.Schema.
func (OrganizationPolicy) Fields() []ent.Field {
	return []ent.Field{
		field.String("organization_id").GoType(pulid.ID("")).Immutable().NotEmpty().Unique(),
		field.Bool("mfa_required").Default(false),
		field.Strings("allowed_login_methods").
			Annotations(entgql.Skip(entgql.SkipType)). // typed as [LoginMethod!]! in graph/schema.graphqls
			Default([]string{"PASSWORD", "PASSKEY", "MAGIC_LINK", "SSO"}),
		field.Int("session_absolute_lifetime_seconds").Positive().Default(7 * 24 * 3600),
		field.Int("session_idle_lifetime_seconds").Positive().Default(24 * 3600),
		field.Int("password_min_length").Range(8, 128).Default(8).
			Comment("NIST SP 800-63B: at least 8; no composition rules, breached passwords refused"),
		field.Bool("enforce_sso").Default(false),
	}
}

// Edges implements ent.Schema.
func (OrganizationPolicy) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("organization", Organization.Type).Ref("policy").
			Field("organization_id").Unique().Required().Immutable(),
	}
}

// Policy implements ent.Schema: the authorizer decides every read and write.
func (OrganizationPolicy) Policy() ent.Policy { return authz.Policy() }
