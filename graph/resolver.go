package graph

import (
	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// Resolver is the single injection point of the GraphQL layer: everything a
// resolver may use is a field here.
type Resolver struct {
	Service *tenants.Service
}

func (r *Resolver) client() *ent.Client { return r.Service.Client() }
