package graph_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/gatehouse-id/gatehouse/graph"
)

// TestContract runs the operations that clients rely on, exactly as the
// issue spells them.
func TestContract(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		d := e.ok(e.admin, `mutation { createOrganization(input: {name: "Acme", slug: "acme"}) { organization { id slug name } } }`, nil)
		id := str(d, "createOrganization.organization.id")
		if len(id) != len("org_")+26 || id[:4] != "org_" {
			t.Fatalf("organization id = %q, want org_ + ULID", id)
		}
		if got := str(d, "createOrganization.organization.slug"); got != "acme" {
			t.Errorf("slug = %q", got)
		}

		d = e.ok(e.admin, fmt.Sprintf(`mutation { updateOrganization(input: {id: %q, name: "Acme Inc"}) { organization { id name } } }`, id), nil)
		if got := str(d, "updateOrganization.organization.name"); got != "Acme Inc" {
			t.Errorf("updated name = %q", got)
		}

		d = e.ok(e.admin, `query { organizations(first: 10) { edges { node { id slug } } pageInfo { hasNextPage endCursor } totalCount } }`, nil)
		if n := get(d, "organizations.totalCount"); n != float64(1) {
			t.Errorf("totalCount = %v, want 1", n)
		}
		if got := str(d, "organizations.edges.0.node.id"); got != id {
			t.Errorf("first edge = %q, want %q", got, id)
		}

		d = e.ok(e.admin, fmt.Sprintf(`query { node(id: %q) { ... on Organization { slug } } }`, id), nil)
		if got := str(d, "node.slug"); got != "acme" {
			t.Errorf("node slug = %q", got)
		}

		e.ok(e.admin, `mutation { createUser(input: {email: "Ada@Example.com", name: "Ada Lovelace", emailVerified: true}) { user { id } } }`, nil)
		d = e.ok(e.admin, `query { users(first: 10, where: {email: "ada@example.com"}) { totalCount edges { node { id email } } } }`, nil)
		if n := get(d, "users.totalCount"); n != float64(1) {
			t.Errorf("users totalCount = %v, want 1", n)
		}
		if got := str(d, "users.edges.0.node.email"); got != "ada@example.com" {
			t.Errorf("email = %q, want it normalized to lower case", got)
		}

		d = e.ok(e.admin, fmt.Sprintf(`mutation { createAPIKey(input: {name: "ci", scopes: ["org:%s"]}) { apiKey { id } secret } }`, id), nil)
		if str(d, "createAPIKey.apiKey.id") == "" || str(d, "createAPIKey.secret") == "" {
			t.Fatalf("createAPIKey returned %v", d)
		}
		scoped := str(d, "createAPIKey.secret")
		if r := e.do(scoped, `{ organizations(first: 5) { totalCount } }`, nil); r.Status != http.StatusOK || get(r.Data, "organizations.totalCount") != float64(1) {
			t.Errorf("scoped key cannot list its organization: %s", r.raw)
		}
	})
}

// TestPagination walks organizations forwards and backwards with cursors.
func TestPagination(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		var ids []string
		for i := range 7 {
			ids = append(ids, e.createOrg(fmt.Sprintf("Org %d", i), fmt.Sprintf("org-%d", i)))
		}
		var seen []string
		after := any(nil)
		for {
			d := e.ok(e.admin, `query($a:Cursor){organizations(first:3,after:$a){edges{node{id}} pageInfo{hasNextPage endCursor} totalCount}}`, map[string]any{"a": after})
			for _, edge := range get(d, "organizations.edges").([]any) {
				seen = append(seen, str(edge, "node.id"))
			}
			if get(d, "organizations.totalCount") != float64(7) {
				t.Fatalf("totalCount = %v", get(d, "organizations.totalCount"))
			}
			if get(d, "organizations.pageInfo.hasNextPage") != true {
				break
			}
			after = get(d, "organizations.pageInfo.endCursor")
		}
		if fmt.Sprint(seen) != fmt.Sprint(ids) {
			t.Errorf("pages = %v, want %v (ids sort by creation)", seen, ids)
		}
		d := e.ok(e.admin, `{organizations(last:2, orderBy:{field:SLUG, direction:DESC}){edges{node{slug}}}}`, nil)
		if got := str(d, "organizations.edges.0.node.slug") + "," + str(d, "organizations.edges.1.node.slug"); got != "org-1,org-0" {
			t.Errorf("last 2 by slug desc = %s", got)
		}
		d = e.ok(e.admin, `{organizations(where:{slugIn:["org-3","org-5"]}){totalCount}}`, nil)
		if get(d, "organizations.totalCount") != float64(2) {
			t.Errorf("where slugIn: totalCount = %v", get(d, "organizations.totalCount"))
		}
	})
}

// TestPageBounds: every connection returns at most MaxPageSize items and,
// without first/last, graph.DefaultPageSize — nested ones too, which ent
// loads together with their parent; and pageInfo stays right without a
// COUNT when totalCount is not asked for.
func TestPageBounds(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		org := e.createOrg("Big", "big")
		const members = graph.DefaultPageSize + 5
		for i := range members {
			e.createMember(org, fmt.Sprintf("m%d@big.example", i))
		}
		for name, q := range map[string]string{
			"nested":   `{ organizations(first: 1) { edges { node { memberships { edges { node { id } } } } } } }`,
			"fragment": `{ organizations(first: 1) { edges { node { ...M } } } } fragment M on Organization { memberships { edges { node { id } } } }`,
		} {
			d := e.ok(e.admin, q, nil)
			if n := len(get(d, "organizations.edges.0.node.memberships.edges").([]any)); n != graph.DefaultPageSize {
				t.Errorf("%s connection without first returned %d edges, want %d", name, n, graph.DefaultPageSize)
			}
		}
		for _, q := range []string{
			`{ organizations(first: 1) { edges { node { memberships(first: 1000) { edges { node { id } } } } } } }`,
			`{ organizations(last: 101) { totalCount } }`,
		} {
			if r := e.do(e.admin, q, nil); r.code() != "BAD_USER_INPUT" || get(r.Errors[0].Extensions, "field") == nil {
				t.Errorf("%s: %s, want BAD_USER_INPUT naming first/last", q, r.raw)
			}
		}
		if r := e.do(e.admin, `query($n:Int){ organizations(first: $n) { totalCount } }`, map[string]any{"n": 1000}); r.code() != "BAD_USER_INPUT" {
			t.Errorf("first from a variable: %s", r.raw)
		}
		for first, want := range map[int]bool{10: true, members: false, members - 1: true} {
			d := e.ok(e.admin, `query($o:ID!,$f:Int){organization(id:$o){memberships(first:$f){edges{node{id}} pageInfo{hasNextPage}}}}`,
				map[string]any{"o": org, "f": first})
			if got := get(d, "organization.memberships.pageInfo.hasNextPage"); got != want {
				t.Errorf("first %d of %d: hasNextPage = %v, want %v", first, members, got, want)
			}
		}
	})
}
