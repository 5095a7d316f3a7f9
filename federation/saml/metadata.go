package saml

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"

	"github.com/crewjam/saml"
)

// Metadata is the SP metadata for the IdP's admin (SAML Metadata §2.4.4):
// the entity id, the ACS (HTTP-POST only), every SP key both for signing
// and for encryption (so an IdP that caches it keeps working through a
// rotation), AuthnRequestsSigned and WantAssertionsSigned. It carries a
// cacheDuration, not a validUntil, so the bytes depend on Config only.
func (c *Connector) Metadata() ([]byte, error) {
	sp := c.serviceProvider(c.cfg.Now())
	ed := sp.Metadata()
	if len(ed.SPSSODescriptors) != 1 {
		return nil, fmt.Errorf("saml: crewjam made %d SPSSODescriptors", len(ed.SPSSODescriptors))
	}
	desc := &ed.SPSSODescriptors[0]
	var keys []saml.KeyDescriptor
	var encryptionMethods []saml.EncryptionMethod
	for _, kd := range desc.KeyDescriptors {
		if kd.Use == "encryption" {
			encryptionMethods = kd.EncryptionMethods
		}
	}
	for _, use := range []string{"signing", "encryption"} {
		for _, k := range c.cfg.Keys {
			kd := saml.KeyDescriptor{Use: use, KeyInfo: saml.KeyInfo{X509Data: saml.X509Data{
				X509Certificates: []saml.X509Certificate{{Data: base64.StdEncoding.EncodeToString(k.Certificate.Raw)}},
			}}}
			if use == "encryption" {
				kd.EncryptionMethods = encryptionMethods
			}
			keys = append(keys, kd)
		}
	}
	desc.KeyDescriptors = keys
	desc.SingleLogoutServices = nil
	yes := true
	desc.AuthnRequestsSigned = &yes
	desc.WantAssertionsSigned = &yes
	b, err := xml.MarshalIndent(ed, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("saml: write SP metadata: %w", err)
	}
	return append([]byte(xml.Header), b...), nil
}
