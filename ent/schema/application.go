package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"github.com/gatehouse-id/gatehouse/tenants/authz"

	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
)

// Application is an OAuth 2.1 / OpenID Connect client of the instance: the
// SaaS product's web app, SPA, native app or backend service.
type Application struct{ ent.Schema }

// Mixin implements ent.Schema.
func (Application) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("app"), TimeMixin{}}
}

// Fields implements ent.Schema.
func (Application) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(200).
			Annotations(entgql.OrderField("NAME")),
		field.Enum("type").Values("WEB", "SPA", "NATIVE", "MACHINE").Immutable(),
		field.String("client_id").Unique().NotEmpty().Immutable(),
		field.String("secret_hash").Optional().Sensitive().
			Comment("SHA-256 of the client secret; empty for public clients"),
		field.Strings("redirect_uris").Optional().
			Annotations(entgql.Skip(entgql.SkipType)), // exposed as redirectURIs in graph/schema.graphqls
		field.Strings("post_logout_redirect_uris").Optional().
			Annotations(entgql.Skip(entgql.SkipType)), // exposed as postLogoutRedirectURIs in graph/schema.graphqls
		field.Strings("grant_types").Optional().
			Annotations(entgql.Skip(entgql.SkipType)), // exposed as grantTypes in graph/schema.graphqls
		field.Int("access_token_lifetime_seconds").Positive().Default(900),
		field.Int("id_token_lifetime_seconds").Positive().Default(3600),
		field.Int("refresh_token_lifetime_seconds").Positive().Default(30 * 24 * 3600),
		field.Int("refresh_token_idle_lifetime_seconds").Positive().Default(7 * 24 * 3600),
		field.Enum("access_token_signing_algorithm").Values(signingAlgorithms...).Default("RS256"),
		field.Enum("id_token_signing_algorithm").Values(signingAlgorithms...).Default("RS256"),
		field.Enum("token_endpoint_auth_method").
			Values("CLIENT_SECRET_BASIC", "CLIENT_SECRET_POST", "PRIVATE_KEY_JWT", "NONE").
			Default("CLIENT_SECRET_BASIC"),
		field.JSON("jwks", map[string]any{}).Optional().
			Annotations(entgql.Skip(entgql.SkipType, entgql.SkipWhereInput)).
			Comment("the client's public keys for private_key_jwt (RFC 7523)"),
		field.String("jwks_uri").Optional().MaxLen(2048),
		field.Strings("scopes").Optional().
			Comment("scopes granted to the application: what a MACHINE application may request with client credentials; gatehouse:admin lets a user-facing application ask for admin tokens"),
		field.Bool("first_party").Default(true).
			Comment("first-party applications skip the consent screen"),
		field.Strings("profile_fields").Optional().
			Comment("profile claims the application needs (name, given_name, family_name): a user without one is asked for it at sign-in, not at sign-up (progressive profile)"),
	}
}

// Annotations implements ent.Schema.
func (Application) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.QueryField(), entgql.RelayConnection()}
}

// Policy implements ent.Schema: the authorizer decides every read and write.
func (Application) Policy() ent.Policy { return authz.Policy() }
