package tenants_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/auditevent"
	"github.com/gatehouse-id/gatehouse/ent/organization"
	"github.com/gatehouse-id/gatehouse/internal/httpserver"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// TestAuditCommitsWithChange: an event written inside a transaction commits
// or rolls back with the change it records, on every backend.
func TestAuditCommitsWithChange(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		client := db.Client()
		sys := viewer.SystemContext(context.Background())
		for _, tc := range []struct {
			name   string
			commit bool
		}{{"commit", true}, {"rollback", false}} {
			t.Run(tc.name, func(t *testing.T) {
				tx, err := client.Tx(sys)
				if err != nil {
					t.Fatal(err)
				}
				org := tx.Organization.Create().SetName("Acme " + tc.name).SetSlug("acme-" + tc.name).SaveX(sys)
				if err := tenants.WriteAudit(sys, tx.AuditEvent, time.Now(), tenants.Event{Action: "test." + tc.name,
					Organization: org.ID, TargetType: "Organization", TargetID: string(org.ID)}); err != nil {
					t.Fatal(err)
				}
				if tc.commit {
					err = tx.Commit()
				} else {
					err = tx.Rollback()
				}
				if err != nil {
					t.Fatal(err)
				}
				orgs := client.Organization.Query().Where(organization.Slug("acme-" + tc.name)).CountX(sys)
				events := client.AuditEvent.Query().Where(auditevent.Action("test." + tc.name)).CountX(sys)
				want := 0
				if tc.commit {
					want = 1
				}
				if events != want || orgs != want {
					t.Errorf("%s: %d organizations and %d events, want %d of each", tc.name, orgs, events, want)
				}
			})
		}
		// A change whose event cannot be written does not happen either.
		err := func() error {
			tx, err := client.Tx(sys)
			if err != nil {
				return err
			}
			tx.Organization.Create().SetName("Lost").SetSlug("lost").SaveX(sys)
			if err := tenants.WriteAudit(sys, tx.AuditEvent, time.Now(), tenants.Event{Action: ""}); err != nil {
				_ = tx.Rollback()
				return err
			}
			return tx.Commit()
		}()
		if err == nil {
			t.Fatal("an event without an action was written")
		}
		if n := client.Organization.Query().CountX(sys); n != 1 {
			t.Errorf("%d organizations after a failed event, want only the committed one", n)
		}
	})
}

