package provider

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/application"
	"github.com/gatehouse-id/gatehouse/internal/safehttp"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
)

// The tests here serve clients' jwks_uri from httptest servers on
// 127.0.0.1, which the provider's safehttp client is told to treat as
// public (AllowedInternal). Refusals are shown with addresses that are
// refused before any connection; nothing is ever sent off loopback.

var loopbackAllowed = safehttp.Config{AllowedInternal: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}

// forEachJWKSEnv runs f once per backend with a provider whose HTTP
// client is built from hc and whose log f can read.
func forEachJWKSEnv(t *testing.T, hc safehttp.Config, f func(t *testing.T, e *env, logs *testkit.LogBuffer)) {
	testdb.Each(t, func(t *testing.T, d testdb.Database) {
		logs := &testkit.LogBuffer{}
		e := newEnv(t, d, func(c *Config) {
			c.HTTPClient = safehttp.New(hc)
			c.Logger = slog.New(slog.NewTextHandler(logs, nil))
		})
		f(t, e, logs)
	})
}

// jwksServer is a client's jwks_uri: it serves what the test last set
// and counts fetches.
type jwksServer struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	body   []byte
	hits   atomic.Int32
}

func newJWKSServer(t *testing.T, keys ...clientKey) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.serve(t, keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		status, body := s.status, s.body
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

// serve publishes keys' public halves.
func (s *jwksServer) serve(t *testing.T, keys ...clientKey) {
	t.Helper()
	set := jose.JSONWebKeySet{}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.publicJWK())
	}
	b, err := json.Marshal(set)
	must(t, err)
	s.serveRaw(http.StatusOK, b)
}

func (s *jwksServer) serveRaw(status int, body []byte) {
	s.mu.Lock()
	s.status, s.body = status, body
	s.mu.Unlock()
}

// uriApp registers a MACHINE application that authenticates with
// private_key_jwt and publishes its keys at uri; inline keys are
// registered too when given.
func (e *env) uriApp(name, uri string, inline ...clientKey) *ent.Application {
	e.t.Helper()
	c := e.db.Application.Create().SetName(name).SetType(application.TypeMACHINE).SetClientID(name).
		SetTokenEndpointAuthMethod(application.TokenEndpointAuthMethodPRIVATE_KEY_JWT).SetJwksURI(uri).
		SetGrantTypes([]string{"CLIENT_CREDENTIALS"}).SetScopes([]string{"read"})
	if len(inline) > 0 {
		set := jose.JSONWebKeySet{}
		for _, k := range inline {
			set.Keys = append(set.Keys, k.publicJWK())
		}
		raw, _ := json.Marshal(set)
		var jwks map[string]any
		must(e.t, json.Unmarshal(raw, &jwks))
		c.SetJwks(jwks)
	}
	a, err := c.Save(e.ctx)
	must(e.t, err)
	return a
}

// clientCredentials asks for a token with a fresh assertion by k and
// returns the status and the OAuth error code, if any.
func (e *env) clientCredentials(t *testing.T, clientID string, k clientKey) (int, string) {
	t.Helper()
	resp := postForm(t, e.issuer+pathToken, url.Values{"grant_type": {"client_credentials"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {k.assertion(t, clientID, e.issuer+pathToken, e.clock.Now(), nil)}}, "", "")
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return resp.StatusCode, ""
	}
	return resp.StatusCode, oauthError(t, resp)
}

func (e *env) wantToken(t *testing.T, what, clientID string, k clientKey) {
	t.Helper()
	if status, code := e.clientCredentials(t, clientID, k); status != http.StatusOK {
		t.Fatalf("%s: status %d %s, want a token", what, status, code)
	}
}

func (e *env) wantInvalidClient(t *testing.T, what, clientID string, k clientKey) {
	t.Helper()
	if status, code := e.clientCredentials(t, clientID, k); status != http.StatusUnauthorized || code != "invalid_client" {
		t.Fatalf("%s: status %d %q, want 401 invalid_client", what, status, code)
	}
}

func wantHits(t *testing.T, s *jwksServer, want int32, when string) {
	t.Helper()
	if got := s.hits.Load(); got != want {
		t.Fatalf("%s: jwks_uri fetched %d times, want %d", when, got, want)
	}
}

