package tenants

// The rules a connection's settings follow: pure checks of what an
// administrator or a metadata document gives, and the one look-up of
// the roles a connection hands out.

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/connection"
	"github.com/gatehouse-id/gatehouse/ent/role"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

func connectionName(s string) (string, error) {
	name := strings.TrimSpace(s)
	if err := checkName("name", name, 200); err != nil {
		return "", err
	}
	return name, nil
}

// checkSAMLIdP validates and normalizes an IdP's description; every part
// may be missing (a DRAFT connection), none may be wrong.
func (s *Service) checkSAMLIdP(idp SAMLIdP) (SAMLIdP, error) {
	idp.EntityID = strings.TrimSpace(idp.EntityID)
	idp.SSOURL = strings.TrimSpace(idp.SSOURL)
	if len(idp.EntityID) > 1024 || strings.ContainsFunc(idp.EntityID, isControl) {
		return idp, invalid("idpEntityID", "must be at most 1024 characters without control characters")
	}
	if err := checkURL("ssoURL", idp.SSOURL, s.dev); err != nil {
		return idp, err
	}
	switch idp.SSOBinding {
	case "":
		if idp.SSOURL != "" {
			idp.SSOBinding = SAMLBindingRedirect
		}
	case SAMLBindingRedirect, SAMLBindingPOST:
	default:
		return idp, invalid("ssoBinding", "must be %s or %s", SAMLBindingRedirect, SAMLBindingPOST)
	}
	if len(idp.Certificates) > maxIdPCertificates {
		return idp, invalid("certificates", "at most %d certificates", maxIdPCertificates)
	}
	certs := make([]string, 0, len(idp.Certificates))
	for i, p := range idp.Certificates {
		c, err := parseCertificatePEM(p)
		if err != nil {
			return idp, invalid("certificates", "certificate %d: %v", i+1, err)
		}
		norm := CertificatesPEM([]*x509.Certificate{c})[0]
		if !slices.Contains(certs, norm) {
			certs = append(certs, norm)
		}
	}
	idp.Certificates = certs
	return idp, nil
}

// parseCertificatePEM reads one X.509 certificate: a PEM block, or the
// bare base64 of its DER as metadata's <ds:X509Certificate> holds it.
func parseCertificatePEM(s string) (*x509.Certificate, error) {
	s = strings.TrimSpace(s)
	var der []byte
	if strings.HasPrefix(s, "-----BEGIN") {
		block, rest := pem.Decode([]byte(s))
		if block == nil || block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("is not a PEM CERTIFICATE block")
		}
		if strings.TrimSpace(string(rest)) != "" {
			return nil, fmt.Errorf("holds more than one PEM block: give each certificate on its own")
		}
		der = block.Bytes
	} else {
		b, err := decodeBase64Loose(s)
		if err != nil {
			return nil, fmt.Errorf("is neither PEM nor base64 DER")
		}
		der = b
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("does not parse as X.509: %v", err)
	}
	switch c.PublicKeyAlgorithm {
	case x509.RSA, x509.ECDSA:
	default:
		return nil, fmt.Errorf("has a %s key; SAML signatures need RSA or ECDSA", c.PublicKeyAlgorithm)
	}
	return c, nil
}

// ConnectionIdPCertificates parses c's IdP certificates, which every
// write stored through checkSAMLIdP, for the integrator to build c's SAML
// connector.
func ConnectionIdPCertificates(c *ent.Connection) ([]*x509.Certificate, error) {
	out := make([]*x509.Certificate, 0, len(c.IdpCertificates))
	for i, p := range c.IdpCertificates {
		cert, err := parseCertificatePEM(p)
		if err != nil {
			return nil, fmt.Errorf("IdP certificate %d of %s %w", i+1, c.ID, err)
		}
		out = append(out, cert)
	}
	return out, nil
}

// checkIssuer accepts an OpenID issuer identifier (OpenID Connect
// Discovery §2: https, no query or fragment).
func (s *Service) checkIssuer(raw string) error {
	raw = strings.TrimSpace(raw)
	if err := checkURL("issuer", raw, s.dev); err != nil {
		return err
	}
	if u, _ := url.Parse(raw); u != nil && (u.RawQuery != "" || u.Fragment != "") {
		return invalid("issuer", "must have no query or fragment (OpenID Connect Discovery §2)")
	}
	return nil
}

