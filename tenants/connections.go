package tenants

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
	"github.com/gatehouse-id/gatehouse/ent/schema/sso"
	"github.com/gatehouse-id/gatehouse/tenants/authz"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// The SAML bindings an IdP's single sign-on service may use for our
// AuthnRequests (SAML Bindings §3.4, §3.5).
const (
	SAMLBindingRedirect = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
	SAMLBindingPOST     = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
)

// Limits on what a connection stores.
const (
	maxIdPCertificates   = 10
	maxGroupRoleMappings = 100
	maxCustomAttributes  = 50
	maxOIDCScopes        = 20
)

// AttributeMapping names the upstream attributes (SAML) or claims (OIDC)
// that carry a user's profile; see sso.AttributeMapping.
type AttributeMapping = sso.AttributeMapping

// GroupRole gives the members of an upstream group a role of the
// connection's organization.
type GroupRole = sso.GroupRole

// SAMLIdP is what we need to know about a SAML identity provider, parsed
// from its metadata (federation/saml) or typed by an administrator.
// Certificates are PEM (CertificatesPEM encodes parsed ones).
type SAMLIdP struct {
	EntityID     string
	SSOURL       string
	SSOBinding   string
	Certificates []string
}

// CertificatesPEM encodes certificates as the PEM strings SAMLIdP holds.
func CertificatesPEM(certs []*x509.Certificate) []string {
	out := make([]string, len(certs))
	for i, c := range certs {
		out[i] = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
	}
	return out
}

// ConnectionSettings are the settings both protocols share.
type ConnectionSettings struct {
	Preset           *connection.Preset
	AttributeMapping *AttributeMapping
	// DefaultRoleID is the role of the members the connection provisions;
	// nil is the built-in member role.
	DefaultRoleID *pulid.ID
	// GroupRoleMappings give the members of upstream groups roles of the
	// organization, applied at every sign-in.
	GroupRoleMappings []GroupRole
	TrustUpstreamAMR  bool
}

// CreateSAMLConnectionInput creates a SAML connection. The IdP may be
// incomplete: the connection stays DRAFT until ActivateConnection.
type CreateSAMLConnectionInput struct {
	OrganizationID    pulid.ID
	Name              string
	IdP               SAMLIdP
	MetadataURL       string
	AllowIdPInitiated bool
	ConnectionSettings
}

// CreateOIDCConnectionInput creates an OpenID Connect connection, to an
// IdP we are a relying party of. Scopes default to openid, email and
// profile; openid is always asked for.
type CreateOIDCConnectionInput struct {
	OrganizationID pulid.ID
	Name           string
	Issuer         string
	ClientID       string
	ClientSecret   string
	Scopes         []string
	ConnectionSettings
}

// UpdateConnectionInput changes the fields that are set; the SAML ones
// apply to SAML connections only, the OIDC ones to OIDC connections only.
// An ACTIVE connection must stay complete.
type UpdateConnectionInput struct {
	ID                pulid.ID
	Name              *string
	Preset            *connection.Preset
	IdPEntityID       *string
	SSOURL            *string
	SSOBinding        *string
	Certificates      []string // nil or empty: unchanged
	MetadataURL       *string  // "" removes it
	AllowIdPInitiated *bool
	Issuer            *string
	ClientID          *string
	ClientSecret      *string
	Scopes            []string // nil or empty: unchanged
	AttributeMapping  *AttributeMapping
	DefaultRoleID     *pulid.ID
	ClearDefaultRole  bool
	// GroupRoleMappings, when not nil, replaces the mappings (an empty
	// list removes them).
	GroupRoleMappings *[]GroupRole
	TrustUpstreamAMR  *bool
}

