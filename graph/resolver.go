package graph

import (
	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// Resolver is the single injection point of the GraphQL layer: everything a
// resolver may use is a field here.
type Resolver struct {
	Service *tenants.Service
	// Issuer is the instance's issuer URL, under which each connection's
	// endpoints live (federation.ConnectionEndpoints); "" leaves them null.
	Issuer string
	// ParseSAMLMetadata reads IdP metadata for createSAMLConnection and
	// updateConnection; nil refuses metadataXML and metadataURL.
	ParseSAMLMetadata ParseSAMLMetadataFunc
	// SAMLSPMetadata renders Connection.spMetadataXML; nil leaves it null.
	SAMLSPMetadata SAMLSPMetadataFunc
}

func (r *Resolver) client() *ent.Client { return r.Service.Client() }
