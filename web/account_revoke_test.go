package web

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/session"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
)

// "Sign out everywhere else" on the account page is one tenants change
// (tenants.RevokeUserSessions): the same statements, in one transaction,
// however many browsers it signs out, and one session.revoke per session
// ended, about that session, by the user, from the asking browser.
func TestAccountSignOutOthersIsOneChange(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e, n := countingEnv(t, db)
		ada := e.user(userSpec{email: "ada@example.com", password: pw})
		signOutOthers := func(browsers int) (statements, txs int) {
			var here *browser
			for range browsers {
				here = e.browser()
				here.login(e.flow.add(LoginRequest{FirstParty: true}), "ada@example.com", pw)
			}
			page := here.get(accountPath)
			wantStatus(t, page, http.StatusOK)
			before := len(e.audits("session.revoke"))
			others := e.client.Session.Query().Where(session.UserID(ada.ID), session.RevokedAtIsNil()).CountX(sys(t.Context())) - 1
			n.Reset()
			r := here.post(accountPath+"/sessions/revoke", url.Values{"csrf": {page.field("csrf")}, "session": {"others"}})
			wantStatus(t, r, http.StatusOK)
			statements, txs = int(n.Load()), n.Transactions()
			live := e.client.Session.Query().Where(session.UserID(ada.ID), session.RevokedAtIsNil()).AllX(sys(t.Context()))
			if len(live) != 1 || live[0].ID != currentSession(t, e, here).ID {
				t.Fatalf("%d sessions live after signing out the others, want this one", len(live))
			}
			evs := e.audits("session.revoke")[before:]
			if len(evs) != others {
				t.Fatalf("%d session.revoke events, want %d", len(evs), others)
			}
			for _, ev := range evs {
				if ev.TargetType != "Session" || ev.Actor != string(ada.ID) || ev.Metadata["reason"] != "user" ||
					ev.Metadata["session_id"] != ev.TargetID || ev.IP == "" || ev.UserAgent == "" {
					t.Errorf("event %+v", ev)
				}
			}
			return statements, txs
		}
		two, twoTxs := signOutOthers(2)
		six, sixTxs := signOutOthers(5) // this signs out 5: the 4 other new ones and the last round's
		if two != six || twoTxs != sixTxs {
			t.Errorf("signing out 1 browser ran %d statements in %d transactions, 5 browsers %d in %d: want the same",
				two, twoTxs, six, sixTxs)
		}
	})
}

// currentSession is the live session b's cookie names.
func currentSession(t *testing.T, e *env, b *browser) *ent.Session {
	t.Helper()
	s, _, err := e.web.cfg.Tenants.LiveSession(t.Context(), b.cookie(e.web.sessionCk))
	if err != nil || s == nil {
		t.Fatalf("no live session: %v", err)
	}
	return s
}
