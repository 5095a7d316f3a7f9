package web

import (
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/httpserver"
	"github.com/gatehouse-id/gatehouse/internal/password"
	"github.com/gatehouse-id/gatehouse/internal/ratelimit"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
)

func TestLoginThrottle(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		t.Run("per account", func(t *testing.T) {
			e := newEnv(t, db)
			e.user(userSpec{email: "ada@example.com", password: pw})
			id := e.flow.add(LoginRequest{FirstParty: true})
			b := e.browser()
			form := b.get("/login?authRequest=" + id)
			try := func(email, password string) response {
				return b.post("/login", url.Values{"authRequest": {id}, "csrf": {form.field("csrf")}, "email": {email}, "password": {password}})
			}
			for range 5 { // 5 free; the 5th starts a 1s wait
				wantStatus(t, try("ada@example.com", "wrong"), http.StatusUnauthorized)
			}
			r := try("ada@example.com", pw) // even the right password waits
			wantStatus(t, r, http.StatusTooManyRequests)
			if r.header.Get("Retry-After") != "1" || !strings.Contains(r.body, "Too many attempts. Wait a second and try again.") {
				t.Errorf("Retry-After %q\n%s", r.header.Get("Retry-After"), r.body)
			}
			// An unknown email throttles the same way (no enumeration).
			for range 5 {
				try("ghost@example.com", "wrong")
			}
			wantStatus(t, try("ghost@example.com", "wrong"), http.StatusTooManyRequests)
			// Other accounts are not affected.
			wantStatus(t, try("someone@example.com", "wrong"), http.StatusUnauthorized)

			e.clock.Advance(time.Second)
			wantStatus(t, try("ada@example.com", "wrong"), http.StatusUnauthorized) // 6th: 2s
			r = try("ada@example.com", pw)
			if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "2" || !strings.Contains(r.body, "Wait 2 seconds") {
				t.Fatalf("%d Retry-After %q", r.status, r.header.Get("Retry-After"))
			}
			e.clock.Advance(2 * time.Second)
			wantRedirect(t, try("ada@example.com", pw), id)
			// Success forgot the failures.
			id2 := e.flow.add(LoginRequest{FirstParty: true, Prompt: []string{"login"}})
			b2 := e.browser()
			for range 5 {
				wantStatus(t, b2.login(id2, "ada@example.com", "wrong"), http.StatusUnauthorized)
			}
		})
		t.Run("per address", func(t *testing.T) {
			e := newEnv(t, db, func(c *Config) { c.AddressPolicy = ratelimit.Policy{Free: 3, Base: time.Minute, KeepOnSuccess: true} })
			id := e.flow.add(LoginRequest{FirstParty: true})
			b := e.browser()
			for i := range 3 {
				// A spoofed X-Forwarded-For changes nothing: no proxy is trusted.
				b.header = http.Header{"X-Forwarded-For": {"203.0.113." + string(rune('1'+i))}}
				wantStatus(t, b.login(id, "user"+string(rune('a'+i))+"@example.com", "wrong"), http.StatusUnauthorized)
			}
			r := b.login(id, "fresh@example.com", "wrong")
			if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "60" || !strings.Contains(r.body, "Wait 60 seconds") {
				t.Fatalf("%d Retry-After %q", r.status, r.header.Get("Retry-After"))
			}
			e.clock.Advance(time.Minute)
			wantStatus(t, b.login(id, "fresh@example.com", "wrong"), http.StatusUnauthorized)
		})
	})
}

