package graph_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/gatehouse-id/gatehouse/ent/connection"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// tenant is one organization with one object of every type it can own.
type tenant struct {
	org, user, membership, role, domain, connection, policy, apiKey, key string
	events                                                               []string
}

func (e *env) seedTenant(t *testing.T, name string) tenant {
	t.Helper()
	var x tenant
	x.org = e.createOrg(name, name)
	x.user, x.membership = e.createMember(x.org, "someone@"+name+".example", "owner")
	d := e.ok(e.admin, `mutation($o:ID!,$k:String!){createRole(input:{organizationID:$o,key:$k,name:"Billing",permissions:["billing:read"]}){role{id}}}`,
		map[string]any{"o": x.org, "k": "billing"})
	x.role = str(d, "createRole.role.id")
	d = e.ok(e.admin, `mutation($o:ID!,$d:String!){addDomain(input:{organizationID:$o,domain:$d}){domain{id}}}`,
		map[string]any{"o": x.org, "d": name + ".example"})
	x.domain = str(d, "addDomain.domain.id")
	d = e.ok(e.admin, `query($o:ID!){organization(id:$o){policy{id}}}`, map[string]any{"o": x.org})
	x.policy = str(d, "organization.policy.id")
	conn, err := e.client.Connection.Create().SetOrganizationID(pulid.ID(x.org)).SetName("Okta").
		SetProtocol(connection.ProtocolSAML).Save(viewer.SystemContext(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	x.connection = string(conn.ID)
	d = e.ok(e.admin, `mutation($s:[String!]){createAPIKey(input:{name:"k",scopes:$s}){apiKey{id} secret}}`,
		map[string]any{"s": []string{"org:" + x.org}})
	x.apiKey, x.key = str(d, "createAPIKey.apiKey.id"), str(d, "createAPIKey.secret")
	d = e.ok(e.admin, `query($o:ID!){auditEvents(first:100,where:{organizationID:$o}){edges{node{id}}}}`, map[string]any{"o": x.org})
	for _, edge := range get(d, "auditEvents.edges").([]any) {
		x.events = append(x.events, str(edge, "node.id"))
	}
	if len(x.events) == 0 {
		t.Fatal("seeding wrote no audit events")
	}
	return x
}

// nonEmpty returns the list at path, failing the test when it is missing
// or empty: a check over each element of an empty list checks nothing.
func nonEmpty(t *testing.T, v any, path string) []any {
	t.Helper()
	list, _ := get(v, path).([]any)
	if len(list) == 0 {
		t.Fatalf("%s is empty: nothing to check", path)
	}
	return list
}

func (x tenant) ids() map[string]string {
	m := map[string]string{"Organization": x.org, "User": x.user, "Membership": x.membership, "Role": x.role,
		"Domain": x.domain, "Connection": x.connection, "OrganizationPolicy": x.policy, "APIKey": x.apiKey}
	for i, ev := range x.events {
		m[fmt.Sprintf("AuditEvent#%d", i)] = ev
	}
	return m
}

// TestTenantIsolation: a key scoped to organization B can never read or
// change organization A — by node, nodes, lookups, connections, filters,
// nested edges or mutations (SECURITY-CHECKLIST MT-01, MT-02, MT-04).
func TestTenantIsolation(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		a, b := e.seedTenant(t, "alpha"), e.seedTenant(t, "bravo")
		d := e.ok(e.admin, `mutation($n:String!){createApplication(input:{name:$n,type:MACHINE}){application{id}}}`, map[string]any{"n": "svc"})
		app := str(d, "createApplication.application.id")
		missing := string(pulid.New("org"))

		t.Run("node", func(t *testing.T) {
			for typ, id := range a.ids() {
				r := e.do(b.key, `query($id:ID!){node(id:$id){id}}`, map[string]any{"id": id})
				if r.Status != http.StatusOK || len(r.Errors) > 0 || get(r.Data, "node") != nil {
					t.Errorf("%s of tenant A through node: %s", typ, r.raw)
				}
			}
			for typ, id := range b.ids() {
				r := e.do(b.key, `query($id:ID!){node(id:$id){id}}`, map[string]any{"id": id})
				if str(r.Data, "node.id") != id {
					t.Errorf("own %s not readable through node: %s", typ, r.raw)
				}
			}
			// Tenant A's objects look exactly like objects that do not exist.
			foreign := e.do(b.key, `query($id:ID!){node(id:$id){id}}`, map[string]any{"id": a.org})
			absent := e.do(b.key, `query($id:ID!){node(id:$id){id}}`, map[string]any{"id": missing})
			if foreign.raw != absent.raw {
				t.Errorf("foreign id answers %s, missing id answers %s", foreign.raw, absent.raw)
			}
			if r := e.do(b.key, `query($id:ID!){node(id:$id){id}}`, map[string]any{"id": app}); get(r.Data, "node") != nil {
				t.Errorf("application visible to an organization key: %s", r.raw)
			}
		})

		t.Run("nodes", func(t *testing.T) {
			r := e.do(b.key, `query($ids:[ID!]!){nodes(ids:$ids){id}}`, map[string]any{"ids": []string{a.org, b.org, a.user, b.user, a.domain}})
			got := fmt.Sprint(get(r.Data, "nodes"))
			want := fmt.Sprint([]any{nil, map[string]any{"id": b.org}, nil, map[string]any{"id": b.user}, nil})
			if got != want || len(r.Errors) > 0 {
				t.Errorf("nodes = %s, want %s", r.raw, want)
			}
		})

		t.Run("lookups", func(t *testing.T) {
			for _, q := range []struct{ query, path string }{
				{fmt.Sprintf(`{organization(id:%q){id}}`, a.org), "organization"},
				{`{organization(slug:"alpha"){id}}`, "organization"},
				{fmt.Sprintf(`{user(id:%q){id}}`, a.user), "user"},
				{`{user(email:"someone@alpha.example"){id}}`, "user"},
			} {
				r := e.do(b.key, q.query, nil)
				if get(r.Data, q.path) != nil || len(r.Errors) > 0 {
					t.Errorf("%s = %s, want null", q.query, r.raw)
				}
			}
		})

		t.Run("connections and filters", func(t *testing.T) {
			for _, q := range []struct {
				query string
				want  float64
			}{
				{`{organizations{totalCount}}`, 1},
				{fmt.Sprintf(`{organizations(where:{idIn:[%q,%q]}){totalCount}}`, a.org, b.org), 1},
				{`{organizations(where:{slug:"alpha"}){totalCount}}`, 0},
				{`{users{totalCount}}`, 1},
				{fmt.Sprintf(`{users(where:{id:%q}){totalCount}}`, a.user), 0},
				{`{users(where:{emailHasSuffix:"alpha.example"}){totalCount}}`, 0},
				{fmt.Sprintf(`{auditEvents(where:{organizationID:%q}){totalCount}}`, a.org), 0},
				{fmt.Sprintf(`{organizations(where:{hasMembershipsWith:{userID:%q}}){totalCount}}`, a.user), 0},
				{fmt.Sprintf(`{organizations(where:{hasDomainsWith:{organizationID:%q}}){totalCount}}`, a.org), 0},
			} {
				r := e.do(b.key, q.query, nil)
				var total any
				for _, v := range r.Data {
					total = get(v, "totalCount")
				}
				if total != q.want || len(r.Errors) > 0 {
					t.Errorf("%s = %s, want totalCount %v", q.query, r.raw, q.want)
				}
			}
			d := e.ok(b.key, `{auditEvents(first:100){edges{node{organizationID}}}}`, nil)
			for _, edge := range nonEmpty(t, d, "auditEvents.edges") {
				if str(edge, "node.organizationID") != b.org {
					t.Errorf("audit event of %s visible to tenant B", str(edge, "node.organizationID"))
				}
			}
			if r := e.do(b.key, `{applications{totalCount}}`, nil); r.code() != "FORBIDDEN" {
				t.Errorf("applications for an organization key = %s, want FORBIDDEN", r.raw)
			}
		})

		t.Run("nested edges", func(t *testing.T) {
			// A user in both organizations: B sees the user, but only B's membership.
			e.ok(e.admin, `mutation($o:ID!,$u:ID!){addMember(input:{organizationID:$o,userID:$u}){membership{id}}}`,
				map[string]any{"o": b.org, "u": a.user})
			d := e.ok(b.key, `query($o:ID!){organization(id:$o){memberships{edges{node{user{email memberships{totalCount edges{node{organizationID organization{slug} roles{key}}}}}}}}}}`,
				map[string]any{"o": b.org})
			for _, m := range nonEmpty(t, d, "organization.memberships.edges") {
				for _, um := range nonEmpty(t, m, "node.user.memberships.edges") {
					if str(um, "node.organizationID") != b.org || str(um, "node.organization.slug") != "bravo" {
						t.Errorf("tenant A membership reachable through a shared user: %v", um)
					}
				}
				if n := get(m, "node.user.memberships.totalCount"); n != float64(1) {
					t.Errorf("shared user's membership count seen by B = %v, want 1", n)
				}
			}
		})

		t.Run("mutations", func(t *testing.T) {
			for _, m := range []struct {
				name, query string
				vars        map[string]any
				want        string
			}{
				{"updateOrganization", `mutation($id:ID!){updateOrganization(input:{id:$id,name:"pwned"}){organization{id}}}`, map[string]any{"id": a.org}, "NOT_FOUND"},
				{"deleteOrganization", `mutation($id:ID!){deleteOrganization(input:{id:$id}){deletedID}}`, map[string]any{"id": a.org}, "NOT_FOUND"},
				{"updateOrganizationPolicy", `mutation($id:ID!){updateOrganizationPolicy(input:{organizationID:$id,mfaRequired:false}){policy{id}}}`, map[string]any{"id": a.org}, "NOT_FOUND"},
				{"createUser in A", `mutation($o:ID!){createUser(input:{email:"x@evil.example",organizationID:$o}){user{id}}}`, map[string]any{"o": a.org}, "NOT_FOUND"},
				{"updateUser of A", `mutation($id:ID!){updateUser(input:{id:$id,email:"attacker@evil.example"}){user{id}}}`, map[string]any{"id": a.user}, "NOT_FOUND"},
				{"addMember to A", `mutation($o:ID!,$u:ID!){addMember(input:{organizationID:$o,userID:$u}){membership{id}}}`, map[string]any{"o": a.org, "u": b.user}, "NOT_FOUND"},
				{"addMember of A's user", `mutation($o:ID!,$u:ID!){addMember(input:{organizationID:$o,userID:$u}){membership{id}}}`, map[string]any{"o": b.org, "u": string(pulid.New("usr"))}, "NOT_FOUND"},
				{"updateMemberRoles", `mutation($id:ID!){updateMemberRoles(input:{membershipID:$id,roles:["member"]}){membership{id}}}`, map[string]any{"id": a.membership}, "NOT_FOUND"},
				{"removeMember", `mutation($id:ID!){removeMember(input:{membershipID:$id}){removedMembershipID}}`, map[string]any{"id": a.membership}, "NOT_FOUND"},
				{"createRole", `mutation($o:ID!){createRole(input:{organizationID:$o,key:"x",name:"X"}){role{id}}}`, map[string]any{"o": a.org}, "NOT_FOUND"},
				{"addDomain", `mutation($o:ID!){addDomain(input:{organizationID:$o,domain:"evil.example"}){domain{id}}}`, map[string]any{"o": a.org}, "NOT_FOUND"},
				{"removeDomain", `mutation($id:ID!){removeDomain(input:{id:$id}){removedDomainID}}`, map[string]any{"id": a.domain}, "NOT_FOUND"},
				{"createAPIKey for A", `mutation($s:[String!]){createAPIKey(input:{name:"x",scopes:$s}){secret}}`, map[string]any{"s": []string{"org:" + a.org}}, "NOT_FOUND"},
				{"createAPIKey instance-wide", `mutation{createAPIKey(input:{name:"x"}){secret}}`, nil, "FORBIDDEN"},
				{"revokeAPIKey", `mutation($id:ID!){revokeAPIKey(input:{id:$id}){apiKey{id}}}`, map[string]any{"id": a.apiKey}, "NOT_FOUND"},
				{"createOrganization", `mutation{createOrganization(input:{name:"x",slug:"x"}){organization{id}}}`, nil, "FORBIDDEN"},
				{"createApplication", `mutation{createApplication(input:{name:"x",type:MACHINE}){clientSecret}}`, nil, "FORBIDDEN"},
				{"rotateApplicationSecret", `mutation($id:ID!){rotateApplicationSecret(input:{id:$id}){clientSecret}}`, map[string]any{"id": app}, "FORBIDDEN"},
				{"deleteApplication", `mutation($id:ID!){deleteApplication(input:{id:$id}){deletedID}}`, map[string]any{"id": app}, "FORBIDDEN"},
			} {
				r := e.do(b.key, m.query, m.vars)
				if r.code() != m.want {
					t.Errorf("%s as tenant B = %s, want %s", m.name, r.raw, m.want)
				}
			}
			// A user who belongs to A and B belongs partly to A: B may not change it.
			r := e.do(b.key, `mutation($id:ID!){updateUser(input:{id:$id,name:"renamed"}){user{id}}}`, map[string]any{"id": a.user})
			if r.code() != "NOT_FOUND" {
				t.Errorf("updateUser of a user shared with A = %s, want NOT_FOUND", r.raw)
			}
			// Nothing of A changed.
			d := e.ok(e.admin, `query($o:ID!){organization(id:$o){name policy{mfaRequired} memberships{totalCount} domains{totalCount}}}`, map[string]any{"o": a.org})
			if str(d, "organization.name") != "alpha" || get(d, "organization.domains.totalCount") != float64(1) ||
				get(d, "organization.memberships.totalCount") != float64(1) {
				t.Errorf("tenant A changed: %v", d)
			}
			// B can still manage itself.
			e.ok(b.key, `mutation($id:ID!){updateOrganization(input:{id:$id,name:"Bravo Inc"}){organization{id}}}`, map[string]any{"id": b.org})
			e.ok(b.key, `mutation($o:ID!){createUser(input:{email:"new@bravo.example",organizationID:$o}){user{id}}}`, map[string]any{"o": b.org})
		})
	})
}
