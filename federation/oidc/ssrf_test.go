package oidc

import (
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-id/gatehouse/federation"
	"github.com/gatehouse-id/gatehouse/internal/safehttp"
)

// TestSSRFSafeClient (SECURITY-CHECKLIST MT-10): the issuer and every
// endpoint its discovery document names are URLs a tenant controls, so
// every call goes through Config.HTTPClient, which outside development is
// internal/safehttp's.
func TestSSRFSafeClient(t *testing.T) {
	o := newTestOP(t, callbackFor(testConnection))

	// Production settings: the loopback provider is refused before any
	// request.
	_, err := New(t.Context(), Config{
		ConnectionID: testConnection, Issuer: o.Issuer, ClientID: o.ClientID, RedirectURL: o.Redirect,
		HTTPClient: safehttp.New(safehttp.Config{}).HTTPClient(),
	})
	wantCode(t, err, CodeDiscoveryFailed)
	if !errors.Is(err, safehttp.ErrForbiddenScheme) && !errors.Is(err, safehttp.ErrForbiddenAddress) {
		t.Errorf("refusal %v does not come from safehttp", err)
	}

	// With the OP's own address marked internal-but-allowed (tests only),
	// the whole sign-in runs through the safe client.
	safe := safehttp.New(safehttp.Config{AllowedInternal: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	r := rigFor(t, o, func(c *Config) { c.HTTPClient = safe.HTTPClient() })
	if _, err := r.flow(t, nil); err != nil {
		t.Fatalf("sign-in through safehttp: %v", err)
	}

	// A discovery document that points an endpoint at another internal
	// address (127.0.0.2: loopback, outside the allowed range, never
	// dialled) fails the step that would call it.
	elsewhere := func(u string) string {
		p, _ := url.Parse(u)
		p.Host = "127.0.0.2:" + p.Port()
		return p.String()
	}
	for _, tc := range []struct{ field, code string }{
		{"token_endpoint", CodeExchangeFailed},
		{"jwks_uri", CodeTokenInvalid},
		{"userinfo_endpoint", CodeUserinfoFailed},
	} {
		t.Run(tc.field, func(t *testing.T) {
			o.set(func(o *testOP) {
				o.discovery = func(doc map[string]any) { doc[tc.field] = elsewhere(doc[tc.field].(string)) }
			})
			defer o.reset()
			r := rigFor(t, o, func(c *Config) { c.HTTPClient = safe.HTTPClient() })
			_, err := r.flow(t, nil)
			wantCode(t, err, tc.code)
			if !errors.Is(err, safehttp.ErrForbiddenAddress) {
				t.Errorf("refusal %v is not safehttp's forbidden address", err)
			}
		})
	}
}

// recorder is a transport that notes every request it carries.
type recorder struct {
	mu   sync.Mutex
	seen []string
}

func (rec *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	rec.mu.Lock()
	rec.seen = append(rec.seen, req.Method+" "+req.URL.Path)
	rec.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

// TestEveryCallThroughConfigClient: discovery, JWKS, token and userinfo
// all go through Config.HTTPClient (no library falls back to its own).
func TestEveryCallThroughConfigClient(t *testing.T) {
	rec := &recorder{}
	r := newRig(t, func(c *Config) { c.HTTPClient = &http.Client{Transport: rec} })
	step := r.begin(t, federation.BeginRequest{})
	if _, err := r.conn.Finish(t.Context(), callbackRequest(r.login(t, step)), step.State); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"GET /.well-known/openid-configuration",
		"POST " + r.op.provider.TokenEndpoint().Relative(),
		"GET " + r.op.provider.KeysEndpoint().Relative(),
		"GET " + r.op.provider.UserinfoEndpoint().Relative(),
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, w := range want {
		if !slices.Contains(rec.seen, w) {
			t.Errorf("%s did not go through Config.HTTPClient (saw %s)", w, strings.Join(rec.seen, ", "))
		}
	}
}
