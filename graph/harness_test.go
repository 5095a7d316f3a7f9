package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/ent"
	_ "github.com/gatehouse-id/gatehouse/ent/runtime"
	"github.com/gatehouse-id/gatehouse/graph"
	"github.com/gatehouse-id/gatehouse/internal/httpserver"
	"github.com/gatehouse-id/gatehouse/internal/password"
	"github.com/gatehouse-id/gatehouse/internal/seal"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// env is a running /graphql endpoint on one database, with an
// instance-wide API key.
type env struct {
	t      testing.TB
	url    string
	client *ent.Client
	svc    *tenants.Service
	admin  string
}

// eachDB runs fn once per database backend (SQLite always, PostgreSQL when
// configured), each with a fresh, migrated database.
func eachDB(t *testing.T, fn func(t *testing.T, e *env)) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) { fn(t, newEnv(t, db)) })
}

func newEnv(t testing.TB, db testdb.Database, opts ...func(*graph.Config)) *env {
	t.Helper()
	client := db.Client()
	sealer, err := seal.New(bytes.Repeat([]byte{7}, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	svc := tenants.NewService(client, tenants.WithSealer(sealer),
		tenants.WithPasswordParams(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}))
	logger := slog.New(slog.NewTextHandler(testkit.TestLog{T: t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg := graph.Config{Service: svc, Logger: logger}
	for _, o := range opts {
		o(&cfg)
	}
	srv := httptest.NewServer(httpserver.Chain(graph.NewHandler(cfg), httpserver.RequestID))
	t.Cleanup(srv.Close)
	_, key, err := svc.CreateAPIKey(viewer.SystemContext(context.Background()), tenants.CreateAPIKeyInput{Name: "test admin"})
	if err != nil {
		t.Fatalf("create admin key: %v", err)
	}
	return &env{t: t, url: srv.URL + "/graphql", client: client, svc: svc, admin: key}
}

// response is a GraphQL response body plus its HTTP status.
type response struct {
	Status int
	Data   map[string]any
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	}
	raw string
}

// code returns the first error's extensions.code, or "".
func (r response) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// post sends a raw body to /graphql with key as bearer token.
func (e *env) post(key, contentType string, body []byte) response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("POST /graphql: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	out := response{Status: res.StatusCode, raw: string(b)}
	if err := json.Unmarshal(b, &out); err != nil {
		e.t.Fatalf("response is not JSON (status %d): %s", res.StatusCode, b)
	}
	return out
}

// do runs a GraphQL operation as key.
func (e *env) do(key, query string, vars map[string]any) response {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return e.post(key, "application/json", body)
}

// ok runs an operation that must succeed and returns its data.
func (e *env) ok(key, query string, vars map[string]any) map[string]any {
	e.t.Helper()
	r := e.do(key, query, vars)
	if r.Status != http.StatusOK || len(r.Errors) > 0 {
		e.t.Fatalf("operation failed (status %d): %s\nquery: %s", r.Status, r.raw, query)
	}
	return r.Data
}

// get walks a decoded JSON value along a dotted path ("a.b.0.c").
func get(v any, path string) any {
	for _, p := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			i := 0
			for _, c := range p {
				i = i*10 + int(c-'0')
			}
			if i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func str(v any, path string) string { s, _ := get(v, path).(string); return s }

// createOrg creates an organization as the instance admin and returns its id.
func (e *env) createOrg(name, slug string) string {
	e.t.Helper()
	d := e.ok(e.admin, `mutation($n:String!,$s:String!){createOrganization(input:{name:$n,slug:$s}){organization{id}}}`,
		map[string]any{"n": name, "s": slug})
	return str(d, "createOrganization.organization.id")
}

// createMember creates a user in org (as the admin) and returns the user
// and membership ids.
func (e *env) createMember(org, email string, roles ...string) (user, membership string) {
	e.t.Helper()
	if roles == nil {
		roles = []string{"member"}
	}
	d := e.ok(e.admin, `mutation($e:String!,$o:ID!,$r:[String!]){createUser(input:{email:$e,organizationID:$o,roles:$r}){user{id memberships{edges{node{id}}}}}}`,
		map[string]any{"e": email, "o": org, "r": roles})
	return str(d, "createUser.user.id"), str(d, "createUser.user.memberships.edges.0.node.id")
}

// orgKey creates an API key scoped to org and returns its secret.
func (e *env) orgKey(org string) string {
	e.t.Helper()
	d := e.ok(e.admin, `mutation($s:[String!]){createAPIKey(input:{name:"scoped",scopes:$s}){apiKey{id} secret}}`,
		map[string]any{"s": []string{"org:" + org}})
	return str(d, "createAPIKey.secret")
}
