package tenants

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/connection"
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
	if err := checkURL("metadataURL", in.MetadataURL, s.dev); err != nil {
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
	return s.createConnection(ctx, id, in.OrganizationID, connection.ProtocolSAML, name, in.ConnectionSettings,
		map[string]any{"spKeyID": key.ID}, func(create *ent.ConnectionCreate) {
			create.SetIdpEntityID(idp.EntityID).
				SetIdpSSOURL(idp.SSOURL).
				SetIdpSSOBinding(idp.SSOBinding).
				SetIdpCertificates(idp.Certificates).
				SetIdpMetadataURL(in.MetadataURL).
				SetSpKeys([]sso.SPKey{key}).
				SetAllowIdpInitiated(in.AllowIdPInitiated)
		})
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
	return s.createConnection(ctx, id, in.OrganizationID, connection.ProtocolOIDC, name, in.ConnectionSettings,
		nil, func(create *ent.ConnectionCreate) {
			create.SetOidcIssuer(strings.TrimSpace(in.Issuer)).
				SetOidcClientID(strings.TrimSpace(in.ClientID)).
				SetOidcScopes(scopes)
			if sealed != nil {
				create.SetOidcClientSecretSealed(sealed)
			}
		})
}

// createConnection stores connection id of org in one transaction with
// its connection.create event (extra added to the event's metadata): the
// settings both protocols share, checked against the organization's
// roles, and what protocol sets.
func (s *Service) createConnection(ctx context.Context, id, org pulid.ID, protocol connection.Protocol, name string,
	settings ConnectionSettings, extra map[string]any, set func(*ent.ConnectionCreate)) (*ent.Connection, error) {
	var c *ent.Connection
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		if _, err := tx.Organization.Get(ctx, org); err != nil {
			return translate(err, "organization")
		}
		if err := checkRoles(ctx, tx, org, settings.DefaultRoleID, settings.GroupRoleMappings); err != nil {
			return err
		}
		create := tx.Connection.Create().SetID(id).
			SetOrganizationID(org).
			SetProtocol(protocol).
			SetName(name).
			SetNillablePreset(settings.Preset)
		set(create)
		setSettings(create.Mutation(), settings)
		var err error
		if c, err = create.Save(ctx); err != nil {
			return translate(err, "connection")
		}
		return s.audit(ctx, tx, connectionEvent("connection.create", c, extra))
	})
	return unwrap(c, err)
}

// UpdateConnection changes a connection's settings. The audit event
// names the fields changed, never their values (a client secret among
// them).
func (s *Service) UpdateConnection(ctx context.Context, in UpdateConnectionInput) (*ent.Connection, error) {
	return s.changeConnection(ctx, in.ID, func(tx *ent.Tx, c *ent.Connection) (*ent.Connection, event, error) {
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
				return nil, event{}, invalid(f.name, "applies to %s connections only", map[bool]string{true: "SAML", false: "OIDC"}[f.saml])
			}
		}
		upd := tx.Connection.UpdateOne(c)
		var changed []string
		mark := func(name string) { changed = append(changed, name) }
		if in.Name != nil {
			name, err := connectionName(*in.Name)
			if err != nil {
				return nil, event{}, err
			}
			upd.SetName(name)
			mark("name")
		}
		if in.Preset != nil {
			if connection.PresetValidator(*in.Preset) != nil {
				return nil, event{}, invalid("preset", "is not a known preset")
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
				return nil, event{}, err
			}
			upd.SetIdpEntityID(idp.EntityID).SetIdpSSOURL(idp.SSOURL).SetIdpSSOBinding(idp.SSOBinding).SetIdpCertificates(idp.Certificates)
			if in.MetadataURL != nil {
				if err := checkURL("metadataURL", *in.MetadataURL, s.dev); err != nil {
					return nil, event{}, err
				}
				// A URL of the administrator's starts with no failure streak
				// (RefreshConnectionMetadata).
				upd.SetIdpMetadataURL(*in.MetadataURL).SetIdpMetadataFailures(0).ClearIdpMetadataRetryAt().SetIdpMetadataError("")
				mark("metadataURL")
			}
			if in.AllowIdPInitiated != nil {
				upd.SetAllowIdpInitiated(*in.AllowIdPInitiated)
				mark("allowIdPInitiated")
			}
		} else {
			if in.Issuer != nil {
				if err := s.checkIssuer(*in.Issuer); err != nil {
					return nil, event{}, err
				}
				upd.SetOidcIssuer(strings.TrimSpace(*in.Issuer))
				mark("issuer")
			}
			if in.ClientID != nil {
				if err := checkClientID(*in.ClientID); err != nil {
					return nil, event{}, err
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
						return nil, event{}, err
					}
					upd.SetOidcClientSecretSealed(sealed)
				}
				mark("clientSecret")
			}
			if len(in.Scopes) > 0 {
				scopes, err := oidcScopes(in.Scopes)
				if err != nil {
					return nil, event{}, err
				}
				upd.SetOidcScopes(scopes)
				mark("scopes")
			}
		}
		if in.AttributeMapping != nil {
			if err := checkAttributeMapping(*in.AttributeMapping); err != nil {
				return nil, event{}, err
			}
			upd.SetAttributeMapping(*in.AttributeMapping)
			mark("attributeMapping")
		}
		switch {
		case in.ClearDefaultRole && in.DefaultRoleID != nil:
			return nil, event{}, invalid("defaultRoleID", "cannot be set and cleared at once")
		case in.ClearDefaultRole:
			upd.ClearDefaultRoleID()
			mark("defaultRoleID")
		case in.DefaultRoleID != nil:
			if err := checkRoles(ctx, tx, c.OrganizationID, in.DefaultRoleID, nil); err != nil {
				return nil, event{}, err
			}
			upd.SetDefaultRoleID(*in.DefaultRoleID)
			mark("defaultRoleID")
		}
		if in.GroupRoleMappings != nil {
			if err := checkGroupRoles(*in.GroupRoleMappings); err != nil {
				return nil, event{}, err
			}
			if err := checkRoles(ctx, tx, c.OrganizationID, nil, *in.GroupRoleMappings); err != nil {
				return nil, event{}, err
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
			return nil, event{}, translate(err, "connection")
		}
		if updated.State == connection.StateACTIVE {
			if err := connectionComplete(updated); err != nil {
				return nil, event{}, err
			}
		}
		return updated, connectionEvent("connection.update", c, map[string]any{"fields": changed}), nil
	})
}

