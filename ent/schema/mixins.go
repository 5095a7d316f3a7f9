package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/mixin"

	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
)

// TimeMixin adds created_at and updated_at, both orderable in GraphQL.
type TimeMixin struct{ mixin.Schema }

// Fields implements ent.Mixin.
func (TimeMixin) Fields() []ent.Field {
	return []ent.Field{
		field.Time("created_at").Default(time.Now).Immutable().
			Annotations(entgql.OrderField("CREATED_AT")),
		field.Time("updated_at").Default(time.Now).UpdateDefault(time.Now).
			Annotations(entgql.OrderField("UPDATED_AT")),
	}
}

// orgIDField is the organization_id column of every organization-owned
// entity. It is set once, from the authenticated context's choice of
// organization, and never moved.
func orgIDField() ent.Field {
	return field.String("organization_id").GoType(pulid.ID("")).Immutable().NotEmpty()
}
