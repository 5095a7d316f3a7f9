package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/ent/schema/sso"
	"github.com/gatehouse-id/gatehouse/tenants/authz"
)

// Connection is one organization's upstream identity provider, spoken to over
// SAML 2.0 or OpenID Connect. It holds plain values (what the IdP told us and
// what we made for it); the connectors in federation/saml and
// federation/oidc are built from them by the integrator.
type Connection struct{ ent.Schema }

// Mixin implements ent.Schema.
func (Connection) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("conn"), TimeMixin{}}
}

// Fields implements ent.Schema.
func (Connection) Fields() []ent.Field {
	skip := entgql.Skip()
	return []ent.Field{
		orgIDField(),
		field.Enum("protocol").Values("SAML", "OIDC").Immutable(),
		field.String("name").NotEmpty().MaxLen(200).
			Annotations(entgql.OrderField("NAME")),
		field.Enum("state").Values("DRAFT", "ACTIVE", "INACTIVE").Default("DRAFT"),
		field.Enum("preset").
			Values("OKTA", "ENTRA_ID", "GOOGLE_WORKSPACE", "ADFS", "ONELOGIN", "JUMPCLOUD", "GENERIC").
			Default("GENERIC").
			Comment("the IdP product, whose attribute names the mapping defaults to"),

		// SAML: the IdP, as its metadata or an administrator describes it.
		field.String("idp_entity_id").Optional().MaxLen(1024),
		field.String("idp_sso_url").Optional().MaxLen(2048),
		field.String("idp_sso_binding").Optional().MaxLen(100).
			Comment("the SAML binding of idp_sso_url (urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect or HTTP-POST)"),
		field.Strings("idp_certificates").Optional().
			Comment("PEM certificates the IdP signs with; several during a rollover"),
		field.String("idp_metadata_url").Optional().MaxLen(2048),
		field.Time("idp_metadata_refreshed_at").Optional().Nillable(),
		field.Int("idp_metadata_failures").Default(0).NonNegative().
			Comment("refreshes of idp_metadata_url that failed in a row since the last that worked"),
		field.Time("idp_metadata_retry_at").Optional().Nillable().
			Comment("after a failed refresh, when the URL is fetched again (capped exponential backoff)"),
		field.String("idp_metadata_error").Optional().MaxLen(512).
			Comment("why the last refresh failed; empty once one works"),
		field.JSON("sp_keys", []sso.SPKey{}).Optional().Sensitive().
			Comment("the SP's RSA key pairs, private keys sealed; the first signs"),
		field.Bool("allow_idp_initiated").Default(false).
			Comment("accept unsolicited responses (no InResponseTo); off by default: they cannot be bound to a browser"),

		// OIDC: the IdP we are a relying party of.
		field.String("oidc_issuer").Optional().MaxLen(2048),
		field.String("oidc_client_id").Optional().MaxLen(512),
		field.Bytes("oidc_client_secret_sealed").Optional().Sensitive().
			Comment("the client secret, sealed (internal/seal)"),
		field.Strings("oidc_scopes").Optional(),

		// Both: what an upstream identity becomes.
		field.JSON("attribute_mapping", sso.AttributeMapping{}).Optional().Annotations(skip),
		field.String("default_role_id").GoType(pulid.ID("")).Optional().Nillable().
			Comment("the role of members it provisions; nil is the built-in member role"),
		field.JSON("group_role_mappings", []sso.GroupRole{}).Optional().Annotations(skip).
			Comment("upstream group → role of this organization, applied at every sign-in"),
		field.Bool("trust_upstream_amr").Default(false).
			Comment("take the IdP's authentication methods (amr) as proven here"),
	}
}

// Edges implements ent.Schema.
func (Connection) Edges() []ent.Edge {
	cascade := entsql.OnDelete(entsql.Cascade)
	return []ent.Edge{
		edge.From("organization", Organization.Type).Ref("connections").
			Field("organization_id").Unique().Required().Immutable(),
		edge.To("assertion_uses", SAMLAssertionUse.Type).Annotations(cascade, entgql.Skip()),
		edge.To("login_attempts", ConnectionLoginAttempt.Type).Annotations(cascade, entgql.Skip()),
		edge.To("federated_identities", FederatedIdentity.Type).Annotations(cascade, entgql.Skip()),
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
