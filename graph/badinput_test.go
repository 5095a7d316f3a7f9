package graph_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestBadInput: malformed or abusive requests get a clear error in the
// GraphQL error format, never a 500, and the server stays up.
func TestBadInput(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		org := e.createOrg("Acme", "acme")
		deep := "{ organizations(first: 1) { edges { node { memberships(first: 1) { edges { node { user { memberships(first: 1) { edges { node { organization { memberships(first: 1) { edges { node { id } } } } } } } } } } } } } } }"
		var aliases strings.Builder
		aliases.WriteString("mutation {")
		for i := range 31 {
			fmt.Fprintf(&aliases, ` a%d: createOrganization(input:{name:"x",slug:"x%d"}){organization{id}}`, i, i)
		}
		aliases.WriteString("}")

		for _, c := range []struct {
			name        string
			contentType string
			body        string
			status      int
			code        string
		}{
			{"malformed JSON", "application/json", `{"query": "{ organizations { totalCount } }"`, 400, ""},
			{"not an object", "application/json", `"hello"`, 400, ""},
			{"batched array", "application/json", `[{"query":"{organizations{totalCount}}"},{"query":"{organizations{totalCount}}"}]`, 400, ""},
			{"form post", "application/x-www-form-urlencoded", `query=%7Borganizations%7BtotalCount%7D%7D`, 400, ""},
			{"empty query", "application/json", `{"query": ""}`, 422, ""},
			{"syntax error", "application/json", `{"query": "{ organizations { "}`, 422, "GRAPHQL_PARSE_FAILED"},
			{"unknown field", "application/json", `{"query": "{ organizations { nope } }"}`, 422, "GRAPHQL_VALIDATION_FAILED"},
			{"unknown input field", "application/json", `{"query": "mutation { createOrganization(input:{name:\"a\",slug:\"a\",evil:1}){organization{id}} }"}`, 422, "GRAPHQL_VALIDATION_FAILED"},
			{"wrong argument type", "application/json", `{"query": "{ organizations(first: \"ten\") { totalCount } }"}`, 422, "GRAPHQL_VALIDATION_FAILED"},
			{"wrong variable type", "application/json", `{"query": "query($f:Int){ organizations(first: $f) { totalCount } }", "variables": {"f": "ten"}}`, 422, "GRAPHQL_VALIDATION_FAILED"},
			{"too deep", "application/json", fmt.Sprintf(`{"query": %q}`, deep), 200, "QUERY_TOO_COMPLEX"},
			{"too many aliases", "application/json", fmt.Sprintf(`{"query": %q}`, aliases.String()), 200, "QUERY_TOO_COMPLEX"},
			{"too complex", "application/json", `{"query": "{ organizations(first: 100) { edges { node { memberships(first: 100) { edges { node { user { memberships(first: 100) { totalCount } } } } } } } } }"}`, 200, "COMPLEXITY_LIMIT_EXCEEDED"},
			{"page too large", "application/json", `{"query": "{ organizations(first: 1000) { totalCount } }"}`, 200, "BAD_USER_INPUT"},
			{"negative page", "application/json", `{"query": "{ organizations(first: -1) { totalCount } }"}`, 200, "BAD_USER_INPUT"},
			{"bad cursor", "application/json", `{"query": "{ organizations(after: \"!!notacursor\") { totalCount } }"}`, 200, "BAD_USER_INPUT"},
			{"both id and slug", "application/json", fmt.Sprintf(`{"query": "{ organization(id: \"%s\", slug: \"acme\") { id } }"}`, org), 200, "BAD_USER_INPUT"},
			{"bad slug", "application/json", `{"query": "mutation { createOrganization(input:{name:\"a\",slug:\"Not A Slug\"}){organization{id}} }"}`, 200, "BAD_USER_INPUT"},
			{"bad email", "application/json", `{"query": "mutation { createUser(input:{email:\"Ada <ada@example.com>\"}){user{id}} }"}`, 200, "BAD_USER_INPUT"},
			{"duplicate slug", "application/json", `{"query": "mutation { createOrganization(input:{name:\"a\",slug:\"acme\"}){organization{id}} }"}`, 200, "CONFLICT"},
			{"wildcard redirect", "application/json", `{"query": "mutation { createApplication(input:{name:\"w\",type:WEB,redirectURIs:[\"https://*.example.com/cb\"]}){clientSecret} }"}`, 200, "BAD_USER_INPUT"},
			{"javascript logo", "application/json", fmt.Sprintf(`{"query": "mutation { updateOrganization(input:{id:\"%s\",logoURL:\"javascript:alert(1)\"}){organization{id}} }"}`, org), 200, "BAD_USER_INPUT"},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := e.post(e.admin, c.contentType, []byte(c.body))
				if r.Status != c.status {
					t.Errorf("status = %d, want %d: %s", r.Status, c.status, r.raw)
				}
				if len(r.Errors) == 0 {
					t.Fatalf("no error: %s", r.raw)
				}
				if c.code != "" && r.code() != c.code {
					t.Errorf("code = %q, want %q: %s", r.code(), c.code, r.raw)
				}
				if strings.Contains(r.raw, "sql") || strings.Contains(r.raw, "ent:") || strings.Contains(r.raw, "internal error") {
					t.Errorf("error leaks internals: %s", r.raw)
				}
			})
		}

		t.Run("invalid ids", func(t *testing.T) {
			for _, id := range []any{"", "org_", "org", "_", "org_notaulid", "xyz_01JD3QZ6G5X0Q3W7ZJ7K4M2N8P", "org_01JD3QZ6G5X0Q3W7ZJ7K4M2N8P_", "org_01JD3QZ6G5X0Q3W7ZJ7K4M2N8Pxx",
				"org_ÄÖÜ", strings.Repeat("a", 10000), "'; DROP TABLE organizations; --", 12345} {
				r := e.do(e.admin, `query($id:ID!){node(id:$id){id} organization(id:$id){id}}`, map[string]any{"id": id})
				if r.Status >= 500 || (len(r.Errors) > 0 && r.code() != "BAD_USER_INPUT" && r.code() != "GRAPHQL_VALIDATION_FAILED") {
					t.Errorf("node(%.40v) = %d %s", id, r.Status, r.raw)
				}
				if get(r.Data, "node") != nil || get(r.Data, "organization") != nil {
					t.Errorf("node(%.40v) found something: %s", id, r.raw)
				}
				r = e.do(e.admin, `mutation($id:ID!){updateOrganization(input:{id:$id,name:"x"}){organization{id}}}`, map[string]any{"id": id})
				if r.Status >= 500 || (r.code() != "NOT_FOUND" && r.code() != "BAD_USER_INPUT" && r.code() != "GRAPHQL_VALIDATION_FAILED") {
					t.Errorf("updateOrganization(%.40v) = %d %s", id, r.Status, r.raw)
				}
			}
		})

		t.Run("authentication", func(t *testing.T) {
			for _, key := range []string{"", "gh_", "gh_aaaaaaaaaaaaaaaa_bbbb", "not-a-key", e.admin + "x", strings.Repeat("k", 5000)} {
				r := e.do(key, `{organizations{totalCount}}`, nil)
				if r.Status != http.StatusUnauthorized || r.code() != "UNAUTHENTICATED" {
					t.Errorf("key %.30q: %d %s", key, r.Status, r.raw)
				}
			}
			d := e.ok(e.admin, `mutation{createAPIKey(input:{name:"tmp"}){apiKey{id} secret}}`, nil)
			key := str(d, "createAPIKey.secret")
			e.ok(key, `{organizations{totalCount}}`, nil)
			e.ok(e.admin, `mutation($id:ID!){revokeAPIKey(input:{id:$id}){apiKey{revokedAt}}}`, map[string]any{"id": str(d, "createAPIKey.apiKey.id")})
			if r := e.do(key, `{organizations{totalCount}}`, nil); r.Status != http.StatusUnauthorized {
				t.Errorf("revoked key still works: %s", r.raw)
			}
		})

		t.Run("oversize body", func(t *testing.T) {
			big := []byte(`{"query":"{organizations{totalCount}}","variables":{"x":"` + strings.Repeat("a", 2<<20) + `"}}`)
			if r := e.post(e.admin, "application/json", big); r.Status != http.StatusRequestEntityTooLarge {
				t.Errorf("2 MiB body: status %d", r.Status)
			}
			req, _ := http.NewRequest(http.MethodPost, e.url, struct{ *bytes.Reader }{bytes.NewReader(big)}) // no Content-Length: chunked
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+e.admin)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("2 MiB chunked body: status %d", res.StatusCode)
			}
		})

		t.Run("GET is not a transport", func(t *testing.T) {
			res, err := http.Get(e.url + "?query=%7Borganizations%7BtotalCount%7D%7D")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("GET /graphql: status %d", res.StatusCode)
			}
		})

		t.Run("introspection is off outside dev", func(t *testing.T) {
			if r := e.do(e.admin, `{ __schema { types { name } } }`, nil); len(r.Errors) == 0 {
				t.Errorf("introspection answered: %.200s", r.raw)
			}
		})

		// The server is still up and its data intact.
		d := e.ok(e.admin, `{organizations{totalCount}}`, nil)
		if get(d, "organizations.totalCount") != float64(1) {
			t.Errorf("after bad input: %v organizations, want 1", get(d, "organizations.totalCount"))
		}
	})
}
