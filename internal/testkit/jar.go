package testkit

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Jar is an http.CookieJar that decides expiry by the test's clock, so a
// server on a test clock and its client agree on when a cookie ends.
// (net/http/cookiejar reads the real clock.) It keeps what a browser keeps
// for the hosts a test talks to: host-only and Domain cookies, Path,
// Secure, Expires and Max-Age; it has no public-suffix list.
type Jar struct {
	now     func() time.Time
	mu      sync.Mutex
	cookies map[jarKey]jarEntry
}

type jarKey struct{ domain, path, name string }

type jarEntry struct {
	value    string
	hostOnly bool
	secure   bool
	expires  time.Time // zero: a session cookie
	created  time.Time
}

// NewJar returns an empty jar reading now.
func NewJar(now func() time.Time) *Jar {
	return &Jar{now: now, cookies: map[jarKey]jarEntry{}}
}

// SetCookies stores the cookies of a response from u (RFC 6265 §5.3).
func (j *Jar) SetCookies(u *url.URL, cookies []*http.Cookie) {
	j.mu.Lock()
	defer j.mu.Unlock()
	now := j.now()
	host := canonicalHost(u.Host)
	for _, c := range cookies {
		k := jarKey{domain: host, path: c.Path, name: c.Name}
		hostOnly := true
		if d := strings.TrimPrefix(strings.ToLower(c.Domain), "."); d != "" {
			if d != host && !strings.HasSuffix(host, "."+d) {
				continue // a domain the response's host may not set
			}
			k.domain, hostOnly = d, false
		}
		if k.path == "" || k.path[0] != '/' {
			k.path = defaultPath(u.Path)
		}
		var expires time.Time
		switch {
		case c.MaxAge < 0:
			delete(j.cookies, k)
			continue
		case c.MaxAge > 0:
			expires = now.Add(time.Duration(c.MaxAge) * time.Second)
		case !c.Expires.IsZero():
			if !c.Expires.After(now) {
				delete(j.cookies, k)
				continue
			}
			expires = c.Expires
		}
		created := now
		if old, ok := j.cookies[k]; ok {
			created = old.created
		}
		j.cookies[k] = jarEntry{value: c.Value, hostOnly: hostOnly, secure: c.Secure, expires: expires, created: created}
	}
}

// Cookies returns the cookies to send to u, longest path first.
func (j *Jar) Cookies(u *url.URL) []*http.Cookie {
	j.mu.Lock()
	defer j.mu.Unlock()
	now := j.now()
	host := canonicalHost(u.Host)
	path := u.Path
	if path == "" {
		path = "/"
	}
	type match struct {
		k jarKey
		e jarEntry
	}
	var ms []match
	for k, e := range j.cookies {
		if !e.expires.IsZero() && !e.expires.After(now) {
			delete(j.cookies, k)
			continue
		}
		if e.hostOnly && host != k.domain || !e.hostOnly && host != k.domain && !strings.HasSuffix(host, "."+k.domain) {
			continue
		}
		if !pathMatch(path, k.path) || e.secure && u.Scheme != "https" {
			continue
		}
		ms = append(ms, match{k, e})
	}
	slices.SortFunc(ms, func(a, b match) int {
		if d := len(b.k.path) - len(a.k.path); d != 0 {
			return d
		}
		return a.e.created.Compare(b.e.created)
	})
	out := make([]*http.Cookie, len(ms))
	for i, m := range ms {
		out[i] = &http.Cookie{Name: m.k.name, Value: m.e.value}
	}
	return out
}

func canonicalHost(hostport string) string {
	h := hostport
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	return strings.ToLower(strings.Trim(h, "[]"))
}

// defaultPath is RFC 6265 §5.1.4's default-path of a request path.
func defaultPath(p string) string {
	i := strings.LastIndexByte(p, '/')
	if p == "" || p[0] != '/' || i <= 0 {
		return "/"
	}
	return p[:i]
}

// pathMatch is RFC 6265 §5.1.4's path-match.
func pathMatch(reqPath, cookiePath string) bool {
	if reqPath == cookiePath {
		return true
	}
	if !strings.HasPrefix(reqPath, cookiePath) {
		return false
	}
	return strings.HasSuffix(cookiePath, "/") || reqPath[len(cookiePath)] == '/'
}
