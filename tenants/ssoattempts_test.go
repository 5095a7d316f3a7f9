package tenants_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// An SSO attempt is taken once (60 parallel answers: one wins), only at
// its connection, only before it expires; a kept identity goes only to
// the browser that began the attempt.
func TestSSOAttempts(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		clock := testkit.NewClock()
		svc := tenants.NewService(db.Client(), tenants.WithClock(clock.Now))
		ctx := viewer.SystemContext(context.Background())
		conn, other := pulid.New("conn"), pulid.New("conn")
		start := func() (relay, browser string) {
			browser, err := svc.StartSSOAttempt(ctx, tenants.NewSSOAttempt{ConnectionID: conn, AuthRequestID: "ar1",
				Begin: func(r string) ([]byte, error) { relay = r; return []byte("state-" + r), nil }})
			must(t, err)
			return relay, browser
		}

		relay, browser := start()
		if _, err := svc.TakeSSOAttemptByBrowser(ctx, other, browser); !errors.Is(err, tenants.ErrSSOAttempt) {
			t.Errorf("taken at another connection: %v", err)
		}
		const n = 60
		var wg sync.WaitGroup
		gate := make(chan struct{})
		wins := make(chan string, n)
		for range n {
			wg.Go(func() {
				<-gate
				a, err := svc.TakeSSOAttemptByRelay(ctx, conn, relay)
				switch {
				case err == nil:
					wins <- string(a.State)
				case !errors.Is(err, tenants.ErrSSOAttempt):
					t.Error(err)
				}
			})
		}
		close(gate)
		wg.Wait()
		close(wins)
		var got []string
		for w := range wins {
			got = append(got, w)
		}
		if len(got) != 1 || got[0] != "state-"+relay {
			t.Fatalf("%d parallel takes won: %v", len(got), got)
		}

		// Kept for its browser only, once.
		relay, browser = start()
		a, err := svc.TakeSSOAttemptByRelay(ctx, conn, relay)
		must(t, err)
		must(t, svc.KeepSSOIdentity(ctx, a, []byte(`{"Subject":"s"}`)))
		if _, err := svc.TakeSSOIdentity(ctx, conn, relay, "another-browser"); !errors.Is(err, tenants.ErrSSOAttempt) {
			t.Errorf("another browser took the identity: %v", err)
		}
		// That try spent it: the attacker's failed try is also the end of it.
		if _, err := svc.TakeSSOIdentity(ctx, conn, relay, browser); !errors.Is(err, tenants.ErrSSOAttempt) {
			t.Errorf("taken twice: %v", err)
		}
		relay, browser = start()
		a, err = svc.TakeSSOAttemptByRelay(ctx, conn, relay)
		must(t, err)
		must(t, svc.KeepSSOIdentity(ctx, a, []byte(`{"Subject":"s"}`)))
		got2, err := svc.TakeSSOIdentity(ctx, conn, relay, browser)
		if err != nil || string(got2.Identity) != `{"Subject":"s"}` || got2.AuthRequestID != "ar1" {
			t.Fatalf("TakeSSOIdentity = %+v, %v", got2, err)
		}

		// Expired: refused, and swept.
		_, browser = start()
		clock.Advance(tenants.SSOAttemptTTL + time.Second)
		if _, err := svc.TakeSSOAttemptByBrowser(ctx, conn, browser); !errors.Is(err, tenants.ErrSSOAttempt) {
			t.Errorf("an expired attempt was taken: %v", err)
		}
		start()
		clock.Advance(tenants.SSOAttemptTTL + time.Second)
		if n, err := svc.SweepSSOAttempts(ctx); err != nil || n != 1 {
			t.Errorf("swept %d, %v; want 1", n, err)
		}
	})
}
