package provider

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// discoveryHandler serves OpenID Connect Discovery 1.0 §3 and, at
// /.well-known/oauth-authorization-server, the same document as RFC 8414
// metadata. It lists only what works: code flow only, S256 only, the
// three signing algorithms, and RFC 9207 iss. The document depends only on
// the issuer, so it is encoded once.
func (p *Provider) discoveryHandler() http.Handler {
	body := discoveryDocument(p.cfg.Issuer)
	// Browser-based relying parties fetch it too: CORS for any origin.
	contentType, cacheControl, cors := []string{"application/json"}, []string{"public, max-age=300"}, []string{"*"}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Type"], h["Cache-Control"], h["Access-Control-Allow-Origin"] = contentType, cacheControl, cors
		_, _ = w.Write(body)
	})
}

func discoveryDocument(iss string) []byte {
	doc := map[string]any{
		"issuer":                                           iss,
		"authorization_endpoint":                           iss + pathAuthorize,
		"token_endpoint":                                   iss + pathToken,
		"userinfo_endpoint":                                iss + pathUserinfo,
		"jwks_uri":                                         iss + pathKeys,
		"introspection_endpoint":                           iss + pathIntrospect,
		"revocation_endpoint":                              iss + pathRevoke,
		"end_session_endpoint":                             iss + pathEndSession,
		"scopes_supported":                                 supportedScopes,
		"response_types_supported":                         []string{"code"},
		"response_modes_supported":                         []string{"query", "fragment", "form_post"},
		"grant_types_supported":                            []string{"authorization_code", "refresh_token", "client_credentials"},
		"subject_types_supported":                          []string{"public"},
		"id_token_signing_alg_values_supported":            algorithmNames,
		"userinfo_signing_alg_values_supported":            []string{}, // userinfo answers plain JSON
		"token_endpoint_auth_methods_supported":            []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"},
		"token_endpoint_auth_signing_alg_values_supported": assertionAlgorithmNames(),
		"introspection_endpoint_auth_methods_supported":    []string{"client_secret_basic", "client_secret_post", "private_key_jwt"},
		"revocation_endpoint_auth_methods_supported":       []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"},
		"code_challenge_methods_supported":                 []string{"S256"},
		"claims_supported": []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "sid",
			"name", "given_name", "family_name", "locale", "picture", "updated_at", "email", "email_verified",
			"org_id", "org_slug", "org_roles", "permissions"},
		"acr_values_supported":                           acrValues,
		"claims_parameter_supported":                     false,
		"request_parameter_supported":                    false,
		"request_uri_parameter_supported":                false,
		"authorization_response_iss_parameter_supported": true, // RFC 9207 §3
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(fmt.Sprintf("encode discovery document: %v", err)) // only strings and bools: cannot happen
	}
	return b
}
