package graph

import (
	"context"
	"errors"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/connection"
	"github.com/gatehouse-id/gatehouse/ent/schema/sso"
	"github.com/gatehouse-id/gatehouse/federation"
	"github.com/gatehouse-id/gatehouse/graph/model"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// ParseSAMLMetadataFunc reads an IdP's SAML metadata: the document given,
// or else the one fetched from url (federation/saml does both; cmd sets
// it). It returns the IdP with its certificates as PEM.
type ParseSAMLMetadataFunc func(ctx context.Context, xml []byte, url string) (tenants.SAMLIdP, error)

// SAMLSPMetadataFunc renders a SAML connection's SP metadata document
// (federation/saml; cmd sets it).
type SAMLSPMetadataFunc func(ctx context.Context, c *ent.Connection) ([]byte, error)

// errMetadataNotConfigured answers metadataXML and metadataURL when the
// server was built without a metadata parser.
var errMetadataNotConfigured = &tenants.InputError{Field: "metadataXML",
	Reason: "metadata parsing is not configured on this server: give idpEntityID, ssoURL and certificates instead"}

// samlIdPFromInput is the IdP the mutation describes: the metadata's, if
// any, with each field given taking precedence.
func (r *Resolver) samlIdPFromInput(ctx context.Context, base tenants.SAMLIdP, xml, url *string,
	entityID, ssoURL, binding *string, certs []string) (tenants.SAMLIdP, error) {
	idp := base
	if deref(xml) != "" || deref(url) != "" {
		if r.ParseSAMLMetadata == nil {
			return idp, errMetadataNotConfigured
		}
		parsed, err := r.ParseSAMLMetadata(ctx, []byte(deref(xml)), deref(url))
		if err != nil {
			var in *tenants.InputError
			if errors.As(err, &in) {
				return idp, err
			}
			field := "metadataXML" // the parser reads url when given, else xml
			if deref(url) != "" {
				field = "metadataURL"
			}
			return idp, &tenants.InputError{Field: field, Reason: err.Error()}
		}
		idp = parsed
	}
	if entityID != nil {
		idp.EntityID = *entityID
	}
	if ssoURL != nil {
		idp.SSOURL = *ssoURL
	}
	if binding != nil {
		idp.SSOBinding = *binding
	}
	if len(certs) > 0 {
		idp.Certificates = certs
	}
	return idp, nil
}

func attributeMapping(in *model.AttributeMappingInput) *tenants.AttributeMapping {
	if in == nil {
		return nil
	}
	m := &tenants.AttributeMapping{Email: deref(in.Email), FirstName: deref(in.FirstName), LastName: deref(in.LastName),
		Name: deref(in.Name), Groups: deref(in.Groups)}
	if len(in.Custom) > 0 {
		m.Custom = make(map[string]string, len(in.Custom))
		for _, c := range in.Custom {
			m.Custom[c.Key] = c.Attribute
		}
	}
	return m
}

func groupRoles(in []*model.GroupRoleMappingInput) []tenants.GroupRole {
	if in == nil {
		return nil
	}
	out := make([]tenants.GroupRole, len(in))
	for i, g := range in {
		out[i] = sso.GroupRole{Group: g.Group, RoleID: g.RoleID}
	}
	return out
}

// endpoint is the URL pick chooses among c's on this instance, when c
// speaks protocol p; nil for another protocol, or without an issuer.
func (r *Resolver) endpoint(c *ent.Connection, p connection.Protocol, pick func(federation.Endpoints) string) *string {
	if r.Issuer == "" || c.Protocol != p {
		return nil
	}
	if s := pick(federation.ConnectionEndpoints(r.Issuer, c.ID)); s != "" {
		return &s
	}
	return nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
