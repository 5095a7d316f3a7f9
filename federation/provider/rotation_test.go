package provider

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse-id/gatehouse/internal/seal"
)

// node starts a second Provider on e's database and clock, configured
// like e's: another Gatehouse node serving the same issuer.
func (e *env) node() (*Provider, string) {
	e.t.Helper()
	return e.nodeWithDialect(e.p.cfg.Dialect)
}

// nodeWithDialect is node with Config.Dialect set to d ("" takes the
// two-statement refresh path on any database).
func (e *env) nodeWithDialect(d string) (*Provider, string) {
	e.t.Helper()
	sealer, err := seal.New(make([]byte, 32))
	must(e.t, err)
	p, url, err := e.nodeWith(d, sealer)
	must(e.t, err)
	return p, url
}

// nodeWith starts a node whose master key ring is sealer.
func (e *env) nodeWith(d string, sealer *seal.Sealer) (*Provider, string, error) {
	e.t.Helper()
	p, err := New(e.ctx, Config{
		Issuer: e.issuer, Client: e.db, Dialect: d, Sealer: sealer, CryptoKey: sha256.Sum256([]byte("test")),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: e.clock.Now, AllowHTTPIssuer: true,
	})
	if err != nil {
		return nil, "", err
	}
	srv := httptest.NewServer(p.Handler())
	e.t.Cleanup(srv.Close)
	return p, srv.URL, nil
}

// strictRP is a relying party that caches JWKS for exactly the max-age it
// was served with, on its own clock, and never refetches on an unknown kid.
type strictRP struct {
	t       *testing.T
	jwksURL string
	now     func() time.Time
	mu      sync.RWMutex
	keys    map[string]jose.JSONWebKey
	fetched time.Time
	maxAge  time.Duration
	fetches int
}

func (rp *strictRP) refreshIfDue() {
	rp.mu.RLock()
	due := rp.keys == nil || !rp.now().Before(rp.fetched.Add(rp.maxAge))
	rp.mu.RUnlock()
	if !due {
		return
	}
	resp, err := http.Get(rp.jwksURL)
	must(rp.t, err)
	defer resp.Body.Close()
	cc := resp.Header.Get("Cache-Control")
	age, ok := strings.CutPrefix(cc, "public, max-age=")
	secs, err := strconv.Atoi(age)
	if !ok || err != nil || secs <= 0 {
		rp.t.Errorf("JWKS Cache-Control %q, want public, max-age=N", cc)
		return
	}
	var set jose.JSONWebKeySet
	must(rp.t, json.NewDecoder(resp.Body).Decode(&set))
	keys := map[string]jose.JSONWebKey{}
	for _, k := range set.Keys {
		keys[k.KeyID] = k
	}
	rp.mu.Lock()
	rp.keys, rp.fetched, rp.maxAge = keys, rp.now(), time.Duration(secs)*time.Second
	rp.fetches++
	rp.mu.Unlock()
}

// verify checks the signature against the cached set only; it returns
// the kid that signed.
func (rp *strictRP) verify(token string) (string, error) {
	jws, err := jose.ParseSigned(token, algorithms)
	if err != nil {
		return "", err
	}
	kid := jws.Signatures[0].Protected.KeyID
	rp.mu.RLock()
	k, ok := rp.keys[kid]
	rp.mu.RUnlock()
	if !ok {
		return kid, fmt.Errorf("unknown kid %s", kid)
	}
	if k.Algorithm != jws.Signatures[0].Protected.Algorithm {
		return kid, fmt.Errorf("alg %s for a %s key", jws.Signatures[0].Protected.Algorithm, k.Algorithm)
	}
	payload, err := jws.Verify(k.Key)
	if err != nil {
		return kid, err
	}
	var c struct{ Exp int64 }
	if err := json.Unmarshal(payload, &c); err != nil || !rp.now().Before(time.Unix(c.Exp, 0).Add(clockSkew)) {
		return kid, fmt.Errorf("expired or malformed claims: %v", err)
	}
	return kid, nil
}

