package oidc

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
)

func TestPresets(t *testing.T) {
	for key, p := range Presets {
		if p.Name == "" || p.Notes == "" || !slices.Contains(p.Scopes, "openid") || p.Mapping.Email == "" {
			t.Errorf("preset %s is incomplete: %+v", key, p)
		}
	}
	entra, err := Presets["entra_id"].Issuer(map[string]string{"tenant": "9188040d-6c67-4c5b-b112-36a304b66dad"})
	if err != nil || entra != "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0" {
		t.Errorf("entra issuer %q, %v", entra, err)
	}
	if _, err := Presets["entra_id"].Issuer(map[string]string{"tenant": "evil.test/x"}); err == nil {
		t.Error("a tenant with a slash was accepted")
	}
	if _, err := Presets["okta"].Issuer(nil); err == nil {
		t.Error("a missing placeholder was accepted")
	}
	if got, err := Presets["generic"].Issuer(map[string]string{"issuer": "https://idp.example.com/realms/x"}); err != nil || got != "https://idp.example.com/realms/x" {
		t.Errorf("generic issuer %q, %v", got, err)
	}
	if g := Presets["google_workspace"]; g.PinClaim != "hd" || g.IssuerTemplate != "https://accounts.google.com" || !slices.Contains(g.IssuerAliases, "accounts.google.com") {
		t.Errorf("google preset %+v", g)
	}
}

// identityOf maps ID-token and userinfo claims with a mapping.
func identityOf(t *testing.T, m ClaimMapping, id, info string) (email string, verified bool) {
	t.Helper()
	tok := idToken{claims: new(zoidc.IDTokenClaims), raw: map[string]any{}}
	if err := json.Unmarshal([]byte(id), &tok.raw); err != nil {
		t.Fatal(err)
	}
	var ui map[string]any
	if info != "" {
		if err := json.Unmarshal([]byte(info), &ui); err != nil {
			t.Fatal(err)
		}
	}
	got := (&Connector{mapping: m.withDefaults()}).identity(tok, ui)
	return got.Email, got.EmailVerified
}

// TestEntraEmail: Entra's email may be absent (then upn stands in, never
// verified) and is verified only with xms_edov.
func TestEntraEmail(t *testing.T) {
	m := Presets["entra_id"].Mapping
	for _, tc := range []struct {
		id, info string
		email    string
		verified bool
	}{
		{`{"email":"a@contoso.com","xms_edov":true,"upn":"u@contoso.com"}`, "", "a@contoso.com", true},
		{`{"email":"a@contoso.com","email_verified":true}`, "", "a@contoso.com", false},
		{`{"upn":"u@contoso.com","xms_edov":true}`, "", "u@contoso.com", false},
		{`{"preferred_username":"p@contoso.com"}`, "", "p@contoso.com", false},
		{`{"xms_edov":"true"}`, `{"email":"b@contoso.com"}`, "b@contoso.com", false},
		{`{}`, `{"email":"b@contoso.com","xms_edov":"True"}`, "b@contoso.com", true},
	} {
		email, verified := identityOf(t, m, tc.id, tc.info)
		if email != tc.email || verified != tc.verified {
			t.Errorf("id %s userinfo %s: email %q verified %v; want %q %v", tc.id, tc.info, email, verified, tc.email, tc.verified)
		}
	}
}

func TestAttributesAsText(t *testing.T) {
	tok := idToken{claims: new(zoidc.IDTokenClaims), raw: map[string]any{}}
	dec := json.NewDecoder(strings.NewReader(`{"sub":"s","n":1700000000,"f":1.5,"b":false,"l":["x",2,{"k":"v"}],"o":{"a":1},"shared":"token"}`))
	dec.UseNumber()
	if err := dec.Decode(&tok.raw); err != nil {
		t.Fatal(err)
	}
	id := (&Connector{mapping: ClaimMapping{}.withDefaults()}).identity(tok, map[string]any{"shared": "userinfo", "extra": "u"})
	want := map[string][]string{
		"sub": {"s"}, "n": {"1700000000"}, "f": {"1.5"}, "b": {"false"},
		"l": {"x", "2", `{"k":"v"}`}, "o": {`{"a":1}`}, "shared": {"token"}, "extra": {"u"},
	}
	for k, v := range want {
		if !slices.Equal(id.Attributes[k], v) {
			t.Errorf("attribute %s = %q; want %q", k, id.Attributes[k], v)
		}
	}
	if len(id.Attributes) != len(want) {
		t.Errorf("attributes %v", id.Attributes)
	}
}

func TestScopes(t *testing.T) {
	if got := withOpenID(nil); !slices.Equal(got, DefaultScopes) {
		t.Errorf("default scopes %v", got)
	}
	if got := withOpenID([]string{"email", "groups", "email", "openid"}); !slices.Equal(got, []string{"openid", "email", "groups"}) {
		t.Errorf("scopes %v", got)
	}
}

// TestConfigRefused: New refuses a bad Config before it fetches anything.
// Its client fails the test if called: the issuer is not served here, so
// a refusal by the failed discovery would pass for a refusal by validate.
func TestConfigRefused(t *testing.T) {
	offline := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		t.Errorf("New fetched %s for a refused config", r.URL)
		return nil, errors.New("no network in this test")
	})}
	good := Config{ConnectionID: testConnection, Issuer: "https://idp.example.com", ClientID: "c", RedirectURL: callbackFor(testConnection), HTTPClient: offline}
	if err := good.validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for name, mutate := range map[string]func(*Config){
		"connection id":        func(c *Config) { c.ConnectionID = "conn_x" },
		"issuer with query":    func(c *Config) { c.Issuer = "https://idp.example.com?x=1" },
		"issuer not http":      func(c *Config) { c.Issuer = "file:///etc/passwd" },
		"issuer with userinfo": func(c *Config) { c.Issuer = "https://user:pw@idp.example.com" },
		"relative redirect":    func(c *Config) { c.RedirectURL = "/sso/oidc/x/callback" },
		"no client id":         func(c *Config) { c.ClientID = "" },
	} {
		c := good
		mutate(&c)
		if _, err := New(t.Context(), c); err == nil {
			t.Errorf("%s: New accepted %+v", name, c)
		} else if code := CodeOf(err); code != "" {
			t.Errorf("%s: New refused with %s (%v), not as an invalid config", name, code, err)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
