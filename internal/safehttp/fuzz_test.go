package safehttp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"net/url"
	"testing"
	"time"
)

// FuzzGet drives the whole check path (URL parsing, host syntax,
// resolution, the address check, the plain-http rule) with arbitrary
// URLs and DNS answers. Nothing is ever dialled: the dial hook records the
// address and fails. Invariants: no panic; every refusal is an *Error; a
// dial happens only to an address that is public (https) or in
// AllowedInternal.
func FuzzGet(f *testing.F) {
	for _, s := range []struct {
		url  string
		addr []byte
	}{
		{"https://jwks.tenant-a.test/keys", []byte{93, 184, 216, 34}},
		{"https://jwks.tenant-a.test/keys", []byte{10, 0, 0, 1}},
		{"https://jwks.tenant-a.test/keys", []byte{169, 254, 169, 254}},
		{"https://jwks.tenant-a.test/keys", netip.MustParseAddr("::ffff:127.0.0.1").AsSlice()},
		{"https://jwks.tenant-a.test/keys", netip.MustParseAddr("64:ff9b::a9fe:a9fe").AsSlice()},
		{"https://jwks.tenant-a.test/keys", netip.MustParseAddr("2606:4700::1").AsSlice()},
		{"http://jwks.tenant-a.test:8080/keys", []byte{127, 0, 0, 1}},
		{"http://127.0.0.1:1/", nil},
		{"https://[::ffff:a9fe:a9fe]/", nil},
		{"https://[fe80::1%25eth0]:443/", nil},
		{"https://user:pw@jwks.tenant-a.test/", nil},
		{"https://0x7f.1/", nil},
		{"https://2130706433/", nil},
		{"file:///etc/passwd", nil},
		{"https://jwks.tenant-a.test:0/", nil},
		{"HTTPS://[2606:4700::1]:65535/k?x#y", nil},
		{"https:\\\\evil.test\\", nil},
		{"https://a.test\x00.evil/", nil},
	} {
		f.Add(s.url, s.addr)
	}
	f.Fuzz(func(t *testing.T, rawURL string, addr []byte) {
		a, ok := netip.AddrFromSlice(addr)
		if !ok {
			a = loopback
		}
		res := &stubResolver{calls: map[string]int{}, answers: map[string][][]netip.Addr{}}
		c := New(Config{AllowedInternal: loopbackOnly, Resolver: anyHost{res, a}})
		dialled := false
		c.dialTCP = func(_ context.Context, ap netip.AddrPort, plain bool) (net.Conn, error) {
			dialled = true
			_, public := classify(ap.Addr())
			switch {
			case c.allowed(ap.Addr()):
			case plain:
				t.Fatalf("%q: plain http dial to %s", rawURL, ap)
			case !public:
				t.Fatalf("%q: dial to non-public %s", rawURL, ap)
			}
			return nil, errors.New("no network while fuzzing")
		}
		start := time.Now()
		_, err := c.Get(context.Background(), rawURL)
		if d := time.Since(start); d > time.Second {
			t.Fatalf("%q took %s", rawURL, d)
		}
		var fe *Error
		if err == nil || !errors.As(err, &fe) {
			t.Fatalf("%q: error %v is not an *Error", rawURL, err)
		}
		if errors.Is(err, ErrForbiddenAddress) && !fe.Addr.IsValid() {
			t.Fatalf("%q: ErrForbiddenAddress without Addr", rawURL)
		}
		if err := c.CheckURL(rawURL); err == nil {
			u, perr := url.Parse(rawURL)
			if perr != nil || u.User != nil || u.Hostname() == "" || (u.Scheme != "https" && u.Scheme != "http") {
				t.Fatalf("%q accepted: %+v %v", rawURL, u, perr)
			}
		} else if dialled {
			t.Fatalf("%q: dialled although CheckURL refuses it: %v", rawURL, err)
		}
	})
}

// anyHost resolves every name to one address.
type anyHost struct {
	*stubResolver
	a netip.Addr
}

func (r anyHost) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return []netip.Addr{r.a}, nil
}