// TestKeyRotationUnderLoad (REL-03): two nodes issue client-credentials
// tokens in parallel while one of them rotates the keys and the clock runs
// past the new keys' activation; a strict relying party that caches the
// JWKS of the other node for its max-age verifies every one of them.
func TestKeyRotationUnderLoad(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		nodeB, urlB := e.node()
		rp := &strictRP{t: t, jwksURL: urlB + pathKeys, now: e.clock.Now}
		rp.refreshIfDue()
		oldKid := e.p.keys.activeID(jose.ES256) // the machine application signs with ES256

		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var (
			verified, failures atomic.Int64
			kidsMu             sync.Mutex
			kids               = map[string]int{}
			progress           = make(chan struct{}, 1)
			wg                 sync.WaitGroup
		)
		issuers := []string{e.issuer, urlB}
		for w := range 4 {
			wg.Go(func() {
				for i := 0; ctx.Err() == nil; i++ {
					resp := postForm(t, issuers[(w+i)%2]+pathToken, url.Values{"grant_type": {"client_credentials"}}, "machine", machineSecret)
					var body struct {
						AccessToken string `json:"access_token"`
					}
					err := json.NewDecoder(resp.Body).Decode(&body)
					resp.Body.Close()
					if err != nil || resp.StatusCode != 200 {
						failures.Add(1)
						t.Errorf("token endpoint: status %d %v", resp.StatusCode, err)
						return
					}
					kid, err := rp.verify(body.AccessToken)
					if err != nil {
						failures.Add(1)
						t.Errorf("verification failure at %s: %v", e.clock.Now().Format(time.TimeOnly), err)
						continue
					}
					verified.Add(1)
					kidsMu.Lock()
					kids[kid]++
					kidsMu.Unlock()
					select {
					case progress <- struct{}{}:
					default:
					}
				}
			})
		}
		defer func() { cancel(); wg.Wait() }()
		// waitFor lets at least n more tokens through the relying party.
		waitFor := func(n int) {
			for range n {
				select {
				case <-progress:
				case <-time.After(10 * time.Second):
					t.Fatal("no progress")
				}
			}
		}
		waitFor(10)
		ids, err := e.p.RotateKeys(ctx)
		must(t, err)
		waitFor(10)
		// Run the clock past activation and past every node's next reload,
		// in steps shorter than the refresh interval.
		end := e.clock.Now().Add(e.p.cfg.KeyPublishAhead + 3*e.p.cfg.KeyRefreshInterval)
		for e.clock.Now().Before(end) {
			e.clock.Advance(10 * time.Second)
			rp.refreshIfDue()
			waitFor(5)
		}
		newKid := e.p.keys.activeID(jose.ES256)
		if nodeB.keys.activeID(jose.ES256) != newKid {
			t.Errorf("node B signs with %s, node A with %s", nodeB.keys.activeID(jose.ES256), newKid)
		}
		// Let both nodes sign with the new key under load for a while.
		waitFor(20)
		cancel()
		wg.Wait()
		kidsMu.Lock()
		defer kidsMu.Unlock()
		if newKid == oldKid || kids[oldKid] == 0 || kids[newKid] == 0 {
			t.Errorf("rotation did not happen under load: new key %s (rotated in %v), old %s, tokens by kid %v", newKid, ids, oldKid, kids)
		}
		if f := failures.Load(); f != 0 {
			t.Errorf("%d verification failures of %d tokens", f, f+verified.Load())
		}
		if rp.fetches < 2 {
			t.Errorf("relying party fetched JWKS %d times; the test must span a refresh", rp.fetches)
		}
		t.Logf("%d tokens verified, by kid %v, %d JWKS fetches", verified.Load(), kids, rp.fetches)
	})
}

