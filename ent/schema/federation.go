package schema

// Entities of sign-ins through an organization's connection: the SAML
// assertions already used, the newest attempts (what the IdP sent, or why
// it was refused) and the links from an upstream subject to a user. All
// are instance-level: the authorizer shows them to no organization
// viewer; tenants reads and writes them as the System viewer after
// deciding who may see the connection. None is generated into GraphQL.

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/tenants/authz"
)

func connectionIDField() ent.Field {
	return field.String("connection_id").GoType(pulid.ID("")).Immutable().NotEmpty()
}

func connectionEdge(ref string) ent.Edge {
	return edge.From("connection", Connection.Type).Ref(ref).Field("connection_id").Unique().Required().Immutable()
}

// SAMLAssertionUse records a SAML assertion a connection accepted, until
// the assertion expires: SAML 2.0 Profiles §4.1.4.5 has the SP keep used
// ids for the assertion's validity, so one posted twice is refused. The
// unique index is the replay check: of two uses one INSERT fails.
type SAMLAssertionUse struct{ ent.Schema }

// Mixin implements ent.Schema.
func (SAMLAssertionUse) Mixin() []ent.Mixin { return []ent.Mixin{pulid.MixinWithPrefix("sau")} }

// Fields implements ent.Schema.
func (SAMLAssertionUse) Fields() []ent.Field {
	return []ent.Field{
		connectionIDField(),
		field.String("assertion_id").NotEmpty().MaxLen(1024).Immutable(),
		field.Time("expires_at").Immutable().Comment("the assertion's NotOnOrAfter: the row may go after it"),
	}
}

// Edges implements ent.Schema.
func (SAMLAssertionUse) Edges() []ent.Edge {
	return []ent.Edge{connectionEdge("assertion_uses")}
}

// Indexes implements ent.Schema.
func (SAMLAssertionUse) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("connection_id", "assertion_id").Unique(),
		index.Fields("expires_at"),
	}
}

// Annotations implements ent.Schema.
func (SAMLAssertionUse) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Policy implements ent.Schema.
func (SAMLAssertionUse) Policy() ent.Policy { return authz.Policy() }

// ConnectionLoginAttempt is one recent sign-in through a connection: what
// the IdP asserted, or the precise reason it was refused, for the
// administrator setting the connection up. The newest 20 per connection
// are kept.
type ConnectionLoginAttempt struct{ ent.Schema }

// Mixin implements ent.Schema.
func (ConnectionLoginAttempt) Mixin() []ent.Mixin { return []ent.Mixin{pulid.MixinWithPrefix("cla")} }

// Fields implements ent.Schema.
func (ConnectionLoginAttempt) Fields() []ent.Field {
	return []ent.Field{
		connectionIDField(),
		field.Time("created_at").Default(time.Now).Immutable(),
		field.Bool("succeeded").Immutable(),
		field.String("error_code").Optional().MaxLen(100).Immutable().
			Comment("a word a program can branch on, such as audience_mismatch"),
		field.String("error_reason").Optional().MaxLen(1000).Immutable().
			Comment("the precise sentence: audience mismatch: got X, want Y"),
		field.String("subject").Optional().MaxLen(1024).Immutable(),
		field.String("email").Optional().MaxLen(320).Immutable(),
		field.JSON("attributes", map[string][]string{}).Optional().Immutable(),
	}
}

// Edges implements ent.Schema.
func (ConnectionLoginAttempt) Edges() []ent.Edge {
	return []ent.Edge{connectionEdge("login_attempts")}
}

// Indexes implements ent.Schema.
func (ConnectionLoginAttempt) Indexes() []ent.Index {
	return []ent.Index{index.Fields("connection_id", "id")}
}

// Annotations implements ent.Schema.
func (ConnectionLoginAttempt) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Policy implements ent.Schema.
func (ConnectionLoginAttempt) Policy() ent.Policy { return authz.Policy() }

// FederatedIdentity links a subject of a connection's IdP (the SAML NameID
// or the OIDC sub) to a user: a later sign-in with that subject is that
// user, whatever email the IdP sends then.
type FederatedIdentity struct{ ent.Schema }

// Mixin implements ent.Schema.
func (FederatedIdentity) Mixin() []ent.Mixin { return []ent.Mixin{pulid.MixinWithPrefix("fid")} }

// Fields implements ent.Schema.
func (FederatedIdentity) Fields() []ent.Field {
	return []ent.Field{
		connectionIDField(),
		field.String("subject").NotEmpty().MaxLen(1024).Immutable(),
		field.String("user_id").GoType(pulid.ID("")).Immutable().NotEmpty(),
		field.Time("created_at").Default(time.Now).Immutable(),
		field.Time("last_sign_in_at").Optional().Nillable(),
	}
}

// Edges implements ent.Schema.
func (FederatedIdentity) Edges() []ent.Edge {
	return []ent.Edge{
		connectionEdge("federated_identities"),
		edge.From("user", User.Type).Ref("federated_identities").Field("user_id").Unique().Required().Immutable(),
	}
}

// Indexes implements ent.Schema.
func (FederatedIdentity) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("connection_id", "subject").Unique(),
		index.Fields("user_id"),
	}
}

// Annotations implements ent.Schema.
func (FederatedIdentity) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Policy implements ent.Schema.
func (FederatedIdentity) Policy() ent.Policy { return authz.Policy() }
