package graph_test

import (
	"testing"
)

// TestNULInput: U+0000 anywhere in input text — a literal, a variable, a
// metadata value or key, a nested list — is BAD_USER_INPUT on every
// database, and nothing is written. (PostgreSQL cannot store the character;
// before this check it answered INTERNAL_SERVER_ERROR there.)
func TestNULInput(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		org := e.createOrg("Acme", "acme")
		for _, c := range []struct {
			name  string
			query string
			vars  map[string]any
			code  string // BAD_USER_INPUT when empty
		}{
			{"literal", `mutation { createOrganization(input:{name:"a\u0000b", slug:"nul-literal"}) { organization { id } } }`, nil, ""},
			// A raw NUL is no GraphQL source character at all (spec §2.1).
			{"raw in a block string", "mutation { createOrganization(input:{name:\"\"\"a\u0000b\"\"\", slug:\"nul-block\"}) { organization { id } } }", nil, "GRAPHQL_PARSE_FAILED"},
			{"variable", `mutation($n:String!) { createOrganization(input:{name:$n, slug:"nul-var"}) { organization { id } } }`, map[string]any{"n": "a\x00b"}, ""},
			{"input object variable", `mutation($i:CreateOrganizationInput!) { createOrganization(input:$i) { organization { id } } }`,
				map[string]any{"i": map[string]any{"name": "ok", "slug": "nul-obj", "metadata": map[string]any{"k": "v\x00"}}}, ""},
			{"metadata key", `mutation($m:Map) { updateOrganization(input:{id:"` + org + `", metadata:$m}) { organization { id } } }`,
				map[string]any{"m": map[string]any{"k\x00": "v"}}, ""},
			{"nested in a list", `mutation($m:Map) { updateOrganization(input:{id:"` + org + `", metadata:$m}) { organization { id } } }`,
				map[string]any{"m": map[string]any{"k": []any{"a", map[string]any{"b": "c\x00"}}}}, ""},
			{"query argument", `{ organization(slug:"acme\u0000") { id } }`, nil, ""},
			{"variable default", `query($s:String = "x\u0000") { organization(slug:$s) { id } }`, nil, ""},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := e.do(e.admin, c.query, c.vars)
				want := c.code
				if want == "" {
					want = "BAD_USER_INPUT"
				}
				if r.Status >= 500 || r.code() != want {
					t.Fatalf("status %d code %q, want %s: %s", r.Status, r.code(), want, r.raw)
				}
			})
		}
		// Nothing was written: still one organization, without metadata.
		data := e.ok(e.admin, `{ organizations(first: 10) { totalCount edges { node { metadata } } } }`, nil)
		if n := get(data, "organizations.totalCount"); n != float64(1) {
			t.Errorf("organizations after NUL input = %v, want 1", n)
		}
		// The control: the same shapes without NUL succeed.
		e.ok(e.admin, `mutation($m:Map) { updateOrganization(input:{id:"`+org+`", metadata:$m}) { organization { id } } }`,
			map[string]any{"m": map[string]any{"k": []any{"a", map[string]any{"b": "c"}}}})
	})
}
