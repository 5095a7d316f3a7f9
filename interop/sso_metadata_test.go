package interop

import (
	"compress/flate"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testIdPMetadataSamples gives createSAMLConnection the metadata documents
// of Okta, Entra ID, Google Workspace and AD FS in their vendors' formats
// (federation/saml/testdata): each becomes a connection with the IdP's
// entity id, SSO URL, binding and signing certificates, activates, and
// sends a person at its organization's verified domain from the
// identifier step to that SSO URL with a signed AuthnRequest for the
// connection's SP. Past that URL is the vendor's cloud, which tests never
// reach.
func testIdPMetadataSamples(t *testing.T, e *ssoServer) {
	const redirect = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
	for _, tc := range []struct {
		file, preset, slug string
		entityID, ssoURL   string
		certificates       int
	}{
		{"okta.xml", "OKTA", "okta-sample", "http://www.okta.com/exk8gz3f2tKxYp1Qe5d7",
			"https://tenant-a.okta.test/app/tenant-a_gatehouse_1/exk8gz3f2tKxYp1Qe5d7/sso/saml", 1},
		{"entra_id.xml", "ENTRA_ID", "entra-sample", "https://sts.windows.test/0d2f3c4b-1a2b-4c3d-8e9f-0a1b2c3d4e5f/",
			"https://login.microsoftonline.test/0d2f3c4b-1a2b-4c3d-8e9f-0a1b2c3d4e5f/saml2", 1},
		{"google_workspace.xml", "GOOGLE_WORKSPACE", "google-sample", "https://accounts.google.test/o/saml2?idpid=C03x7k2lq",
			"https://accounts.google.test/o/saml2/idp?idpid=C03x7k2lq", 1},
		// Two signing certificates: AutoCertificateRollover's secondary.
		{"adfs.xml", "ADFS", "adfs-sample", "http://adfs.contoso.test/adfs/services/trust", "https://adfs.contoso.test/adfs/ls/", 2},
	} {
		t.Run(strings.TrimSuffix(tc.file, ".xml"), func(t *testing.T) {
			md, err := os.ReadFile(filepath.Join("..", "federation", "saml", "testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			domain := tc.slug + ".test"
			orgID := e.customer(t, tc.slug, tc.slug, domain)
			cn := e.createSAMLConnection(t, orgID, tc.slug, tc.preset, string(md))
			var read struct {
				Node struct {
					IdpEntityID, IdpSSOURL, IdpSSOBinding string
					IdpCertificates                       []string
					Preset                                string
				}
			}
			e.do(t, `query($id: ID!) { node(id: $id) { ... on Connection { idpEntityID idpSSOURL idpSSOBinding idpCertificates preset } } }`,
				map[string]any{"id": cn.ID}, &read)
			got := read.Node
			if got.IdpEntityID != tc.entityID || got.IdpSSOURL != tc.ssoURL || got.IdpSSOBinding != redirect ||
				len(got.IdpCertificates) != tc.certificates || got.Preset != tc.preset {
				t.Fatalf("connection from %s: entity %q, SSO %q (%s), %d certificates, preset %s; want %q, %q (HTTP-Redirect), %d, %s",
					tc.file, got.IdpEntityID, got.IdpSSOURL, got.IdpSSOBinding, len(got.IdpCertificates), got.Preset,
					tc.entityID, tc.ssoURL, tc.certificates, tc.preset)
			}
			e.activate(t, cn.ID)

			l := newLogin(e.rp.config(e.app, "openid", "organization"))
			res, err := e.browser(t, "it-admin@"+domain, "").Drive(t.Context(), l.authURL())
			if err != nil {
				t.Fatal(err)
			}
			if res.Redirect == nil || !strings.HasPrefix(res.Redirect.String(), tc.ssoURL) {
				t.Fatalf("identifier step at %s did not go to the IdP's SSO URL %s: %s", domain, tc.ssoURL, res)
			}
			q := res.Redirect.Query()
			if q.Get("Signature") == "" || q.Get("SigAlg") == "" || q.Get("RelayState") == "" {
				t.Errorf("AuthnRequest to %s is not signed or has no RelayState: %s", tc.ssoURL, res.Redirect)
			}
			raw, err := base64.StdEncoding.DecodeString(q.Get("SAMLRequest"))
			if err != nil {
				t.Fatalf("SAMLRequest: %v", err)
			}
			xml, err := io.ReadAll(flate.NewReader(strings.NewReader(string(raw))))
			if err != nil {
				t.Fatalf("SAMLRequest does not inflate: %v", err)
			}
			for _, want := range []string{`Destination="` + tc.ssoURL, cn.SPEntityID + "</", `AssertionConsumerServiceURL="` + cn.ACSURL + `"`} {
				if !strings.Contains(strings.ReplaceAll(string(xml), "&amp;", "&"), want) {
					t.Errorf("AuthnRequest lacks %s:\n%s", want, xml)
				}
			}
		})
	}
}