// CreateSAMLConnection creates a DRAFT SAML connection with its first SP
// key pair (RSA-2048 and a self-signed certificate, the key sealed with
// the master key), and its audit event.
func (s *Service) CreateSAMLConnection(ctx context.Context, in CreateSAMLConnectionInput) (*ent.Connection, error) {
	name, err := connectionName(in.Name)
	if err != nil {
		return nil, err
	}
	idp, err := s.checkSAMLIdP(in.IdP)
	if err != nil {
		return nil, err
	}
	if err := s.checkURL("metadataURL", in.MetadataURL); err != nil {
		return nil, err
	}
	if err := checkSettings(in.ConnectionSettings); err != nil {
		return nil, err
	}
	if err := require(ctx, in.OrganizationID, authz.ConnectionsManage); err != nil {
		return nil, err
	}
	id := pulid.New("conn")
	key, err := s.newSPKey(id)
	if err != nil {
		return nil, err
	}
	var c *ent.Connection
	err = s.inTx(ctx, func(tx *ent.Tx) error {
		if _, err := tx.Organization.Get(ctx, in.OrganizationID); err != nil {
			return translate(err, "organization")
		}
		if err := checkRoles(ctx, tx, in.OrganizationID, in.DefaultRoleID, in.GroupRoleMappings); err != nil {
			return err
		}
		create := tx.Connection.Create().SetID(id).
			SetOrganizationID(in.OrganizationID).
			SetProtocol(connection.ProtocolSAML).
			SetName(name).
			SetNillablePreset(in.Preset).
			SetIdpEntityID(idp.EntityID).
			SetIdpSSOURL(idp.SSOURL).
			SetIdpSSOBinding(idp.SSOBinding).
			SetIdpCertificates(idp.Certificates).
			SetIdpMetadataURL(in.MetadataURL).
			SetSpKeys([]sso.SPKey{key}).
			SetAllowIdpInitiated(in.AllowIdPInitiated)
		setSettings(create.Mutation(), in.ConnectionSettings)
		if c, err = create.Save(ctx); err != nil {
			return translate(err, "connection")
		}
		return s.audit(ctx, tx, connectionEvent("connection.create", c, map[string]any{"spKeyID": key.ID}))
	})
	return unwrap(c, err)
}

// CreateOIDCConnection creates a DRAFT OpenID Connect connection; the
// client secret is sealed with the master key.
func (s *Service) CreateOIDCConnection(ctx context.Context, in CreateOIDCConnectionInput) (*ent.Connection, error) {
	name, err := connectionName(in.Name)
	if err != nil {
		return nil, err
	}
	if err := s.checkIssuer(in.Issuer); err != nil {
		return nil, err
	}
	if err := checkClientID(in.ClientID); err != nil {
		return nil, err
	}
	scopes, err := oidcScopes(in.Scopes)
	if err != nil {
		return nil, err
	}
	if err := checkSettings(in.ConnectionSettings); err != nil {
		return nil, err
	}
	if err := require(ctx, in.OrganizationID, authz.ConnectionsManage); err != nil {
		return nil, err
	}
	id := pulid.New("conn")
	var sealed []byte
	if in.ClientSecret != "" {
		if sealed, err = s.sealClientSecret(id, in.ClientSecret); err != nil {
			return nil, err
		}
	}
	var c *ent.Connection
	err = s.inTx(ctx, func(tx *ent.Tx) error {
		if _, err := tx.Organization.Get(ctx, in.OrganizationID); err != nil {
			return translate(err, "organization")
		}
		if err := checkRoles(ctx, tx, in.OrganizationID, in.DefaultRoleID, in.GroupRoleMappings); err != nil {
			return err
		}
		create := tx.Connection.Create().SetID(id).
			SetOrganizationID(in.OrganizationID).
			SetProtocol(connection.ProtocolOIDC).
			SetName(name).
			SetNillablePreset(in.Preset).
			SetOidcIssuer(strings.TrimSpace(in.Issuer)).
			SetOidcClientID(strings.TrimSpace(in.ClientID)).
			SetOidcScopes(scopes)
		if sealed != nil {
			create.SetOidcClientSecretSealed(sealed)
		}
		setSettings(create.Mutation(), in.ConnectionSettings)
		if c, err = create.Save(ctx); err != nil {
			return translate(err, "connection")
		}
		return s.audit(ctx, tx, connectionEvent("connection.create", c, nil))
	})
	return unwrap(c, err)
}

