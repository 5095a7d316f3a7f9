package safehttp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Defaults and fixed limits.
const (
	DefaultTimeout  = 5 * time.Second
	DefaultMaxBytes = 256 << 10
	// MaxRedirects is how many redirects Get follows; each target is checked
	// like the first URL.
	MaxRedirects = 3
	// maxURLLength matches the longest URL an application may register.
	maxURLLength = 2048
	// maxAddrs bounds how many resolved addresses one dial checks and tries.
	maxAddrs = 8
	// maxHeaderBytes bounds the response headers.
	maxHeaderBytes = 32 << 10
)

// Resolver looks up a host's addresses; *net.Resolver is one. Get calls it
// once per connection, from the dialer, and checks every address it
// returns before connecting to any.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Config configures a Client. The zero value is the production setting.
type Config struct {
	// Timeout bounds a whole Get: resolution, connection, TLS, redirects
	// and reading the body. Defaults to 5s.
	Timeout time.Duration
	// MaxBytes bounds the response body. Defaults to 256 KiB.
	MaxBytes int64
	// AllowedInternal lists ranges treated as public, for tests only (e.g.
	// 127.0.0.1/32 for httptest servers). Plain http is accepted for these
	// addresses and no others. Never set it in production.
	AllowedInternal []netip.Prefix
	// Resolver resolves host names. Defaults to net.DefaultResolver.
	Resolver Resolver
	// RootCAs verifies servers' certificates. Defaults to the system roots;
	// tests pass an httptest TLS server's.
	RootCAs *x509.CertPool
}

// Client fetches tenant-supplied URLs (Config). It is safe for concurrent
// use. Connections are not reused: every fetch resolves and checks anew.
type Client struct {
	cfg Config
	hc  *http.Client
	// dialTCP connects to an address that passed the check; tests replace
	// it to prove a refused address is never dialled.
	dialTCP func(ctx context.Context, addr netip.AddrPort, plain bool) (net.Conn, error)
}

// New returns a Client; it does no I/O.
func New(cfg Config) *Client {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	allowed := make([]netip.Prefix, 0, len(cfg.AllowedInternal))
	for _, p := range cfg.AllowedInternal {
		if p.IsValid() {
			allowed = append(allowed, p.Masked())
		}
	}
	cfg.AllowedInternal = allowed
	c := &Client{cfg: cfg}
	c.dialTCP = c.dialChecked
	c.hc = &http.Client{
		Transport: &http.Transport{
			Proxy:                  nil, // a proxy would connect for us, past the address check
			DialContext:            c.dialPlain,
			DialTLSContext:         c.dialTLS,
			DisableKeepAlives:      true,
			DisableCompression:     true,
			MaxResponseHeaderBytes: maxHeaderBytes,
		},
		CheckRedirect: c.checkRedirect,
	}
	return c
}

// Get fetches rawURL and returns its body: a JSON document of at most
// Config.MaxBytes, answered with 200 within Config.Timeout, from public
// addresses only, over https. A refused or failed fetch is an *Error.
func (c *Client) Get(ctx context.Context, rawURL string) ([]byte, error) {
	u, err := c.checkURL(rawURL)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, &Error{Kind: ErrInvalidURL, URL: rawURL, Reason: "not a valid URL", Err: err}
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	req.Header.Set("User-Agent", "Gatehouse")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.fetchError(ctx, rawURL, req.URL.String(), err)
	}
	defer resp.Body.Close()
	// fail names the configured URL, and where a redirect led if it did.
	fail := func(kind error, reason string, err error) error {
		if final := resp.Request.URL.String(); final != req.URL.String() {
			reason = "redirected to " + final + ": " + reason
		}
		return &Error{Kind: kind, URL: rawURL, Reason: reason, Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fail(ErrStatus, fmt.Sprintf("answered HTTP %d %s; want 200", resp.StatusCode, http.StatusText(resp.StatusCode)), nil)
	}
	if ct := resp.Header.Get("Content-Type"); !isJSON(ct) {
		return nil, fail(ErrContentType, fmt.Sprintf("answered with content type %q; want application/json", ct), nil)
	}
	tooLarge := fmt.Sprintf("response is larger than %d bytes", c.cfg.MaxBytes)
	if resp.ContentLength > c.cfg.MaxBytes {
		return nil, fail(ErrTooLarge, tooLarge, nil)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxBytes+1))
	if err != nil {
		return nil, c.fetchError(ctx, rawURL, req.URL.String(), err)
	}
	if int64(len(body)) > c.cfg.MaxBytes {
		return nil, fail(ErrTooLarge, tooLarge, nil)
	}
	return body, nil
}