// TestPrivateKeyJWTFromJWKSURI (REL-04): a client whose keys are at its
// jwks_uri authenticates; the set is cached; after the client rotates its
// key, an assertion with the new kid is accepted once a refetch is
// allowed (at most one a minute), and the retired key is refused.
func TestPrivateKeyJWTFromJWKSURI(t *testing.T) {
	forEachJWKSEnv(t, loopbackAllowed, func(t *testing.T, e *env, logs *testkit.LogBuffer) {
		k1, k2 := newClientKey(t, jose.ES256), newClientKey(t, jose.RS256)
		srv := newJWKSServer(t, k1)
		e.uriApp("svc-uri", srv.URL+"/.well-known/jwks.json")

		e.wantToken(t, "first assertion", "svc-uri", k1)
		wantHits(t, srv, 1, "first assertion")
		e.wantToken(t, "second assertion", "svc-uri", k1)
		wantHits(t, srv, 1, "second assertion (cached)")

		// The client rotates: its jwks_uri now serves only the new key.
		srv.serve(t, k2)
		e.wantInvalidClient(t, "new kid within a minute of the last fetch", "svc-uri", k2)
		wantHits(t, srv, 1, "new kid within a minute")
		e.clock.Advance(jwksRefetchInterval)
		e.wantToken(t, "new kid after a minute", "svc-uri", k2)
		wantHits(t, srv, 2, "new kid after a minute")
		e.wantToken(t, "new kid again", "svc-uri", k2)
		e.wantInvalidClient(t, "retired key", "svc-uri", k1)
		wantHits(t, srv, 2, "retired key (refetch rate-limited)")

		// Rotation to a key without a kid: it is the only key, so an
		// assertion naming no kid finds it.
		noKid := newClientKey(t, jose.EdDSA)
		noKid.kid = ""
		srv.serve(t, noKid)
		e.clock.Advance(jwksRefetchInterval)
		e.wantToken(t, "key without kid", "svc-uri", noKid)
		wantHits(t, srv, 3, "key without kid")

		// The TTL (5m by default) bounds the cache even for a known kid.
		e.clock.Advance(5 * time.Minute)
		e.wantToken(t, "after the TTL", "svc-uri", noKid)
		wantHits(t, srv, 4, "after the TTL")

		// A failing jwks_uri past the TTL: the last set is used for up to
		// an hour more, and the failure logged.
		srv.serveRaw(http.StatusServiceUnavailable, []byte(`{}`))
		e.clock.Advance(5 * time.Minute)
		e.wantToken(t, "stale set while jwks_uri fails", "svc-uri", noKid)
		wantHits(t, srv, 5, "stale set")
		if l := logs.String(); !strings.Contains(l, "fetch client jwks_uri failed") || !strings.Contains(l, "HTTP 503") {
			t.Errorf("failed fetch not logged:\n%s", l)
		}
		e.clock.Advance(jwksMaxStale)
		e.wantInvalidClient(t, "set too stale", "svc-uri", noKid)
	})
}

// TestJWKSURIKidReused (REL-04): a client that replaces its key but keeps
// the kid is accepted after a refetch; assertions by a key the client
// never published cause no more than one fetch a minute.
func TestJWKSURIKidReused(t *testing.T) {
	forEachJWKSEnv(t, loopbackAllowed, func(t *testing.T, e *env, _ *testkit.LogBuffer) {
		old, replacement, forged := newClientKey(t, jose.ES256), newClientKey(t, jose.ES256), newClientKey(t, jose.ES256)
		old.kid, replacement.kid, forged.kid = "stable", "stable", "stable"
		srv := newJWKSServer(t, old)
		e.uriApp("svc-uri", srv.URL)
		e.wantToken(t, "old key", "svc-uri", old)
		srv.serve(t, replacement)
		e.clock.Advance(jwksRefetchInterval)
		e.wantToken(t, "replacement key with the same kid", "svc-uri", replacement)
		wantHits(t, srv, 2, "replacement")
		for range 5 {
			e.wantInvalidClient(t, "forged assertion", "svc-uri", forged)
		}
		e.wantInvalidClient(t, "replaced key", "svc-uri", old)
		wantHits(t, srv, 2, "forged assertions within the minute")
		e.clock.Advance(jwksRefetchInterval)
		e.wantInvalidClient(t, "forged assertion a minute later", "svc-uri", forged)
		e.wantInvalidClient(t, "forged assertion again", "svc-uri", forged)
		wantHits(t, srv, 3, "forged assertions a minute later")
	})
}

