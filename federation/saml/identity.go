package saml

import (
	"strings"

	"github.com/crewjam/saml"

	"github.com/gatehouse-id/gatehouse/federation"
)

const emailNameIDFormat = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"

// identity maps a verified assertion to the Identity. Subject is the
// NameID; every attribute is kept by Name in Attributes. An attribute the
// mapping reads that is sent twice, or with several values where one is
// meant, is refused rather than guessed (SAML-09).
func (c *Connector) identity(a *saml.Assertion) (federation.Identity, *Rejection) {
	id := federation.Identity{
		ConnectionID: c.cfg.ConnectionID,
		Subject:      a.Subject.NameID.Value,
		Attributes:   map[string][]string{},
	}
	seen := map[string]bool{}
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			if at.Name == "" {
				continue
			}
			if seen[at.Name] && c.mapped[at.Name] {
				return id, reject(CodeDuplicateAttribute, "attribute %q is sent twice", at.Name)
			}
			seen[at.Name] = true
			for _, v := range at.Values {
				text := v.Value
				if v.NameID != nil {
					text = v.NameID.Value
				}
				id.Attributes[at.Name] = append(id.Attributes[at.Name], text)
			}
		}
	}
	m := c.cfg.Mapping
	var rej *Rejection
	single := func(name string) string {
		if name == "" || rej != nil {
			return ""
		}
		vs := id.Attributes[name]
		if len(vs) > 1 {
			rej = reject(CodeDuplicateAttribute, "attribute %q has %d values, want one", name, len(vs))
			return ""
		}
		if len(vs) == 0 {
			return ""
		}
		return strings.TrimSpace(vs[0])
	}
	id.Email = single(m.Email)
	id.GivenName = single(m.FirstName)
	id.FamilyName = single(m.LastName)
	id.Name = single(m.Name)
	if rej != nil {
		return federation.Identity{}, rej
	}
	if id.Email == "" && a.Subject.NameID.Format == emailNameIDFormat {
		id.Email = strings.TrimSpace(a.Subject.NameID.Value)
	}
	if id.Name == "" {
		id.Name = strings.TrimSpace(strings.Join([]string{id.GivenName, id.FamilyName}, " "))
	}
	if m.Groups != "" {
		for _, g := range id.Attributes[m.Groups] {
			if g = strings.TrimSpace(g); g != "" {
				id.Groups = append(id.Groups, g)
			}
		}
	}
	// An IdP says nothing about whether it verified the address; linking
	// by email is federation's decision, within the organization's
	// verified domains (SAML-15 c).
	id.EmailVerified = false
	for _, st := range a.AuthnStatements {
		if !st.AuthnInstant.IsZero() {
			id.AuthTime = st.AuthnInstant
		}
		if st.AuthnContext.AuthnContextClassRef != nil {
			id.AMR = addAMR(id.AMR, st.AuthnContext.AuthnContextClassRef.Value)
		}
	}
	for _, v := range id.Attributes[authnMethodsAttribute] {
		id.AMR = addAMR(id.AMR, v)
	}
	return id, nil
}
