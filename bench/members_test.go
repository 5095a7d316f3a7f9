package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	_ "github.com/gatehouse-id/gatehouse/ent/runtime" // privacy policies and hooks
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/graph"
	"github.com/gatehouse-id/gatehouse/internal/database"
	"github.com/gatehouse-id/gatehouse/internal/httpserver"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// membersPageQuery is the hot query, exactly as clients send it: a page of
// 50 members with their user fields, then the next page by cursor.
const membersPageQuery = `query($id:ID!,$after:Cursor){ organization(id:$id){ memberships(first:50, after:$after){ edges{ node{ id status user{ id email name } } } pageInfo{ hasNextPage endCursor } } } }`

const createOrganizationMutation = `mutation($n:String!,$s:String!){ createOrganization(input:{name:$n,slug:$s}){ organization{ id } } }`

// pageSize is the first: of membersPageQuery.
const pageSize = 50

// seedBatch is the number of rows per INSERT while seeding: under SQLite's
// 32766 bound variables and PostgreSQL's 65535 at 7 columns a row.
const seedBatch = 4000

// backends are the sub-benchmarks' first level, in the order testdb.All
// returns them.
var backends = []string{"sqlite", "postgres"}

// memberCounts are the organization sizes of BenchmarkMembersPage.
var memberCounts = []struct {
	name string
	n    int
}{
	{"1k", 1_000},
	{"100k", 100_000},
}

// BenchmarkMembersPage pages through one organization's members with the hot
// query, one request at a time over HTTP, and reports the p50 and p99
// latency of a request (client to last response byte) and the SQL
// statements each request runs.
func BenchmarkMembersPage(b *testing.B) {
	// A database per organization size, each holding one organization;
	// seeded on first use, so a -bench filter seeds only what it runs.
	// With -count, leaves run again on the same databases: seed once.
	dbs := make([]map[string]testdb.Database, len(memberCounts))
	for i := range memberCounts {
		dbs[i] = byBackend(testdb.All(b))
	}
	orgs := map[string]pulid.ID{}
	for _, backend := range backends {
		b.Run(backend, func(b *testing.B) {
			skipMissing(b, dbs[0], backend)
			for i, size := range memberCounts {
				b.Run(size.name, func(b *testing.B) {
					db := dbs[i][backend]
					org, ok := orgs[b.Name()]
					if !ok {
						org = seedMembers(b, db, size.n)
						orgs[b.Name()] = org
					}
					e := newEnv(b, db)
					var after *string
					page := func() {
						body, err := json.Marshal(map[string]any{"query": membersPageQuery,
							"variables": map[string]any{"id": org, "after": after}})
						if err != nil {
							b.Fatal(err)
						}
						var res membersPage
						e.do(body, &res)
						conn := res.Data.Organization.Memberships
						if len(conn.Edges) == 0 || len(conn.Edges) > pageSize || conn.Edges[0].Node.User.Email == "" {
							b.Fatalf("unexpected page after %v: %d edges, first %+v", after, len(conn.Edges), conn.Edges)
						}
						after = &conn.PageInfo.EndCursor
						if !conn.PageInfo.HasNextPage {
							after = nil // start over at the first page
						}
					}

					page() // warm-up: connections, query cache, the key's last_used_at
					e.reset()
					for b.Loop() {
						page()
					}
					e.report(b)
				})
			}
		})
	}
}

// BenchmarkCreateOrganization creates organizations (with their built-in
// roles, policy and audit event) over GraphQL, one request at a time, and
// reports the rate next to latency percentiles and statements per request.
func BenchmarkCreateOrganization(b *testing.B) {
	dbs := byBackend(testdb.All(b))
	seq := 0 // slugs stay unique when -count runs a leaf again
	for _, backend := range backends {
		b.Run(backend, func(b *testing.B) {
			skipMissing(b, dbs, backend)
			e := newEnv(b, dbs[backend])
			create := func() {
				seq++
				body, err := json.Marshal(map[string]any{"query": createOrganizationMutation,
					"variables": map[string]any{"n": fmt.Sprintf("Bench %d", seq), "s": fmt.Sprintf("bench-%d", seq)}})
				if err != nil {
					b.Fatal(err)
				}
				var res struct {
					Data struct {
						CreateOrganization struct {
							Organization struct{ ID string }
						}
					}
				}
				e.do(body, &res)
				if res.Data.CreateOrganization.Organization.ID == "" {
					b.Fatalf("createOrganization returned no id")
				}
			}

			create() // warm-up
			e.reset()
			for b.Loop() {
				create()
			}
			e.report(b)
			b.ReportMetric(float64(len(e.latencies))/b.Elapsed().Seconds(), "ops/s")
		})
	}
}

// membersPage is the response to membersPageQuery.
type membersPage struct {
	Data struct {
		Organization struct {
			Memberships struct {
				Edges []struct {
					Node struct {
						ID     string
						Status string
						User   struct{ ID, Email, Name string }
					}
				}
				PageInfo struct {
					HasNextPage bool
					EndCursor   string
				}
			}
		}
	}
}

// env is a running Gatehouse HTTP server on a counting pool of one
// database, with an instance-wide API key.
type env struct {
	b         *testing.B
	url       string
	http      *http.Client
	key       string
	counter   *testdb.Counter
	latencies []time.Duration
}

