package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/testdb"
)

// TestForgedFormsAreRateLimited: a refusal anyone can repeat at will (a
// forged CSRF field) is recorded at most 10 times a minute per client and
// reason, however many arrive at once; the next window's first event
// counts the rest, so nothing goes unnoticed and the trail cannot be
// flooded.
func TestForgedFormsAreRateLimited(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		id := e.flow.add(LoginRequest{ClientID: "crm", FirstParty: true})
		form := url.Values{"authRequest": {id}, "csrf": {"forged"}, "email": {"ada@example.com"}, "password": {"x"}}.Encode()
		post := func() (int, error) {
			res, err := http.Post(e.srv.URL+"/login", "application/x-www-form-urlencoded", strings.NewReader(form))
			if err != nil {
				return 0, err
			}
			res.Body.Close()
			return res.StatusCode, nil
		}
		var start, done sync.WaitGroup
		start.Add(1)
		statuses := make([]int, 60)
		for i := range statuses {
			done.Add(1)
			go func() {
				defer done.Done()
				start.Wait()
				statuses[i], _ = post()
			}()
		}
		start.Done()
		done.Wait()
		for i, s := range statuses {
			if s != http.StatusForbidden {
				t.Fatalf("request %d: status %d, want 403", i, s)
			}
		}
		evs := e.audits("user.login.failed")
		if len(evs) != 10 {
			t.Fatalf("60 forged forms wrote %d events, want the limit, 10", len(evs))
		}
		for _, ev := range evs {
			if ev.Metadata["reason"] != "csrf" || ev.IP != "127.0.0.1" || ev.Metadata["client_id"] != "crm" {
				t.Errorf("event %+v, want reason csrf from 127.0.0.1 for crm", ev)
			}
		}
		e.clock.Advance(time.Minute)
		if _, err := post(); err != nil {
			t.Fatal(err)
		}
		evs = e.audits("user.login.failed")
		if len(evs) != 11 || fmt.Sprint(evs[10].Metadata["suppressed"]) != "50" {
			t.Errorf("next window: %d events; want 11, the last with suppressed 50", len(evs))
		}
	})
}
