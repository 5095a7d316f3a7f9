package saml

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/beevik/etree"
)

// TestEntraIDShapedResponses reads crewjam's Entra ID-shaped fixtures
// (testdata/crewjam/PROVENANCE.md) through Finish with the entra_id
// preset: this package's stricter checks accept Entra's wire format, in
// each of its signing options and IdP-initiated, and refuse each XSW
// permutation of it. The clock is the one the
// fixtures were issued at, owned by the test.
func TestEntraIDShapedResponses(t *testing.T) {
	const requestID = "id-4f6e2c9d8a7b1e3f5d0c2b4a6e8f1d3c5b7a9e0f"
	issued := time.Date(2025, 6, 2, 15, 4, 6, 0, time.UTC)
	md, err := os.ReadFile("testdata/crewjam/entra_IDPMetadata.xml")
	if err != nil {
		t.Fatal(err)
	}
	idp, err := ParseIdPMetadata(md)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name         string
		idpInitiated bool
	}{
		{"assertion_signed", false},
		{"response_signed", false},
		{"response_and_assertion_signed", false},
		{"idp_initiated", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(c *Config) {
				c.SPEntityID, c.ACSURL, c.MetadataURL = "https://sp.example.com/saml/metadata", "https://sp.example.com/saml/acs", ""
				c.IdP = idp
				c.Mapping = Presets["entra_id"]
				c.AllowIdPInitiated = tc.idpInitiated
				c.AllowUnsignedAssertion = tc.name == "response_signed"
				c.Now = func() time.Time { return issued }
			})
			raw, err := os.ReadFile("testdata/crewjam/entra_" + tc.name + ".xml")
			if err != nil {
				t.Fatal(err)
			}
			rid := requestID
			if tc.idpInitiated {
				rid = ""
			}
			id, err := f.conn.finishXML(context.Background(), raw, rid, issued)
			if err != nil {
				t.Fatal(err)
			}
			if id.Subject != "alice@contoso.example" || id.Email != "alice@contoso.example" || id.GivenName == "" ||
				id.FamilyName == "" || id.Name == "" || len(id.Groups) == 0 {
				t.Fatalf("identity %+v", id)
			}
			if !slices.Contains(id.AMR, "pwd") || !slices.Contains(id.AMR, "mfa") {
				t.Fatalf("AMR %v", id.AMR)
			}
			if !slices.Contains(id.Attributes["http://schemas.microsoft.com/identity/claims/tenantid"], "8c3a9b2e-4f1d-4e6a-9b7c-2d5e8f1a3c4b") {
				t.Fatalf("attributes %v", id.Attributes)
			}

			// Entra's wire format, wrapped: refused by the structural
			// checks, not merely as a replay of the assertion just spent.
			for _, x := range xsw {
				doc := etree.NewDocument()
				if err := doc.ReadFromBytes(raw); err != nil {
					t.Fatal(err)
				}
				x.wrap(doc)
				b, _ := doc.WriteToBytes()
				_, err := f.conn.finishXML(context.Background(), b, rid, issued)
				switch CodeOf(err) {
				case CodeMultipleAssertions, CodeMalformed, CodeSignatureInvalid:
				default:
					t.Fatalf("%s: %v; want a structural rejection", x.name, err)
				}
			}
		})
	}
}