// 60 wrong passwords for one account, sent at once: the attempt is
// counted before the password is verified, so only the free allowance is
// verified and the rest are answered 429 (SECURITY-CHECKLIST ATO-11). On
// the in-memory limiter, and on Redis when GATEHOUSE_TEST_REDIS_URL is set.
func TestLoginThrottleParallel(t *testing.T) {
	t.Parallel()
	limiters := map[string]func(t *testing.T, now func() time.Time) ratelimit.Limiter{"memory": nil}
	if url := testkit.RedisURL(t); url != "" {
		limiters["redis"] = func(t *testing.T, now func() time.Time) ratelimit.Limiter {
			r, err := ratelimit.OpenRedis(ratelimit.RedisConfig{URL: url, Prefix: "gatehouse-test:" + t.Name() + ":" + rand.Text() + ":", Now: now, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = r.Close() })
			return r
		}
	}
	for name, open := range limiters {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, testdb.All(t)[0], func(c *Config) {
				if open != nil {
					c.Limiter = open(t, c.Now)
				}
				// Short Forget: the Redis keys expire soon after the test.
				c.AccountPolicy = ratelimit.Policy{Free: 5, Base: time.Second, Forget: time.Minute}
				c.AddressPolicy = ratelimit.Policy{Free: 100, Base: time.Second, Forget: time.Minute, KeepOnSuccess: true}
			})
			e.user(userSpec{email: "ada@example.com", password: pw})
			id := e.flow.add(LoginRequest{FirstParty: true})
			b := e.browser()
			form := b.get("/login?authRequest=" + id)
			csrf := form.field("csrf")
			statuses := map[int]int{}
			var mu sync.Mutex
			var start, done sync.WaitGroup
			start.Add(1)
			for range 60 {
				done.Add(1)
				go func() {
					defer done.Done()
					start.Wait()
					r := b.post("/login", url.Values{"authRequest": {id}, "csrf": {csrf}, "email": {"ada@example.com"}, "password": {"wrong"}})
					mu.Lock()
					statuses[r.status]++
					mu.Unlock()
				}()
			}
			start.Done()
			done.Wait()
			// Every 401 is one verification: the wrong password was checked.
			if statuses[http.StatusUnauthorized] != 5 || statuses[http.StatusTooManyRequests] != 55 {
				t.Fatalf("statuses %v; want 5 verified (401) and 55 throttled (429)", statuses)
			}
		})
	}
}

// Behind trusted proxies, each client is throttled on its own address:
// the rightmost X-Forwarded-For address that is not a proxy, an IPv6
// client by its /64.
func TestLoginThrottleBehindProxy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testdb.All(t)[0], func(c *Config) { c.AddressPolicy = ratelimit.Policy{Free: 2, Base: time.Minute, KeepOnSuccess: true} })
	proxies := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	srv := httptest.NewServer(httpserver.TrustProxies(proxies)(httpserver.RequestID(e.web.Handler())))
	t.Cleanup(srv.Close)
	e.srv = srv
	id := e.flow.add(LoginRequest{FirstParty: true})
	from := func(xff string) *browser {
		b := e.browser()
		b.header = http.Header{"X-Forwarded-For": {xff}}
		return b
	}
	n := 0
	attempt := func(b *browser) int {
		n++ // a different account each time: only the address counts
		return b.login(id, "user"+strings.Repeat("x", n)+"@example.com", "wrong").status
	}
	alice, bob := from("198.51.100.1"), from("198.51.100.2")
	for range 2 {
		wantStatus(t, response{status: attempt(alice)}, http.StatusUnauthorized)
	}
	if s := attempt(alice); s != http.StatusTooManyRequests {
		t.Fatalf("alice's third attempt: %d, want 429", s)
	}
	if s := attempt(bob); s != http.StatusUnauthorized {
		t.Fatalf("bob, behind the same proxy, throttled by alice: %d", s)
	}
	// Alice prepends a made-up address: the proxy appended her real one.
	if s := attempt(from("192.0.2.77, 198.51.100.1")); s != http.StatusTooManyRequests {
		t.Fatalf("a spoofed leftmost X-Forwarded-For escaped the throttle: %d", s)
	}
	// IPv6: rotating addresses inside one /64 does not help.
	v6 := func(suffix string) *browser { return from("2001:db8:5:6:" + suffix) }
	wantStatus(t, response{status: attempt(v6("0:0:0:1"))}, http.StatusUnauthorized)
	wantStatus(t, response{status: attempt(v6("aaaa:bbbb:cccc:dddd"))}, http.StatusUnauthorized)
	if s := attempt(v6("1234:5678:9abc:def0")); s != http.StatusTooManyRequests {
		t.Fatalf("third address of one /64: %d, want 429", s)
	}
	if s := attempt(from("2001:db8:5:7::1")); s != http.StatusUnauthorized {
		t.Fatalf("the next /64 throttled: %d", s)
	}
}