// CheckURL does the checks Get does before any I/O (scheme, credentials,
// host syntax, an IP-literal host's address), so configuration can be
// refused when it is saved. Get repeats them and checks every address a
// host name resolves to.
func (c *Client) CheckURL(rawURL string) error {
	_, err := c.checkURL(rawURL)
	return err
}

func (c *Client) checkURL(rawURL string) (*url.URL, error) {
	bad := func(kind error, reason string, err error) (*url.URL, error) {
		return nil, &Error{Kind: kind, URL: rawURL, Reason: reason, Err: err}
	}
	if len(rawURL) > maxURLLength {
		rawURL = strings.ToValidUTF8(rawURL[:64], "") + "…"
		return bad(ErrInvalidURL, fmt.Sprintf("URL is longer than %d bytes", maxURLLength), nil)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return bad(ErrInvalidURL, "not a valid URL", errors.Unwrap(err))
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && len(c.cfg.AllowedInternal) > 0:
		// Tests only; the dialer accepts nothing but AllowedInternal.
	case u.Scheme == "":
		return bad(ErrInvalidURL, "not an absolute URL; want https://host/path", nil)
	default:
		return bad(ErrForbiddenScheme, fmt.Sprintf("scheme %q is not allowed; use https", u.Scheme), nil)
	}
	if u.Opaque != "" || u.Host == "" {
		return bad(ErrInvalidURL, "URL has no host; want https://host/path", nil)
	}
	if u.User != nil {
		rawURL = u.Redacted() // the password stays out of messages and logs
		return bad(ErrInvalidURL, "URL must not contain a user name or password", nil)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return bad(ErrInvalidURL, fmt.Sprintf("port %q is not valid", p), nil)
		}
	}
	host := u.Hostname()
	if a, err := netip.ParseAddr(host); err == nil {
		if err := c.checkAddr(host, a, u.Scheme == "http"); err != nil {
			err.URL = rawURL
			return nil, err
		}
	} else if !validHostName(host) {
		return bad(ErrInvalidURL, fmt.Sprintf("%q is not a valid host name", host), nil)
	}
	u.Fragment, u.RawFragment = "", ""
	return u, nil
}

// validHostName accepts DNS names (RFC 1123 §2.1: letters, digits,
// hyphens, underscores seen in practice), punycode for IDNs, and refuses
// a numeric last label, which some resolvers read as an IPv4 address in
// another notation (2130706433, 0x7f.1, 127.1).
func validHostName(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	last := strings.ToLower(labels[len(labels)-1])
	if strings.HasPrefix(last, "0x") {
		return false
	}
	return strings.ContainsFunc(last, func(r rune) bool { return r < '0' || r > '9' })
}

// allowed reports whether a is in Config.AllowedInternal.
func (c *Client) allowed(a netip.Addr) bool {
	a = a.WithZone("")
	return slices.ContainsFunc(c.cfg.AllowedInternal, func(p netip.Prefix) bool {
		return p.Contains(a) || p.Contains(a.Unmap())
	})
}

// checkAddr decides whether a connection to a, which host names or
// resolved to, may be made; plain is an http (not https) connection.
func (c *Client) checkAddr(host string, a netip.Addr, plain bool) *Error {
	if c.allowed(a) {
		return nil
	}
	if class, public := classify(a); !public {
		what := fmt.Sprintf("host %q resolves to %s", host, class)
		if h, err := netip.ParseAddr(host); err == nil && h == a {
			what = fmt.Sprintf("%s is %s", host, class)
		}
		return &Error{Kind: ErrForbiddenAddress, Addr: a, Reason: what + "; only public internet addresses may be fetched"}
	}
	if plain {
		return &Error{Kind: ErrForbiddenScheme, Reason: "scheme \"http\" is not allowed; use https"}
	}
	return nil
}

// checkRedirect re-checks every redirect target like the first URL; the
// dialer checks its addresses. Errors name the target; fetchError adds
// the configured URL.
func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > MaxRedirects {
		return &Error{Kind: ErrTooManyRedirects, Reason: fmt.Sprintf("more than %d redirects", MaxRedirects)}
	}
	if _, err := c.checkURL(req.URL.String()); err != nil {
		var fe *Error
		if errors.As(err, &fe) {
			fe.URL = "" // the target; fetchError names it
		}
		return err
	}
	return nil
}

// dialPlain is the Transport's dialer for http, which only
// AllowedInternal addresses may use; dialTLS is the one for https.
func (c *Client) dialPlain(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, _, err := c.dial(ctx, network, addr, true)
	return conn, err
}

