package oidc

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse-id/gatehouse/federation"
)

// claims are the claims of one sign-in: the verified ID token's, then
// userinfo's for what the ID token does not carry (the signed token wins).
type claims struct {
	id, info map[string]any
}

// lookup finds the first of names (space-separated) that either source
// carries with a value, and says which name matched and whether it came
// from the ID token.
func (cs claims) lookup(names string) (v any, index int, fromID, ok bool) {
	for i, name := range strings.Fields(names) {
		if v, ok := cs.id[name]; ok && present(v) {
			return v, i, true, true
		}
		if v, ok := cs.info[name]; ok && present(v) {
			return v, i, false, true
		}
	}
	return nil, 0, false, false
}

func present(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case string:
		return v != ""
	case []any:
		return len(v) > 0
	}
	return true
}

// text is one claim's value as text: strings as they are, numbers as
// sent, booleans as true/false, objects as JSON.
func text(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case nil:
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// texts is a claim's values as text: each element of a list, or the one value.
func texts(v any) []string {
	if list, ok := v.([]any); ok {
		out := make([]string, 0, len(list))
		for _, e := range list {
			out = append(out, text(e))
		}
		return out
	}
	return []string{text(v)}
}

// truthy reads a boolean claim; some providers send "true" as a string.
func truthy(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		return strings.EqualFold(v, "true")
	}
	return false
}

// identity maps a verified sign-in's claims through the connection's mapping.
func (c *Connector) identity(tok idToken, info map[string]any) federation.Identity {
	cs := claims{id: tok.raw, info: info}
	str := func(names string) string {
		if v, _, _, ok := cs.lookup(names); ok {
			return text(v)
		}
		return ""
	}
	m := c.mapping
	id := federation.Identity{
		ConnectionID: c.cfg.ConnectionID,
		Subject:      tok.claims.Subject,
		Name:         str(m.Name),
		GivenName:    str(m.GivenName),
		FamilyName:   str(m.FamilyName),
		AMR:          slices.Clone(tok.claims.AuthenticationMethodsReferences),
		AuthTime:     tok.claims.GetAuthTime(),
		Attributes:   map[string][]string{},
	}
	if v, i, fromID, ok := cs.lookup(m.Email); ok {
		id.Email = text(v)
		// Verified only for the first-named claim, from the same source
		// (an email from userinfo is not vouched for by the ID token's
		// email_verified: FusionAuth #2542, OIDC-16).
		src := cs.info
		if fromID {
			src = cs.id
		}
		if i == 0 {
			for _, name := range strings.Fields(m.EmailVerified) {
				if v, ok := src[name]; ok {
					id.EmailVerified = truthy(v)
					break
				}
			}
		}
	}
	if v, _, _, ok := cs.lookup(m.Groups); ok {
		id.Groups = texts(v)
	}
	for name, v := range info {
		id.Attributes[name] = texts(v)
	}
	for name, v := range tok.raw {
		id.Attributes[name] = texts(v)
	}
	return id
}

// checkRequired applies Config.RequiredClaims to the ID token's claims.
func (c *Connector) checkRequired(raw map[string]any) error {
	for name, allowed := range c.cfg.RequiredClaims {
		v, ok := raw[name]
		if !ok {
			return reject(CodeClaimRefused, "the id_token carries no %s; the connection requires one of %v", name, allowed)
		}
		got := texts(v)
		if !slices.ContainsFunc(got, func(s string) bool { return slices.Contains(allowed, s) }) {
			return reject(CodeClaimRefused, "the id_token's %s is %v; the connection requires one of %v", name, got, allowed)
		}
	}
	return nil
}

// CustomValues picks the values of Mapping.Custom out of an identity's
// attributes: metadata key → the values of the claim it names (keys whose
// claim was not sent are left out).
func (m ClaimMapping) CustomValues(attrs map[string][]string) map[string][]string {
	out := map[string][]string{}
	for key, claim := range m.Custom {
		if v, ok := attrs[claim]; ok {
			out[key] = slices.Clone(v)
		}
	}
	return out
}
