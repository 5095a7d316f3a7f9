package safehttp

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Every test here talks to httptest servers on 127.0.0.1 only: guard makes
// any other dial a test failure, so a bug in the check cannot send traffic
// elsewhere.

var (
	loopback     = netip.MustParseAddr("127.0.0.1")
	loopbackOnly = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	jwksBody     = `{"keys":[]}`
)

// stubResolver answers from a map and never asks DNS.
type stubResolver struct {
	mu      sync.Mutex
	answers map[string][][]netip.Addr // successive answers per host; the last repeats
	calls   map[string]int
}

func resolver(answers map[string][]string) *stubResolver {
	r := &stubResolver{answers: map[string][][]netip.Addr{}, calls: map[string]int{}}
	for h, as := range answers {
		var addrs []netip.Addr
		for _, a := range as {
			addrs = append(addrs, netip.MustParseAddr(a))
		}
		r.answers[h] = [][]netip.Addr{addrs}
	}
	return r
}

func (r *stubResolver) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seq, ok := r.answers[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	i := min(r.calls[host], len(seq)-1)
	r.calls[host]++
	return seq[i], nil
}

// newClient returns a Client whose dials are counted and refused unless
// they go to 127.0.0.1.
func newClient(t *testing.T, cfg Config) (*Client, *atomic.Int32) {
	t.Helper()
	c := New(cfg)
	var dials atomic.Int32
	next := c.dialTCP
	c.dialTCP = func(ctx context.Context, ap netip.AddrPort, plain bool) (net.Conn, error) {
		dials.Add(1)
		if ap.Addr() != loopback {
			t.Errorf("dialled %s: tests may only dial 127.0.0.1", ap)
			return nil, errors.New("test guard: refused to dial " + ap.String())
		}
		return next(ctx, ap, plain)
	}
	return c, &dials
}

func jsonHandler(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		fmt.Fprint(w, body)
	}
}

func server(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func tlsServer(t *testing.T, h http.Handler) (*httptest.Server, *x509.CertPool) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes refused on purpose
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return srv, pool
}

func wantKind(t *testing.T, what string, err, kind error) *Error {
	t.Helper()
	var fe *Error
	if !errors.Is(err, kind) || !errors.As(err, &fe) {
		t.Fatalf("%s: error %v, want %v", what, err, kind)
	}
	return fe
}

// TestLoopbackRefusedByDefault (MT-10): with the production config a URL
// naming or resolving to loopback is refused before any connection.
func TestLoopbackRefusedByDefault(t *testing.T) {
	srv, roots := tlsServer(t, jsonHandler(jwksBody))
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	res := resolver(map[string][]string{"example.com": {"127.0.0.1"}, "localhost": {"127.0.0.1", "::1"}})
	c, dials := newClient(t, Config{RootCAs: roots, Resolver: res})
	for _, u := range []string{
		srv.URL + "/jwks",
		fmt.Sprintf("https://[::ffff:127.0.0.1]:%d/jwks", port),
		fmt.Sprintf("https://example.com:%d/jwks", port), // a name that resolves to loopback
		fmt.Sprintf("https://localhost:%d/jwks", port),
	} {
		_, err := c.Get(context.Background(), u)
		fe := wantKind(t, u, err, ErrForbiddenAddress)
		if !strings.Contains(fe.Error(), "loopback") || !strings.Contains(fe.Error(), "only public internet addresses") {
			t.Errorf("%s: message %q does not say why", u, fe)
		}
	}
	_, err := c.Get(context.Background(), fmt.Sprintf("http://127.0.0.1:%d/jwks", port))
	wantKind(t, "http", err, ErrForbiddenScheme)
	if n := dials.Load(); n != 0 {
		t.Errorf("%d dials, want none", n)
	}
	// The names were resolved, not dialled; a name's message does not leak
	// the address it resolved to.
	_, err = c.Get(context.Background(), fmt.Sprintf("https://example.com:%d/jwks", port))
	if strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("message names the resolved address: %v", err)
	}
	// http is refused for loopback even when other ranges are allowed.
	c2, _ := newClient(t, Config{AllowedInternal: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}})
	_, err = c2.Get(context.Background(), fmt.Sprintf("http://127.0.0.1:%d/jwks", port))
	wantKind(t, "http to loopback", err, ErrForbiddenAddress)
}

