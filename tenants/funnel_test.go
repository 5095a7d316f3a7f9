package tenants_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ent/funnelcount"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// TestRecordFunnelConcurrent: 60 increments of one counter released at
// once all count (added by one flush), on every database; the day is the
// service clock's UTC day; a counter per organization, application and
// event.
func TestRecordFunnelConcurrent(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		clock := testkit.NewClock()
		client := db.Client()
		svc := tenants.NewService(client, tenants.WithClock(clock.Now))
		sys := viewer.SystemContext(context.Background())
		org, app := string(pulid.New("org")), string(pulid.New("app"))

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
				errs <- svc.RecordFunnel(context.Background(), tenants.FunnelLoginSucceededPasskey, org, app)
			}()
		}
		ready.Wait()
		close(start)
		done.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("RecordFunnel: %v", err)
			}
		}
		if got := client.FunnelCount.Query().CountX(sys); got != 0 {
			t.Fatalf("%d counters written before a flush", got)
		}
		must(t, svc.FlushFunnel(sys))
		day := clock.Now().UTC().Format("2006-01-02")
		rows := client.FunnelCount.Query().AllX(sys)
		if len(rows) != 1 || rows[0].Count != n || rows[0].Day != day || rows[0].OrganizationID != org ||
			rows[0].ApplicationID != app || rows[0].Event != "login.succeeded.passkey" || pulid.ID(rows[0].ID).Prefix() != "fnl" {
			t.Fatalf("after %d concurrent increments: %+v, want one counter of %d on %s", n, rows, n, day)
		}

		// Another event, organization or application is another counter;
		// the next UTC day starts afresh.
		must(t, svc.RecordFunnel(sys, tenants.FunnelLoginFailedPassword, org, app))
		must(t, svc.RecordFunnel(sys, tenants.FunnelLoginSucceededPasskey, org, ""))
		must(t, svc.RecordFunnel(sys, tenants.FunnelLoginSucceededPasskey, "", ""))
		clock.Advance(24 * time.Hour)
		must(t, svc.RecordFunnel(sys, tenants.FunnelLoginSucceededPasskey, org, app))
		must(t, svc.FlushFunnel(sys))
		if got := client.FunnelCount.Query().CountX(sys); got != 5 {
			t.Errorf("%d counters, want 5", got)
		}
		next := clock.Now().UTC().Format("2006-01-02")
		if c := client.FunnelCount.Query().Where(funnelcount.Day(next)).OnlyX(sys); c.Count != 1 || c.Event != "login.succeeded.passkey" {
			t.Errorf("next day's counter: %+v", c)
		}
	})
}

// TestFlushFunnel: two nodes flushing one counter at once add their counts
// (60 flushes released together, one count each); a flush that fails keeps
// its counts for the next.
func TestFlushFunnel(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		client := db.Client()
		sys := viewer.SystemContext(context.Background())
		org := string(pulid.New("org"))
		const n = 60
		nodes := make([]*tenants.Service, n)
		for i := range nodes {
			nodes[i] = tenants.NewService(client)
			must(t, nodes[i].RecordFunnel(sys, tenants.FunnelSignupStarted, org, ""))
		}
		start := make(chan struct{})
		errs := make(chan error, n)
		var ready sync.WaitGroup
		for _, node := range nodes {
			ready.Add(1)
			go func() {
				ready.Done()
				<-start
				errs <- node.FlushFunnel(context.Background())
			}()
		}
		ready.Wait()
		close(start)
		for range n {
			must(t, <-errs)
		}
		if c := client.FunnelCount.Query().OnlyX(sys); c.Count != n {
			t.Fatalf("after %d nodes flushed one count each: %d", n, c.Count)
		}

		svc := nodes[0]
		must(t, svc.RecordFunnel(sys, tenants.FunnelSignupStarted, org, ""))
		canceled, cancel := context.WithCancel(sys)
		cancel()
		if err := svc.FlushFunnel(canceled); err == nil {
			t.Fatal("a flush on a canceled context succeeded")
		}
		must(t, svc.FlushFunnel(sys))
		if c := client.FunnelCount.Query().OnlyX(sys); c.Count != n+1 {
			t.Fatalf("the count of a failed flush: %d, want %d", c.Count, n+1)
		}
	})
}

// TestRecordFunnelRefusesUnknownEvents: only the funnel's own events are
// counted, and ids must look like ids.
func TestRecordFunnelRefusesUnknownEvents(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		client := db.Client()
		svc := tenants.NewService(client)
		sys := viewer.SystemContext(context.Background())
		for _, c := range []struct {
			event    tenants.FunnelEvent
			org, app string
		}{
			{"login.succeeded.carrier_pigeon", "", ""},
			{"login.succeeded", "", ""},
			{"", "", ""},
			{"Signup.Started", "", ""},
			{tenants.FunnelSignupStarted, "'; DROP TABLE funnel_counts; --", ""},
			{tenants.FunnelSignupStarted, "", "not an id"},
		} {
			var in *tenants.InputError
			if err := svc.RecordFunnel(sys, c.event, c.org, c.app); !errors.As(err, &in) {
				t.Errorf("RecordFunnel(%q, %q, %q) = %v, want an InputError", c.event, c.org, c.app, err)
			}
		}
		must(t, svc.FlushFunnel(sys))
		if n := client.FunnelCount.Query().CountX(sys); n != 0 {
			t.Errorf("%d counters after refusals", n)
		}
		if len(tenants.FunnelEvents) != 20 {
			t.Errorf("%d funnel events, want 20", len(tenants.FunnelEvents))
		}
		for _, e := range tenants.FunnelEvents {
			must(t, svc.RecordFunnel(sys, e, "", ""))
		}
		must(t, svc.FlushFunnel(sys))
		if n := client.FunnelCount.Query().CountX(sys); n != 20 {
			t.Errorf("%d counters after one of each event, want 20", n)
		}
	})
}

