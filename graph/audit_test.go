package graph_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/auditevent"
	"github.com/gatehouse-id/gatehouse/graph"
	"github.com/gatehouse-id/gatehouse/internal/httpserver"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// unauthenticatedEnv is /graphql with a service on an advanceable clock
// and a token verifier that refuses every token.
func unauthenticatedEnv(t *testing.T, db testdb.Database) (string, *ent.Client, *testkit.Clock) {
	client := db.Client()
	clock := testkit.NewClock()
	svc := tenants.NewService(client, tenants.WithClock(clock.Now))
	verify := func(context.Context, string) (tenants.TokenClaims, error) {
		return tenants.TokenClaims{}, errors.New("forged")
	}
	srv := httptest.NewServer(httpserver.Chain(graph.NewHandler(graph.Config{Service: svc, VerifyToken: verify}), httpserver.RequestID))
	t.Cleanup(srv.Close)
	return srv.URL + "/graphql", client, clock
}

func unauthenticatedEvents(client *ent.Client, after int) []*ent.AuditEvent {
	return client.AuditEvent.Query().Where(auditevent.Action("api.unauthenticated")).Order(ent.Asc(auditevent.FieldID)).
		Offset(after).AllX(viewer.SystemContext(context.Background()))
}

func postGraphQL(url, authorization string) (int, error) {
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"query":"{organizations{totalCount}}"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "audit-test")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return res.StatusCode, nil
}

// TestUnauthenticatedIsAudited: every kind of 401 at /graphql writes one
// api.unauthenticated event with its machine-readable reason, the client
// address, user agent and request id (the "Reject" convention).
func TestUnauthenticatedIsAudited(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		url, client, clock := unauthenticatedEnv(t, db)
		for _, c := range []struct{ name, authorization, reason string }{
			{"no credential", "", "missing_credential"},
			{"not bearer", "Basic dXNlcjpwYXNz", "missing_credential"},
			{"unknown API key", "Bearer gh_unknown_0123456789", "invalid_api_key"},
			{"forged access token", "Bearer eyJhbGciOiJFUzI1NiJ9.e30.c2ln", "invalid_access_token"},
		} {
			clock.Advance(time.Minute) // a fresh rate-limit window
			n := len(unauthenticatedEvents(client, 0))
			if status, err := postGraphQL(url, c.authorization); err != nil || status != http.StatusUnauthorized {
				t.Fatalf("%s: status %d, %v; want 401", c.name, status, err)
			}
			got := unauthenticatedEvents(client, n)
			if len(got) != 1 {
				t.Fatalf("%s: %d events, want 1", c.name, len(got))
			}
			e := got[0]
			if e.Metadata["reason"] != c.reason || e.IP != "127.0.0.1" || e.UserAgent != "audit-test" || e.RequestID == "" ||
				e.Actor != "anonymous" {
				t.Errorf("%s: event reason %v ip %q agent %q request %q actor %q; want reason %s from 127.0.0.1",
					c.name, e.Metadata["reason"], e.IP, e.UserAgent, e.RequestID, e.Actor, c.reason)
			}
		}
	})
}

// TestUnauthenticatedFloodIsRateLimited: 60 bad credentials in parallel
// from one address write at most the limit (10 a minute per address and
// reason); the next window's first event counts the 50 left out.
func TestUnauthenticatedFloodIsRateLimited(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		url, client, clock := unauthenticatedEnv(t, db)
		var start, done sync.WaitGroup
		start.Add(1)
		statuses := make([]int, 60)
		for i := range statuses {
			done.Add(1)
			go func() {
				defer done.Done()
				start.Wait()
				statuses[i], _ = postGraphQL(url, "Bearer gh_guess_"+fmt.Sprint(i))
			}()
		}
		start.Done()
		done.Wait()
		for i, s := range statuses {
			if s != http.StatusUnauthorized {
				t.Fatalf("request %d: status %d, want 401", i, s)
			}
		}
		if n := len(unauthenticatedEvents(client, 0)); n != 10 {
			t.Fatalf("60 parallel 401s wrote %d events, want the limit, 10", n)
		}
		clock.Advance(time.Minute)
		if _, err := postGraphQL(url, "Bearer gh_guess_next"); err != nil {
			t.Fatal(err)
		}
		got := unauthenticatedEvents(client, 10)
		if len(got) != 1 || fmt.Sprint(got[0].Metadata["suppressed"]) != "50" {
			t.Errorf("next window: %d events, want one with suppressed 50", len(got))
		}
	})
}
