package saml

// AttributeMapping names the SAML attributes (by their Name, never the
// advisory FriendlyName) that carry each part of the Identity. An empty
// name means the IdP does not send it.
type AttributeMapping struct {
	Email, FirstName, LastName, Name, Groups string
	// Custom maps a user-metadata key to the attribute that fills it.
	Custom map[string]string
}

// Presets are each vendor's default attribute names, so that an admin
// picks "Okta" rather than typing URIs. Where a vendor sends nothing by
// default, the preset holds the names that vendor's own setup guides tell
// admins to type, and the admin may change them.
var Presets = map[string]AttributeMapping{
	// Okta sends no attributes until the app's "Attribute Statements" are
	// set; its SAML app integration wizard guide names them email,
	// firstName and lastName, and a group attribute statement "groups".
	"okta": {Email: "email", FirstName: "firstName", LastName: "lastName", Groups: "groups"},

	// Microsoft Entra ID's default claims for a non-gallery SAML app
	// ("Customize claims issued in the SAML token", Microsoft Learn):
	// emailaddress (user.mail), givenname, surname, name (the UPN);
	// a group claim, once added, is emitted as the 2008/06 groups claim.
	// displayname is the claim Entra uses when an admin adds the display
	// name; the default "name" is a UPN, not a person's name.
	"entra_id": {
		Email:     "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
		FirstName: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
		LastName:  "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
		Name:      "http://schemas.microsoft.com/identity/claims/displayname",
		Groups:    "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
	},

	// Google Workspace's custom SAML app asks the admin to name each
	// mapped attribute; its help page ("Set up your own custom SAML app")
	// maps Primary email, First name and Last name, and Group membership,
	// and the names below are the ones its examples use.
	"google_workspace": {Email: "email", FirstName: "firstName", LastName: "lastName", Groups: "groups"},

	// AD FS claim descriptions (Get-AdfsClaimDescription): E-Mail Address,
	// Given Name, Surname and Name are the xmlsoap 2005/05 claim types;
	// "Token-Groups - Unqualified Names" issued as the Group claim type.
	"adfs": {
		Email:     "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
		FirstName: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
		LastName:  "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
		Name:      "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
		Groups:    "http://schemas.xmlsoap.org/claims/Group",
	},

	// OneLogin's "SAML Custom Connector (Advanced)" default parameters:
	// User.email, User.FirstName, User.LastName, and memberOf for roles
	// or groups.
	"onelogin": {Email: "User.email", FirstName: "User.FirstName", LastName: "User.LastName", Groups: "memberOf"},

	// JumpCloud's SSO application attributes use its user fields email,
	// firstname and lastname; "Include group attribute" sends the user's
	// groups as memberOf unless renamed.
	"jumpcloud": {Email: "email", FirstName: "firstname", LastName: "lastname", Groups: "memberOf"},

	// Any other IdP: the SAML V2.0 X.500/LDAP attribute profile names
	// (urn:oid, as Shibboleth, SimpleSAMLphp and eduGAIN IdPs send them,
	// REFEDS and MACE-Dir): mail, givenName, sn, displayName, and
	// isMemberOf for groups.
	"generic": {
		Email:     "urn:oid:0.9.2342.19200300.100.1.3",
		FirstName: "urn:oid:2.5.4.42",
		LastName:  "urn:oid:2.5.4.4",
		Name:      "urn:oid:2.16.840.1.113730.3.1.241",
		Groups:    "urn:oid:1.3.6.1.4.1.5923.1.5.1.1",
	},
}

// CustomValues are the values of m.Custom's attributes in attrs (an
// Identity's Attributes), by user-metadata key; keys whose attribute was
// not sent are left out.
func (m AttributeMapping) CustomValues(attrs map[string][]string) map[string][]string {
	out := make(map[string][]string, len(m.Custom))
	for key, name := range m.Custom {
		if v, ok := attrs[name]; ok {
			out[key] = v
		}
	}
	return out
}

// names are the attribute names the mapping reads: an IdP sending one of
// them twice is ambiguous (SAML-09 attribute pollution).
func (m AttributeMapping) names() map[string]bool {
	out := map[string]bool{}
	for _, n := range []string{m.Email, m.FirstName, m.LastName, m.Name, m.Groups} {
		if n != "" {
			out[n] = true
		}
	}
	for _, n := range m.Custom {
		if n != "" {
			out[n] = true
		}
	}
	return out
}
