package provider

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ent/authrequest"
	"github.com/gatehouse-id/gatehouse/ent/grant"
	"github.com/gatehouse-id/gatehouse/ent/refreshtoken"
	"github.com/gatehouse-id/gatehouse/ent/revokedtoken"
	"github.com/gatehouse-id/gatehouse/internal/secret"
)

// TestSweep deletes what nothing can use any more and keeps the rest.
func TestSweep(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		now := e.clock.Now()
		ar := func(expires time.Time) string {
			a, err := e.db.AuthRequest.Create().SetClientID("web").SetRedirectURI(webRedirect).SetScopes([]string{"openid"}).
				SetResponseType("code").SetExpiresAt(expires).Save(e.ctx)
			must(t, err)
			return string(a.ID)
		}
		oldAR, graceAR, liveAR := ar(now.Add(-authRequestGrace-time.Minute)), ar(now.Add(-time.Minute)), ar(now.Add(time.Minute))
		rvk := func(jti string, expires time.Time) {
			must(t, e.db.RevokedToken.Create().SetJti(jti).SetExpiresAt(expires).Exec(e.ctx))
		}
		rvk("old", now.Add(-time.Second))
		rvk("pkjwt:svc:old", now.Add(-time.Second))
		rvk("live", now.Add(time.Minute))
		gr := func(expires time.Time) string {
			g, err := e.db.Grant.Create().SetClientID("web").SetUserID(e.user.ID).SetScopes([]string{"openid"}).
				SetAuthTime(now).SetExpiresAt(expires).Save(e.ctx)
			must(t, err)
			for range 2 {
				must(t, e.db.RefreshToken.Create().SetGrantID(g.ID).SetTokenHash(secret.Hash(secret.Token(16))).
					SetIdleExpiresAt(expires).Exec(e.ctx))
			}
			return string(g.ID)
		}
		// A grant that just ended may still have live access tokens (an
		// hour at most here); one that ended two hours ago has none.
		oldGrant, recentGrant, liveGrant := gr(now.Add(-2*time.Hour)), gr(now.Add(-time.Minute)), gr(now.Add(time.Hour))

		must(t, e.p.Sweep(e.ctx))

		for id, want := range map[string]bool{oldAR: false, graceAR: true, liveAR: true} {
			if got, _ := e.db.AuthRequest.Query().Where(authrequest.ID(idOf(id))).Exist(e.ctx); got != want {
				t.Errorf("auth request %s exists=%v, want %v", id, got, want)
			}
		}
		for jti, want := range map[string]bool{"old": false, "pkjwt:svc:old": false, "live": true} {
			if got, _ := e.db.RevokedToken.Query().Where(revokedtoken.Jti(jti)).Exist(e.ctx); got != want {
				t.Errorf("revoked token %s exists=%v, want %v", jti, got, want)
			}
		}
		for id, want := range map[string]bool{oldGrant: false, recentGrant: true, liveGrant: true} {
			if got, _ := e.db.Grant.Query().Where(grant.ID(idOf(id))).Exist(e.ctx); got != want {
				t.Errorf("grant %s exists=%v, want %v", id, got, want)
			}
			n, _ := e.db.RefreshToken.Query().Where(refreshtoken.GrantID(idOf(id))).Count(e.ctx)
			if (n == 2) != want {
				t.Errorf("grant %s has %d refresh tokens, want them %v", id, n, map[bool]string{true: "kept", false: "deleted"}[want])
			}
		}
		// Sweeping again is a no-op.
		must(t, e.p.Sweep(e.ctx))
	})
}

// TestRunSweeper sweeps at once and stops with its context.
func TestRunSweeper(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		must(t, e.db.RevokedToken.Create().SetJti("old").SetExpiresAt(e.clock.Now().Add(-time.Second)).Exec(e.ctx))
		ctx, cancel := context.WithCancel(e.ctx)
		done := make(chan struct{})
		go func() { e.p.RunSweeper(ctx, time.Hour); close(done) }()
		deadline := time.Now().Add(10 * time.Second)
		for {
			if n, _ := e.db.RevokedToken.Query().Count(e.ctx); n == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("RunSweeper did not sweep")
			}
			time.Sleep(5 * time.Millisecond) // waiting on another goroutine's database write
		}
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("RunSweeper did not stop with its context")
		}
	})
}
