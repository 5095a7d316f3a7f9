package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/gatehouse-id/gatehouse/tenants/authz"

	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
)

// Domain is an email domain an organization claims. It routes sign-ins to the
// organization's SSO only once verified through a DNS TXT record.
type Domain struct{ ent.Schema }

// Mixin implements ent.Schema.
func (Domain) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("dom"), TimeMixin{}}
}

// Fields implements ent.Schema.
func (Domain) Fields() []ent.Field {
	return []ent.Field{
		orgIDField(),
		field.String("domain").NotEmpty().MaxLen(253).Immutable().
			Annotations(entgql.OrderField("DOMAIN")),
		field.Enum("verification_state").Values("PENDING", "VERIFIED", "FAILED").Default("PENDING"),
		field.String("txt_token").NotEmpty().Immutable().
			Comment("value the organization publishes in a TXT record to prove control"),
		field.Time("verified_at").Optional().Nillable(),
		field.Time("last_checked_at").Optional().Nillable().
			Comment("when the TXT record was last looked up (verifyDomain or the periodic re-check)"),
		field.Time("missing_since").Optional().Nillable().
			Comment("first re-check of a VERIFIED domain that did not find its record; cleared when it is found again; after the grace period (72h by default) the domain is unverified"),
	}
}

// Edges implements ent.Schema.
func (Domain) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("organization", Organization.Type).Ref("domains").
			Field("organization_id").Unique().Required().Immutable(),
	}
}

// Indexes implements ent.Schema.
func (Domain) Indexes() []ent.Index {
	return []ent.Index{
		// An organization's domains page by id, and deleting the organization
		// finds them for ON DELETE CASCADE without scanning the table.
		index.Fields("organization_id", "id"),
		// Several organizations may claim a name (a claim says nothing about
		// another organization's); each claims it once, and verification
		// decides ownership: at most one VERIFIED claim per name.
		index.Fields("organization_id", "domain").Unique(),
		index.Fields("domain").Unique().Annotations(entsql.IndexWhere("verification_state = 'VERIFIED'")),
		// RecheckDomains finds the VERIFIED claims checked longest ago.
		index.Fields("last_checked_at").Annotations(entsql.IndexWhere("verification_state = 'VERIFIED'")),
	}
}

// Annotations implements ent.Schema.
func (Domain) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// Policy implements ent.Schema: the authorizer decides every read and write.
func (Domain) Policy() ent.Policy { return authz.Policy() }
