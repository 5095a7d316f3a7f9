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

// User is a person, global to the instance; organizations reach users through
// memberships. Email is stored normalized to lower case.
type User struct{ ent.Schema }

// Mixin implements ent.Schema.
func (User) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("usr"), TimeMixin{}}
}

// Fields implements ent.Schema.
func (User) Fields() []ent.Field {
	return []ent.Field{
		field.String("email").Unique().NotEmpty().MaxLen(320).
			Annotations(entgql.OrderField("EMAIL")),
		field.Bool("email_verified").Default(false),
		field.String("name").Optional().MaxLen(200).
			Annotations(entgql.OrderField("NAME")),
		field.String("given_name").Optional().MaxLen(100),
		field.String("family_name").Optional().MaxLen(100),
		field.String("locale").Optional().MaxLen(35),
		field.String("picture").Optional().MaxLen(2048),
		field.Enum("status").Values("ACTIVE", "DISABLED").Default("ACTIVE"),
		field.Time("last_login_at").Optional().Nillable().
			Annotations(entgql.OrderField("LAST_LOGIN_AT")),
		field.JSON("metadata", map[string]any{}).Optional(),
		field.String("password_hash").Optional().Sensitive().
			Comment("argon2id PHC string, or an imported bcrypt hash until the next sign-in upgrades it; empty when the user has no password"),
	}
}

// Edges implements ent.Schema.
func (User) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("memberships", Membership.Type).
			// Not a where-input edge: filtering users by memberships would let
			// one organization probe the user's memberships in others.
			Annotations(entsql.OnDelete(entsql.Cascade), entgql.RelayConnection(),
				entgql.Skip(entgql.SkipWhereInput)),
		// Credentials: never in GraphQL, deleted with the user.
		edge.To("passkeys", Passkey.Type).Annotations(entsql.OnDelete(entsql.Cascade), entgql.Skip()),
		edge.To("totp_credentials", TOTPCredential.Type).Annotations(entsql.OnDelete(entsql.Cascade), entgql.Skip()),
		edge.To("recovery_codes", RecoveryCode.Type).Annotations(entsql.OnDelete(entsql.Cascade), entgql.Skip()),
		edge.To("federated_identities", FederatedIdentity.Type).Annotations(entsql.OnDelete(entsql.Cascade), entgql.Skip()),
	}
}

// Annotations implements ent.Schema.
func (User) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.QueryField(), entgql.RelayConnection()}
}

// Policy implements ent.Schema: the authorizer decides every read and write.
func (User) Policy() ent.Policy { return authz.Policy() }