// TestJWKSPublishesAhead: a rotated-in key is in JWKS at once, signs only
// after KeyPublishAhead, and Config refuses a publish-ahead shorter than
// the caches it must outlast.
func TestJWKSPublishesAhead(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		resp, err := http.Get(e.issuer + pathKeys)
		must(t, err)
		resp.Body.Close()
		if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=300" {
			t.Errorf("JWKS Cache-Control %q", cc)
		}
		if got, floor := e.p.cfg.KeyPublishAhead, 2*e.p.cfg.KeyRefreshInterval+e.p.cfg.JWKSMaxAge; got < floor {
			t.Errorf("default publish-ahead %s < %s", got, floor)
		}
		ids, err := e.p.RotateKeys(e.ctx)
		must(t, err)
		var jwks struct{ Keys []struct{ Kid string } }
		getJSON(t, e.issuer+pathKeys, &jwks)
		published := map[string]bool{}
		for _, k := range jwks.Keys {
			published[k.Kid] = true
		}
		for _, id := range ids {
			if !published[id] {
				t.Errorf("new key %s not published at once", id)
			}
		}
		for _, alg := range algorithms {
			if id := e.p.keys.activeID(alg); id == "" || slices.Contains(ids, id) {
				t.Errorf("%s: key %s signs before its activation", alg, id)
			}
		}
		e.clock.Advance(e.p.cfg.KeyPublishAhead)
		for _, alg := range algorithms {
			if id := e.p.keys.activeID(alg); !slices.Contains(ids, id) {
				t.Errorf("%s: key %s signs after the activation, want a new one", alg, id)
			}
		}
		sealer, _ := seal.New(make([]byte, 32))
		_, err = New(e.ctx, Config{Issuer: e.issuer, Client: e.db, Sealer: sealer, CryptoKey: sha256.Sum256([]byte("t")), AllowHTTPIssuer: true,
			KeyPublishAhead: time.Minute})
		if err == nil || !strings.Contains(err.Error(), "publish-ahead") {
			t.Errorf("short publish-ahead accepted: %v", err)
		}
	})
}

// TestRevokeKey: a revoked key leaves JWKS and stops verifying at once, a
// new key signs in its place at once, and another node follows within its
// refresh interval. Revoking a key that is not signing replaces nothing;
// unknown and already revoked kids are refused.
func TestRevokeKey(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		other, _ := e.node()
		cc := clientcredentials.Config{ClientID: "machine", ClientSecret: machineSecret, TokenURL: e.issuer + pathToken}
		machineToken := func() string {
			t.Helper()
			tok, err := cc.Token(e.ctx)
			must(t, err)
			return tok.AccessToken
		}
		published := func() map[string]bool {
			var jwks struct{ Keys []struct{ Kid string } }
			getJSON(t, e.issuer+pathKeys, &jwks)
			kids := map[string]bool{}
			for _, k := range jwks.Keys {
				kids[k.Kid] = true
			}
			return kids
		}

		leaked := machineToken()
		kid := jwsHeader(t, leaked, "kid")
		_, err := other.VerifyAccessToken(e.ctx, leaked)
		must(t, err)
		replacement, err := e.p.RevokeKey(e.ctx, kid)
		must(t, err)
		if replacement == "" || replacement == kid {
			t.Fatalf("replacement %q for the signing key %s", replacement, kid)
		}
		if kids := published(); kids[kid] || !kids[replacement] {
			t.Errorf("JWKS after revoking %s: %v, want it gone and %s in", kid, kids, replacement)
		}
		if _, err := e.p.VerifyAccessToken(e.ctx, leaked); err == nil {
			t.Error("a token of the revoked key still verifies")
		}
		fresh := machineToken()
		if got := jwsHeader(t, fresh, "kid"); got != replacement {
			t.Errorf("new token signed by %s, want the replacement %s", got, replacement)
		}
		_, err = e.p.VerifyAccessToken(e.ctx, fresh)
		must(t, err)

		// The other node drops the key at its next reload.
		e.clock.Advance(e.p.cfg.KeyRefreshInterval)
		if _, err := other.VerifyAccessToken(e.ctx, leaked); err == nil {
			t.Error("another node still verifies the revoked key after its refresh interval")
		}
		if k, err := other.keys.signer(e.ctx, jose.ES256); err != nil || k.id != replacement {
			t.Errorf("the other node signs ES256 with %v (%v), want %s", k, err, replacement)
		}

		// A key that is not signing (pending after a rotation) goes without
		// a replacement; the signing key stays.
		ids, err := e.p.RotateKeys(e.ctx)
		must(t, err)
		var pending string
		for _, id := range ids {
			if e.p.keys.byKeyID(e.ctx, id).alg == jose.ES256 {
				pending = id
			}
		}
		if r, err := e.p.RevokeKey(e.ctx, pending); err != nil || r != "" {
			t.Errorf("revoking the pending key: replacement %q, %v; want none", r, err)
		}
		if got := e.p.keys.activeID(jose.ES256); got != replacement {
			t.Errorf("ES256 signs with %s after revoking a pending key, want %s", got, replacement)
		}

		for _, k := range []string{kid, "sk_01NOTAKEY", ""} {
			if _, err := e.p.RevokeKey(e.ctx, k); !errors.Is(err, ErrUnknownKey) {
				t.Errorf("RevokeKey(%q) = %v, want ErrUnknownKey", k, err)
			}
		}
	})
}

