package graph_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/graph"
	"github.com/gatehouse-id/gatehouse/internal/httpserver"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// membersPageQuery is the hot query, as clients send it (with the page size
// as a variable here, so one document covers every size).
const membersPageQuery = `query($id:ID!,$first:Int,$after:Cursor){ organization(id:$id){ memberships(first:$first, after:$after){ edges{ node{ id status user{ id email name } } } pageInfo{ hasNextPage endCursor } } } }`

// usersPageQuery lists users with their memberships, a nested connection.
const usersPageQuery = `query($first:Int){ users(first:$first){ edges{ node{ id email memberships{ edges{ node{ organizationID } } } } } } }`

// TestStatementsPerRequestAreConstant proves that a page of members (or of
// users with their memberships) costs the same number of SQL statements
// whatever the page size and the organization size: the nested user of
// each membership, and the memberships of each user, are loaded in one
// statement per level, never one per row.
func TestStatementsPerRequestAreConstant(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		e, counter := newCountingEnv(t, db)
		// Both organizations share their first ten users, so some users
		// have two memberships and some one.
		users := seedUsers(t, e.client, 300)
		small := seedOrganization(t, e.client, "small", users[:10])
		large := seedOrganization(t, e.client, "large", users)

		// Warm-up: the key's first use writes last_used_at. The clock is
		// pinned, so no later request writes it again.
		e.ok(e.admin, `{ organizations(first:1){ edges{ node{ id } } } }`, nil)

		t.Run("MembersPage", func(t *testing.T) {
			var runs []run
			page1 := ""
			for _, c := range []struct {
				name    string
				org     pulid.ID
				size    int
				first   int
				afterP1 bool // ask for the page after the first page of 50
			}{
				{"10members/first5", small, 10, 5, false},
				{"10members/first50", small, 10, 50, false},
				{"10members/first100", small, 10, 100, false},
				{"300members/first5", large, 300, 5, false},
				{"300members/first50", large, 300, 50, false},
				{"300members/first100", large, 300, 100, false},
				{"300members/first50/page2", large, 300, 50, true},
				{"300members/first100/page2", large, 300, 100, true},
			} {
				vars := map[string]any{"id": c.org, "first": c.first}
				want := min(c.first, c.size)
				if c.afterP1 {
					vars["after"] = page1
					want = min(c.first, c.size-50)
				}
				counter.Reset()
				d := e.ok(e.admin, membersPageQuery, vars)
				runs = append(runs, run{c.name, counter.Load(), counter.Statements()})

				edges, _ := get(d, "organization.memberships.edges").([]any)
				if len(edges) != want {
					t.Fatalf("%s: %d edges, want %d", c.name, len(edges), want)
				}
				for i := range edges {
					if str(edges[i], "node.user.email") == "" {
						t.Fatalf("%s: edge %d has no user email: %v", c.name, i, edges[i])
					}
				}
				if c.org == large && c.first == 50 && !c.afterP1 {
					page1 = str(d, "organization.memberships.pageInfo.endCursor")
				}
			}
			assertSameCount(t, runs)
		})

		t.Run("UsersPage", func(t *testing.T) {
			var runs []run
			for _, first := range []int{5, 50, 100} {
				counter.Reset()
				d := e.ok(e.admin, usersPageQuery, map[string]any{"first": first})
				runs = append(runs, run{fmt.Sprintf("first%d", first), counter.Load(), counter.Statements()})

				edges, _ := get(d, "users.edges").([]any)
				if len(edges) != first {
					t.Fatalf("first %d: %d edges", first, len(edges))
				}
				for i := range edges {
					if ms, _ := get(edges[i], "node.memberships.edges").([]any); len(ms) == 0 {
						t.Fatalf("first %d: user %d has no memberships: %v", first, i, edges[i])
					}
				}
			}
			assertSameCount(t, runs)
		})
	})
}

// run is the statements one request executed.
type run struct {
	name       string
	n          int64
	statements []string
}

// assertSameCount fails unless every run executed as many statements as the
// first, listing each run's statements when they differ.
func assertSameCount(t *testing.T, runs []run) {
	t.Helper()
	same := true
	for _, r := range runs[1:] {
		same = same && r.n == runs[0].n
	}
	var b strings.Builder
	for _, r := range runs {
		fmt.Fprintf(&b, "\n%s: %d statements", r.name, r.n)
		if !same {
			for i, s := range r.statements {
				fmt.Fprintf(&b, "\n  %d. %s", i+1, s)
			}
		}
	}
	if !same {
		t.Fatalf("statement count depends on page or organization size:%s", b.String())
	}
	t.Logf("every request ran %d statements:%s\nstatements of %s:\n  %s",
		runs[0].n, b.String(), runs[0].name, strings.Join(runs[0].statements, "\n  "))
}

// newCountingEnv is newEnv on a counting pool of db, with a pinned clock,
// so that the counter sees every statement the endpoint runs.
func newCountingEnv(t *testing.T, db testdb.Database) (*env, *testdb.Counter) {
	t.Helper()
	sqlDB, counter := db.Counting(t)
	client := db.ClientOn(sqlDB)
	svc := tenants.NewService(client, tenants.WithClock(testkit.NewClock().Now))
	logger := slog.New(slog.NewTextHandler(testkit.TestLog{T: t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv := httptest.NewServer(httpserver.Chain(graph.NewHandler(graph.Config{Service: svc, Logger: logger}), httpserver.RequestID))
	t.Cleanup(srv.Close)
	_, key, err := svc.CreateAPIKey(viewer.SystemContext(context.Background()), tenants.CreateAPIKeyInput{Name: "test admin"})
	if err != nil {
		t.Fatalf("create admin key: %v", err)
	}
	return &env{t: t, url: srv.URL + "/graphql", client: client, svc: svc, admin: key}, counter
}

// seedUsers creates n users directly with the ent client, in one
// transaction, and returns their ids.
func seedUsers(t *testing.T, client *ent.Client, n int) []pulid.ID {
	t.Helper()
	ctx := viewer.SystemContext(context.Background())
	builders := make([]*ent.UserCreate, n)
	for i := range builders {
		builders[i] = client.User.Create().
			SetEmail(fmt.Sprintf("member%04d@statements.example", i)).
			SetName(fmt.Sprintf("Member %d", i))
	}
	users, err := client.User.CreateBulk(builders...).Save(ctx)
	if err != nil {
		t.Fatalf("seed users: %v", err)
	}
	ids := make([]pulid.ID, n)
	for i, u := range users {
		ids[i] = u.ID
	}
	return ids
}

// seedOrganization creates an organization whose members are users.
func seedOrganization(t *testing.T, client *ent.Client, slug string, users []pulid.ID) pulid.ID {
	t.Helper()
	ctx := viewer.SystemContext(context.Background())
	org, err := client.Organization.Create().SetName(slug).SetSlug(slug).Save(ctx)
	if err != nil {
		t.Fatalf("seed organization %s: %v", slug, err)
	}
	builders := make([]*ent.MembershipCreate, len(users))
	for i, u := range users {
		builders[i] = client.Membership.Create().SetOrganizationID(org.ID).SetUserID(u)
	}
	if err := client.Membership.CreateBulk(builders...).Exec(ctx); err != nil {
		t.Fatalf("seed members of %s: %v", slug, err)
	}
	return org.ID
}
