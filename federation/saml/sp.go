package saml

import (
	"crypto/rsa"
	"encoding/base64"
	"net/url"
	"time"

	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"
)

// serviceProvider is crewjam's view of the connection at the instant now:
// a copy of the connection's (newServiceProvider) with its own clock, so
// that crewjam's clock is ours (Config.Now) and never its package-level
// TimeNow. What the copies share (the IdP descriptor, keys, URLs) crewjam
// only reads.
func (c *Connector) serviceProvider(now time.Time) *saml.ServiceProvider {
	sp := *c.sp
	sp.Clock = dsig.NewFakeClockAt(now)
	return &sp
}

// newServiceProvider is crewjam's view of the connection, made once by
// New after it has parsed the ACS URL.
func (c *Connector) newServiceProvider() *saml.ServiceProvider {
	var metadata url.URL
	if c.cfg.MetadataURL != "" {
		if u, err := url.Parse(c.cfg.MetadataURL); err == nil {
			metadata = *u
		}
	}
	first := c.cfg.Keys[0]
	decryption := make([]*rsa.PrivateKey, 0, len(c.cfg.Keys)-1)
	for _, k := range c.cfg.Keys[1:] {
		decryption = append(decryption, k.Key)
	}
	return &saml.ServiceProvider{
		EntityID:                         c.cfg.SPEntityID,
		Key:                              first.Key,
		Certificate:                      first.Certificate,
		DecryptionKeys:                   decryption,
		MetadataURL:                      metadata,
		AcsURL:                           c.acs,
		IDPMetadata:                      c.idpDescriptor(),
		AuthnNameIDFormat:                saml.UnspecifiedNameIDFormat,
		SignatureMethod:                  dsig.RSASHA256SignatureMethod,
		AllowIDPInitiated:                c.cfg.AllowIdPInitiated,
		AssertionConsumerServiceBindings: []string{saml.HTTPPostBinding},
		MetadataOmitValidUntil:           true,
		// Certificates in metadata are key containers (SAML V2.0 Metadata
		// Interoperability Profile §2.5.1): trust comes from the
		// connection's configuration, and an IdP whose self-signed
		// certificate passed its date (ADFS and Shibboleth publish such)
		// keeps working until the admin rotates it. SECURITY-CHECKLIST
		// SAML-05 (e).
		IgnoreCertificateExpiry: true,
		RejectSHA1Signatures:    true,
		RejectUnknownConditions: false,
	}
}

// idpDescriptor is the IdP as crewjam reads it: an EntityDescriptor with
// exactly the configured signing certificates.
func (c *Connector) idpDescriptor() *saml.EntityDescriptor {
	keys := make([]saml.KeyDescriptor, 0, len(c.cfg.IdP.Certificates))
	for _, cert := range c.cfg.IdP.Certificates {
		keys = append(keys, saml.KeyDescriptor{
			Use: "signing",
			KeyInfo: saml.KeyInfo{X509Data: saml.X509Data{X509Certificates: []saml.X509Certificate{
				{Data: base64.StdEncoding.EncodeToString(cert.Raw)},
			}}},
		})
	}
	return &saml.EntityDescriptor{
		EntityID: c.cfg.IdP.EntityID,
		IDPSSODescriptors: []saml.IDPSSODescriptor{{
			SSODescriptor: saml.SSODescriptor{RoleDescriptor: saml.RoleDescriptor{
				ProtocolSupportEnumeration: "urn:oasis:names:tc:SAML:2.0:protocol",
				KeyDescriptors:             keys,
			}},
			SingleSignOnServices: []saml.Endpoint{{Binding: c.cfg.IdP.Binding, Location: c.cfg.IdP.SSOURL}},
		}},
	}
}
