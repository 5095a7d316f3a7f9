package tenants_test

import (
	"context"
	"testing"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/connection"
	"github.com/gatehouse-id/gatehouse/ent/organizationpolicy"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// TestDiscoverConnection: an address finds the organization that VERIFIED
// its domain, that organization's oldest ACTIVE connection and its
// enforce_sso, in one statement; an unverified claim, another
// organization's claim on the name and a missing domain find nothing; an
// organization without an active connection is found without one.
func TestDiscoverConnection(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		e := newDomainEnv(t, db)
		d := e.claim("initech", "initech.example")
		rival := e.claim("hooli", "initech.example") // claims the name, never verifies
		pending := e.claim("umbrella", "umbrella.example")
		e.publish(d)
		if _, err := e.svc.VerifyDomain(e.sys, d.ID); err != nil {
			t.Fatal(err)
		}
		org := d.OrganizationID
		conn := func(o pulid.ID, state connection.State) *ent.Connection {
			return e.client.Connection.Create().SetOrganizationID(o).SetName("idp").SetProtocol(connection.ProtocolSAML).
				SetState(state).SaveX(e.sys)
		}

		pool, counter := db.Counting(t)
		svc := tenants.NewService(db.ClientOn(pool))
		discover := func(email string) (tenants.Discovery, bool) {
			t.Helper()
			counter.Reset()
			got, found, err := svc.DiscoverConnection(context.Background(), email)
			if err != nil {
				t.Fatalf("DiscoverConnection(%q): %v", email, err)
			}
			if n := counter.Load(); n != 1 {
				t.Fatalf("DiscoverConnection(%q) ran %d statements, want 1: %q", email, n, counter.Statements())
			}
			return got, found
		}

		// Verified, but no active connection yet (a DRAFT one does not count).
		conn(org, connection.StateDRAFT)
		if got, found := discover("ada@initech.example"); !found || got != (tenants.Discovery{OrganizationID: org}) {
			t.Fatalf("no active connection: %+v found=%v", got, found)
		}

		// Several active: the oldest; enforce_sso from the policy.
		oldest := conn(org, connection.StateACTIVE)
		conn(org, connection.StateACTIVE)
		conn(rival.OrganizationID, connection.StateACTIVE)
		e.client.OrganizationPolicy.Update().Where(organizationpolicy.OrganizationID(org)).SetEnforceSSO(true).ExecX(e.sys)
		want := tenants.Discovery{OrganizationID: org, ConnectionID: oldest.ID, EnforceSSO: true}
		for _, email := range []string{"ada@initech.example", "Ada@INITECH.example", "a@b@initech.example", "ada@initech.example."} {
			if got, found := discover(email); !found || got != want {
				t.Fatalf("DiscoverConnection(%q) = %+v found=%v, want %+v", email, got, found, want)
			}
		}
		e.client.Connection.UpdateOne(oldest).SetState(connection.StateINACTIVE).ExecX(e.sys)
		if got, _ := discover("ada@initech.example"); got.ConnectionID == oldest.ID || got.ConnectionID == "" {
			t.Fatalf("after the oldest was deactivated: %+v, want the next active one", got)
		}

		for _, email := range []string{"ada@" + pending.Domain, "ada@hooli.example", "ada@sub.initech.example"} {
			if got, found := discover(email); found {
				t.Errorf("DiscoverConnection(%q) = %+v, want nothing", email, got)
			}
		}
		for _, email := range []string{"no-at-sign", "ada@example", "ada@127.0.0.1"} {
			counter.Reset()
			if _, found, err := svc.DiscoverConnection(context.Background(), email); found || err != nil || counter.Load() != 0 {
				t.Errorf("%q, not a domain anyone can verify: found=%v err=%v, %d statements", email, found, err, counter.Load())
			}
		}

		// organization:<id> requests.
		got, found, err := svc.DiscoverConnectionForOrganization(context.Background(), rival.OrganizationID)
		if err != nil || !found || got.OrganizationID != rival.OrganizationID || got.ConnectionID == "" || got.EnforceSSO {
			t.Fatalf("DiscoverConnectionForOrganization(rival) = %+v %v %v", got, found, err)
		}
		for _, id := range []pulid.ID{pulid.New("org"), "org_nonsense", pulid.ID(string(d.ID))} {
			if got, found, err := svc.DiscoverConnectionForOrganization(context.Background(), id); found || err != nil {
				t.Errorf("DiscoverConnectionForOrganization(%s) = %+v %v %v, want nothing", id, got, found, err)
			}
		}
	})
}
