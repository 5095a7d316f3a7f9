package connectors_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/federation"
	"github.com/gatehouse-id/gatehouse/federation/connectors"
	"github.com/gatehouse-id/gatehouse/internal/seal"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// Concurrent first uses of an OIDC connection share one build: 60
// callers, one discovery fetch, one connector. The discovery server holds
// its answer until every caller is either in it or waiting on another's
// build (a barrier, not a sleep), so without the sharing each caller
// would fetch.
func TestRegistryOneDiscoveryFetch(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		const callers = 60
		var fetches atomic.Int32
		release := make(chan struct{})
		var issuer string
		op := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/.well-known/openid-configuration" {
				http.NotFound(w, r)
				return
			}
			fetches.Add(1)
			<-release
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"issuer": issuer, "authorization_endpoint": issuer + "/authorize",
				"token_endpoint": issuer + "/token", "jwks_uri": issuer + "/jwks", "id_token_signing_alg_values_supported": []string{"RS256"}})
		}))
		defer op.Close()
		issuer = op.URL

		sl, err := seal.New(make([]byte, seal.KeySize))
		must(t, err)
		svc := tenants.NewService(db.Client(), tenants.WithSealer(sl), tenants.WithDev(true))
		admin := viewer.NewContext(context.Background(), &viewer.Viewer{Kind: viewer.Instance, Actor: "key_admin"})
		org, err := svc.CreateOrganization(admin, tenants.CreateOrganizationInput{Name: "Hooli", Slug: "hooli"})
		must(t, err)
		c, err := svc.CreateOIDCConnection(admin, tenants.CreateOIDCConnectionInput{OrganizationID: org.ID, Name: "Entra",
			Issuer: issuer, ClientID: "gatehouse", ClientSecret: "a-client-secret-of-some-length"})
		must(t, err)
		reg := connectors.New(connectors.Config{Tenants: svc, Issuer: "https://id.example.com", HTTPClient: op.Client()})

		got := make([]federation.Connector, callers)
		errs := make([]error, callers)
		var wg sync.WaitGroup
		for i := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i], errs[i] = reg.Connector(admin, c)
			}()
		}
		deadline := time.Now().Add(time.Minute)
		for int(fetches.Load())+connectors.Waiting(reg) < callers {
			if time.Now().After(deadline) {
				close(release)
				t.Fatalf("callers never all arrived: %d fetches, %d waiting", fetches.Load(), connectors.Waiting(reg))
			}
			time.Sleep(time.Millisecond) // polling the barrier's condition, not racing it
		}
		close(release)
		wg.Wait()
		if n := fetches.Load(); n != 1 {
			t.Errorf("%d discovery fetches for %d concurrent first uses, want 1", n, callers)
		}
		for i := range callers {
			if errs[i] != nil || got[i] == nil || got[i] != got[0] {
				t.Fatalf("caller %d: %v (same connector: %t)", i, errs[i], got[i] == got[0])
			}
		}
		// Kept: a later use fetches nothing.
		if again, err := reg.Connector(admin, c); err != nil || again != got[0] || fetches.Load() != 1 {
			t.Errorf("later use: %v, same %t, %d fetches", err, again == got[0], fetches.Load())
		}
	})
}
