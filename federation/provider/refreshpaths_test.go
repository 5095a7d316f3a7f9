package provider

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/auditevent"
	"github.com/gatehouse-id/gatehouse/ent/grant"
	"github.com/gatehouse-id/gatehouse/ent/membership"
	"github.com/gatehouse-id/gatehouse/ent/user"
	"github.com/gatehouse-id/gatehouse/internal/secret"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
)

// TestRefreshPaths runs the rules of a refresh through every path that
// implements them: the two statements (SQLite; PostgreSQL too, with the
// dialect unset) and PostgreSQL's one statement, whose SQL copy of the
// rules (the statuses come from tenants) must rotate exactly when Go's
// checks accept. One table, every path, with rotations audited
// (Config.AuditRefresh: exactly one token.refresh event for an accepted
// refresh, none for a refused one, the one statement's included) and not.
func TestRefreshPaths(t *testing.T) {
	cases := []struct {
		name string
		// policy, when set, is the organization's session policy at sign-in
		// (absolute, idle seconds).
		policy *[2]int
		// before changes the world after sign-in, before the refresh.
		before func(t *testing.T, e *env)
		// rotateFirst refreshes once at sign-in and presents the successor:
		// the successor's idle expiry is the path's own (SQL on the one
		// statement), not the first token's.
		rotateFirst bool
		// rotateAfter is how long after sign-in that first refresh comes.
		rotateAfter time.Duration
		scope       string
		status      int
		error       string
	}{
		{name: "active user and membership", status: 200},
		{name: "user disabled", before: func(t *testing.T, e *env) {
			must(t, e.db.User.UpdateOneID(e.user.ID).SetStatus(user.StatusDISABLED).Exec(e.ctx))
		}, status: 400, error: "invalid_grant"},
		{name: "membership suspended", before: func(t *testing.T, e *env) {
			must(t, e.db.Membership.Update().Where(membership.UserID(e.user.ID)).SetStatus(membership.StatusSUSPENDED).Exec(e.ctx))
		}, status: 400, error: "invalid_grant"},
		{name: "membership invited", before: func(t *testing.T, e *env) {
			must(t, e.db.Membership.Update().Where(membership.UserID(e.user.ID)).SetStatus(membership.StatusINVITED).Exec(e.ctx))
		}, status: 400, error: "invalid_grant"},
		{name: "grant revoked", before: func(t *testing.T, e *env) {
			must(t, e.db.Grant.Update().Where(grant.UserID(e.user.ID)).SetRevokedAt(e.clock.Now()).Exec(e.ctx))
		}, status: 400, error: "invalid_grant"},
		{name: "grant past its end", before: func(t *testing.T, e *env) {
			must(t, e.db.Grant.Update().Where(grant.UserID(e.user.ID)).SetExpiresAt(e.clock.Now().Add(-time.Second)).Exec(e.ctx))
		}, status: 400, error: "invalid_grant"},
		{name: "scope the grant lacks", scope: "openid admin", status: 400, error: "invalid_scope"},
		{name: "within the policy's idle lifetime", policy: &[2]int{3600, 120}, before: func(t *testing.T, e *env) {
			e.clock.Advance(119 * time.Second)
		}, status: 200},
		{name: "past the policy's idle lifetime", policy: &[2]int{3600, 120}, before: func(t *testing.T, e *env) {
			e.clock.Advance(121 * time.Second)
		}, status: 400, error: "invalid_grant"},
		{name: "a successor within the policy's idle lifetime", policy: &[2]int{3600, 120}, rotateFirst: true, before: func(t *testing.T, e *env) {
			e.clock.Advance(119 * time.Second)
		}, status: 200},
		{name: "a successor past the policy's idle lifetime", policy: &[2]int{3600, 120}, rotateFirst: true, before: func(t *testing.T, e *env) {
			e.clock.Advance(121 * time.Second)
		}, status: 400, error: "invalid_grant"},
		// Refreshed at 599s, the successor would stay valid for the idle
		// lifetime (to 1199s) if the absolute end (600s) did not bound it.
		{name: "past the policy's absolute lifetime", policy: &[2]int{600, 600}, rotateFirst: true, rotateAfter: 599 * time.Second,
			before: func(t *testing.T, e *env) {
				e.clock.Advance(2 * time.Second)
			}, status: 400, error: "invalid_grant"},
	}
	for _, path := range []string{"two-statements", "one-statement", "two-statements-audited", "one-statement-audited"} {
		t.Run(path, func(t *testing.T) {
			audited := strings.HasSuffix(path, "-audited")
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					for _, d := range testdb.All(t) {
						oneStatement := strings.HasPrefix(path, "one-statement")
						if oneStatement && d.Dialect != dialect.Postgres {
							continue // SQLite has no data-modifying WITH
						}
						t.Run(d.Name, func(t *testing.T) {
							e := newEnv(t, d, func(cfg *Config) {
								cfg.AuditRefresh = audited
								if !oneStatement {
									cfg.Dialect = "" // PostgreSQL through the two statements SQLite runs
								}
							})
							if c.policy != nil {
								must(t, e.db.OrganizationPolicy.Create().SetOrganizationID(e.org.ID).
									SetSessionAbsoluteLifetimeSeconds(c.policy[0]).SetSessionIdleLifetimeSeconds(c.policy[1]).Exec(e.ctx))
							}
							tok := e.signIn(t, Authentication{OrganizationID: e.org.ID, AMR: []string{"pwd"}}, "openid", "offline_access", "organization")
							presented := tok.RefreshToken
							if c.rotateFirst {
								e.clock.Advance(c.rotateAfter)
								status, body := refreshForm(t, e, url.Values{"refresh_token": {presented}}, "web", webSecret)
								if status != 200 {
									t.Fatalf("first refresh: %d %v", status, body)
								}
								presented = body["refresh_token"].(string)
							}
							if c.before != nil {
								c.before(t, e)
							}
							form := url.Values{"refresh_token": {presented}}
							if c.scope != "" {
								form.Set("scope", c.scope)
							}
							refreshes := func() []*ent.AuditEvent {
								return e.db.AuditEvent.Query().Where(auditevent.Action(actionTokenRefresh)).AllX(e.ctx)
							}
							before := len(refreshes())
							if oneStatement && c.scope == "" {
								// SQL's copy of the rules agrees with Go's.
								cl, err := e.p.clients.get(systemCtx(e.ctx), "web")
								must(t, err)
								succ := newSuccessor()
								_, rotated, err := e.p.loadRefreshRow(systemCtx(e.ctx), cl, secret.Hash(presented), nil, &succ)
								must(t, err)
								if rotated != (c.status == 200) {
									t.Errorf("the one statement rotated = %v, Go's checks accept = %v", rotated, c.status == 200)
								}
								if rotated {
									e.p.unrotate(systemCtx(e.ctx), succ)
								}
								if n := len(refreshes()); n != before {
									t.Errorf("%d token.refresh events after the statement was undone, want %d", n, before)
								}
							}
							status, body := refreshForm(t, e, form, "web", webSecret)
							if status != c.status || (c.error != "" && body["error"] != c.error) {
								t.Fatalf("refresh: %d %v, want %d %s", status, body, c.status, c.error)
							}
							evs := refreshes()[before:]
							want := 0
							if audited && status == 200 {
								want = 1
							}
							if len(evs) != want {
								t.Fatalf("%d token.refresh events, want %d", len(evs), want)
							}
							if want == 1 {
								ev, g := evs[0], e.db.Grant.Query().Where(grant.UserID(e.user.ID)).OnlyX(e.ctx)
								if ev.Actor != "web" || ev.ActorType != "client" || ev.TargetType != "Grant" || ev.TargetID != string(g.ID) ||
									ev.OrganizationID != e.org.ID || ev.Metadata["user_id"] != string(e.user.ID) || ev.Metadata["client_id"] != "web" ||
									ev.IP == "" {
									t.Errorf("token.refresh event %+v, want the client web on grant %s of user %s in %s, with the client's address", ev, g.ID, e.user.ID, e.org.ID)
								}
							}
						})
					}
				})
			}
		})
	}
}
