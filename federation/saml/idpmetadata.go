package saml

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/crewjam/saml"
	xrv "github.com/mattermost/xml-roundtrip-validator"
)

// MaxMetadataBytes caps IdP metadata: an AD FS document with its
// RoleDescriptors is under 100 KB.
const MaxMetadataBytes = 1 << 20

// fetchTimeout bounds FetchIdPMetadata when the context sets no deadline.
const fetchTimeout = 10 * time.Second

const protocolSAML2 = "urn:oasis:names:tc:SAML:2.0:protocol"

// ParseIdPMetadata reads the IdP an admin uploaded or a metadata URL
// served (SAML Metadata §2.3, §2.4.3): an EntityDescriptor, or an
// EntitiesDescriptor holding exactly one entity with an IDPSSODescriptor.
// It keeps every signing certificate (rollover), the entity id, and the
// SingleSignOnService location, HTTP-Redirect preferred over HTTP-POST.
// A DOCTYPE (entities, XXE) is refused before parsing (SAML-10), and so is
// XML that encoding/xml would not round-trip (SAML-11). A signature on the
// metadata is not checked: trust comes from how it reached the admin
// (HTTPS from the IdP, or their own upload), and every certificate it
// names becomes a trust anchor for this connection only.
func ParseIdPMetadata(data []byte) (IdP, error) {
	var idp IdP
	if len(data) > MaxMetadataBytes {
		return idp, fmt.Errorf("saml: IdP metadata of %d bytes is over the %d-byte cap", len(data), MaxMetadataBytes)
	}
	if bytes.Contains(data, []byte("<!DOCTYPE")) || bytes.Contains(data, []byte("<!ENTITY")) {
		return idp, errors.New("saml: IdP metadata with a DOCTYPE or entity declaration is refused")
	}
	if err := xrv.Validate(bytes.NewReader(data)); err != nil {
		return idp, fmt.Errorf("saml: IdP metadata is XML that does not survive an encoding/xml round trip: %w", err)
	}
	if err := checkQNames(data); err != nil {
		return idp, fmt.Errorf("saml: IdP metadata: %w", err)
	}
	entities, err := metadataEntities(data)
	if err != nil {
		return idp, err
	}
	var idps []saml.EntityDescriptor
	for _, e := range entities {
		if len(e.IDPSSODescriptors) > 0 {
			idps = append(idps, e)
		}
	}
	switch len(idps) {
	case 0:
		return idp, errors.New("saml: the metadata describes no identity provider (no IDPSSODescriptor)")
	case 1:
	default:
		ids := make([]string, len(idps))
		for i, e := range idps {
			ids[i] = e.EntityID
		}
		return idp, fmt.Errorf("saml: the metadata describes %d identity providers (%s); upload the one for this connection", len(idps), strings.Join(ids, ", "))
	}
	e := idps[0]
	if strings.TrimSpace(e.EntityID) == "" {
		return idp, errors.New("saml: the IdP's EntityDescriptor has no entityID")
	}
	idp.EntityID = strings.TrimSpace(e.EntityID)
	var descs []saml.IDPSSODescriptor
	for _, d := range e.IDPSSODescriptors {
		if slices.Contains(strings.Fields(d.ProtocolSupportEnumeration), protocolSAML2) {
			descs = append(descs, d)
		}
	}
	if len(descs) != 1 {
		return idp, fmt.Errorf("saml: %s has %d SAML 2.0 IDPSSODescriptors, want one", idp.EntityID, len(descs))
	}
	d := descs[0]
	for _, want := range []string{BindingRedirect, BindingPOST} {
		for _, sso := range d.SingleSignOnServices {
			if sso.Binding == want && idp.SSOURL == "" {
				idp.SSOURL, idp.Binding = strings.TrimSpace(sso.Location), want
			}
		}
	}
	if idp.SSOURL == "" {
		return idp, fmt.Errorf("saml: %s has no SingleSignOnService with the HTTP-Redirect or HTTP-POST binding", idp.EntityID)
	}
	if err := checkAbsoluteURL(idp.SSOURL); err != nil {
		return idp, fmt.Errorf("saml: %s SingleSignOnService: %w", idp.EntityID, err)
	}
	for i, kd := range d.KeyDescriptors {
		if kd.Use != "" && kd.Use != "signing" {
			continue
		}
		for _, xc := range kd.KeyInfo.X509Data.X509Certificates {
			der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(xc.Data), ""))
			if err != nil {
				return idp, fmt.Errorf("saml: %s KeyDescriptor %d: certificate is not base64: %w", idp.EntityID, i+1, err)
			}
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				return idp, fmt.Errorf("saml: %s KeyDescriptor %d: %w", idp.EntityID, i+1, err)
			}
			if !slices.ContainsFunc(idp.Certificates, cert.Equal) {
				idp.Certificates = append(idp.Certificates, cert)
			}
		}
	}
	if len(idp.Certificates) == 0 {
		return idp, fmt.Errorf("saml: %s publishes no signing certificate", idp.EntityID)
	}
	return idp, nil
}