// TestAuditEventFields: who and where come from the event, else from the
// viewer; the reason lands in metadata; the user agent is capped; and
// AuditRow (for statements written in SQL, the provider's refresh
// rotation) stores exactly what WriteAudit stores, NULLs included: the
// two spell out the columns each, and this keeps them one list.
func TestAuditEventFields(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		client := db.Client()
		sys := viewer.SystemContext(context.Background())
		at := time.Now().Truncate(time.Second).UTC()
		org := client.Organization.Create().SetName("Acme").SetSlug("acme").SaveX(sys)
		withViewer := viewer.NewContext(context.Background(), &viewer.Viewer{Kind: viewer.Instance, Actor: "key_1",
			IP: "192.0.2.1", UserAgent: "agent/1", RequestID: "req-1"})
		cases := []struct {
			name      string
			ctx       context.Context
			e         tenants.Event
			actor     string
			actorType string
			ip, ua    string
			reason    string
		}{
			{"from viewer", withViewer, tenants.Event{}, "key_1", "instance", "192.0.2.1", "agent/1", ""},
			{"own origin", withViewer, tenants.Event{Actor: "app_1", ActorType: "client",
				Origin: tenants.Origin{IP: "198.51.100.2", UserAgent: "rp", RequestID: "req-2"}, Reason: "invalid_grant"},
				"app_1", "client", "198.51.100.2", "rp", "invalid_grant"},
			{"no viewer", context.Background(), tenants.Event{Reason: "missing_credential"}, "anonymous", "anonymous", "", "", "missing_credential"},
			{"long agent", withViewer, tenants.Event{Origin: tenants.Origin{IP: "192.0.2.9", UserAgent: strings.Repeat("a", 600) + "\xff"}},
				"key_1", "instance", "192.0.2.9", strings.Repeat("a", 512), ""},
			{"target", withViewer, tenants.Event{Organization: org.ID, TargetType: "Organization", TargetID: string(org.ID)},
				"key_1", "instance", "192.0.2.1", "agent/1", ""},
		}
		// nulls says which nullable columns of the event named action are NULL.
		nulls := func(action string) (n [4]bool) {
			err := db.SQL.QueryRow(`SELECT "organization_id" IS NULL, "target_type" IS NULL, "target_id" IS NULL, "metadata" IS NULL FROM "audit_events" WHERE "action" = $1`,
				action).Scan(&n[0], &n[1], &n[2], &n[3])
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		for i, tc := range cases {
			var written []*ent.AuditEvent
			for _, path := range []string{"ent", "sql"} {
				e := tc.e
				e.Action = fmt.Sprintf("test.%d.%s", i, path)
				if tc.name != "target" {
					e.Metadata = map[string]any{"client_id": "app_1"}
				}
				var err error
				if path == "ent" {
					if viewer.FromContext(tc.ctx) == nil {
						continue // the authorizer lets no one without a viewer write
					}
					err = tenants.WriteAudit(tc.ctx, client.AuditEvent, at, e)
				} else {
					var row []any
					if row, err = tenants.AuditRow(tc.ctx, at, e); err == nil {
						_, err = db.SQL.Exec(`INSERT INTO "audit_events" (`+tenants.AuditColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`, row...)
					}
				}
				if err != nil {
					t.Fatalf("%s/%s: %v", tc.name, path, err)
				}
				got := client.AuditEvent.Query().Where(auditevent.Action(e.Action)).OnlyX(sys)
				written = append(written, got)
				if got.Actor != tc.actor || got.ActorType != tc.actorType || got.IP != tc.ip || got.UserAgent != tc.ua {
					t.Errorf("%s/%s: actor %q/%q ip %q agent %d bytes; want %q/%q %q %d bytes", tc.name, path,
						got.Actor, got.ActorType, got.IP, len(got.UserAgent), tc.actor, tc.actorType, tc.ip, len(tc.ua))
				}
				if tc.name != "target" {
					if r, _ := got.Metadata["reason"].(string); r != tc.reason || got.Metadata["client_id"] != "app_1" {
						t.Errorf("%s/%s: metadata %v, want reason %q and client_id", tc.name, path, got.Metadata, tc.reason)
					}
				}
				if !got.CreatedAt.Equal(at) {
					t.Errorf("%s/%s: created_at %v, want %v", tc.name, path, got.CreatedAt, at)
				}
			}
			if len(written) != 2 {
				continue
			}
			a, b := written[0], written[1]
			if a.OrganizationID != b.OrganizationID || a.TargetType != b.TargetType || a.TargetID != b.TargetID ||
				a.RequestID != b.RequestID || !reflect.DeepEqual(a.Metadata, b.Metadata) {
				t.Errorf("%s: WriteAudit stored %+v, AuditRow %+v", tc.name, a, b)
			}
			if na, nb := nulls(a.Action), nulls(b.Action); na != nb {
				t.Errorf("%s: NULL organization, target type, target id, metadata: WriteAudit %v, AuditRow %v", tc.name, na, nb)
			}
		}
	})
}

// TestRejectedIsRateLimited: refused requests are recorded at most
// RejectLimit times per client address and reason per window, even when
// they arrive in parallel; the next event after the window says how many
// were left out; memory is bounded by RejectKeys and what a forgotten key
// suppressed is still reported.
func TestRejectedIsRateLimited(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		client := db.Client()
		clock := testkit.NewClock()
		a := tenants.NewAudit(tenants.AuditConfig{Now: clock.Now, RejectLimit: 5, RejectWindow: time.Minute, RejectKeys: 4})
		reject := func(ip, reason string) {
			a.Rejected(context.Background(), client, tenants.Event{Action: "test.rejected", Reason: reason,
				Origin: tenants.Origin{IP: ip}})
		}
		// 60 in parallel, released together.
		var start, done sync.WaitGroup
		start.Add(1)
		for i := 0; i < 60; i++ {
			done.Add(1)
			go func() {
				defer done.Done()
				start.Wait()
				reject("192.0.2.1", "bad_secret")
			}()
		}
		start.Done()
		done.Wait()
		if n := len(events(t, client, "192.0.2.1", "bad_secret")); n != 5 {
			t.Fatalf("60 parallel rejections wrote %d events, want the limit, 5", n)
		}
		// Another reason and another address have budgets of their own.
		reject("192.0.2.1", "unknown_client")
		reject("192.0.2.2", "bad_secret")
		if a, b := len(events(t, client, "192.0.2.1", "unknown_client")), len(events(t, client, "192.0.2.2", "bad_secret")); a != 1 || b != 1 {
			t.Errorf("other reason / address wrote %d / %d events, want 1 / 1", a, b)
		}
		// Within the window nothing more; after it, the count of what was left out.
		clock.Advance(59 * time.Second)
		reject("192.0.2.1", "bad_secret")
		clock.Advance(time.Second)
		reject("192.0.2.1", "bad_secret")
		evs := events(t, client, "192.0.2.1", "bad_secret")
		if len(evs) != 6 {
			t.Fatalf("after the window: %d events, want 6", len(evs))
		}
		if s := evs[5].Metadata["suppressed"]; fmt.Sprint(s) != "56" {
			t.Errorf("first event after the window: suppressed = %v, want 56 (55 of the burst, 1 before the window ended)", s)
		}

		// Bounded keys: 4 remembered; rejections beyond are counted and
		// reported by the next event once old keys are forgotten.
		clock.Advance(time.Minute)
		for i := 1; i <= 4; i++ {
			reject(fmt.Sprintf("198.51.100.%d", i), "bad_secret")
		}
		reject("198.51.100.5", "bad_secret") // the table is full of live keys
		reject("198.51.100.6", "bad_secret")
		if n := len(events(t, client, "198.51.100.5", "bad_secret")) + len(events(t, client, "198.51.100.6", "bad_secret")); n != 0 {
			t.Errorf("a full table wrote %d events for new keys, want 0", n)
		}
		clock.Advance(time.Minute)
		reject("198.51.100.7", "bad_secret")
		evs = events(t, client, "198.51.100.7", "bad_secret")
		if len(evs) != 1 || fmt.Sprint(evs[0].Metadata["suppressed_elsewhere"]) != "2" {
			t.Errorf("after the sweep: %d events, metadata %v; want 1 with suppressed_elsewhere 2", len(evs), evsMetadata(evs))
		}
	})
}

func events(t *testing.T, client *ent.Client, ip, reason string) []*ent.AuditEvent {
	t.Helper()
	all := client.AuditEvent.Query().Where(auditevent.Action("test.rejected"), auditevent.IP(ip)).
		Order(ent.Asc(auditevent.FieldID)).AllX(viewer.SystemContext(context.Background()))
	var out []*ent.AuditEvent
	for _, e := range all {
		if e.Metadata["reason"] == reason {
			out = append(out, e)
		}
	}
	return out
}

func evsMetadata(evs []*ent.AuditEvent) []map[string]any {
	var out []map[string]any
	for _, e := range evs {
		out = append(out, e.Metadata)
	}
	return out
}

// TestRejectedNetworksAndTotal: an IPv6 client is limited by its /64 (it
// may rotate the rest of its address freely), and all keys together write
// at most RejectTotal a window, the rest reported later.
func TestRejectedNetworksAndTotal(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		client := db.Client()
		clock := testkit.NewClock()
		count := func(action string) []*ent.AuditEvent {
			return client.AuditEvent.Query().Where(auditevent.Action(action)).Order(ent.Asc(auditevent.FieldID)).
				AllX(viewer.SystemContext(context.Background()))
		}

		a := tenants.NewAudit(tenants.AuditConfig{Now: clock.Now, RejectLimit: 5})
		for i := range 12 {
			r := httptest.NewRequest(http.MethodPost, "/graphql", nil)
			r.RemoteAddr = fmt.Sprintf("[2001:db8:1:2::%x]:4000", i+1)
			a.Rejected(context.Background(), client, tenants.Event{Action: "test.v6", Reason: "bad", Origin: tenants.Origin(httpserver.OriginOf(r))})
		}
		evs := count("test.v6")
		if len(evs) != 5 {
			t.Errorf("12 addresses of one /64 wrote %d events, want the limit, 5", len(evs))
		}
		if len(evs) > 0 && evs[0].IP != "2001:db8:1:2::1" {
			t.Errorf("event ip %q, want the client's own address", evs[0].IP)
		}

		a = tenants.NewAudit(tenants.AuditConfig{Now: clock.Now, RejectLimit: 5, RejectTotal: 3})
		for i := range 5 {
			a.Rejected(context.Background(), client, tenants.Event{Action: "test.total", Reason: "bad",
				Origin: tenants.Origin{IP: fmt.Sprintf("192.0.2.%d", i+1)}})
		}
		if n := len(count("test.total")); n != 3 {
			t.Errorf("5 addresses under a total of 3 wrote %d events", n)
		}
		clock.Advance(time.Minute)
		a.Rejected(context.Background(), client, tenants.Event{Action: "test.total", Reason: "bad", Origin: tenants.Origin{IP: "192.0.2.9"}})
		evs = count("test.total")
		if len(evs) != 4 || fmt.Sprint(evs[3].Metadata["suppressed_elsewhere"]) != "2" {
			t.Errorf("next window: %d events, last %v; want 4, the last with suppressed_elsewhere 2", len(evs), evsMetadata(evs))
		}
	})
}