// TestJWKSURIConcurrentRotation: many assertions with a new kid at once
// cause one fetch, not one each.
func TestJWKSURIConcurrentRotation(t *testing.T) {
	forEachJWKSEnv(t, loopbackAllowed, func(t *testing.T, e *env, _ *testkit.LogBuffer) {
		k1, k2 := newClientKey(t, jose.ES256), newClientKey(t, jose.ES256)
		srv := newJWKSServer(t, k1)
		e.uriApp("svc-uri", srv.URL)
		e.wantToken(t, "first", "svc-uri", k1)
		srv.serve(t, k1, k2)
		e.clock.Advance(jwksRefetchInterval)
		// Assertions are built here: t.Fatal must not run in the goroutines.
		forms := make([]url.Values, 8)
		for i := range forms {
			forms[i] = url.Values{"grant_type": {"client_credentials"},
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
				"client_assertion":      {k2.assertion(t, "svc-uri", e.issuer+pathToken, e.clock.Now(), nil)}}
		}
		var wg sync.WaitGroup
		var ok atomic.Int32
		for _, form := range forms {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := http.PostForm(e.issuer+pathToken, form)
				if err != nil {
					return
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					ok.Add(1)
				}
			}()
		}
		wg.Wait()
		if ok.Load() != 8 {
			t.Errorf("%d of 8 assertions with the new kid succeeded", ok.Load())
		}
		wantHits(t, srv, 2, "8 concurrent assertions with a new kid")
	})
}

// stubResolver resolves names from a map, never through DNS.
type stubResolver map[string]string

func (r stubResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return []netip.Addr{netip.MustParseAddr(a)}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// TestJWKSURIRefusedAddress (MT-10): with the production safehttp
// settings a jwks_uri on loopback, on the metadata address, or on a name
// resolving to loopback is never fetched; the client gets invalid_client
// and the log says why.
func TestJWKSURIRefusedAddress(t *testing.T) {
	k := newClientKey(t, jose.ES256)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("refused jwks_uri was fetched: %s", r.URL)
	}))
	t.Cleanup(srv.Close)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	prod := safehttp.Config{Resolver: stubResolver{"jwks.tenant-b.test": "127.0.0.1"}}
	forEachJWKSEnv(t, prod, func(t *testing.T, e *env, logs *testkit.LogBuffer) {
		for name, c := range map[string]struct{ uri, reason string }{
			"svc-loopback": {srv.URL + "/jwks", "127.0.0.1 is a loopback address"},
			"svc-metadata": {"https://169.254.169.254/latest/meta-data/jwks", "169.254.169.254 is a link-local address"},
			"svc-resolved": {fmt.Sprintf("https://jwks.tenant-b.test:%d/jwks", port), `jwks.tenant-b.test\" resolves to a loopback address`},
			"svc-http":     {"http://jwks.tenant-a.test/jwks", `http\" is not allowed; use https`},
		} {
			e.uriApp(name, c.uri)
			e.wantInvalidClient(t, name, name, k)
			l := logs.String()
			if !strings.Contains(l, "fetch client jwks_uri failed") || !strings.Contains(l, c.reason) ||
				!strings.Contains(l, "client authentication failed") {
				t.Errorf("%s: log does not say %q:\n%s", name, c.reason, l)
			}
			// A second attempt within the minute fails the same way
			// without fetching again, and logs the reason again.
			before := strings.Count(logs.String(), c.reason)
			e.wantInvalidClient(t, name+" again", name, k)
			if after := strings.Count(logs.String(), c.reason); after <= before {
				t.Errorf("%s: second failure does not log the reason", name)
			}
		}
		if !strings.Contains(logs.String(), "refused_addr=127.0.0.1") {
			t.Errorf("refused address not logged for the operator:\n%s", logs)
		}
	})
}

// TestJWKSURIOversize: a jwks_uri answering more than 256 KiB is refused.
func TestJWKSURIOversize(t *testing.T) {
	forEachJWKSEnv(t, loopbackAllowed, func(t *testing.T, e *env, logs *testkit.LogBuffer) {
		k := newClientKey(t, jose.ES256)
		srv := newJWKSServer(t, k)
		set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{k.publicJWK()}})
		padded := append(set[:len(set)-1:len(set)-1], []byte(`,"padding":"`+strings.Repeat("x", safehttp.DefaultMaxBytes)+`"}`)...)
		srv.serveRaw(http.StatusOK, padded)
		e.uriApp("svc-big", srv.URL)
		e.wantInvalidClient(t, "oversize JWKS", "svc-big", k)
		if l := logs.String(); !strings.Contains(l, "response is larger than 262144 bytes") {
			t.Errorf("oversize not logged:\n%s", l)
		}
		// Once it shrinks, the next allowed fetch succeeds.
		srv.serve(t, k)
		e.clock.Advance(jwksRefetchInterval)
		e.wantToken(t, "after the set shrank", "svc-big", k)
	})
}

// TestInlineJWKSWinsOverURI: an application with both jwks and jwks_uri
// uses the inline set and never fetches.
func TestInlineJWKSWinsOverURI(t *testing.T) {
	forEachJWKSEnv(t, loopbackAllowed, func(t *testing.T, e *env, _ *testkit.LogBuffer) {
		inline, remote := newClientKey(t, jose.ES256), newClientKey(t, jose.ES256)
		srv := newJWKSServer(t, remote)
		e.uriApp("svc-both", srv.URL, inline)
		e.wantToken(t, "inline key", "svc-both", inline)
		e.wantInvalidClient(t, "key only at jwks_uri", "svc-both", remote)
		wantHits(t, srv, 0, "inline jwks registered")
	})
}

