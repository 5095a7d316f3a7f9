package federation

import (
	"strings"

	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
)

// Endpoints are the URLs of one connection on this instance: what the
// organization's IT administrator pastes into their IdP, and where the
// connectors answer. They derive from the issuer alone, so GraphQL, the
// pages and the connectors name the same ones.
type Endpoints struct {
	// SAMLACS is the Assertion Consumer Service (HTTP-POST binding).
	SAMLACS string
	// SAMLComplete is where the ACS sends the browser on, to prove it is
	// the one that began the sign-in (web/login_sso.go).
	SAMLComplete string
	// SAMLEntityID is the SP's entity id; it is also the URL of its
	// metadata, so an IdP given the id can fetch the rest.
	SAMLEntityID string
	SAMLMetadata string
	// OIDCRedirectURI is the redirect URI registered at an upstream
	// OpenID Provider.
	OIDCRedirectURI string
}

// ConnectionEndpoints returns connection id's endpoints under issuer:
// /sso/saml/{id}/acs, /sso/saml/{id}/complete, /sso/saml/{id}/metadata and
// /sso/oidc/{id}/callback.
func ConnectionEndpoints(issuer string, id pulid.ID) Endpoints {
	base := strings.TrimRight(issuer, "/")
	saml := base + "/sso/saml/" + string(id)
	md := saml + "/metadata"
	return Endpoints{
		SAMLACS:         saml + "/acs",
		SAMLComplete:    saml + "/complete",
		SAMLEntityID:    md,
		SAMLMetadata:    md,
		OIDCRedirectURI: base + "/sso/oidc/" + string(id) + "/callback",
	}
}