// ActivateConnection lets a complete connection sign users in: a SAML
// connection needs the IdP's entity id, SSO URL and at least one
// certificate; an OIDC one its issuer, client id and client secret.
func (s *Service) ActivateConnection(ctx context.Context, id pulid.ID) (*ent.Connection, error) {
	return s.changeConnection(ctx, id, func(tx *ent.Tx, c *ent.Connection) (*ent.Connection, event, error) {
		if err := connectionComplete(c); err != nil {
			return nil, event{}, err
		}
		c, err := tx.Connection.UpdateOne(c).SetState(connection.StateACTIVE).Save(viewer.SystemContext(ctx))
		if err != nil {
			return nil, event{}, translate(err, "connection")
		}
		return c, connectionEvent("connection.activate", c, nil), nil
	})
}

// DeactivateConnection stops a connection signing anyone in; its settings
// and links to users stay.
func (s *Service) DeactivateConnection(ctx context.Context, id pulid.ID) (*ent.Connection, error) {
	return s.changeConnection(ctx, id, func(tx *ent.Tx, c *ent.Connection) (*ent.Connection, event, error) {
		c, err := tx.Connection.UpdateOne(c).SetState(connection.StateINACTIVE).Save(viewer.SystemContext(ctx))
		if err != nil {
			return nil, event{}, translate(err, "connection")
		}
		return c, connectionEvent("connection.deactivate", c, nil), nil
	})
}

// DeleteConnection deletes a connection with its links to users, its used
// assertions and its recent attempts (ON DELETE CASCADE). The users stay.
func (s *Service) DeleteConnection(ctx context.Context, id pulid.ID) error {
	_, err := s.changeConnection(ctx, id, func(tx *ent.Tx, c *ent.Connection) (*ent.Connection, event, error) {
		if err := tx.Connection.DeleteOne(c).Exec(viewer.SystemContext(ctx)); err != nil {
			return nil, event{}, translate(err, "connection")
		}
		return nil, connectionEvent("connection.delete", c, nil), nil
	})
	return err
}

// changeConnection runs change on connection id in one transaction with
// the event it returns, and returns the connection change leaves (nil
// once deleted). The viewer must see the connection (else NOT_FOUND) and
// hold connections:manage in its organization (else FORBIDDEN). The row
// is written before it is read, so concurrent changes of one connection
// take turns (PostgreSQL row lock; SQLite's writer lock), and change sees
// the settings its own change is made on.
func (s *Service) changeConnection(ctx context.Context, id pulid.ID, change func(*ent.Tx, *ent.Connection) (*ent.Connection, event, error)) (*ent.Connection, error) {
	var out *ent.Connection
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		if err := tx.Connection.UpdateOneID(id).SetUpdatedAt(s.now()).Exec(viewer.SystemContext(ctx)); err != nil {
			return translate(err, "connection")
		}
		c, err := tx.Connection.Get(ctx, id) // as the viewer: one it may not see is NOT_FOUND, and the write rolls back
		if err != nil {
			return translate(err, "connection")
		}
		if err := require(ctx, c.OrganizationID, authz.ConnectionsManage); err != nil {
			return err
		}
		var e event
		out, e, err = change(tx, c)
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, e)
	})
	if out == nil {
		return nil, err
	}
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