// TestAllowedInternalFetches: 127.0.0.1/32 in AllowedInternal lets tests
// fetch from httptest servers, over http and https, by IP and by name.
func TestAllowedInternalFetches(t *testing.T) {
	plain := server(t, jsonHandler(jwksBody))
	secure, roots := tlsServer(t, jsonHandler(jwksBody))
	res := resolver(map[string][]string{"example.com": {"127.0.0.1"}})
	c, dials := newClient(t, Config{AllowedInternal: loopbackOnly, RootCAs: roots, Resolver: res})
	for _, u := range []string{
		plain.URL + "/jwks",
		secure.URL + "/jwks",
		fmt.Sprintf("https://example.com:%d/jwks#frag", secure.Listener.Addr().(*net.TCPAddr).Port),
	} {
		body, err := c.Get(context.Background(), u)
		if err != nil || string(body) != jwksBody {
			t.Errorf("%s: %q %v", u, body, err)
		}
	}
	if n := dials.Load(); n != 3 {
		t.Errorf("%d dials, want 3 (no connection reuse)", n)
	}
	// The certificate is still verified.
	c3, _ := newClient(t, Config{AllowedInternal: loopbackOnly})
	_, err := c3.Get(context.Background(), secure.URL)
	wantKind(t, "untrusted certificate", err, ErrConnect)
}

// TestRedirects (MT-10): each redirect target is checked like the first
// URL, and at most MaxRedirects are followed.
func TestRedirects(t *testing.T) {
	var target atomic.Value
	hops := 0
	var mu sync.Mutex
	srv := server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/to":
			http.Redirect(w, r, target.Load().(string), http.StatusFound)
		case "/chain":
			mu.Lock()
			hops++
			mu.Unlock()
			n := len(r.URL.Query()["n"])
			if n == 0 {
				jsonHandler(jwksBody)(w, r)
				return
			}
			http.Redirect(w, r, "/chain?"+strings.Repeat("n=1&", n-1), http.StatusTemporaryRedirect)
		}
	}))
	res := resolver(map[string][]string{
		"internal.tenant-b.test": {"10.0.0.1"},
		"metadata.tenant-b.test": {"169.254.169.254"},
		"public.tenant-b.test":   {"93.184.216.34"},
	})
	c, dials := newClient(t, Config{AllowedInternal: loopbackOnly, Resolver: res})
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	refused := map[string]error{
		"http://169.254.169.254/latest/meta-data/":    ErrForbiddenAddress,
		"http://metadata.tenant-b.test/latest/":       ErrForbiddenAddress,
		"http://internal.tenant-b.test/admin":         ErrForbiddenAddress,
		fmt.Sprintf("http://127.0.0.2:%d/", port):     ErrForbiddenAddress,
		fmt.Sprintf("http://[::1]:%d/", port):         ErrForbiddenAddress,
		"https://[fd00:ec2::254]/latest/":             ErrForbiddenAddress,
		"http://public.tenant-b.test/jwks":            ErrForbiddenScheme, // downgrade to http
		"http://93.184.216.34/jwks":                   ErrForbiddenScheme,
		"file:///etc/passwd":                          ErrForbiddenScheme,
		"gopher://127.0.0.1:25/":                      ErrForbiddenScheme,
		fmt.Sprintf("http://u:p@127.0.0.1:%d/", port): ErrInvalidURL,
	}
	for to, kind := range refused {
		target.Store(to)
		_, err := c.Get(context.Background(), srv.URL+"/to")
		fe := wantKind(t, "redirect to "+to, err, kind)
		if !strings.Contains(fe.Error(), "fetch "+srv.URL+"/to: redirected to ") {
			t.Errorf("redirect to %s: message %q does not mention the redirect", to, fe)
		}
	}
	if n := dials.Load(); n != int32(len(refused)) {
		t.Errorf("%d dials, want %d (the allowed server only)", n, len(refused))
	}
	// Three redirects are followed, a fourth is not.
	if body, err := c.Get(context.Background(), srv.URL+"/chain?n=1&n=1&n=1"); err != nil || string(body) != jwksBody {
		t.Errorf("3 redirects: %q %v", body, err)
	}
	_, err := c.Get(context.Background(), srv.URL+"/chain?n=1&n=1&n=1&n=1")
	wantKind(t, "4 redirects", err, ErrTooManyRedirects)
}

// TestSizeCap: a body over MaxBytes is refused, with or without a
// Content-Length; exactly MaxBytes is accepted.
func TestSizeCap(t *testing.T) {
	const limit = 1024
	srv := server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		n := limit
		if r.URL.Query().Has("over") {
			n++
		}
		if r.URL.Query().Has("huge") {
			n = 64 << 20
		}
		if r.URL.Query().Has("chunked") {
			w.(http.Flusher).Flush() // no Content-Length
		}
		buf := []byte(strings.Repeat(" ", 4096))
		for n > 0 {
			k := min(n, len(buf))
			if _, err := w.Write(buf[:k]); err != nil {
				return
			}
			n -= k
		}
	}))
	c, _ := newClient(t, Config{AllowedInternal: loopbackOnly, MaxBytes: limit})
	if body, err := c.Get(context.Background(), srv.URL+"/?exact"); err != nil || len(body) != limit {
		t.Errorf("exactly MaxBytes: %d bytes, %v", len(body), err)
	}
	for _, q := range []string{"over", "over&chunked", "huge", "huge&chunked"} {
		_, err := c.Get(context.Background(), srv.URL+"/?"+q)
		wantKind(t, q, err, ErrTooLarge)
	}
	// The default is 256 KiB.
	if d := New(Config{}); d.cfg.MaxBytes != 256<<10 || d.cfg.Timeout != 5*time.Second {
		t.Errorf("defaults: %d bytes, %s", d.cfg.MaxBytes, d.cfg.Timeout)
	}
}

