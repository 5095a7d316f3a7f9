package graph_test

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/auditevent"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/graph"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// sessionCallers are fixture's callers plus the ones from outside: the
// target's own token, another organization's owner and key, a user in no
// organization, and the instance key.
func (e *env) sessionCallers(f, other fixture, loner string) map[string]string {
	c := map[string]string{"self": "tok|" + f.users["target"] + "|openid gatehouse:admin|",
		"other owner": other.callers["owner"], "other orgkey": other.callers["orgkey"],
		"loner": "tok|" + loner + "|openid gatehouse:admin|", "instance": e.admin}
	for _, name := range callerNames {
		c[name] = f.callers[name]
	}
	return c
}

// session starts a hosted-page session of usr with a grant (refresh-token
// family) issued from it, and returns both with the session's cookie token.
func (e *env) session(usr string) (*ent.Session, *ent.Grant, string) {
	e.t.Helper()
	sys := viewer.SystemContext(context.Background())
	ses, token, err := e.svc.CreateSession(sys, tenants.NewSession{UserID: pulid.ID(usr), AMR: []string{"pwd"}, IP: "198.51.100.7", UserAgent: "Firefox"})
	if err != nil {
		e.t.Fatal(err)
	}
	g, err := e.client.Grant.Create().SetClientID("admin-app").SetUserID(pulid.ID(usr)).SetScopes([]string{"openid"}).
		SetSessionID(ses.ID).SetAuthTime(ses.AuthTime).SetExpiresAt(time.Now().Add(time.Hour)).Save(sys)
	if err != nil {
		e.t.Fatal(err)
	}
	return ses, g, token
}