// TestJWKSURIChangeRefetches: a changed jwks_uri is a new cache entry.
func TestJWKSURIChangeRefetches(t *testing.T) {
	forEachJWKSEnv(t, loopbackAllowed, func(t *testing.T, e *env, _ *testkit.LogBuffer) {
		k1, k2 := newClientKey(t, jose.ES256), newClientKey(t, jose.ES256)
		a, b := newJWKSServer(t, k1), newJWKSServer(t, k2)
		app := e.uriApp("svc-uri", a.URL)
		e.wantToken(t, "first URI", "svc-uri", k1)
		must(t, e.db.Application.UpdateOne(app).SetJwksURI(b.URL).Exec(e.ctx))
		e.clock.Advance(e.p.cfg.ClientCacheTTL) // the cached application expires
		e.wantToken(t, "second URI at once", "svc-uri", k2)
		e.wantInvalidClient(t, "first URI's key", "svc-uri", k1)
		wantHits(t, a, 1, "first URI")
		wantHits(t, b, 1, "second URI")
	})
}

// TestParseClientJWKS: only public signing keys are taken from a
// published set; private key material refuses the whole set.
func TestParseClientJWKS(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	big, _ := rsa.GenerateKey(rand.Reader, 2048)
	jwk := func(key any, kid, use string) string {
		b, err := json.Marshal(jose.JSONWebKey{Key: key, KeyID: kid, Use: use})
		must(t, err)
		return string(b)
	}
	withMember := func(j, member string) string { return strings.TrimSuffix(j, "}") + "," + member + "}" }
	good := jwk(ec.Public(), "good", "sig")
	for name, c := range map[string]struct {
		doc     string
		kids    []string
		errPart string
	}{
		"one key":            {doc: `{"keys":[` + good + `]}`, kids: []string{"good"}},
		"unknown kty":        {doc: `{"keys":[{"kty":"AKP-X","kid":"pq"},` + good + `]}`, kids: []string{"good"}},
		"malformed key":      {doc: `{"keys":[{"kty":"EC","kid":"bad","crv":"P-256","x":"AA","y":"AA"},` + good + `]}`, kids: []string{"good"}},
		"encryption key":     {doc: `{"keys":[` + jwk(big.Public(), "enc", "enc") + `,` + good + `]}`, kids: []string{"good"}},
		"key_ops w/o verify": {doc: `{"keys":[` + withMember(jwk(big.Public(), "ops", ""), `"key_ops":["encrypt"]`) + `,` + good + `]}`, kids: []string{"good"}},
		"key_ops verify":     {doc: `{"keys":[` + withMember(jwk(big.Public(), "ops", ""), `"key_ops":["verify"]`) + `]}`, kids: []string{"ops"}},
		"RSA 1024":           {doc: `{"keys":[` + jwk(small.Public(), "small", "sig") + `,` + good + `]}`, kids: []string{"good"}},
		"RSA 2048":           {doc: `{"keys":[` + jwk(big.Public(), "rsa", "sig") + `]}`, kids: []string{"rsa"}},
		"private EC key":     {doc: `{"keys":[` + jwk(ec, "leaked", "sig") + `,` + good + `]}`, errPart: `kid "leaked") publishes private`},
		"private RSA key":    {doc: `{"keys":[` + jwk(big, "leaked", "sig") + `]}`, errPart: "private or symmetric"},
		"symmetric key":      {doc: `{"keys":[{"kty":"oct","kid":"hmac","k":"c2VjcmV0"},` + good + `]}`, errPart: "private or symmetric"},
		"no usable keys":     {doc: `{"keys":[{"kty":"AKP-X"}]}`, errPart: "no usable public signing key"},
		"empty":              {doc: `{"keys":[]}`, errPart: "no usable"},
		"not a set":          {doc: `[1,2]`, errPart: "not a JWK Set"},
		"too many keys":      {doc: `{"keys":[` + strings.Repeat(good+",", jwksMaxKeys) + good + `]}`, errPart: "more than 64 keys"},
	} {
		set, err := parseClientJWKS([]byte(c.doc))
		if c.errPart != "" {
			if err == nil || !strings.Contains(err.Error(), c.errPart) {
				t.Errorf("%s: error %v, want one containing %q", name, err, c.errPart)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var kids []string
		for _, k := range set.Keys {
			kids = append(kids, k.KeyID)
		}
		if fmt.Sprint(kids) != fmt.Sprint(c.kids) {
			t.Errorf("%s: keys %v, want %v", name, kids, c.kids)
		}
	}
}