func checkClientID(s string) error {
	s = strings.TrimSpace(s)
	if len(s) > 512 || strings.ContainsFunc(s, isControl) {
		return invalid("clientID", "must be at most 512 characters without control characters")
	}
	return nil
}

// oidcScopes validates scopes (RFC 6749 §3.3 scope-tokens), adds openid,
// drops duplicates; none given is openid, email and profile.
func oidcScopes(in []string) ([]string, error) {
	if len(in) == 0 {
		return []string{"openid", "email", "profile"}, nil
	}
	if len(in) > maxOIDCScopes {
		return nil, invalid("scopes", "at most %d scopes", maxOIDCScopes)
	}
	out := []string{"openid"}
	for _, sc := range in {
		if !scopePattern.MatchString(sc) {
			return nil, invalid("scopes", "%q is not a scope token (RFC 6749 §3.3)", sc)
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out, nil
}

var metadataKeyPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,63}$`)

func checkAttributeMapping(m AttributeMapping) error {
	for f, v := range map[string]string{"email": m.Email, "firstName": m.FirstName, "lastName": m.LastName, "name": m.Name, "groups": m.Groups} {
		if len(v) > 512 || strings.ContainsFunc(v, isControl) {
			return invalid("attributeMapping."+f, "must be an attribute name of at most 512 characters")
		}
	}
	if len(m.Custom) > maxCustomAttributes {
		return invalid("attributeMapping.custom", "at most %d custom attributes", maxCustomAttributes)
	}
	for k, v := range m.Custom {
		if !metadataKeyPattern.MatchString(k) {
			return invalid("attributeMapping.custom", "%q is not a metadata key (a letter, then letters, digits, _ . -; at most 64)", k)
		}
		if v == "" || len(v) > 512 || strings.ContainsFunc(v, isControl) {
			return invalid("attributeMapping.custom", "the attribute for %q must be a name of 1 to 512 characters", k)
		}
	}
	return nil
}

func checkGroupRoles(gs []GroupRole) error {
	if len(gs) > maxGroupRoleMappings {
		return invalid("groupRoleMappings", "at most %d mappings", maxGroupRoleMappings)
	}
	for _, g := range gs {
		if g.Group == "" || len(g.Group) > 512 || strings.ContainsFunc(g.Group, isControl) {
			return invalid("groupRoleMappings", "a group must be a name of 1 to 512 characters")
		}
		if !g.RoleID.Valid() || g.RoleID.Prefix() != "rol" {
			return invalid("groupRoleMappings", "%q is not a role id", g.RoleID)
		}
	}
	return nil
}

func checkSettings(in ConnectionSettings) error {
	if in.Preset != nil && connection.PresetValidator(*in.Preset) != nil {
		return invalid("preset", "is not a known preset")
	}
	if in.AttributeMapping != nil {
		if err := checkAttributeMapping(*in.AttributeMapping); err != nil {
			return err
		}
	}
	return checkGroupRoles(in.GroupRoleMappings)
}

func setSettings(m *ent.ConnectionMutation, in ConnectionSettings) {
	if in.AttributeMapping != nil {
		m.SetAttributeMapping(*in.AttributeMapping)
	}
	if in.DefaultRoleID != nil {
		m.SetDefaultRoleID(*in.DefaultRoleID)
	}
	if len(in.GroupRoleMappings) > 0 {
		m.SetGroupRoleMappings(in.GroupRoleMappings)
	}
	m.SetTrustUpstreamAmr(in.TrustUpstreamAMR)
}

// checkRoles makes sure the default role and the mapped roles are roles of
// org, and that the caller holds what each grants: a connection hands its
// roles to whoever the IdP vouches for, so configuring one is granting
// them.
func checkRoles(ctx context.Context, tx *ent.Tx, org pulid.ID, def *pulid.ID, groups []GroupRole) error {
	check := func(field string, id pulid.ID) error {
		r, err := tx.Role.Query().Where(role.ID(id), role.OrganizationID(org)).Only(viewer.SystemContext(ctx))
		if ent.IsNotFound(err) {
			return invalid(field, "%s is not a role of this organization", id)
		}
		if err != nil {
			return fmt.Errorf("look up role: %w", err)
		}
		return requireGrant(ctx, org, field, rolesPermissions([]*ent.Role{r}))
	}
	if def != nil {
		if err := check("defaultRoleID", *def); err != nil {
			return err
		}
	}
	for _, g := range groups {
		if err := check("groupRoleMappings", g.RoleID); err != nil {
			return err
		}
	}
	return nil
}