// UpdateConnection changes a connection's settings. The audit event
// names the fields changed, never their values (a client secret among
// them).
func (s *Service) UpdateConnection(ctx context.Context, in UpdateConnectionInput) (*ent.Connection, error) {
	return s.changeConnection(ctx, in.ID, func(tx *ent.Tx, c *ent.Connection) (event, error) {
		saml := c.Protocol == connection.ProtocolSAML
		for _, f := range []struct {
			name string
			set  bool
			saml bool
		}{
			{"idpEntityID", in.IdPEntityID != nil, true}, {"ssoURL", in.SSOURL != nil, true},
			{"ssoBinding", in.SSOBinding != nil, true}, {"certificates", len(in.Certificates) > 0, true},
			{"metadataURL", in.MetadataURL != nil, true}, {"allowIdPInitiated", in.AllowIdPInitiated != nil, true},
			{"issuer", in.Issuer != nil, false}, {"clientID", in.ClientID != nil, false},
			{"clientSecret", in.ClientSecret != nil, false}, {"scopes", len(in.Scopes) > 0, false},
		} {
			if f.set && f.saml != saml {
				return event{}, invalid(f.name, "applies to %s connections only", map[bool]string{true: "SAML", false: "OIDC"}[f.saml])
			}
		}
		upd := tx.Connection.UpdateOne(c)
		var changed []string
		mark := func(name string) { changed = append(changed, name) }
		if in.Name != nil {
			name, err := connectionName(*in.Name)
			if err != nil {
				return event{}, err
			}
			upd.SetName(name)
			mark("name")
		}
		if in.Preset != nil {
			if connection.PresetValidator(*in.Preset) != nil {
				return event{}, invalid("preset", "is not a known preset")
			}
			upd.SetPreset(*in.Preset)
			mark("preset")
		}
		if saml {
			idp := SAMLIdP{EntityID: c.IdpEntityID, SSOURL: c.IdpSSOURL, SSOBinding: c.IdpSSOBinding, Certificates: c.IdpCertificates}
			if in.IdPEntityID != nil {
				idp.EntityID = *in.IdPEntityID
				mark("idpEntityID")
			}
			if in.SSOURL != nil {
				idp.SSOURL = *in.SSOURL
				mark("ssoURL")
			}
			if in.SSOBinding != nil {
				idp.SSOBinding = *in.SSOBinding
				mark("ssoBinding")
			}
			if len(in.Certificates) > 0 {
				idp.Certificates = in.Certificates
				mark("certificates")
			}
			idp, err := s.checkSAMLIdP(idp)
			if err != nil {
				return event{}, err
			}
			upd.SetIdpEntityID(idp.EntityID).SetIdpSSOURL(idp.SSOURL).SetIdpSSOBinding(idp.SSOBinding).SetIdpCertificates(idp.Certificates)
			if in.MetadataURL != nil {
				if err := s.checkURL("metadataURL", *in.MetadataURL); err != nil {
					return event{}, err
				}
				upd.SetIdpMetadataURL(*in.MetadataURL)
				mark("metadataURL")
			}
			if in.AllowIdPInitiated != nil {
				upd.SetAllowIdpInitiated(*in.AllowIdPInitiated)
				mark("allowIdPInitiated")
			}
		} else {
			if in.Issuer != nil {
				if err := s.checkIssuer(*in.Issuer); err != nil {
					return event{}, err
				}
				upd.SetOidcIssuer(strings.TrimSpace(*in.Issuer))
				mark("issuer")
			}
			if in.ClientID != nil {
				if err := checkClientID(*in.ClientID); err != nil {
					return event{}, err
				}
				upd.SetOidcClientID(strings.TrimSpace(*in.ClientID))
				mark("clientID")
			}
			if in.ClientSecret != nil {
				if *in.ClientSecret == "" {
					upd.ClearOidcClientSecretSealed()
				} else {
					sealed, err := s.sealClientSecret(c.ID, *in.ClientSecret)
					if err != nil {
						return event{}, err
					}
					upd.SetOidcClientSecretSealed(sealed)
				}
				mark("clientSecret")
			}
			if len(in.Scopes) > 0 {
				scopes, err := oidcScopes(in.Scopes)
				if err != nil {
					return event{}, err
				}
				upd.SetOidcScopes(scopes)
				mark("scopes")
			}
		}
		if in.AttributeMapping != nil {
			if err := checkAttributeMapping(*in.AttributeMapping); err != nil {
				return event{}, err
			}
			upd.SetAttributeMapping(*in.AttributeMapping)
			mark("attributeMapping")
		}
		switch {
		case in.ClearDefaultRole && in.DefaultRoleID != nil:
			return event{}, invalid("defaultRoleID", "cannot be set and cleared at once")
		case in.ClearDefaultRole:
			upd.ClearDefaultRoleID()
			mark("defaultRoleID")
		case in.DefaultRoleID != nil:
			if err := checkRoles(ctx, tx, c.OrganizationID, in.DefaultRoleID, nil); err != nil {
				return event{}, err
			}
			upd.SetDefaultRoleID(*in.DefaultRoleID)
			mark("defaultRoleID")
		}
		if in.GroupRoleMappings != nil {
			if err := checkGroupRoles(*in.GroupRoleMappings); err != nil {
				return event{}, err
			}
			if err := checkRoles(ctx, tx, c.OrganizationID, nil, *in.GroupRoleMappings); err != nil {
				return event{}, err
			}
			upd.SetGroupRoleMappings(*in.GroupRoleMappings)
			mark("groupRoleMappings")
		}
		if in.TrustUpstreamAMR != nil {
			upd.SetTrustUpstreamAmr(*in.TrustUpstreamAMR)
			mark("trustUpstreamAMR")
		}
		updated, err := upd.Save(viewer.SystemContext(ctx))
		if err != nil {
			return event{}, translate(err, "connection")
		}
		if updated.State == connection.StateACTIVE {
			if err := connectionComplete(updated); err != nil {
				return event{}, err
			}
		}
		return connectionEvent("connection.update", c, map[string]any{"fields": changed}), nil
	})
}

