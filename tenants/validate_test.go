package tenants

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNormalizeEmail(t *testing.T) {
	for in, want := range map[string]string{
		"Ada@Example.com":           "ada@example.com",
		"  ada@example.com  ":       "ada@example.com",
		"a.b+tag@sub.example.co.uk": "a.b+tag@sub.example.co.uk",
	} {
		got, err := NormalizeEmail("email", in)
		if err != nil || got != want {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "ada", "ada@", "@example.com", "Ada <ada@example.com>", "ada@example", "ada@127.0.0.1",
		"ada@[127.0.0.1]", "ada@exa mple.com", "ada@example.com (comment)", strings.Repeat("a", 320) + "@example.com", "ada@-example.com"} {
		if got, err := NormalizeEmail("email", in); err == nil {
			t.Errorf("NormalizeEmail(%q) = %q, want an error", in, got)
		}
	}
}

func TestRedirectURIs(t *testing.T) {
	for _, c := range []struct {
		uri    string
		native bool
		ok     bool
	}{
		{"https://app.example/cb", false, true},
		{"https://app.example:8443/cb?x=1", false, true},
		{"http://127.0.0.1:3000/cb", false, true},
		{"http://[::1]/cb", true, true},
		{"http://localhost:8080/cb", false, true},
		{"com.example.app:/oauth2redirect", true, true},
		{"com.example.app:/oauth2redirect", false, false},
		{"http://app.example/cb", false, false},
		{"https://app.example/cb#frag", false, false},
		{"https://*.example/cb", false, false},
		{"https://user:pw@app.example/cb", false, false},
		{"javascript:alert(1)", true, false},
		{"data:text/html,hi", true, false},
		{"/relative/cb", false, false},
		{"https:///nohost", false, false},
		{"myapp:/cb", true, false},
	} {
		err := checkRedirectURI("redirectURIs", c.uri, c.native)
		if (err == nil) != c.ok {
			t.Errorf("checkRedirectURI(%q, native=%v) = %v, want ok=%v", c.uri, c.native, err, c.ok)
		}
	}
}

func TestDomains(t *testing.T) {
	for in, want := range map[string]string{"Example.COM": "example.com", "a.b.example.": "a.b.example", "xn--bcher-kva.example": "xn--bcher-kva.example"} {
		if got, err := normalizeDomain(in); err != nil || got != want {
			t.Errorf("normalizeDomain(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "com", "localhost", "1.2.3.4", "::1", "-a.example", "a_b.example", "a..example", "example.123", strings.Repeat("a", 64) + ".example"} {
		if got, err := normalizeDomain(in); err == nil {
			t.Errorf("normalizeDomain(%q) = %q, want an error", in, got)
		}
	}
}

func TestParseScopes(t *testing.T) {
	if org, err := parseScopes(nil); err != nil || org != "" {
		t.Errorf("no scopes: %q %v", org, err)
	}
	id := "org_01JD3QZ6G5X0Q3W7ZJ7K4M2N8P"
	if org, err := parseScopes([]string{"org:" + id, "org:" + id}); err != nil || string(org) != id {
		t.Errorf("repeated org scope: %q %v", org, err)
	}
	for _, bad := range [][]string{{"admin"}, {"org:"}, {"org:usr_01JD3QZ6G5X0Q3W7ZJ7K4M2N8P"}, {"org:acme"},
		{"org:" + id, "org:org_01JD3QZ6G5X0Q3W7ZJ7K4M2N8Q"}} {
		var inErr *InputError
		if _, err := parseScopes(bad); !errors.As(err, &inErr) || inErr.Field != "scopes" {
			t.Errorf("parseScopes(%q) = %v, want a scopes input error", bad, err)
		}
	}
}

// Fuzz targets: every validator answers with nil or an *InputError and
// never panics, whatever the input (go test -fuzz=FuzzRedirectURI ./tenants).

func FuzzRedirectURI(f *testing.F) {
	for _, s := range []string{"https://app.example/cb", "http://127.0.0.1:1/x", "com.example:/a", "javascript:x", "https://[::1", "%zz", "https://a/b#c"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, uri string, native bool) {
		err := checkRedirectURI("redirectURIs", uri, native)
		var inErr *InputError
		if err != nil && !errors.As(err, &inErr) {
			t.Fatalf("non-input error %T", err)
		}
		if err == nil && (strings.Contains(uri, "#") || strings.Contains(uri, "*") || strings.HasPrefix(strings.ToLower(uri), "javascript:")) {
			t.Fatalf("accepted %q", uri)
		}
	})
}

func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"ada@example.com", "A <a@b.c>", "\"q\"@example.com", "a@b", "é@é.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := NormalizeEmail("email", s)
		if err != nil {
			return
		}
		if e != strings.ToLower(e) || strings.TrimSpace(e) != e || !strings.Contains(e, "@") || len(e) > 320 {
			t.Fatalf("NormalizeEmail(%q) = %q", s, e)
		}
		if again, err := NormalizeEmail("email", e); err != nil || again != e {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", s, e, again, err)
		}
	})
}

func FuzzParseScopes(f *testing.F) {
	f.Add("org:org_01JD3QZ6G5X0Q3W7ZJ7K4M2N8P")
	f.Add("org:")
	f.Add("admin")
	f.Fuzz(func(t *testing.T, s string) {
		org, err := parseScopes([]string{s})
		if err == nil && org != "" && (!org.Valid() || org.Prefix() != "org") {
			t.Fatalf("parseScopes(%q) = %q", s, org)
		}
	})
}

func TestTruncateKeepsUTF8(t *testing.T) {
	ua := strings.Repeat("a", 511) + "é" + "tail" // "é" straddles byte 512
	got := truncate(ua, 512)
	if !utf8.ValidString(got) || len(got) > 512 || got != strings.Repeat("a", 511) {
		t.Errorf("truncate split a rune: %q (len %d)", got[505:], len(got))
	}
	if truncate("\xff\xfeabc", 10) != "abc" {
		t.Errorf("invalid UTF-8 is not cleaned")
	}
	if got := truncate("short", 512); got != "short" {
		t.Errorf("truncate(short) = %q", got)
	}
}