// newEnv serves /graphql on db, with the middleware chain of
// `gatehouse serve`, through a pool whose statements are counted.
func newEnv(b *testing.B, db testdb.Database) *env {
	b.Helper()
	sqlDB, counter := db.Counting(b)
	client := db.ClientOn(sqlDB)
	svc := tenants.NewService(client)
	logger := slog.New(slog.NewTextHandler(benchLog{b}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	metrics := httpserver.NewMetrics()
	mux := http.NewServeMux()
	mux.Handle("/graphql", graph.NewHandler(graph.Config{Service: svc, Logger: logger}))
	srv := httptest.NewServer(httpserver.Stack(mux, logger, metrics))
	b.Cleanup(srv.Close)
	_, key, err := svc.CreateAPIKey(viewer.SystemContext(context.Background()), tenants.CreateAPIKeyInput{Name: "bench"})
	if err != nil {
		b.Fatalf("create api key: %v", err)
	}
	return &env{b: b, url: srv.URL + "/graphql", http: srv.Client(), key: key, counter: counter,
		latencies: make([]time.Duration, 0, 1<<14)}
}

// do posts a GraphQL request, records its latency up to the last byte of
// the response, and decodes the response into out; any error fails b.
func (e *env) do(body []byte, out any) {
	e.b.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url, bytes.NewReader(body))
	if err != nil {
		e.b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.key)
	start := time.Now()
	res, err := e.http.Do(req)
	if err != nil {
		e.b.Fatalf("POST /graphql: %v", err)
	}
	raw, err := io.ReadAll(res.Body)
	res.Body.Close()
	e.latencies = append(e.latencies, time.Since(start))
	var errs struct{ Errors []json.RawMessage }
	if err != nil || res.StatusCode != http.StatusOK || json.Unmarshal(raw, &errs) != nil || len(errs.Errors) > 0 {
		e.b.Fatalf("POST /graphql: status %d, read error %v: %s", res.StatusCode, err, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		e.b.Fatalf("decode response: %v: %s", err, raw)
	}
}

// reset forgets the statements and latencies so far (the warm-up's).
func (e *env) reset() {
	e.counter.Reset()
	e.latencies = e.latencies[:0]
}

// report adds the latency percentiles and the statements per request of
// the requests since the counter was last reset.
func (e *env) report(b *testing.B) {
	n := len(e.latencies)
	if n == 0 {
		return
	}
	slices.Sort(e.latencies)
	b.ReportMetric(percentile(e.latencies, 50), "p50-ms")
	b.ReportMetric(percentile(e.latencies, 99), "p99-ms")
	b.ReportMetric(float64(e.counter.Load())/float64(n), "statements/op")
}

// percentile returns the nearest-rank p-th percentile of sorted, in ms.
func percentile(sorted []time.Duration, p int) float64 {
	i := (len(sorted)*p + 99) / 100 // ceil(n·p/100), 1-based
	return float64(sorted[max(i, 1)-1]) / float64(time.Millisecond)
}

// seedMembers creates one organization with n members, each its own user,
// directly with the ent client in transactions of seedBatch-row INSERTs,
// and returns the organization's id. On PostgreSQL it then runs VACUUM
// ANALYZE, the state autovacuum reaches shortly after a bulk load.
func seedMembers(b *testing.B, db testdb.Database, n int) pulid.ID {
	b.Helper()
	start := time.Now()
	ctx := viewer.SystemContext(context.Background())
	client := db.Client()
	org, err := client.Organization.Create().SetName("Members").SetSlug(fmt.Sprintf("members-%d", n)).Save(ctx)
	if err != nil {
		b.Fatalf("seed organization: %v", err)
	}
	for lo := 0; lo < n; lo += seedBatch {
		hi := min(lo+seedBatch, n)
		tx, err := client.Tx(ctx)
		if err != nil {
			b.Fatalf("seed: begin: %v", err)
		}
		users := make([]*ent.UserCreate, hi-lo)
		for i := range users {
			users[i] = tx.User.Create().
				SetEmail(fmt.Sprintf("member%06d@bench.example", lo+i)).
				SetName(fmt.Sprintf("Member %d", lo+i))
		}
		created, err := tx.User.CreateBulk(users...).Save(ctx)
		if err != nil {
			_ = tx.Rollback()
			b.Fatalf("seed users %d–%d: %v", lo, hi, err)
		}
		members := make([]*ent.MembershipCreate, len(created))
		for i, u := range created {
			members[i] = tx.Membership.Create().SetOrganizationID(org.ID).SetUserID(u.ID)
		}
		if err := tx.Membership.CreateBulk(members...).Exec(ctx); err != nil {
			_ = tx.Rollback()
			b.Fatalf("seed memberships %d–%d: %v", lo, hi, err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatalf("seed: commit: %v", err)
		}
	}
	if db.Dialect == database.Postgres {
		if _, err := db.SQL.ExecContext(ctx, `VACUUM ANALYZE`); err != nil {
			b.Fatalf("seed: vacuum analyze: %v", err)
		}
	}
	b.Logf("seeded %d members on %s in %s", n, db.Name, time.Since(start).Round(time.Millisecond))
	return org.ID
}

func byBackend(dbs []testdb.Database) map[string]testdb.Database {
	m := make(map[string]testdb.Database, len(dbs))
	for _, db := range dbs {
		m[db.Name] = db
	}
	return m
}

// skipMissing skips b when testdb.All left the backend out.
func skipMissing(b *testing.B, dbs map[string]testdb.Database, backend string) {
	b.Helper()
	if _, ok := dbs[backend]; !ok {
		b.Skipf("%s not configured; set %s=postgres://user@host:5432/db?sslmode=disable to run it",
			backend, testdb.EnvPostgresURL)
	}
}

// benchLog sends the server's warnings to the benchmark log.
type benchLog struct{ b *testing.B }

func (l benchLog) Write(p []byte) (int, error) {
	l.b.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
