package graph_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/password"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
)

// Aliased password mutations in one request hash through the process's
// one bound (internal/password): at capacity each answers RATE_LIMITED
// and none hashes. Not parallel: it sets the process's gate.
func TestPasswordMutationsShareTheHashBound(t *testing.T) {
	defer password.SetConcurrency(0, 0)
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		d := e.ok(e.admin, `mutation { createUser(input: {email: "ada@example.com", name: "Ada"}) { user { id } } }`, nil)
		usr := str(d, "createUser.user.id")
		var q strings.Builder
		q.WriteString(`mutation($u:ID!) {`)
		for i := range 20 {
			q.WriteString(" a" + string(rune('a'+i)) + `: setUserPassword(input:{userID:$u,password:"twenty characters long!"}){user{id}}`)
		}
		q.WriteString(` c: createUser(input: {email: "bob@example.com", password: "twenty characters long!"}) { user { id } } }`)

		password.SetConcurrency(2, time.Millisecond)
		release := password.Occupy(2)
		r := e.do(e.admin, q.String(), map[string]any{"u": usr})
		release()
		if len(r.Errors) != 21 {
			t.Fatalf("%d errors at capacity, want 21 (one per mutation): %s", len(r.Errors), r.raw)
		}
		for _, err := range r.Errors {
			if code, _ := err.Extensions["code"].(string); code != "RATE_LIMITED" {
				t.Fatalf("error %v, want RATE_LIMITED", err)
			}
		}
		if s := password.GateStats(); s.Hashes != 0 || s.Busy != 21 {
			t.Fatalf("at capacity: %d hashes ran, %d turned away; want 0 and 21", s.Hashes, s.Busy)
		}
		if r := e.do(e.admin, q.String(), map[string]any{"u": usr}); len(r.Errors) != 0 {
			t.Fatalf("with free slots: %s", r.raw)
		}
		if s := password.GateStats(); s.Peak > 2 {
			t.Fatalf("peak %d hashes at once, bound 2", s.Peak)
		}
	})
}
