package tenants_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/auditevent"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// TestRevokeSessionRace: 60 requests to end one session, released at
// once, all succeed, and exactly one of them ends it and writes
// session.revoke (reason user, the user as actor) with its grant revoked.
func TestRevokeSessionRace(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		now := testkit.NewClock().Now()
		client := db.Client()
		svc := tenants.NewService(client, tenants.WithClock(func() time.Time { return now }))
		sys := viewer.SystemContext(context.Background())
		ada := client.User.Create().SetEmail("ada@example.com").SaveX(sys)
		ses, token, err := svc.CreateSession(sys, tenants.NewSession{UserID: ada.ID, AMR: []string{"pwd"}})
		must(t, err)
		g := client.Grant.Create().SetClientID("app").SetUserID(ada.ID).SetScopes([]string{"openid"}).SetSessionID(ses.ID).
			SetAuthTime(now).SetExpiresAt(now.Add(time.Hour)).SaveX(sys)
		self := viewer.NewContext(context.Background(), &viewer.Viewer{Kind: viewer.User, Actor: string(ada.ID), UserID: ada.ID, IP: "203.0.113.9"})

		const n = 60
		start := make(chan struct{})
		var ready, done sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			ready.Add(1)
			done.Add(1)
			go func() {
				defer done.Done()
				ready.Done()
				<-start
				got, err := svc.RevokeSessionByID(self, ses.ID)
				if err == nil && got.RevokedAt == nil {
					err = errors.New("answered with a live session")
				}
				errs <- err
			}()
		}
		ready.Wait()
		close(start)
		done.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("RevokeSessionByID: %v", err)
			}
		}
		evs := client.AuditEvent.Query().Where(auditevent.Action("session.revoke")).AllX(sys)
		if len(evs) != 1 {
			t.Fatalf("%d session.revoke events after %d concurrent revocations, want 1", len(evs), n)
		}
		if e := evs[0]; e.TargetID != string(ses.ID) || e.Actor != string(ada.ID) || e.ActorType != "user" ||
			e.Metadata["reason"] != "user" || e.IP != "203.0.113.9" {
			t.Errorf("event %+v", e)
		}
		if live, _, err := svc.LiveSession(sys, token); err != nil || live != nil {
			t.Errorf("LiveSession after revocation = %v, %v", live, err)
		}
		if got := client.Grant.GetX(sys, g.ID); got.RevokedAt == nil {
			t.Errorf("the session's grant stays live")
		}
	})
}

// TestRevokeUserSessions: ending all of a user's sessions ends each (and
// its grants) with one event per session, in one change; the user's other
// grants, other users' sessions and sessions ended before stay as they
// were; a caller who may not see the user gets ErrNotFound.
func TestRevokeUserSessions(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		now := testkit.NewClock().Now()
		client := db.Client()
		svc := tenants.NewService(client, tenants.WithClock(func() time.Time { return now }))
		sys := viewer.SystemContext(context.Background())
		admin := viewer.NewContext(context.Background(), &viewer.Viewer{Kind: viewer.Instance, Actor: "key_admin"})
		ada := client.User.Create().SetEmail("ada@example.com").SaveX(sys)
		grace := client.User.Create().SetEmail("grace@example.com").SaveX(sys)
		grant := func(s *ent.Session) *ent.Grant {
			return client.Grant.Create().SetClientID("app").SetUserID(s.UserID).SetScopes([]string{"openid"}).SetSessionID(s.ID).
				SetAuthTime(now).SetExpiresAt(now.Add(time.Hour)).SaveX(sys)
		}
		var tokens []string
		var grants []*ent.Grant
		for range 3 {
			s, tok, err := svc.CreateSession(sys, tenants.NewSession{UserID: ada.ID, AMR: []string{"pwd"}})
			must(t, err)
			tokens = append(tokens, tok)
			grants = append(grants, grant(s))
		}
		ended, _, err := svc.CreateSession(sys, tenants.NewSession{UserID: ada.ID, AMR: []string{"pwd"}})
		must(t, err)
		_, err = svc.RevokeSession(sys, ended.ID, ada.ID, "logout", nil)
		must(t, err)
		gs, graceToken, err := svc.CreateSession(sys, tenants.NewSession{UserID: grace.ID, AMR: []string{"pwd"}})
		must(t, err)
		graceGrant := grant(gs)

		stranger := viewer.NewContext(context.Background(), &viewer.Viewer{Kind: viewer.User, Actor: string(grace.ID), UserID: grace.ID})
		if _, err := svc.RevokeUserSessions(stranger, ada.ID, ""); !errors.Is(err, tenants.ErrNotFound) {
			t.Errorf("another user ending ada's sessions: %v, want ErrNotFound", err)
		}
		if _, err := svc.UserSessions(stranger, ada.ID); !errors.Is(err, tenants.ErrNotFound) {
			t.Errorf("another user listing ada's sessions: %v, want ErrNotFound", err)
		}
		if ss, err := svc.UserSessions(admin, ada.ID); err != nil || len(ss) != 3 {
			t.Fatalf("UserSessions = %d, %v; want the 3 live ones", len(ss), err)
		}

		n, err := svc.RevokeUserSessions(admin, ada.ID, "")
		if err != nil || n != 3 {
			t.Fatalf("RevokeUserSessions = %d, %v; want 3", n, err)
		}
		for i, tok := range tokens {
			if live, _, err := svc.LiveSession(sys, tok); err != nil || live != nil {
				t.Errorf("session %d still live: %v, %v", i, live, err)
			}
			if g := client.Grant.GetX(sys, grants[i].ID); g.RevokedAt == nil {
				t.Errorf("grant of session %d stays live", i)
			}
		}
		evs := client.AuditEvent.Query().Where(auditevent.Action("session.revoke")).AllX(sys)
		if len(evs) != 3 {
			t.Errorf("%d session.revoke events, want one per ended session (3)", len(evs))
		}
		for _, e := range evs {
			if e.Metadata["reason"] != "admin" || e.Actor != "key_admin" || e.Metadata["user_id"] != string(ada.ID) || e.Metadata["session_id"] != e.TargetID {
				t.Errorf("event %+v", e)
			}
		}
		if live, _, err := svc.LiveSession(sys, graceToken); err != nil || live == nil {
			t.Errorf("another user's session ended: %v, %v", live, err)
		}
		if g := client.Grant.GetX(sys, graceGrant.ID); g.RevokedAt != nil {
			t.Errorf("another user's grant revoked")
		}
		if n, err := svc.RevokeUserSessions(admin, ada.ID, ""); err != nil || n != 0 {
			t.Errorf("second RevokeUserSessions = %d, %v; want 0", n, err)
		}
	})
}
