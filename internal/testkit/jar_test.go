package testkit

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"
)

func names(cs []*http.Cookie) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name+"="+c.Value)
	}
	return out
}

func TestJar(t *testing.T) {
	// The clock is far from the real time on purpose: the jar must not
	// read the real clock at all.
	clock := &Clock{now: time.Now().Add(-5 * 365 * 24 * time.Hour)}
	jar := NewJar(clock.Now)
	u := func(s string) *url.URL {
		t.Helper()
		p, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	site := u("http://127.0.0.1:8080/login/step")
	jar.SetCookies(site, []*http.Cookie{
		{Name: "session", Value: "s", Path: "/", Expires: clock.Now().Add(time.Hour)},
		{Name: "short", Value: "m", Path: "/", MaxAge: 60},
		{Name: "forever", Value: "f"}, // host-only, default path /login
		{Name: "login", Value: "l", Path: "/login"},
		{Name: "secure", Value: "x", Path: "/", Secure: true},
		{Name: "foreign", Value: "no", Path: "/", Domain: "example.com"},
	})
	tests := []struct {
		name    string
		advance time.Duration
		url     string
		want    []string
	}{
		{"all live cookies, longest path first", 0, "http://127.0.0.1:8080/login/x", []string{"forever=f", "login=l", "session=s", "short=m"}},
		{"path scoping", 0, "http://127.0.0.1:8080/other", []string{"session=s", "short=m"}},
		{"no prefix-only path match", 0, "http://127.0.0.1:8080/loginx", []string{"session=s", "short=m"}},
		{"secure cookies on https only", 0, "https://127.0.0.1:8080/", []string{"secure=x", "session=s", "short=m"}},
		{"another host gets none", 0, "http://127.0.0.2:8080/", nil},
		{"max-age ends by the test clock", time.Minute, "http://127.0.0.1:8080/", []string{"session=s"}},
		{"expires ends by the test clock", time.Hour, "http://127.0.0.1:8080/", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock.Advance(tt.advance)
			got := names(jar.Cookies(u(tt.url)))
			slices.Sort(got)
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("cookies for %s = %v, want %v", tt.url, got, want)
			}
		})
	}
}

func TestJarDeletes(t *testing.T) {
	clock := NewClock()
	jar := NewJar(clock.Now)
	site, _ := url.Parse("http://localhost/")
	jar.SetCookies(site, []*http.Cookie{{Name: "a", Value: "1", Path: "/"}, {Name: "b", Value: "2", Path: "/"}})
	jar.SetCookies(site, []*http.Cookie{
		{Name: "a", Path: "/", MaxAge: -1},
		{Name: "b", Path: "/", Expires: clock.Now().Add(-time.Second)},
	})
	if got := jar.Cookies(site); len(got) != 0 {
		t.Fatalf("deleted cookies still sent: %v", names(got))
	}
	jar.SetCookies(site, []*http.Cookie{{Name: "a", Value: "new", Path: "/"}, {Name: "a", Value: "newer", Path: "/"}})
	if got := names(jar.Cookies(site)); !slices.Equal(got, []string{"a=newer"}) {
		t.Fatalf("replaced cookie: %v", got)
	}
}

func TestShift(t *testing.T) {
	t.Setenv(ShiftEnv, "-8760h")
	if d := NewClock().Now().Sub(time.Now()); d > -8759*time.Hour {
		t.Fatalf("clock not shifted: %v from now", d)
	}
	t.Setenv(ShiftEnv, "a year")
	defer func() {
		if recover() == nil {
			t.Fatal("a shift that does not parse was ignored")
		}
	}()
	NewClock()
}
