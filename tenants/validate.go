package tenants

import (
	"encoding/json"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"

	jose "github.com/go-jose/go-jose/v4"
)

// Pure validation: no I/O, tested without a database (validate_test.go).

var (
	slugPattern       = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$`)
	colorPattern      = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
	permissionPattern = regexp.MustCompile(`^[a-z][a-z0-9_.:-]{0,127}$`)
	labelPattern      = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)
	localePattern     = regexp.MustCompile(`^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$`)
)

// maxMetadataBytes bounds the JSON size of a metadata object.
const maxMetadataBytes = 16 << 10

func checkName(field, s string, max int) error {
	switch {
	case strings.TrimSpace(s) == "":
		return invalid(field, "must not be empty")
	case !utf8.ValidString(s):
		return invalid(field, "must be valid UTF-8")
	case utf8.RuneCountInString(s) > max:
		return invalid(field, "must be at most %d characters", max)
	case strings.ContainsAny(s, "\x00\r\n"):
		return invalid(field, "must not contain control characters")
	}
	return nil
}

func checkOptionalText(field string, s *string, max int) error {
	if s == nil || *s == "" {
		return nil
	}
	return checkName(field, *s, max)
}

func checkSlug(field, s string) error {
	if !slugPattern.MatchString(s) {
		return invalid(field, "must be 1–64 lower-case letters, digits or hyphens, not starting or ending with a hyphen")
	}
	return nil
}

// NormalizeEmail trims and lower-cases an address and checks that it is a
// bare addr-spec (no display name, no comments).
func NormalizeEmail(field, s string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(s))
	if e == "" {
		return "", invalid(field, "must not be empty")
	}
	if len(e) > 320 {
		return "", invalid(field, "must be at most 320 characters")
	}
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Address != e || addr.Name != "" {
		return "", invalid(field, "must be an email address such as ada@example.com")
	}
	at := strings.LastIndexByte(e, '@')
	if _, err := normalizeDomain(e[at+1:]); err != nil {
		return "", invalid(field, "must have a valid domain")
	}
	return e, nil
}

// normalizeDomain lower-cases a DNS name and checks it is a registrable
// hostname: at least two labels, LDH labels, no IP literal.
func normalizeDomain(s string) (string, error) {
	d := strings.ToLower(strings.TrimSpace(s))
	d = strings.TrimSuffix(d, ".")
	if len(d) == 0 || len(d) > 253 || net.ParseIP(d) != nil {
		return "", invalid("domain", "must be a domain name such as example.com")
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return "", invalid("domain", "must be a domain name such as example.com")
	}
	for _, l := range labels {
		if !labelPattern.MatchString(l) {
			return "", invalid("domain", "must be a domain name such as example.com")
		}
	}
	if tld := labels[len(labels)-1]; strings.Trim(tld, "0123456789") == "" {
		return "", invalid("domain", "must end in a name, not a number")
	}
	return d, nil
}

// checkHTTPSURL accepts an absolute https URL (http only on loopback), the
// only kind hosted pages may render from tenant input.
func checkHTTPSURL(field string, s *string) error {
	if s == nil {
		return nil
	}
	return checkURL(field, *s, false)
}

// checkURL accepts "" or an absolute https URL of at most 2048 characters
// without credentials; plain http only for a loopback host, or anywhere
// when anyHTTP (a connection's IdP URLs in dev mode).
func checkURL(field, raw string, anyHTTP bool) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || len(raw) > 2048 {
		return invalid(field, "must be an absolute https URL of at most 2048 characters")
	}
	if u.Scheme != "https" && (u.Scheme != "http" || !(anyHTTP || isLoopback(u.Hostname()))) {
		return invalid(field, "must use https (plain http only for a loopback address)")
	}
	if u.User != nil {
		return invalid(field, "must not contain credentials")
	}
	return nil
}

func checkColor(field string, s *string) error {
	if s == nil || *s == "" {
		return nil
	}
	if !colorPattern.MatchString(*s) {
		return invalid(field, "must be a hex color such as #1a2b3c")
	}
	return nil
}

func checkLocale(field string, s *string) error {
	if s == nil || *s == "" {
		return nil
	}
	if len(*s) > 35 || !localePattern.MatchString(*s) {
		return invalid(field, "must be a BCP 47 language tag such as en-GB")
	}
	return nil
}

func checkMetadata(field string, m map[string]any) error {
	if m == nil {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return invalid(field, "must be a JSON object")
	}
	if len(b) > maxMetadataBytes {
		return invalid(field, "must be at most %d bytes of JSON", maxMetadataBytes)
	}
	return nil
}

func checkPermissions(field string, ps []string) error {
	if len(ps) > 100 {
		return invalid(field, "must list at most 100 permissions")
	}
	for _, p := range ps {
		if !permissionPattern.MatchString(p) {
			return invalid(field, "%q must be lower-case letters, digits and . _ : - (such as members:read)", p)
		}
	}
	return nil
}

var scopePattern = regexp.MustCompile(`^[\x21\x23-\x5B\x5D-\x7E]{1,128}$`) // RFC 6749 §3.3 scope-token

func checkScopes(field string, scopes []string) error {
	if len(scopes) > 50 {
		return invalid(field, "must list at most 50 scopes")
	}
	for _, sc := range scopes {
		if !scopePattern.MatchString(sc) {
			return invalid(field, "%q is not a valid scope (RFC 6749 §3.3)", sc)
		}
	}
	return nil
}

// checkJWKS accepts a JSON Web Key Set of at most 10 public signing keys.
func checkJWKS(field string, m map[string]any) error {
	if m == nil {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil || len(b) > maxMetadataBytes {
		return invalid(field, "must be a JSON Web Key Set of at most %d bytes", maxMetadataBytes)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil || len(set.Keys) == 0 {
		return invalid(field, "must be a JSON Web Key Set ({\"keys\": [...]}, RFC 7517 §5)")
	}
	if len(set.Keys) > 10 {
		return invalid(field, "must hold at most 10 keys")
	}
	for _, k := range set.Keys {
		if !k.Valid() || !k.IsPublic() {
			return invalid(field, "must hold only valid public keys")
		}
		if k.Use != "" && k.Use != "sig" {
			return invalid(field, "keys must be for signatures (use \"sig\")")
		}
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkRedirectURI applies RFC 9700 §4.1 and RFC 8252: an absolute URI
// without fragment or wildcard; https, or http on a loopback IP; native apps
// may also use a private-use scheme (com.example.app:/callback).
func checkRedirectURI(field, s string, native bool) error {
	u, err := url.Parse(s)
	switch {
	case err != nil || !u.IsAbs() || len(s) > 2048:
		return invalid(field, "%q must be an absolute URI", s)
	case u.Fragment != "" || strings.Contains(s, "#"):
		return invalid(field, "%q must not contain a fragment", s)
	case strings.Contains(s, "*"):
		return invalid(field, "%q must not contain wildcards: redirect URIs match exactly", s)
	case u.User != nil:
		return invalid(field, "%q must not contain credentials", s)
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return invalid(field, "%q must have a host", s)
		}
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return invalid(field, "%q must use https (http is allowed only for loopback addresses)", s)
	case "javascript", "data", "file", "vbscript", "about", "blob":
		return invalid(field, "%q has a forbidden scheme", s)
	}
	if native && strings.Contains(u.Scheme, ".") {
		return nil // RFC 8252 §7.1 private-use URI scheme
	}
	return invalid(field, "%q must use https, loopback http or (native apps) a reverse-domain scheme", s)
}
