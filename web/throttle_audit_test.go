package web

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/internal/ratelimit"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
)

// countingEnv is newEnv whose client (and so the fake flow's) runs on a
// counting pool of db.
func countingEnv(t *testing.T, db testdb.Database, tweak ...func(*Config)) (*env, *testdb.Counter) {
	t.Helper()
	sqlDB, n := db.Counting(t)
	tweak = append([]func(*Config){func(c *Config) { c.Client = ent.NewClient(ent.Driver(entsql.OpenDB(db.Dialect, sqlDB))) }}, tweak...)
	return newEnv(t, db, tweak...), n
}

// statementsOn counts the statements that name table.
func statementsOn(n *testdb.Counter, table string) int { return naming(n.Statements(), table) }

// A throttled sign-in looks its user up only for an event that is
// written: once the rejection limit suppresses the events, a throttled
// attempt runs no statement at all.
func TestThrottledSignInLooksUpUserOnlyWhenAudited(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e, n := countingEnv(t, db, func(c *Config) {
			c.AccountPolicy = ratelimit.Policy{Free: 1, Base: time.Hour, Max: time.Hour, Forget: 24 * time.Hour}
		})
		ada := e.user(userSpec{email: "ada@example.com", password: pw})
		b := e.browser()
		id := e.flow.add(LoginRequest{FirstParty: true})
		form := b.get("/login?authRequest=" + id)
		try := func() response {
			return b.post("/login", url.Values{"authRequest": {id}, "csrf": {form.field("csrf")}, "email": {"ada@example.com"}, "password": {"wrong"}})
		}
		wantStatus(t, try(), http.StatusUnauthorized)
		const written = 10 // tenants.Audit's default limit per client and reason
		for i := range written + 3 {
			n.Reset()
			wantStatus(t, try(), http.StatusTooManyRequests)
			want := 0
			if i < written {
				want = 2 // the user's id, the event
			}
			if got := n.Load(); got != int64(want) {
				t.Errorf("throttled attempt %d ran %d statements, want %d: %q", i+1, got, want, n.Statements())
			}
		}
		var throttled int
		for _, ev := range e.audits(actionLoginFailed) {
			if ev.Metadata["reason"] == reasonThrottled {
				throttled++
				if ev.Actor != string(ada.ID) || ev.TargetID != string(ada.ID) {
					t.Errorf("throttled event by %s about %s, want %s", ev.Actor, ev.TargetID, ada.ID)
				}
			}
		}
		if throttled != written {
			t.Errorf("%d throttled events, want %d", throttled, written)
		}
	})
}
