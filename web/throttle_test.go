package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
)

func TestMemoryLimiter(t *testing.T) {
	t.Parallel()
	c := testkit.NewClock()
	l := NewMemoryLimiter(MemoryLimiterConfig{Free: 3, Base: time.Second, Max: 10 * time.Second, Forget: time.Hour, Now: c.Now})
	ctx := t.Context()
	wait := func() time.Duration {
		t.Helper()
		d, err := l.Wait(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	var got []time.Duration
	for range 8 {
		_ = l.Failure(ctx, "k")
		got = append(got, wait())
		c.Advance(wait())
	}
	want := []time.Duration{0, 0, 0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("delays %v, want %v", got, want)
		}
	}
	if d, _ := l.Wait(ctx, "other"); d != 0 {
		t.Error("keys are not separate")
	}
	_ = l.Success(ctx, "k")
	if wait() != 0 {
		t.Error("success did not reset")
	}
	for range 5 {
		_ = l.Failure(ctx, "k")
	}
	c.Advance(time.Hour + time.Second)
	_ = l.Failure(ctx, "k")
	if wait() != 0 {
		t.Error("old failures not forgotten")
	}

	small := NewMemoryLimiter(MemoryLimiterConfig{MaxKeys: 2, Now: c.Now})
	for _, k := range []string{"a", "b", "c", "d"} {
		_ = small.Failure(ctx, k)
	}
	if n := len(small.keys); n > 2 {
		t.Errorf("%d keys kept, max 2", n)
	}
}

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
			for range 6 { // 5 free, the 6th starts a 1s delay
				wantStatus(t, try("ada@example.com", "wrong"), http.StatusUnauthorized)
			}
			r := try("ada@example.com", pw) // even the right password waits
			wantStatus(t, r, http.StatusTooManyRequests)
			if r.header.Get("Retry-After") != "1" || !strings.Contains(r.body, "Too many attempts") {
				t.Errorf("Retry-After %q\n%s", r.header.Get("Retry-After"), r.body)
			}
			// An unknown email throttles the same way (no enumeration).
			for range 6 {
				try("ghost@example.com", "wrong")
			}
			wantStatus(t, try("ghost@example.com", "wrong"), http.StatusTooManyRequests)
			// Other accounts are not affected.
			wantStatus(t, try("someone@example.com", "wrong"), http.StatusUnauthorized)

			e.clock.Advance(time.Second)
			wantStatus(t, try("ada@example.com", "wrong"), http.StatusUnauthorized) // 7th: 2s
			r = try("ada@example.com", pw)
			if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "2" {
				t.Fatalf("%d Retry-After %q", r.status, r.header.Get("Retry-After"))
			}
			e.clock.Advance(2 * time.Second)
			wantRedirect(t, try("ada@example.com", pw), id)
			// Success forgot the failures.
			id2 := e.flow.add(LoginRequest{FirstParty: true, Prompt: []string{"login"}})
			b2 := e.browser()
			wantStatus(t, b2.login(id2, "ada@example.com", "wrong"), http.StatusUnauthorized)
		})
		t.Run("per address", func(t *testing.T) {
			ip := NewMemoryLimiter(MemoryLimiterConfig{Free: 3, Base: time.Minute})
			e := newEnv(t, db, func(c *Config) {
				ip = NewMemoryLimiter(MemoryLimiterConfig{Free: 3, Base: time.Minute, Now: c.Now})
				c.IPLimiter = ip
			})
			id := e.flow.add(LoginRequest{FirstParty: true})
			b := e.browser()
			for i := range 4 {
				wantStatus(t, b.login(id, "user"+string(rune('a'+i))+"@example.com", "wrong"), http.StatusUnauthorized)
			}
			r := b.login(id, "fresh@example.com", "wrong")
			if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "60" {
				t.Fatalf("%d Retry-After %q", r.status, r.header.Get("Retry-After"))
			}
			e.clock.Advance(time.Minute)
			wantStatus(t, b.login(id, "fresh@example.com", "wrong"), http.StatusUnauthorized)
		})
	})
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
