package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/internal/database"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
)

// deviceIDOf is the device id in a device cookie's value (device.go).
func deviceIDOf(t *testing.T, cookie string) string {
	t.Helper()
	parts := strings.Split(cookie, ".")
	if len(parts) < 3 || parts[0] != "v1" {
		t.Fatalf("device cookie %q", cookie)
	}
	return parts[1]
}

// refuseLoginEvents makes the database refuse every user.login event, so
// a test can see what else a sign-in's change would have written.
func refuseLoginEvents(t *testing.T, db testdb.Database) {
	t.Helper()
	stmts := []string{`CREATE TRIGGER refuse_login BEFORE INSERT ON audit_events WHEN NEW.action = 'user.login'
		BEGIN SELECT RAISE(ABORT, 'user.login refused'); END`}
	if db.Dialect == database.Postgres {
		stmts = []string{`CREATE FUNCTION refuse_login() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN IF NEW.action = 'user.login' THEN RAISE EXCEPTION 'user.login refused'; END IF; RETURN NEW; END $$`,
			`CREATE TRIGGER refuse_login BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_login()`}
	}
	for _, q := range stmts {
		if _, err := db.SQL.ExecContext(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
}

// A direct sign-in's session and its user.login event are one change
// (tenants.CreateSession with Login): when the event cannot be written,
// there is no session either, and the browser is told of a failure, not
// signed in. The event names the browser's device even at its first
// sign-in, when the device cookie is only being set.
func TestDirectSignInSessionAndEventTogether(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		ada := e.user(userSpec{email: "ada@example.com", password: pw})
		signIn := func() (response, *browser) {
			b := e.browser()
			page := b.get("/login")
			wantStatus(t, page, http.StatusOK)
			return b.post("/login", url.Values{"csrf": {page.field("csrf")}, "email": {"ada@example.com"}, "password": {pw}}), b
		}

		r, b := signIn()
		if r.status != http.StatusSeeOther || r.header.Get("Location") != accountPath {
			t.Fatalf("status %d, Location %q; want the account page", r.status, r.header.Get("Location"))
		}
		evs := e.audits("user.login")
		if len(evs) != 1 {
			t.Fatalf("%d user.login events, want 1", len(evs))
		}
		ses := e.client.Session.Query().OnlyX(sys(t.Context()))
		md := evs[0].Metadata
		if md["session_id"] != string(ses.ID) || evs[0].Actor != string(ada.ID) || evs[0].IP == "" || evs[0].UserAgent == "" {
			t.Errorf("user.login %+v, metadata %v", evs[0], md)
		}
		if dev := deviceIDOf(t, b.cookie(e.web.deviceCk)); md["device_id"] != dev || ses.DeviceID != dev {
			t.Errorf("device: event %v, session %q, cookie %q", md["device_id"], ses.DeviceID, dev)
		}

		refuseLoginEvents(t, db)
		r, b = signIn()
		if r.status != http.StatusInternalServerError {
			t.Errorf("sign-in without its event: status %d, want 500", r.status)
		}
		if n := e.client.Session.Query().CountX(sys(t.Context())); n != 1 {
			t.Errorf("%d sessions after a sign-in whose event failed, want the first one only", n)
		}
		if b.cookie(e.web.sessionCk) != "" {
			t.Error("the browser got a session cookie")
		}
	})
}

// An application's sign-in hands the provider the browser's device id
// with the authentication, for its user.login event (tenants.LoginEvent).
func TestCompletionCarriesDevice(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		e.user(userSpec{email: "ada@example.com", password: pw})
		b := e.browser()
		id := e.flow.add(LoginRequest{FirstParty: true})
		wantRedirect(t, b.login(id, "ada@example.com", pw), id)
		a, _ := e.flow.completed(id)
		if dev := deviceIDOf(t, b.cookie(e.web.deviceCk)); a.DeviceID != dev {
			t.Errorf("completed with device %q, want the cookie's %q", a.DeviceID, dev)
		}
	})
}
