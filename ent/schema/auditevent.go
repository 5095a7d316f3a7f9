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

// AuditEvent records one change of note. Events are append-only: the privacy
// policy refuses every update and delete. organization_id is a plain column,
// not a foreign key, so an organization's history outlives it.
type AuditEvent struct{ ent.Schema }

// Mixin implements ent.Schema.
func (AuditEvent) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("evt")}
}

// Fields implements ent.Schema.
func (AuditEvent) Fields() []ent.Field {
	return []ent.Field{
		field.String("organization_id").GoType(pulid.ID("")).Optional().Immutable().
			Annotations(entgql.Type("ID")),
		field.String("action").NotEmpty().Immutable().
			Annotations(entgql.OrderField("ACTION")).
			Comment("dotted verb such as organization.create or member.add"),
		field.String("actor").NotEmpty().Immutable().
			Comment("who acted: an API key id, a user id or system"),
		field.String("actor_type").NotEmpty().Immutable(),
		field.String("target_type").Optional().Immutable(),
		field.String("target_id").Optional().Immutable(),
		field.String("ip").Optional().Immutable(),
		field.String("user_agent").Optional().Immutable(),
		field.String("request_id").Optional().Immutable(),
		field.JSON("metadata", map[string]any{}).Optional().Immutable(),
		field.Time("created_at").Default(time.Now).Immutable().
			Annotations(entgql.OrderField("CREATED_AT")),
	}
}

// Indexes implements ent.Schema.
func (AuditEvent) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("organization_id", "created_at"),
		index.Fields("target_id"),
	}
}

// Annotations implements ent.Schema.
func (AuditEvent) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.QueryField("auditEvents"), entgql.RelayConnection()}
}

// Policy implements ent.Schema: the authorizer decides every read and write.
func (AuditEvent) Policy() ent.Policy { return authz.Policy() }