// TestSessionsByRole: who may list and end a user's sessions. The user
// itself; readers of the user (members:read where it is an accepted
// member) list; those who may change its credentials (the rule of
// setUserPassword: members:manage and every permission the user holds,
// in every organization it belongs to) end. Another tenant's session, or
// a user's session seen by a stranger, answers exactly like a missing one.
func TestSessionsByRole(t *testing.T) {
	const ok, forbidden, notFound = "", "FORBIDDEN", "NOT_FOUND"
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db, func(c *graph.Config) { c.VerifyToken = fakeTokens })
		e.adminApp()
		f, other := e.fixture("sess"), e.fixture("other")
		loner := str(e.ok(e.admin, `mutation{createUser(input:{email:"loner@example.com"}){user{id}}}`, nil), "createUser.user.id")
		callers := e.sessionCallers(f, other, loner)
		sys := viewer.SystemContext(context.Background())

		// Listing the target's sessions.
		ses, _, _ := e.session(f.users["target"])
		for caller, sees := range map[string]bool{"owner": true, "admin": true, "member": true, "auditor": true, "orgkey": true,
			"self": true, "instance": true, "other owner": false, "other orgkey": false, "loner": false} {
			d := e.ok(callers[caller], `query($u:ID!){user(id:$u){sessions{id ip userAgent amr authTime expiresAt lastSeenAt createdAt current}}}`,
				map[string]any{"u": f.users["target"]})
			got := str(d, "user.sessions.0.id") == string(ses.ID) && str(d, "user.sessions.0.ip") == "198.51.100.7" &&
				str(d, "user.sessions.0.userAgent") == "Firefox" && str(d, "user.sessions.0.amr.0") == "pwd"
			if got != sees || (!sees && get(d, "user") != nil) {
				t.Errorf("%s lists the target's sessions: %v, want %v", caller, d, sees)
			}
		}
		// The secret's hash is no field at all.
		if r := e.do(e.admin, `{ viewer { sessions { tokenHash } } }`, nil); r.code() != "GRAPHQL_VALIDATION_FAILED" {
			t.Errorf("tokenHash queried: %s", r.raw)
		}

		// Ending one session, for each caller, on the target (a member)
		// and on an owner.
		for _, c := range []struct {
			whose string
			want  map[string]string
		}{
			{"target", map[string]string{"owner": ok, "admin": ok, "orgkey": ok, "self": ok, "instance": ok,
				"member": forbidden, "auditor": forbidden, "other owner": notFound, "other orgkey": notFound, "loner": notFound}},
			{"owner", map[string]string{"owner": ok, "orgkey": ok, "instance": ok,
				"admin": forbidden, "member": forbidden, "auditor": forbidden, "self": forbidden, "other owner": notFound, "other orgkey": notFound, "loner": notFound}},
		} {
			for caller, want := range c.want {
				ses, g, token := e.session(f.users[c.whose])
				r := e.do(callers[caller], `mutation($s:ID!){revokeSession(input:{id:$s}){session{id}}}`, map[string]any{"s": ses.ID})
				if r.Status != http.StatusOK || r.code() != want {
					t.Errorf("%s ending the %s's session: %s, want %q", caller, c.whose, r.raw, want)
				}
				live, _, err := e.svc.LiveSession(sys, token)
				if err != nil || (live == nil) != (want == ok) {
					t.Errorf("%s ending the %s's session: still live %v (%v)", caller, c.whose, live != nil, err)
				}
				if revoked := e.client.Grant.GetX(sys, g.ID).RevokedAt != nil; revoked != (want == ok) {
					t.Errorf("%s ending the %s's session: grant revoked %v", caller, c.whose, revoked)
				}
				if want == ok {
					ev := e.client.AuditEvent.Query().Where(auditevent.Action("session.revoke"), auditevent.TargetID(string(ses.ID))).OnlyX(sys)
					reason := "admin"
					if caller == "self" || (caller == "owner" && c.whose == "owner") {
						reason = "user"
					}
					if ev.Metadata["reason"] != reason {
						t.Errorf("%s ending the %s's session: event %+v, want reason %s", caller, c.whose, ev, reason)
					}
				}
			}
		}

		// Another tenant's session and a missing one: the same answer.
		theirs, _, _ := e.session(other.users["target"])
		missing := pulid.New("ses")
		for _, caller := range []string{"owner", "admin", "orgkey", "self"} {
			q := `mutation($s:ID!){revokeSession(input:{id:$s}){session{id}}}`
			a, b := e.do(callers[caller], q, map[string]any{"s": theirs.ID}), e.do(callers[caller], q, map[string]any{"s": missing})
			if a.code() != notFound || a.raw != b.raw {
				t.Errorf("%s: another tenant's session answers %s, a missing one %s", caller, a.raw, b.raw)
			}
			for _, bad := range []string{"not-an-id", string(pulid.New("usr"))} {
				if r := e.do(callers[caller], q, map[string]any{"s": bad}); r.raw != b.raw {
					t.Errorf("%s: session id %q answers %s, a missing one %s", caller, bad, r.raw, b.raw)
				}
			}
		}

		// Ending all of a user's sessions, for each caller.
		for caller, want := range map[string]string{"owner": ok, "admin": ok, "orgkey": ok, "self": ok, "instance": ok,
			"member": forbidden, "auditor": forbidden, "other owner": notFound, "other orgkey": notFound, "loner": notFound} {
			e.ok(e.admin, `mutation($u:ID!){revokeUserSessions(input:{userID:$u}){revokedSessions}}`, map[string]any{"u": f.users["target"]})
			var tokens []string
			var grants []*ent.Grant
			for range 2 {
				_, g, tok := e.session(f.users["target"])
				tokens, grants = append(tokens, tok), append(grants, g)
			}
			r := e.do(callers[caller], `mutation($u:ID!){revokeUserSessions(input:{userID:$u}){revokedSessions}}`, map[string]any{"u": f.users["target"]})
			if r.Status != http.StatusOK || r.code() != want || (want == ok && get(r.Data, "revokeUserSessions.revokedSessions") != float64(2)) {
				t.Errorf("%s ending all the target's sessions: %s, want %q", caller, r.raw, want)
			}
			for i, tok := range tokens {
				live, _, err := e.svc.LiveSession(sys, tok)
				revoked := e.client.Grant.GetX(sys, grants[i].ID).RevokedAt != nil
				if err != nil || (live == nil) != (want == ok) || revoked != (want == ok) {
					t.Errorf("%s ending all the target's sessions: session %d live %v, grant revoked %v (%v)", caller, i, live != nil, revoked, err)
				}
			}
		}
		if r := e.do(callers["owner"], `mutation($u:ID!){revokeUserSessions(input:{userID:$u}){revokedSessions}}`, map[string]any{"u": other.users["target"]}); r.code() != notFound {
			t.Errorf("ending another tenant's user's sessions: %s", r.raw)
		}
	})
}

