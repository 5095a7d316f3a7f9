package saml

import "slices"

// amrOf maps what a SAML IdP says about how the person authenticated
// (AuthnContextClassRef, SAML Authn Context §3.4; and the
// authnmethodsreferences claim AD FS and Entra ID send) to RFC 8176
// method values, so that federation reads one vocabulary whatever the
// protocol. A reference not listed here says nothing and is dropped;
// Identity.Attributes keeps the claim as sent.
var amrOf = map[string]string{
	"urn:oasis:names:tc:SAML:2.0:ac:classes:Password":                                "pwd",
	"urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport":              "pwd",
	"http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password": "pwd",
	"urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken":                           "otp",
	"http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/otp":      "otp",
	"urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard":                               "sc",
	"urn:oasis:names:tc:SAML:2.0:ac:classes:SmartcardPKI":                            "sc",
	"http://schemas.microsoft.com/claims/multipleauthn":                              "mfa",
	"https://refeds.org/profile/mfa":                                                 "mfa",
}

// authnMethodsAttribute is where AD FS and Entra ID list the methods used.
const authnMethodsAttribute = "http://schemas.microsoft.com/claims/authnmethodsreferences"

func addAMR(amr []string, ref string) []string {
	if m, ok := amrOf[ref]; ok && !slices.Contains(amr, m) {
		return append(amr, m)
	}
	return amr
}
