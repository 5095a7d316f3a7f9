package federation_test

import (
	"testing"

	"github.com/gatehouse-id/gatehouse/federation"
)

// TestConnectionEndpoints: the paths under the issuer, with or without a
// trailing slash and under an issuer with a path.
func TestConnectionEndpoints(t *testing.T) {
	for _, issuer := range []string{"https://id.example", "https://id.example/"} {
		got := federation.ConnectionEndpoints(issuer, "conn_01")
		want := federation.Endpoints{
			SAMLACS:         "https://id.example/sso/saml/conn_01/acs",
			SAMLComplete:    "https://id.example/sso/saml/conn_01/complete",
			SAMLEntityID:    "https://id.example/sso/saml/conn_01/metadata",
			SAMLMetadata:    "https://id.example/sso/saml/conn_01/metadata",
			OIDCRedirectURI: "https://id.example/sso/oidc/conn_01/callback",
		}
		if got != want {
			t.Errorf("%s: %+v, want %+v", issuer, got, want)
		}
	}
	if got := federation.ConnectionEndpoints("https://example.com/auth", "conn_02").SAMLACS; got != "https://example.com/auth/sso/saml/conn_02/acs" {
		t.Errorf("issuer with a path: %s", got)
	}
}
