package provider

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/grant"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// A revocation runs three statements however many grants it revokes: the
// locking SELECT, one UPDATE of the grants and one INSERT of their events
// (was an UPDATE and an INSERT per grant). Each grant still gets its own
// event, with the same contents as before.
func TestRevokeGrantsStatements(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d testdb.Database) {
		counted, n := d.Counting(t)
		d.SQL = counted
		e := newEnv(t, d)
		const grants = 3
		for range grants {
			e.signIn(t, Authentication{}, "offline_access")
		}
		before := eventCount(e)
		n.Reset()
		must(t, e.p.revokeGrants(e.ctx, revocation{action: actionGrantRevoke, reason: "user_disabled"}, grant.UserID(e.user.ID)))
		if got := n.Load(); got != 3 {
			t.Errorf("revoking %d grants ran %d statements, want 3: %q", grants, got, n.Statements())
		}
		gs := e.db.Grant.Query().Where(grant.UserID(e.user.ID)).AllX(e.ctx)
		evs := eventsSince(e, before)
		if len(gs) != grants || len(evs) != grants {
			t.Fatalf("%d grants, %d events, want %d of each", len(gs), len(evs), grants)
		}
		byTarget := map[string]bool{}
		for _, g := range gs {
			if g.RevokedAt == nil || !g.RevokedAt.Equal(evs[0].CreatedAt) || g.RevokeReason != "user_disabled" {
				t.Errorf("grant %s: revoked at %v for %q", g.ID, g.RevokedAt, g.RevokeReason)
			}
			byTarget[string(g.ID)] = true
		}
		for _, ev := range evs {
			want := fmt.Sprint(map[string]any{"client_id": "web", "user_id": string(e.user.ID), "reason": "user_disabled"})
			if ev.Action != actionGrantRevoke || ev.ActorType != "system" || ev.Actor != "system" || ev.TargetType != "Grant" ||
				!byTarget[ev.TargetID] || fmt.Sprint(ev.Metadata) != want {
				t.Errorf("event %+v, want grant.revoke by the system of one grant with %s", ev, want)
			}
			delete(byTarget, ev.TargetID)
		}

		// Nothing left to revoke: the SELECT alone, no event.
		n.Reset()
		must(t, e.p.revokeGrants(e.ctx, revocation{action: actionGrantRevoke, reason: "user_disabled"}, grant.UserID(e.user.ID)))
		if got := n.Load(); got != 1 {
			t.Errorf("revoking no grant ran %d statements, want 1: %q", got, n.Statements())
		}

		// A recorded revocation (a replay) is one event naming the grants.
		for range grants {
			e.signIn(t, Authentication{}, "offline_access")
		}
		before = eventCount(e)
		n.Reset()
		must(t, e.p.revokeGrants(e.ctx, revocation{action: actionCodeReplayed, reason: "code replay",
			event: &tenants.Event{Action: actionCodeReplayed}}, grant.UserID(e.user.ID)))
		if got := n.Load(); got != 3 {
			t.Errorf("a recorded revocation ran %d statements, want 3: %q", got, n.Statements())
		}
		if evs := eventsSince(e, before); len(evs) != 1 || len(evs[0].Metadata["revoked_grants"].([]any)) != grants {
			t.Errorf("events %+v, want one naming %d grants", evs, grants)
		}
	})
}

// A revocation of more grants than one statement can carry (6,000 events
// of 12 columns pass PostgreSQL's 65,535 bind parameters) revokes and
// records every one of them.
func TestRevokeManyGrants(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d testdb.Database) {
		e := newEnv(t, d)
		const grants = 6000
		now := e.p.now()
		for chunk := range slices.Chunk(make([]struct{}, grants), 500) {
			cs := make([]*ent.GrantCreate, len(chunk))
			for i := range cs {
				cs[i] = e.db.Grant.Create().SetClientID("web").SetUserID(e.user.ID).SetScopes([]string{"openid"}).
					SetAuthTime(now).SetExpiresAt(now.Add(time.Hour))
			}
			e.db.Grant.CreateBulk(cs...).ExecX(e.ctx)
		}
		before := eventCount(e)
		must(t, e.p.revokeGrants(e.ctx, revocation{action: actionGrantRevoke, reason: "user_disabled"}, grant.UserID(e.user.ID)))
		if left := e.db.Grant.Query().Where(grant.UserID(e.user.ID), grant.RevokedAtIsNil()).CountX(e.ctx); left != 0 {
			t.Errorf("%d grants left unrevoked", left)
		}
		if evs := eventsSince(e, before); len(evs) != grants {
			t.Errorf("%d events, want %d", len(evs), grants)
		}
	})
}