// checkQNames refuses element and attribute names that are not
// namespace-well-formed (":a", "x:"): encoding/xml and etree read them
// differently (SAML-11), and the round-trip validator lets them through.
func checkQNames(data []byte) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if t, ok := tok.(xml.StartElement); ok {
			if !qname(t.Name.Local) {
				return fmt.Errorf("element name %q is not a qualified name", t.Name.Local)
			}
			for _, a := range t.Attr {
				if !qname(a.Name.Local) {
					return fmt.Errorf("attribute name %q is not a qualified name (it does not survive an encoding/xml round trip)", a.Name.Local)
				}
			}
		}
	}
}

// metadataEntities are the EntityDescriptors in data, however deep in
// EntitiesDescriptors.
func metadataEntities(data []byte) ([]saml.EntityDescriptor, error) {
	var root struct{ XMLName xml.Name }
	if err := xml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("saml: IdP metadata is not XML: %w", err)
	}
	const nsMetadata = "urn:oasis:names:tc:SAML:2.0:metadata"
	switch root.XMLName {
	case xml.Name{Space: nsMetadata, Local: "EntityDescriptor"}:
		var e saml.EntityDescriptor
		if err := xml.Unmarshal(data, &e); err != nil {
			return nil, fmt.Errorf("saml: IdP metadata: %w", err)
		}
		return []saml.EntityDescriptor{e}, nil
	case xml.Name{Space: nsMetadata, Local: "EntitiesDescriptor"}:
		var es saml.EntitiesDescriptor
		if err := xml.Unmarshal(data, &es); err != nil {
			return nil, fmt.Errorf("saml: IdP metadata: %w", err)
		}
		var out []saml.EntityDescriptor
		var walk func(saml.EntitiesDescriptor)
		walk = func(es saml.EntitiesDescriptor) {
			out = append(out, es.EntityDescriptors...)
			for _, inner := range es.EntitiesDescriptors {
				walk(inner)
			}
		}
		walk(es)
		return out, nil
	default:
		return nil, fmt.Errorf("saml: IdP metadata root is {%s}%s, not an md:EntityDescriptor or md:EntitiesDescriptor", root.XMLName.Space, root.XMLName.Local)
	}
}

// FetchIdPMetadata gets and parses the metadata at url with client, which
// must be internal/safehttp's (no loopback, private or link-local targets,
// SAML-15 d). It reads at most MaxMetadataBytes and gives up after ten
// seconds unless ctx says otherwise.
func FetchIdPMetadata(ctx context.Context, client *http.Client, url string) (IdP, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, fetchTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return IdP{}, fmt.Errorf("saml: metadata URL: %w", err)
	}
	req.Header.Set("Accept", "application/samlmetadata+xml, application/xml, text/xml")
	resp, err := client.Do(req)
	if err != nil {
		return IdP{}, fmt.Errorf("saml: fetch IdP metadata: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return IdP{}, fmt.Errorf("saml: fetch IdP metadata: %s answered %s", url, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxMetadataBytes+1))
	if err != nil {
		return IdP{}, fmt.Errorf("saml: read IdP metadata: %w", err)
	}
	if len(data) > MaxMetadataBytes {
		return IdP{}, fmt.Errorf("saml: IdP metadata at %s is over the %d-byte cap", url, MaxMetadataBytes)
	}
	return ParseIdPMetadata(data)
}