// TestResealKeys: rotating the master key (gatehouse keys rotate-master).
// Nodes given the new key first and the old after it re-seal every signing
// key once, even two at the same moment; afterwards the new key alone
// opens them and the tokens they signed still verify, and the old key
// alone opens nothing.
func TestResealKeys(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		cc := clientcredentials.Config{ClientID: "machine", ClientSecret: machineSecret, TokenURL: e.issuer + pathToken}
		tok, err := cc.Token(e.ctx)
		must(t, err)
		oldKey, newKey := make([]byte, 32), bytes.Repeat([]byte{7}, 32) // e's nodes seal with zeros
		ring, err := seal.New(newKey, oldKey)
		must(t, err)
		a, _, err := e.nodeWith(e.p.cfg.Dialect, ring)
		must(t, err)
		b, _, err := e.nodeWith(e.p.cfg.Dialect, ring)
		must(t, err)
		stored, err := e.db.SigningKey.Query().Count(e.ctx)
		must(t, err)

		start := make(chan struct{})
		counts := make([]int, 2)
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, p := range []*Provider{a, b} {
			wg.Go(func() {
				<-start
				counts[i], errs[i] = p.ResealKeys(e.ctx)
			})
		}
		close(start)
		wg.Wait()
		// SQLite lets one writer through at a time; a run that lost the
		// race for the database may fail, and running it again is the fix.
		total := counts[0] + counts[1]
		for i, err := range errs {
			if err != nil {
				t.Logf("node %d: %v (retrying)", i, err)
				n, err := []*Provider{a, b}[i].ResealKeys(e.ctx)
				must(t, err)
				total += n
			}
		}
		if total != stored {
			t.Fatalf("re-sealed %d keys in all (%v), want each of %d once", total, counts, stored)
		}
		if n, err := a.ResealKeys(e.ctx); err != nil || n != 0 {
			t.Fatalf("second run re-sealed %d, %v; want 0", n, err)
		}

		newOnly, err := seal.New(newKey)
		must(t, err)
		p, _, err := e.nodeWith(e.p.cfg.Dialect, newOnly)
		if err != nil {
			t.Fatalf("node with the new key alone: %v", err)
		}
		if _, err := p.VerifyAccessToken(e.ctx, tok.AccessToken); err != nil {
			t.Fatalf("token signed before the rotation: %v", err)
		}
		oldOnly, err := seal.New(oldKey)
		must(t, err)
		if _, _, err := e.nodeWith(e.p.cfg.Dialect, oldOnly); err == nil || !strings.Contains(err.Error(), "cannot open") {
			t.Fatalf("node with the retired key alone: %v, want it to fail opening the keys", err)
		}
	})
}
