package graph_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/graph"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

const funnelQuery = `query($f:String!,$t:String!,$o:ID){funnel(from:$f,to:$t,organization:$o){day organizationID applicationID event count}}`

// TestFunnelByRole: funnel counts need audit:read — in the named
// organization, or else each of the caller's organizations where it
// holds it; instance keys see every organization and the steps outside
// any. Another tenant's organization answers like a missing one.
func TestFunnelByRole(t *testing.T) {
	const ok, forbidden, notFound = "", "FORBIDDEN", "NOT_FOUND"
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db, func(c *graph.Config) { c.VerifyToken = fakeTokens })
		e.adminApp()
		f, other := e.fixture("fun"), e.fixture("other")
		loner := str(e.ok(e.admin, `mutation{createUser(input:{email:"loner@example.com"}){user{id}}}`, nil), "createUser.user.id")
		callers := e.sessionCallers(f, other, loner)
		sys := viewer.SystemContext(context.Background())
		app := string(pulid.New("app"))
		for _, rec := range []struct {
			e        tenants.FunnelEvent
			org, app string
		}{
			{tenants.FunnelSignupStarted, f.org, app}, {tenants.FunnelSignupStarted, f.org, app},
			{tenants.FunnelLoginSucceededPasskey, f.org, ""},
			{tenants.FunnelSignupStarted, other.org, app},
			{tenants.FunnelRecoveryStarted, "", ""},
		} {
			if err := e.svc.RecordFunnel(sys, rec.e, rec.org, rec.app); err != nil {
				t.Fatal(err)
			}
		}
		today := time.Now().UTC().Format("2006-01-02")
		ownOnly := 3 // f's counts
		everything := 5

		for _, c := range []struct {
			caller string
			org    any // nil, or an organization id
			want   string
			total  int
		}{
			{"owner", nil, ok, ownOnly}, {"owner", f.org, ok, ownOnly},
			{"admin", nil, ok, ownOnly}, {"admin", f.org, ok, ownOnly},
			{"auditor", nil, ok, ownOnly}, {"auditor", f.org, ok, ownOnly},
			{"orgkey", nil, ok, ownOnly}, {"orgkey", f.org, ok, ownOnly},
			{"member", nil, ok, 0}, {"member", f.org, forbidden, 0},
			{"self", nil, ok, 0}, {"self", f.org, forbidden, 0},
			{"other owner", nil, ok, 1}, {"other owner", f.org, notFound, 0},
			{"other orgkey", f.org, notFound, 0},
			{"owner", other.org, notFound, 0}, {"owner", string(pulid.New("org")), notFound, 0},
			{"loner", nil, forbidden, 0}, {"loner", f.org, forbidden, 0},
			{"instance", nil, ok, everything}, {"instance", f.org, ok, ownOnly},
		} {
			r := e.do(callers[c.caller], funnelQuery, map[string]any{"f": today, "t": today, "o": c.org})
			if r.Status != http.StatusOK || r.code() != c.want {
				t.Errorf("%s, organization %v: %s, want %q", c.caller, c.org, r.raw, c.want)
				continue
			}
			if c.want != ok {
				continue
			}
			total := 0
			rows, _ := get(r.Data, "funnel").([]any)
			for _, row := range rows {
				total += int(get(row, "count").(float64))
				if c.org != nil && str(row, "organizationID") != c.org {
					t.Errorf("%s asked for %v and got %v", c.caller, c.org, row)
				}
			}
			if total != c.total {
				t.Errorf("%s, organization %v: total %d, want %d (%s)", c.caller, c.org, total, c.total, r.raw)
			}
		}

		// Rows in order, with nulls for no organization or application.
		d := e.ok(e.admin, funnelQuery, map[string]any{"f": today, "t": today})
		rows := nonEmpty(t, d, "funnel")
		var outside bool
		for _, row := range rows {
			if str(row, "day") != today {
				t.Errorf("row %v", row)
			}
			if get(row, "organizationID") == nil {
				outside = true
				if get(row, "applicationID") != nil || str(row, "event") != "recovery.started" || get(row, "count") != float64(1) {
					t.Errorf("row outside any organization: %v", row)
				}
			}
		}
		if !outside {
			t.Errorf("the instance does not see the step outside any organization: %v", rows)
		}
		d = e.ok(e.admin, funnelQuery, map[string]any{"f": today, "t": today, "o": f.org})
		if str(d, "funnel.0.event") != "login.succeeded.passkey" || get(d, "funnel.0.applicationID") != nil ||
			str(d, "funnel.1.event") != "signup.started" || str(d, "funnel.1.applicationID") != app || get(d, "funnel.1.count") != float64(2) {
			t.Errorf("f's funnel: %v", d)
		}
	})
}

// TestFunnelBadInput: days are YYYY-MM-DD, from ≤ to, at most 366 days;
// anything else is BAD_USER_INPUT naming the argument.
func TestFunnelBadInput(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		now := time.Now().UTC()
		today := now.Format("2006-01-02")
		day := func(d int) string { return now.AddDate(0, 0, d).Format("2006-01-02") }
		for _, c := range []struct {
			name, from, to string
			org            any
			field          string // "" for success, "-" for a refusal before the resolver
		}{
			{"one day", today, today, nil, ""},
			{"366 days", day(-365), today, nil, ""},
			{"367 days", day(-366), today, nil, "to"},
			{"to before from", today, day(-1), nil, "to"},
			{"not a day", "today", today, nil, "from"},
			{"a day that is not", "2025-02-29", today, nil, "from"},
			{"a timestamp", today, today + "T12:00:00Z", nil, "to"},
			{"empty", "", today, nil, "from"},
			{"NUL", today + "\x00", today, nil, "-"},
			{"an organization id that is no id", today, today, "acme", ""}, // nothing counted there
		} {
			r := e.do(e.admin, funnelQuery, map[string]any{"f": c.from, "t": c.to, "o": c.org})
			switch {
			case c.field == "":
				if r.Status != http.StatusOK || len(r.Errors) > 0 {
					t.Errorf("%s: %s", c.name, r.raw)
				}
			case c.field == "-":
				if r.code() != "BAD_USER_INPUT" {
					t.Errorf("%s: %s, want BAD_USER_INPUT", c.name, r.raw)
				}
			default:
				if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != c.field {
					t.Errorf("%s: %s, want BAD_USER_INPUT on %s", c.name, r.raw, c.field)
				}
			}
		}
	})
}
