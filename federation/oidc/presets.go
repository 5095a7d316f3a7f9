package oidc

import (
	"fmt"
	"strings"
)

// Preset is what Gatehouse knows of one identity provider product: how its
// issuer is spelled, which scopes to ask for and which claims carry what.
// The pages offer them when an administrator adds a connection.
type Preset struct {
	Name string
	// IssuerTemplate is the issuer with {placeholders} the administrator
	// fills (Issuer does it).
	IssuerTemplate string
	Scopes         []string
	Mapping        ClaimMapping
	// IssuerAliases go to Config.IssuerAliases.
	IssuerAliases []string
	// PinClaim names the claim the connection should pin with
	// Config.RequiredClaims ("hd" for Google Workspace), when the provider
	// would otherwise let outside accounts sign in.
	PinClaim string
	// Notes are for the administrator: what to configure at the provider.
	Notes string
}

// Issuer fills the preset's IssuerTemplate; every placeholder must be
// given and values may not contain '/', '?', '#', '@' or spaces (unless
// the placeholder is the whole issuer, as in "generic").
func (p Preset) Issuer(values map[string]string) (string, error) {
	out := p.IssuerTemplate
	for k, v := range values {
		whole := p.IssuerTemplate == "{"+k+"}"
		if v == "" || (!whole && strings.ContainsAny(v, "/?#@ \t\r\n")) {
			return "", fmt.Errorf("oidc: preset %s: %s %q is not a plain name", p.Name, k, v)
		}
		out = strings.ReplaceAll(out, "{"+k+"}", v)
	}
	if i := strings.IndexByte(out, '{'); i >= 0 {
		return "", fmt.Errorf("oidc: preset %s: issuer %q still has a placeholder", p.Name, out)
	}
	return out, nil
}

// Presets by the name the connection's preset column stores (lower case).
//
// Sources (2026): Microsoft identity platform "ID token claims reference"
// and "Optional claims reference" (learn.microsoft.com/entra/identity-platform);
// Okta "Customize tokens returned from Okta with a groups claim" and "OpenID
// Connect & OAuth 2.0 API" (developer.okta.com); Google "OpenID Connect"
// (developers.google.com/identity/openid-connect/openid-connect).
var Presets = map[string]Preset{
	"entra_id": {
		Name:           "Microsoft Entra ID",
		IssuerTemplate: "https://login.microsoftonline.com/{tenant}/v2.0",
		Scopes:         []string{"openid", "email", "profile"},
		Mapping: ClaimMapping{
			// email is optional in v2 ID tokens and is not verified by
			// Entra (nOAuth); upn and preferred_username are the sign-in
			// name, usually but not always a mailbox.
			Email: "email upn preferred_username",
			// xms_edov ("email domain owner verified") is the optional
			// claim Microsoft added after nOAuth; without it no email
			// from Entra counts as verified.
			EmailVerified: "xms_edov",
			Name:          "name",
			GivenName:     "given_name",
			FamilyName:    "family_name",
			// groups holds group object ids (or names, per the app's
			// groupMembershipClaims setting); over 200 groups Entra sends
			// _claim_names/hasgroups instead, which Gatehouse does not follow.
			Groups: "groups",
		},
		Notes: "Register a web application in the customer's tenant (single tenant: the " +
			"issuer names the directory (tenant) id, a GUID — a domain name's discovery document " +
			"states the GUID issuer, which must match exactly — never common or organizations). Add the optional " +
			"claims email, upn, given_name, family_name and xms_edov to the ID token, and " +
			"\"groups\" (Security groups) under Token configuration for role mapping. The " +
			"subject (sub) is pairwise per application and stable.",
	},
	"okta": {
		Name: "Okta",
		// The org authorization server; a custom one is
		// https://{domain}/oauth2/{server}.
		IssuerTemplate: "https://{domain}",
		// groups is an Okta scope of the org authorization server that
		// adds the groups claim.
		Scopes: []string{"openid", "email", "profile", "groups"},
		// The standard claims, groups among them.
		Mapping: ClaimMapping{}.withDefaults(),
		Notes: "Create an OIDC Web Application with the authorization code grant. On the org " +
			"authorization server the groups scope returns the user's groups (set the app's " +
			"Groups claim filter, e.g. Matches regex .*); a custom authorization server needs " +
			"a groups claim added under Security › API › Claims.",
	},
	"google_workspace": {
		Name:           "Google Workspace",
		IssuerTemplate: "https://accounts.google.com",
		Scopes:         []string{"openid", "email", "profile"},
		// The standard claims (Google's ID tokens carry no groups), and
		// the Workspace domain kept as hosted_domain.
		Mapping: ClaimMapping{Custom: map[string]string{"hosted_domain": "hd"}}.withDefaults(),
		// "The value of iss in the ID token is equal to
		// https://accounts.google.com or accounts.google.com."
		IssuerAliases: []string{"accounts.google.com"},
		PinClaim:      "hd",
		Notes: "Create an OAuth client (Web application) in the customer's Google Cloud project. " +
			"Any Google account can complete the flow unless the consent screen is Internal, so " +
			"pin hd (the Workspace domain) with RequiredClaims. Google sends no groups claim.",
	},
	"generic": {
		Name:           "OpenID Connect",
		IssuerTemplate: "{issuer}",
		Scopes:         []string{"openid", "email", "profile"},
		Mapping:        ClaimMapping{}.withDefaults(),
		Notes: "Any OpenID Provider with discovery at {issuer}/.well-known/openid-configuration " +
			"and the authorization code flow. The standard claims (OIDC Core §5.1) are read; " +
			"groups is a common but non-standard claim.",
	},
}
