package connectors

import (
	"strings"

	"github.com/gatehouse-id/gatehouse/federation/oidc"
	"github.com/gatehouse-id/gatehouse/federation/saml"
)

// PresetMapping returns the attribute (SAML) or claim (OIDC) names a
// preset reads when the connection's mapping leaves a field empty, keyed
// email, firstName, lastName, name and groups: the defaults the admin
// portal shows (web.PresetMappings). protocol is "SAML" or "OIDC",
// preset a ConnectionPreset ("OKTA"); nil for an unknown one.
func (r *Registry) PresetMapping(protocol, preset string) map[string]string {
	key := strings.ToLower(preset)
	switch protocol {
	case "SAML":
		m, ok := saml.Presets[key]
		if !ok {
			return nil
		}
		return map[string]string{"email": m.Email, "firstName": m.FirstName, "lastName": m.LastName, "name": m.Name, "groups": m.Groups}
	case "OIDC":
		p, ok := oidc.Presets[key]
		if !ok {
			return nil
		}
		m := p.Mapping
		return map[string]string{"email": m.Email, "firstName": m.GivenName, "lastName": m.FamilyName, "name": m.Name, "groups": m.Groups}
	}
	return nil
}
