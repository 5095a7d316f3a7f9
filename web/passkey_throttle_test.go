package web

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/gatehouse-id/gatehouse/internal/testdb"
)

// The sign-in options endpoint writes a ceremony row per call: one client
// network may hold CeremonyPolicy.Free of them unanswered. 60 requests at
// once from one address get exactly that many ceremonies; the rest a 429
// in the endpoint's JSON, with Retry-After and the pages' sentence, and
// no row. Answering a ceremony (right or wrong) gives its count back, so
// a browser that signs in again and again never meets the cap.
func TestPasskeyOptionsThrottle(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newPasskeyEnv(t, db)
		b := e.browser()
		page := b.get("/login")
		wantStatus(t, page, http.StatusOK)
		body := map[string]string{"csrf": page.field("csrf")}

		const parallel = 60
		start := make(chan struct{})
		results := make([]response, parallel)
		var wg sync.WaitGroup
		for i := range parallel {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				results[i] = b.postJSON("/login/passkey/options", body)
			}()
		}
		close(start)
		wg.Wait()
		ok, limited := 0, 0
		for _, r := range results {
			switch r.status {
			case http.StatusOK:
				ok++
			case http.StatusTooManyRequests:
				limited++
				var got struct {
					Error      string `json:"error"`
					Message    string `json:"message"`
					RetryAfter int    `json:"retry_after"`
				}
				if err := json.Unmarshal([]byte(r.body), &got); err != nil || got.Error != "too_many_requests" || got.Message == "" {
					t.Errorf("429 body %q (%v)", r.body, err)
				}
				if secs, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || secs < 1 || got.RetryAfter != secs {
					t.Errorf("Retry-After %q, body says %d", r.header.Get("Retry-After"), got.RetryAfter)
				}
			default:
				t.Errorf("status %d: %s", r.status, r.body)
			}
		}
		if ok != CeremonyPolicy.Free || limited != parallel-CeremonyPolicy.Free {
			t.Errorf("%d ceremonies begun and %d refused, want %d and %d", ok, limited, CeremonyPolicy.Free, parallel-CeremonyPolicy.Free)
		}
		if n := e.client.WebAuthnCeremony.Query().CountX(sys(t.Context())); n != CeremonyPolicy.Free {
			t.Errorf("%d ceremony rows, want %d", n, CeremonyPolicy.Free)
		}
		if len(e.audits(actionLoginFailed)) == 0 {
			t.Error("no throttled refusal recorded")
		}

		// Another address signs in again and again: each answer gives its
		// ceremony back.
		e2 := newPasskeyEnv(t, db)
		ada := e2.user(userSpec{email: "ada@example.com", name: "Ada"})
		key := newSoftKey(t, []byte(ada.ID), true)
		e2.register(ada, key, 0)
		for i := range 2 * CeremonyPolicy.Free {
			b := e2.browser()
			id, csrf, ch := b.passkeyStart(LoginRequest{FirstParty: true})
			if r := b.passkeyFinish(id, csrf, key.assert(ch)); r.status != http.StatusSeeOther {
				t.Fatalf("sign-in %d: status %d", i+1, r.status)
			}
		}
	})
}
