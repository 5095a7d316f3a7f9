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

// SSOAttempt is one sign-in sent to an organization's identity provider
// and not yet answered: the connector's state (a SAML request id, an OIDC
// PKCE verifier and nonce: never shown to the browser), bound to the
// browser that began it (browser_hash, the hash of a cookie value) and
// found again by the answer (relay_hash, the hash of the SAML RelayState;
// an OIDC callback carries the cookie). A SAML answer arrives by a
// cross-site POST, which carries no SameSite=Lax cookie: the ACS verifies
// it and keeps the identity here (identity), and the browser's next,
// same-site request proves it is the one that began (web/login_sso.go).
// Single use: taken with one DELETE … RETURNING.
type SSOAttempt struct{ ent.Schema }

// Mixin implements ent.Schema.
func (SSOAttempt) Mixin() []ent.Mixin { return []ent.Mixin{pulid.MixinWithPrefix("ssa")} }

// Fields implements ent.Schema.
func (SSOAttempt) Fields() []ent.Field {
	return []ent.Field{
		field.String("relay_hash").Unique().NotEmpty().Immutable().Sensitive(),
		field.String("browser_hash").NotEmpty().Immutable().Sensitive(),
		field.String("connection_id").GoType(pulid.ID("")).NotEmpty().Immutable(),
		field.String("auth_request_id").Optional().Immutable().Comment("the application's pending request; empty for a direct sign-in"),
		field.Bytes("state").NotEmpty().Immutable().Sensitive().Comment("federation.Step.State"),
		field.Bytes("identity").Optional().Sensitive().Comment("the verified identity (JSON), between a SAML ACS and the browser's next request"),
		field.Enum("purpose").Values("SIGN_IN", "TEST").Default("SIGN_IN").Immutable().
			Comment("TEST: a test sign-in from the admin portal, which verifies the answer and records it but signs no one in"),
		field.String("portal_session_id").GoType(pulid.ID("")).Optional().Immutable().Comment("the portal session that began a TEST attempt"),
		field.Time("created_at").Default(time.Now).Immutable(),
		field.Time("expires_at").Immutable(),
	}
}

// Indexes implements ent.Schema.
func (SSOAttempt) Indexes() []ent.Index {
	return []ent.Index{index.Fields("browser_hash"), index.Fields("expires_at")}
}

// Annotations implements ent.Schema.
func (SSOAttempt) Annotations() []schema.Annotation { return []schema.Annotation{entgql.Skip()} }

// Policy implements ent.Schema.
func (SSOAttempt) Policy() ent.Policy { return authz.Policy() }