// The owner's browser, which has signed in to the account before, keeps
// its own allowance while an attacker exhausts the account's.
func TestLoginThrottleKnownDevice(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testdb.All(t)[0])
	e.user(userSpec{email: "ada@example.com", password: pw})
	owner := e.browser()
	first := e.flow.add(LoginRequest{FirstParty: true})
	wantRedirect(t, owner.login(first, "ada@example.com", pw), first)
	device := owner.cookie("gatehouse_device")
	if !strings.HasPrefix(device, "v1.") {
		t.Fatalf("no device cookie after sign-in: %q", device)
	}

	attacker := e.browser()
	id := e.flow.add(LoginRequest{FirstParty: true})
	for range 5 {
		// (The address allowance, 20, is not what stops them.)
		wantStatus(t, attacker.login(id, "ada@example.com", "guess"), http.StatusUnauthorized)
	}
	wantStatus(t, attacker.login(id, "ada@example.com", pw), http.StatusTooManyRequests)
	// A made-up device cookie, or another account's, does not help.
	forged := e.browser()
	forged.header = http.Header{"Cookie": {"gatehouse_device=" + strings.Split(device, ".")[0] + "." + strings.Split(device, ".")[1] + ".AAAAAAAAAAAAAAAAAAAAAA"}}
	wantStatus(t, forged.login(id, "ada@example.com", pw), http.StatusTooManyRequests)

	// The owner, on the browser that signed in before, gets in at once.
	again := e.flow.add(LoginRequest{FirstParty: true, Prompt: []string{"login"}})
	wantRedirect(t, owner.login(again, "ada@example.com", pw), again)
	// And a typo there costs only that browser's own allowance.
	typo := e.flow.add(LoginRequest{FirstParty: true, Prompt: []string{"login"}})
	wantStatus(t, owner.login(typo, "ada@example.com", "typo"), http.StatusUnauthorized)
	// The attacker is still throttled.
	wantStatus(t, attacker.login(id, "ada@example.com", pw), http.StatusTooManyRequests)
}

// When every password-hashing slot is taken, a sign-in waits briefly, then
// gets 503 with Retry-After, and its attempt is given back. Not parallel:
// it fills the process's gate.
func TestLoginBusy(t *testing.T) {
	defer password.SetConcurrency(0, 0)
	e := newEnv(t, testdb.All(t)[0])
	e.user(userSpec{email: "ada@example.com", password: pw})
	id := e.flow.add(LoginRequest{FirstParty: true})
	b := e.browser()
	password.SetConcurrency(1, time.Millisecond)
	release := password.Occupy(1)
	for _, email := range []string{"ada@example.com", "nobody@example.com"} {
		for range 8 { // more than the free allowance: busy attempts are not counted
			r := b.login(id, email, "wrong")
			if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") != "1" || !strings.Contains(r.body, "Too many sign-ins right now") {
				t.Fatalf("%s at capacity: %d Retry-After %q", email, r.status, r.header.Get("Retry-After"))
			}
		}
	}
	release()
	wantRedirect(t, b.login(id, "ada@example.com", pw), id)
}

func TestNewChecksPagesAndConfig(t *testing.T) {
	t.Parallel()
	flow := &fakeFlow{}
	db := testdb.All(t)[0]
	e := newEnv(t, db)
	good := Config{Flow: flow, Client: e.client, Issuer: "https://id.example.com", PasswordParams: cheap}
	if _, err := New(good); err != nil {
		t.Fatal(err)
	}
	missing := fstest.MapFS{
		"templates/layout.html":       {Data: []byte(`{{template "content" .}}`)},
		"templates/login.html":        {Data: []byte(`{{define "content"}}x{{end}}`)},
		"templates/organization.html": {Data: []byte(`{{define "content"}}x{{end}}`)},
		"templates/error.html":        {Data: []byte(`{{define "content"}}x{{end}}`)},
		"static/style.css":            {Data: []byte(``)},
	}
	if _, err := newWithFS(good, missing); err == nil || !strings.Contains(err.Error(), "consent") {
		t.Errorf("missing consent page: %v", err)
	}
	_, err := New(Config{Issuer: "id.example.com"})
	if err == nil || !strings.Contains(err.Error(), "Flow") || !strings.Contains(err.Error(), "Client") || !strings.Contains(err.Error(), "Issuer") {
		t.Errorf("bad config: %v", err)
	}
}
