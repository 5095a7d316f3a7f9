package web

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ent/connection"
	"github.com/gatehouse-id/gatehouse/ent/domain"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
)

// Discovery's answers are reused for discoveryTTL per domain, then read
// again; the memo never outgrows maxDiscoveryMemo.
func TestDiscoveryMemo(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newSSOEnv(t, db)
		id := e.flow.add(LoginRequest{FirstParty: true})
		if r := e.browser().identify(id, "peter@initech.com"); r.status != http.StatusOK || r.hasField("password") {
			t.Fatalf("not sent to the IdP: %d", r.status)
		}
		e.client.Domain.Update().Where(domain.Domain("initech.com")).SetVerificationState(domain.VerificationStatePENDING).
			ExecX(sys(t.Context()))
		if r := e.browser().identify(id, "peter@initech.com"); r.hasField("password") {
			t.Fatal("the answer was not reused within its time")
		}
		e.clock.Advance(discoveryTTL + time.Second)
		if r := e.browser().identify(id, "peter@initech.com"); !r.hasField("password") {
			t.Fatalf("an unverified domain still sends to the IdP after %s:\n%s", discoveryTTL, r.body)
		}

		// An answer kept while its connection is deactivated: the other
		// ways in, not a dead end (the organization does not enforce SSO).
		e.client.Domain.Update().Where(domain.Domain("initech.com")).SetVerificationState(domain.VerificationStateVERIFIED).
			ExecX(sys(t.Context()))
		e.clock.Advance(discoveryTTL + time.Second)
		if r := e.browser().identify(id, "peter@initech.com"); r.hasField("password") {
			t.Fatal("not sent to the IdP once the domain is verified again")
		}
		e.client.Connection.UpdateOne(e.saml).SetState(connection.StateINACTIVE).ExecX(sys(t.Context()))
		if r := e.browser().identify(id, "peter@initech.com"); !r.hasField("password") {
			t.Fatalf("a deactivated connection's remembered answer is a dead end: %d\n%s", r.status, r.body)
		}

		for i := range maxDiscoveryMemo + 10 {
			if _, _, err := e.web.discoverSSO(t.Context(), fmt.Sprintf("x@d%d.example", i)); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(e.web.discovery.entries); n > maxDiscoveryMemo {
			t.Errorf("memo of %d entries", n)
		}
	})
}
