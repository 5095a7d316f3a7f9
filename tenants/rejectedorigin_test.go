package tenants_test

import (
	"context"
	"testing"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/auditevent"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// TestRejectedOrigin: Rejected takes an event's origin by WriteAudit's
// rule — the event's own, else the context's (WithOrigin), else the
// viewer's — for the row it writes and for the rate-limit key it counts on.
func TestRejectedOrigin(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		client := db.Client()
		clock := testkit.NewClock()
		sys := viewer.SystemContext(context.Background())
		a := tenants.NewAudit(tenants.AuditConfig{Now: clock.Now, RejectLimit: 1})
		// The viewer came with another request than the page's origin:
		// WithOrigin wins, as in WriteAudit.
		v := &viewer.Viewer{Kind: viewer.Instance, Actor: "key_admin", IP: "198.51.100.1", UserAgent: "viewer-agent", RequestID: "req-viewer"}
		page := func(ip string) context.Context {
			return tenants.WithOrigin(viewer.NewContext(context.Background(), v),
				tenants.Origin{IP: ip, UserAgent: "page-agent", RequestID: "req-" + ip})
		}
		if err := tenants.WriteAudit(page("203.0.113.7"), client.AuditEvent, clock.Now(), tenants.Event{Action: "test.written"}); err != nil {
			t.Fatal(err)
		}
		a.Rejected(page("203.0.113.7"), client, tenants.Event{Action: "test.origin", Reason: "bad"})
		a.Rejected(page("203.0.113.7"), client, tenants.Event{Action: "test.origin", Reason: "bad"}) // over its limit
		a.Rejected(page("203.0.113.8"), client, tenants.Event{Action: "test.origin", Reason: "bad"}) // a budget of its own
		a.Rejected(viewer.NewContext(context.Background(), v), client, tenants.Event{Action: "test.origin", Reason: "bad"})

		written := client.AuditEvent.Query().Where(auditevent.Action("test.written")).OnlyX(sys)
		evs := client.AuditEvent.Query().Where(auditevent.Action("test.origin")).Order(ent.Asc(auditevent.FieldID)).AllX(sys)
		type origin struct{ ip, ua, req string }
		want := []origin{{"203.0.113.7", "page-agent", "req-203.0.113.7"}, {"203.0.113.8", "page-agent", "req-203.0.113.8"},
			{"198.51.100.1", "viewer-agent", "req-viewer"}}
		if len(evs) != len(want) {
			t.Fatalf("%d events written, want %d (one per origin)", len(evs), len(want))
		}
		if got := (origin{written.IP, written.UserAgent, written.RequestID}); got != want[0] {
			t.Errorf("WriteAudit wrote origin %v, want %v", got, want[0])
		}
		for i, e := range evs {
			if got := (origin{e.IP, e.UserAgent, e.RequestID}); got != want[i] {
				t.Errorf("rejection %d written with origin %v, want %v", i, got, want[i])
			}
		}
	})
}