// ActivateConnection lets a complete connection sign users in: a SAML
// connection needs the IdP's entity id, SSO URL and at least one
// certificate; an OIDC one its issuer, client id and client secret.
func (s *Service) ActivateConnection(ctx context.Context, id pulid.ID) (*ent.Connection, error) {
	return s.changeConnection(ctx, id, func(tx *ent.Tx, c *ent.Connection) (event, error) {
		if err := connectionComplete(c); err != nil {
			return event{}, err
		}
		if err := tx.Connection.UpdateOne(c).SetState(connection.StateACTIVE).Exec(viewer.SystemContext(ctx)); err != nil {
			return event{}, translate(err, "connection")
		}
		return connectionEvent("connection.activate", c, nil), nil
	})
}

// DeactivateConnection stops a connection signing anyone in; its settings
// and links to users stay.
func (s *Service) DeactivateConnection(ctx context.Context, id pulid.ID) (*ent.Connection, error) {
	return s.changeConnection(ctx, id, func(tx *ent.Tx, c *ent.Connection) (event, error) {
		if err := tx.Connection.UpdateOne(c).SetState(connection.StateINACTIVE).Exec(viewer.SystemContext(ctx)); err != nil {
			return event{}, translate(err, "connection")
		}
		return connectionEvent("connection.deactivate", c, nil), nil
	})
}

// DeleteConnection deletes a connection with its links to users, its used
// assertions and its recent attempts (ON DELETE CASCADE). The users stay.
func (s *Service) DeleteConnection(ctx context.Context, id pulid.ID) error {
	_, err := s.changeConnection(ctx, id, func(tx *ent.Tx, c *ent.Connection) (event, error) {
		if err := tx.Connection.DeleteOne(c).Exec(viewer.SystemContext(ctx)); err != nil {
			return event{}, translate(err, "connection")
		}
		return connectionEvent("connection.delete", c, nil), nil
	})
	return err
}