func (c *Client) dialTLS(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, host, err := c.dial(ctx, network, addr, false)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(conn, &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12, RootCAs: c.cfg.RootCAs})
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &Error{Kind: ErrConnect, Reason: fmt.Sprintf("TLS handshake with %q failed", host), Err: err}
	}
	return tc, nil
}

// dial resolves addr's host, checks every address it resolves to (so a
// name that also resolves to an internal address is refused whole), and
// connects to the first that answers. The check happens here, on the
// addresses actually connected to, so a DNS answer that changes between
// a check and a connection (rebinding) cannot get past it.
func (c *Client) dial(ctx context.Context, network, addr string, plain bool) (net.Conn, string, error) {
	if network != "tcp" && network != "tcp4" && network != "tcp6" {
		return nil, "", &Error{Kind: ErrConnect, Reason: "network " + network + " is not allowed"}
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, "", &Error{Kind: ErrInvalidURL, Reason: "not a valid host and port", Err: err}
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return nil, "", &Error{Kind: ErrInvalidURL, Reason: fmt.Sprintf("port %q is not valid", portStr)}
	}
	addrs, err := c.resolve(ctx, host)
	if err != nil {
		return nil, "", err
	}
	for _, a := range addrs {
		if err := c.checkAddr(host, a, plain); err != nil {
			return nil, "", err
		}
	}
	var errs []error
	for _, a := range addrs {
		conn, err := c.dialTCP(ctx, netip.AddrPortFrom(a.WithZone("").Unmap(), uint16(port)), plain)
		if err == nil {
			return conn, host, nil
		}
		var fe *Error
		if errors.As(err, &fe) || ctx.Err() != nil {
			return nil, "", err
		}
		errs = append(errs, err)
	}
	return nil, "", &Error{Kind: ErrConnect, Reason: fmt.Sprintf("could not connect to %q", host), Err: errors.Join(errs...)}
}

func (c *Client) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	if !validHostName(host) {
		return nil, &Error{Kind: ErrInvalidURL, Reason: fmt.Sprintf("%q is not a valid host name", host)}
	}
	addrs, err := c.cfg.Resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &Error{Kind: ErrResolve, Reason: fmt.Sprintf("host %q could not be resolved", host), Err: err}
	}
	if len(addrs) == 0 {
		return nil, &Error{Kind: ErrResolve, Reason: fmt.Sprintf("host %q has no addresses", host)}
	}
	if len(addrs) > maxAddrs {
		addrs = addrs[:maxAddrs]
	}
	return addrs, nil
}

// dialChecked connects to an address that passed checkAddr. Control
// checks it once more on the socket about to connect, so nothing between
// the check and the connect can swap the address.
func (c *Client) dialChecked(ctx context.Context, ap netip.AddrPort, plain bool) (net.Conn, error) {
	d := net.Dialer{Control: func(network, address string, _ syscall.RawConn) error {
		return c.control(network, address, plain)
	}}
	return d.DialContext(ctx, "tcp", ap.String())
}

func (c *Client) control(network, address string, plain bool) error {
	if network != "tcp4" && network != "tcp6" {
		return &Error{Kind: ErrConnect, Reason: "network " + network + " is not allowed"}
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &Error{Kind: ErrForbiddenAddress, Reason: "connection to an unparsable address refused", Err: err}
	}
	if err := c.checkAddr(ap.Addr().String(), ap.Addr(), plain); err != nil {
		return err
	}
	return nil
}

// fetchError turns a failed request or body read into an *Error naming
// the configured URL, rawURL, and the redirect target that failed if it
// is not the first URL (first, as sent).
func (c *Client) fetchError(ctx context.Context, rawURL, first string, err error) error {
	failing := first
	var ue *url.Error
	if errors.As(err, &ue) && ue.URL != "" {
		failing = ue.URL
	}
	prefix := ""
	if failing != first {
		prefix = "redirected to " + failing + ": "
	}
	var fe *Error
	switch {
	case errors.As(err, &fe):
		if fe.URL == "" {
			fe.URL = rawURL
			if fe.Kind != ErrTooManyRedirects {
				fe.Reason = prefix + fe.Reason
			}
		}
		return fe
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return &Error{Kind: ErrTimeout, URL: rawURL, Reason: fmt.Sprintf("%sno complete answer within %s", prefix, c.cfg.Timeout)}
	case ctx.Err() != nil:
		return fmt.Errorf("fetch %s: %w", rawURL, ctx.Err())
	}
	if ue != nil {
		err = ue.Err
	}
	return &Error{Kind: ErrConnect, URL: rawURL, Reason: prefix + "request failed", Err: err}
}

// isJSON accepts application/json and any application/*+json
// (application/jwk-set+json, RFC 7517 §8.5.1).
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
}
