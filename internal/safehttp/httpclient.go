package safehttp

import (
	"fmt"
	"io"
	"net/http"
)

// HTTPClient returns an *http.Client with Get's checks, for libraries that
// take one (an OIDC relying party's discovery, JWKS, token and userinfo
// calls; SAML metadata): every request's URL is checked as Get checks it,
// every connection's addresses at dial time, every redirect again, each
// request is bounded by Config.Timeout and each response body fails with
// ErrTooLarge past Config.MaxBytes. Status and content type are the
// caller's to judge. Safe for concurrent use.
func (c *Client) HTTPClient() *http.Client {
	return &http.Client{
		Transport:     checkedTransport{c: c, next: c.hc.Transport},
		CheckRedirect: c.checkRedirect,
		Timeout:       c.cfg.Timeout,
	}
}

// checkedTransport checks a request's URL before the dialer checks its
// addresses, and caps the response body.
type checkedTransport struct {
	c    *Client
	next http.RoundTripper
}

func (t checkedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if _, err := t.c.checkURL(req.URL.String()); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	tooLarge := &Error{Kind: ErrTooLarge, URL: req.URL.String(), Reason: fmt.Sprintf("response is larger than %d bytes", t.c.cfg.MaxBytes)}
	if resp.ContentLength > t.c.cfg.MaxBytes {
		resp.Body.Close()
		return nil, tooLarge
	}
	resp.Body = &cappedBody{ReadCloser: resp.Body, left: t.c.cfg.MaxBytes, err: tooLarge}
	return resp, nil
}

// cappedBody reads at most left bytes and fails if the body goes on.
type cappedBody struct {
	io.ReadCloser
	left int64
	err  error
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		if n, err := b.ReadCloser.Read(one[:]); n > 0 {
			return 0, b.err
		} else if err != nil {
			return 0, err
		}
		return 0, nil
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}
