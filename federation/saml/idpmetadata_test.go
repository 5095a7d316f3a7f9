package saml

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// TestParseIdPMetadataVendors reads metadata shaped after each vendor's
// published format (testdata, self-generated certificates).
func TestParseIdPMetadataVendors(t *testing.T) {
	for _, tc := range []struct {
		file, entityID, ssoURL, binding string
		certs                           int
	}{
		{"okta.xml", "http://www.okta.com/exk8gz3f2tKxYp1Qe5d7",
			"https://tenant-a.okta.test/app/tenant-a_gatehouse_1/exk8gz3f2tKxYp1Qe5d7/sso/saml", BindingRedirect, 1},
		{"entra_id.xml", "https://sts.windows.test/0d2f3c4b-1a2b-4c3d-8e9f-0a1b2c3d4e5f/",
			"https://login.microsoftonline.test/0d2f3c4b-1a2b-4c3d-8e9f-0a1b2c3d4e5f/saml2", BindingRedirect, 1},
		{"google_workspace.xml", "https://accounts.google.test/o/saml2?idpid=C03x7k2lq",
			"https://accounts.google.test/o/saml2/idp?idpid=C03x7k2lq", BindingRedirect, 1},
		// AD FS: RoleDescriptors and an SPSSODescriptor beside the IdP,
		// an encryption key that is not a signing one, two signing
		// certificates (AutoCertificateRollover's secondary).
		{"adfs.xml", "http://adfs.contoso.test/adfs/services/trust", "https://adfs.contoso.test/adfs/ls/", BindingRedirect, 2},
		// A federation aggregate with one IdP among SPs; the KeyDescriptor
		// has no use (signing and encryption); only the POST binding.
		{"entities_one_idp.xml", "https://idp.university.test/idp/shibboleth",
			"https://idp.university.test/idp/profile/SAML2/POST/SSO", BindingPOST, 1},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile("testdata/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			idp, err := ParseIdPMetadata(data)
			if err != nil {
				t.Fatal(err)
			}
			if idp.EntityID != tc.entityID || idp.SSOURL != tc.ssoURL || idp.Binding != tc.binding || len(idp.Certificates) != tc.certs {
				t.Fatalf("got %s %s %s with %d certificates", idp.EntityID, idp.SSOURL, idp.Binding, len(idp.Certificates))
			}
			// The parsed IdP is a valid connection.
			f := newFixture(t)
			cfg := f.cfg
			cfg.IdP = idp
			if _, err := New(cfg); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestParseIdPMetadataRefuses(t *testing.T) {
	okta, err := os.ReadFile("testdata/okta.xml")
	if err != nil {
		t.Fatal(err)
	}
	two, err := os.ReadFile("testdata/entities_two_idps.xml")
	if err != nil {
		t.Fatal(err)
	}
	body := strings.TrimPrefix(string(okta), `<?xml version="1.0" encoding="UTF-8"?>`)
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"several IdPs", string(two), "2 identity providers"},
		{"DOCTYPE", `<!DOCTYPE md [<!ENTITY x SYSTEM "file:///etc/passwd">]>` + body, "DOCTYPE"},
		{"billion laughs", `<!DOCTYPE md [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>` + body, "DOCTYPE"},
		{"too large", body + strings.Repeat(" ", MaxMetadataBytes), "cap"},
		{"not metadata", `<html><body>Sign in</body></html>`, "not an md:EntityDescriptor"},
		{"not XML", `{"issuer":"https://idp.test"}`, "not XML"},
		{"no IdP", strings.ReplaceAll(body, "IDPSSODescriptor", "SPSSODescriptor"), "no identity provider"},
		{"no signing certificate", strings.ReplaceAll(body, `use="signing"`, `use="encryption"`), "no signing certificate"},
		{"no usable binding", strings.ReplaceAll(body, "bindings:HTTP-", "bindings:SOAP-"), "no SingleSignOnService"},
		{"round-trip unstable", strings.Replace(body, "<md:NameIDFormat>", `<md:NameIDFormat x:="y">`, 1), "round trip"},
		{"bad certificate", strings.Replace(body, "<ds:X509Certificate>MII", "<ds:X509Certificate>MIX", 1), "KeyDescriptor 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseIdPMetadata([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v; want one saying %q", err, tc.want)
			}
		})
	}
}

func TestFetchIdPMetadata(t *testing.T) {
	okta, err := os.ReadFile("testdata/okta.xml")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/metadata":
			_, _ = w.Write(okta)
		case "/huge":
			for range MaxMetadataBytes/len(okta) + 2 {
				_, _ = w.Write(okta)
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	idp, err := FetchIdPMetadata(context.Background(), srv.Client(), srv.URL+"/metadata")
	if err != nil || idp.EntityID != "http://www.okta.com/exk8gz3f2tKxYp1Qe5d7" {
		t.Fatalf("%+v, %v", idp, err)
	}
	if _, err := FetchIdPMetadata(context.Background(), srv.Client(), srv.URL+"/missing"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("missing: %v", err)
	}
	if _, err := FetchIdPMetadata(context.Background(), srv.Client(), srv.URL+"/huge"); err == nil || !strings.Contains(err.Error(), "cap") {
		t.Fatalf("huge: %v", err)
	}
}