// TestTimeout: a server that sends its headers and then stalls, or never
// answers, is given up on after Timeout.
func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow-body" {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"keys":[`)
			w.(http.Flusher).Flush()
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release) }) // runs before srv.Close
	c, _ := newClient(t, Config{AllowedInternal: loopbackOnly, Timeout: 200 * time.Millisecond})
	for _, p := range []string{"/slow-body", "/slow-headers"} {
		start := time.Now()
		_, err := c.Get(context.Background(), srv.URL+p)
		fe := wantKind(t, p, err, ErrTimeout)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: gave up after %s", p, d)
		}
		if !strings.Contains(fe.Error(), "200ms") {
			t.Errorf("%s: message %q", p, fe)
		}
	}
}

// TestResolvedInternalRefusedWithoutDialing (MT-10): a host name whose
// DNS answer holds an internal address is refused before any connection,
// even when the answer also holds an allowed one.
func TestResolvedInternalRefusedWithoutDialing(t *testing.T) {
	res := resolver(map[string][]string{
		"private.tenant-b.test":  {"10.0.0.1"},
		"metadata.tenant-b.test": {"169.254.169.254"},
		"ula.tenant-b.test":      {"fd00::1"},
		"mapped.tenant-b.test":   {"::ffff:192.168.0.1"},
		"mixed.tenant-b.test":    {"127.0.0.1", "10.0.0.1"},
		"cgnat.tenant-b.test":    {"100.64.0.1"},
	})
	for _, allowed := range [][]netip.Prefix{nil, loopbackOnly} {
		c, dials := newClient(t, Config{Resolver: res, AllowedInternal: allowed})
		for host := range res.answers {
			_, err := c.Get(context.Background(), "https://"+host+"/jwks")
			fe := wantKind(t, host, err, ErrForbiddenAddress)
			if !fe.Addr.IsValid() || strings.Contains(fe.Error(), fe.Addr.String()) {
				t.Errorf("%s: Addr %v, message %q", host, fe.Addr, fe)
			}
		}
		if n := dials.Load(); n != 0 {
			t.Errorf("%d dials, want none", n)
		}
	}
	c, _ := newClient(t, Config{Resolver: res})
	_, err := c.Get(context.Background(), "https://unknown.tenant-b.test/jwks")
	wantKind(t, "unknown host", err, ErrResolve)
}

