package safehttp

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestHTTPClient: the *http.Client for libraries applies Get's checks to
// every request: loopback refused by default without a dial, http only
// for AllowedInternal, redirects re-checked, bodies capped.
func TestHTTPClient(t *testing.T) {
	srv, roots := tlsServer(t, jsonHandler(jwksBody))
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	c, dials := newClient(t, Config{RootCAs: roots})
	hc := c.HTTPClient()
	for _, u := range []string{srv.URL + "/jwks", fmt.Sprintf("http://127.0.0.1:%d/jwks", port), "file:///etc/passwd", "https://user:pw@example.com/"} {
		resp, err := hc.Get(u)
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s: fetched", u)
		}
	}
	_, err := hc.Get(srv.URL + "/jwks")
	wantKind(t, "loopback", err, ErrForbiddenAddress)
	if n := dials.Load(); n != 0 {
		t.Errorf("%d dials, want none", n)
	}

	const limit = 64
	plain := server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, fmt.Sprintf("http://127.0.0.2:%d/jwks", port), http.StatusFound) // outside AllowedInternal
			return
		case "/big":
			w.(http.Flusher).Flush() // no Content-Length
			fmt.Fprint(w, strings.Repeat("x", limit+1))
			return
		}
		fmt.Fprint(w, strings.Repeat("x", limit))
	}))
	c2, _ := newClient(t, Config{AllowedInternal: loopbackOnly, MaxBytes: limit})
	hc2 := c2.HTTPClient()
	resp, err := hc2.Get(plain.URL + "/exact")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || len(body) != limit {
		t.Errorf("exactly MaxBytes: %d bytes, %v", len(body), err)
	}
	resp, err = hc2.Get(plain.URL + "/big")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	wantKind(t, "over MaxBytes", err, ErrTooLarge)

	// A redirect to an address outside AllowedInternal is refused.
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, plain.URL+"/redirect", nil)
	resp, err = hc2.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	wantKind(t, "redirect to 127.0.0.2", err, ErrForbiddenAddress)
}