// TestViewerSessions: a user's token lists its own live sessions (not the
// revoked or expired ones, not anyone else's), marks the one it was
// issued from as current, and ends its own.
func TestViewerSessions(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db, func(c *graph.Config) { c.VerifyToken = fakeTokens })
		e.adminApp()
		sys := viewer.SystemContext(context.Background())
		usr := str(e.ok(e.admin, `mutation{createUser(input:{email:"ada@example.com"}){user{id}}}`, nil), "createUser.user.id")
		other := str(e.ok(e.admin, `mutation{createUser(input:{email:"grace@example.com"}){user{id}}}`, nil), "createUser.user.id")
		mine, g, _ := e.session(usr)
		second, _, _ := e.session(usr)
		ended, _, _ := e.session(usr)
		if _, err := e.svc.RevokeSession(sys, ended.ID, "", "logout", nil); err != nil {
			t.Fatal(err)
		}
		expired, _, _ := e.session(usr)
		e.client.Session.UpdateOneID(expired.ID).SetExpiresAt(time.Now().Add(-time.Minute)).ExecX(sys)
		e.session(other)
		tok := "tok|" + usr + "|openid gatehouse:admin|||" + string(g.ID)

		d := e.ok(tok, `{ viewer { id sessions { id current } } }`, nil)
		got := map[string]bool{}
		for _, s := range nonEmpty(t, d, "viewer.sessions") {
			got[str(s, "id")] = get(s, "current") == true
		}
		if len(got) != 2 || !got[string(mine.ID)] || got[string(second.ID)] {
			t.Errorf("viewer.sessions = %v, want %s (current) and %s", got, mine.ID, second.ID)
		}
		// A token without a known grant marks none as current.
		d = e.ok("tok|"+usr+"|openid gatehouse:admin|", `{ viewer { sessions { current } } }`, nil)
		for _, s := range nonEmpty(t, d, "viewer.sessions") {
			if get(s, "current") != false {
				t.Errorf("current without a grant: %v", d)
			}
		}
		// Another user's grant does not make this user's session current.
		_, og, _ := e.session(other)
		d = e.ok("tok|"+usr+"|openid gatehouse:admin|||"+string(og.ID), `{ viewer { sessions { current } } }`, nil)
		for _, s := range nonEmpty(t, d, "viewer.sessions") {
			if get(s, "current") != false {
				t.Errorf("current through another user's grant: %v", d)
			}
		}

		d = e.ok(tok, `mutation($s:ID!){revokeSession(input:{id:$s}){session{id current}}}`, map[string]any{"s": second.ID})
		if str(d, "revokeSession.session.id") != string(second.ID) {
			t.Errorf("revokeSession = %v", d)
		}
		// Ending it again succeeds and writes nothing more.
		e.ok(tok, `mutation($s:ID!){revokeSession(input:{id:$s}){session{id}}}`, map[string]any{"s": second.ID})
		if n := e.client.AuditEvent.Query().Where(auditevent.Action("session.revoke"), auditevent.TargetID(string(second.ID))).CountX(sys); n != 1 {
			t.Errorf("%d events for one ended session", n)
		}
		d = e.ok(tok, `{ viewer { sessions { id } } }`, nil)
		if n := len(get(d, "viewer.sessions").([]any)); n != 1 {
			t.Errorf("after ending one, %d sessions listed, want 1", n)
		}
		// API keys have no viewer, so no sessions of their own.
		if d := e.ok(e.admin, `{ viewer { sessions { id } } }`, nil); get(d, "viewer") != nil {
			t.Errorf("an API key's viewer: %v", d)
		}
	})
}

// TestRevokeSessionRaceOverGraphQL: 60 revokeSession requests for one
// session, released at once, all succeed, and the trail holds exactly one
// session.revoke.
func TestRevokeSessionRaceOverGraphQL(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		usr := str(e.ok(e.admin, `mutation{createUser(input:{email:"ada@example.com"}){user{id}}}`, nil), "createUser.user.id")
		ses, _, _ := e.session(usr)
		const n = 60
		start := make(chan struct{})
		var ready, done sync.WaitGroup
		results := make(chan response, n)
		for range n {
			ready.Add(1)
			done.Add(1)
			go func() {
				defer done.Done()
				ready.Done()
				<-start
				results <- e.do(e.admin, `mutation($s:ID!){revokeSession(input:{id:$s}){session{id}}}`, map[string]any{"s": ses.ID})
			}()
		}
		ready.Wait()
		close(start)
		done.Wait()
		close(results)
		i := 0
		for r := range results {
			i++
			if r.Status != http.StatusOK || len(r.Errors) > 0 {
				t.Errorf("request %s: %s", strconv.Itoa(i), r.raw)
			}
		}
		sys := viewer.SystemContext(context.Background())
		if got := e.client.AuditEvent.Query().Where(auditevent.Action("session.revoke")).CountX(sys); got != 1 {
			t.Errorf("%d session.revoke events after %d concurrent revocations, want 1", got, n)
		}
	})
}