// TestRebinding: the check runs on every connection, so a name that
// resolved to an allowed address and then to an internal one is refused
// the second time.
func TestRebinding(t *testing.T) {
	srv := server(t, jsonHandler(jwksBody))
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	res := &stubResolver{calls: map[string]int{}, answers: map[string][][]netip.Addr{
		"rebind.tenant-b.test": {{loopback}, {netip.MustParseAddr("10.0.0.1")}},
	}}
	c, dials := newClient(t, Config{AllowedInternal: loopbackOnly, Resolver: res})
	u := fmt.Sprintf("http://rebind.tenant-b.test:%d/jwks", port)
	if _, err := c.Get(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	_, err := c.Get(context.Background(), u)
	wantKind(t, "rebound", err, ErrForbiddenAddress)
	if n := dials.Load(); n != 1 {
		t.Errorf("%d dials, want 1", n)
	}
}

// TestControl: the dialer's Control hook refuses a socket about to
// connect anywhere but a public (or allowed) address.
func TestControl(t *testing.T) {
	c := New(Config{AllowedInternal: loopbackOnly})
	for addr, kind := range map[string]error{
		"10.0.0.1:443":         ErrForbiddenAddress,
		"169.254.169.254:80":   ErrForbiddenAddress,
		"[fe80::1%eth0]:443":   ErrForbiddenAddress,
		"[::ffff:10.1.1.1]:80": ErrForbiddenAddress,
		"garbage":              ErrForbiddenAddress,
		"127.0.0.1:80":         nil,
		"93.184.216.34:443":    nil,
	} {
		err := c.control("tcp4", addr, false)
		if kind == nil && err != nil || kind != nil && !errors.Is(err, kind) {
			t.Errorf("control(%s) = %v, want %v", addr, err, kind)
		}
	}
	if err := c.control("tcp4", "93.184.216.34:80", true); !errors.Is(err, ErrForbiddenScheme) {
		t.Errorf("plain http to a public address: %v", err)
	}
	if err := c.control("udp4", "127.0.0.1:53", false); err == nil {
		t.Error("udp allowed")
	}
}

// TestStatusAndContentType: only a 200 JSON answer is a document.
func TestStatusAndContentType(t *testing.T) {
	srv := server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/404":
			http.NotFound(w, r)
		case "/html":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<html>")
		case "/json":
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			fmt.Fprint(w, jwksBody)
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	c, _ := newClient(t, Config{AllowedInternal: loopbackOnly})
	_, err := c.Get(context.Background(), srv.URL+"/404")
	if fe := wantKind(t, "404", err, ErrStatus); !strings.Contains(fe.Error(), "404") {
		t.Errorf("message %q", fe)
	}
	_, err = c.Get(context.Background(), srv.URL+"/204")
	wantKind(t, "204", err, ErrStatus)
	_, err = c.Get(context.Background(), srv.URL+"/html")
	wantKind(t, "html", err, ErrContentType)
	if _, err := c.Get(context.Background(), srv.URL+"/json"); err != nil {
		t.Error(err)
	}
}

// TestCheckURL: what is refused before any I/O.
func TestCheckURL(t *testing.T) {
	prod := New(Config{})
	if err := prod.CheckURL("https://user:s3cret@jwks.tenant-a.test/keys"); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("credentials in the message: %v", err)
	}
	test := New(Config{AllowedInternal: loopbackOnly})
	for _, tc := range []struct {
		c    *Client
		url  string
		kind error
	}{
		{prod, "https://jwks.tenant-a.test/keys", nil},
		{prod, "https://jwks.tenant-a.test:8443/keys?x=1", nil},
		{prod, "https://[2606:4700:4700::1111]/keys", nil},
		{prod, "HTTPS://JWKS.TENANT-A.TEST/keys", nil},
		{prod, "http://jwks.tenant-a.test/keys", ErrForbiddenScheme},
		{test, "http://jwks.tenant-a.test/keys", nil}, // the dialer decides
		{prod, "ftp://jwks.tenant-a.test/keys", ErrForbiddenScheme},
		{prod, "javascript:alert(1)", ErrForbiddenScheme},
		{prod, "file:///etc/passwd", ErrForbiddenScheme},
		{prod, "//jwks.tenant-a.test/keys", ErrInvalidURL},
		{prod, "/keys", ErrInvalidURL},
		{prod, "", ErrInvalidURL},
		{prod, "https://", ErrInvalidURL},
		{prod, "https:///keys", ErrInvalidURL},
		{prod, "https:opaque", ErrInvalidURL},
		{prod, "https://user:pass@jwks.tenant-a.test/keys", ErrInvalidURL},
		{prod, "https://user@jwks.tenant-a.test/keys", ErrInvalidURL},
		{prod, "https://user:s3cret@jwks.tenant-a.test/keys", ErrInvalidURL}, // message checked below
		{prod, "https://jwks.tenant-a.test:0/keys", ErrInvalidURL},
		{prod, "https://jwks.tenant-a.test:99999/keys", ErrInvalidURL},
		{prod, "https://2130706433/keys", ErrInvalidURL},
		{prod, "https://0x7f.1/keys", ErrInvalidURL},
		{prod, "https://127.1/keys", ErrInvalidURL},
		{prod, "https://127.0.0.1/keys", ErrForbiddenAddress},
		{prod, "https://%31%32%37.0.0.1/keys", ErrInvalidURL},
		{prod, "https://169.254.169.254/latest/meta-data/", ErrForbiddenAddress},
		{prod, "https://[::1]/keys", ErrForbiddenAddress},
		{prod, "https://[::ffff:169.254.169.254]/keys", ErrForbiddenAddress},
		{prod, "https://[fe80::1%25eth0]/keys", ErrForbiddenAddress},
		{prod, "https://0.0.0.0/keys", ErrForbiddenAddress},
		{test, "http://127.0.0.1:1/keys", nil},
		{prod, "https://jwks.tenant-a.test/" + strings.Repeat("a", 2048), ErrInvalidURL},
	} {
		err := tc.c.CheckURL(tc.url)
		if tc.kind == nil && err != nil || tc.kind != nil && !errors.Is(err, tc.kind) {
			t.Errorf("CheckURL(%q) = %v, want %v", tc.url, err, tc.kind)
		}
		var fe *Error
		if err != nil && !errors.As(err, &fe) {
			t.Errorf("CheckURL(%q): %T is not an *Error", tc.url, err)
		}
	}
}
