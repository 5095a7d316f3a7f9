package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/gatehouse-id/gatehouse/tenants/authz"

	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
)

// DomainEvent is an outbox row: a change of a domain's ownership that a
// webhook sender will deliver (domain.verified, domain.unverified). It is
// written in the transaction of the change, so no change is lost and none
// is announced that did not commit; delivered_at stays nil until a sender
// marks it. domain_id and organization_id are plain columns, not foreign
// keys: the event outlives the claim and the organization.
type DomainEvent struct{ ent.Schema }

// Mixin implements ent.Schema.
func (DomainEvent) Mixin() []ent.Mixin { return []ent.Mixin{pulid.MixinWithPrefix("devt")} }

// Fields implements ent.Schema.
func (DomainEvent) Fields() []ent.Field {
	return []ent.Field{
		field.String("type").NotEmpty().MaxLen(64).Immutable().
			Comment("domain.verified or domain.unverified"),
		field.String("domain_id").GoType(pulid.ID("")).NotEmpty().Immutable(),
		field.String("organization_id").GoType(pulid.ID("")).NotEmpty().Immutable(),
		field.JSON("payload", map[string]any{}).Immutable().
			Comment("the body a webhook sends: the domain name, the state and the reason"),
		field.Time("created_at").Default(time.Now).Immutable(),
		field.Time("delivered_at").Optional().Nillable(),
	}
}

// Indexes implements ent.Schema.
func (DomainEvent) Indexes() []ent.Index {
	return []ent.Index{
		// A sender reads the undelivered rows oldest first.
		index.Fields("delivered_at", "id"),
		index.Fields("organization_id", "id"),
	}
}

// Annotations implements ent.Schema: instance-level, not in GraphQL.
func (DomainEvent) Annotations() []schema.Annotation { return []schema.Annotation{entgql.Skip()} }

// Policy implements ent.Schema: instance-level rows (tenants/authz).
func (DomainEvent) Policy() ent.Policy { return authz.Policy() }