// changeConnection runs change on connection id in one transaction with
// the event it returns. The viewer must see the connection (else
// NOT_FOUND) and hold connections:manage in its organization (else
// FORBIDDEN). The row is written first, so concurrent changes of one
// connection take turns (PostgreSQL row lock; SQLite's writer lock), and
// change sees the settings its own change is made on.
func (s *Service) changeConnection(ctx context.Context, id pulid.ID, change func(*ent.Tx, *ent.Connection) (event, error)) (*ent.Connection, error) {
	var out *ent.Connection
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		c, err := tx.Connection.Get(ctx, id)
		if err != nil {
			return translate(err, "connection")
		}
		if err := require(ctx, c.OrganizationID, authz.ConnectionsManage); err != nil {
			return err
		}
		sys := viewer.SystemContext(ctx)
		if err := tx.Connection.UpdateOneID(id).SetUpdatedAt(s.now()).Exec(sys); err != nil {
			return translate(err, "connection")
		}
		if c, err = tx.Connection.Get(sys, id); err != nil {
			return translate(err, "connection")
		}
		e, err := change(tx, c)
		if err != nil {
			return err
		}
		if err := s.audit(ctx, tx, e); err != nil {
			return err
		}
		if e.action == "connection.delete" {
			out = c
			return nil
		}
		out, err = tx.Connection.Get(sys, id)
		return translate(err, "connection")
	})
	return unwrap(out, err)
}

// connectionEvent is the audit event of a change to c: its name and
// protocol, and what the change adds; never a secret.
func connectionEvent(action string, c *ent.Connection, extra map[string]any) event {
	md := map[string]any{"name": c.Name, "protocol": string(c.Protocol)}
	for k, v := range extra {
		md[k] = v
	}
	return event{action: action, org: c.OrganizationID, targetType: "Connection", targetID: c.ID, metadata: md}
}

// connectionComplete says what c lacks before it can sign anyone in: an
// InputError (code CONNECTION_INCOMPLETE) on the first missing field that
// names them all.
func connectionComplete(c *ent.Connection) error {
	var missing []string
	switch c.Protocol {
	case connection.ProtocolSAML:
		if c.IdpEntityID == "" {
			missing = append(missing, "idpEntityID")
		}
		if c.IdpSSOURL == "" {
			missing = append(missing, "ssoURL")
		}
		if len(c.IdpCertificates) == 0 {
			missing = append(missing, "certificates")
		}
		if len(c.SpKeys) == 0 {
			missing = append(missing, "spKeys")
		}
	case connection.ProtocolOIDC:
		if c.OidcIssuer == "" {
			missing = append(missing, "issuer")
		}
		if c.OidcClientID == "" {
			missing = append(missing, "clientID")
		}
		if len(c.OidcClientSecretSealed) == 0 {
			missing = append(missing, "clientSecret")
		}
	}
	if len(missing) > 0 {
		return &InputError{Field: missing[0], Code: "CONNECTION_INCOMPLETE",
			Reason: fmt.Sprintf("the connection is not complete: it needs %s before it can be active", strings.Join(missing, ", "))}
	}
	return nil
}

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
	if err := s.checkURL("ssoURL", idp.SSOURL); err != nil {
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

// checkURL accepts "" or an absolute https URL without credentials; plain
// http only for a loopback host, or anywhere in dev mode.
func (s *Service) checkURL(field, raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || len(raw) > 2048 {
		return invalid(field, "must be an absolute https URL of at most 2048 characters")
	}
	if u.User != nil {
		return invalid(field, "must not contain credentials")
	}
	if u.Scheme == "https" || (u.Scheme == "http" && (s.dev || isLoopback(u.Hostname()))) {
		return nil
	}
	return invalid(field, "must use https (plain http only for a loopback address, or in dev mode)")
}

// checkIssuer accepts an OpenID issuer identifier (OpenID Connect
// Discovery §2: https, no query or fragment).
func (s *Service) checkIssuer(raw string) error {
	raw = strings.TrimSpace(raw)
	if err := s.checkURL("issuer", raw); err != nil {
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