// TestFunnelQuery: Funnel checks its range, and reads through the
// authorizer: audit:read in the named organization (NOT_FOUND for one out
// of reach, FORBIDDEN without the permission), or every organization where
// the viewer holds it; instance viewers see all, steps of no organization
// included.
func TestFunnelQuery(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		clock := testkit.NewClock()
		client := db.Client()
		svc := tenants.NewService(client, tenants.WithClock(clock.Now))
		sys := viewer.SystemContext(context.Background())
		a, b := pulid.New("org"), pulid.New("org")
		must(t, svc.RecordFunnel(sys, tenants.FunnelSignupStarted, string(a), ""))
		must(t, svc.RecordFunnel(sys, tenants.FunnelSignupStarted, string(a), ""))
		must(t, svc.RecordFunnel(sys, tenants.FunnelSignupStarted, string(b), ""))
		must(t, svc.RecordFunnel(sys, tenants.FunnelSignupStarted, "", ""))
		today := clock.Now().UTC().Format("2006-01-02")
		yesterday := clock.Now().UTC().Add(-24 * time.Hour).Format("2006-01-02")
		yearAgo := clock.Now().UTC().AddDate(0, 0, -365).Format("2006-01-02")
		tooLong := clock.Now().UTC().AddDate(0, 0, -366).Format("2006-01-02")

		instance := viewer.NewContext(context.Background(), &viewer.Viewer{Kind: viewer.Instance, Actor: "key_x"})
		auditor := viewer.NewContext(context.Background(), &viewer.Viewer{Kind: viewer.Organization, Actor: "usr_x",
			Organizations: []pulid.ID{a}, Permissions: map[pulid.ID][]string{a: {"audit:read"}}})
		member := viewer.NewContext(context.Background(), &viewer.Viewer{Kind: viewer.Organization, Actor: "usr_y",
			Organizations: []pulid.ID{a}, Permissions: map[pulid.ID][]string{a: {"organization:read", "members:read"}}})
		user := viewer.NewContext(context.Background(), &viewer.Viewer{Kind: viewer.User, Actor: "usr_z", UserID: "usr_z"})

		for _, c := range []struct {
			name     string
			ctx      context.Context
			from, to string
			org      pulid.ID
			want     int64 // total count; -1 for an error
			err      error
		}{
			{"instance sees all", instance, today, today, "", 4, nil},
			{"instance, one organization", instance, yesterday, today, a, 2, nil},
			{"instance, a year", instance, yearAgo, today, "", 4, nil},
			{"nothing in range", instance, yesterday, yesterday, "", 0, nil},
			{"auditor sees its organization", auditor, today, today, "", 2, nil},
			{"auditor names its organization", auditor, today, today, a, 2, nil},
			{"auditor names another", auditor, today, today, b, -1, tenants.ErrNotFound},
			{"auditor names a missing one", auditor, today, today, pulid.New("org"), -1, tenants.ErrNotFound},
			{"member without audit:read sees none", member, today, today, "", 0, nil},
			{"member names its organization", member, today, today, a, -1, tenants.ErrForbidden},
			{"user token", user, today, today, "", -1, tenants.ErrForbidden},
			{"no viewer", context.Background(), today, today, "", -1, tenants.ErrUnauthenticated},
		} {
			rows, err := svc.Funnel(c.ctx, c.from, c.to, c.org)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Errorf("%s: err = %v, want %v", c.name, err, c.err)
				}
				continue
			}
			var total int64
			for _, r := range rows {
				total += r.Count
				if r.Day != today || r.Event != tenants.FunnelSignupStarted {
					t.Errorf("%s: row %+v", c.name, r)
				}
			}
			if err != nil || total != c.want {
				t.Errorf("%s: total %d, err %v, want %d", c.name, total, err, c.want)
			}
		}

		for _, c := range []struct{ name, from, to, field string }{
			{"to before from", today, yesterday, "to"},
			{"more than 366 days", tooLong, today, "to"},
			{"not a date", "yesterday", today, "from"},
			{"no zero padding", "2026-1-01", today, "from"},
			{"not a day of the calendar", "2026-02-30", today, "from"},
			{"a timestamp", today + "T00:00:00Z", today, "from"},
			{"empty", today, "", "to"},
		} {
			var in *tenants.InputError
			if _, err := svc.Funnel(instance, c.from, c.to, ""); !errors.As(err, &in) || in.Field != c.field {
				t.Errorf("%s: %v, want an InputError on %s", c.name, err, c.field)
			}
		}
	})
}
