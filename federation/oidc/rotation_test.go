package oidc

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"sync/atomic"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// TestKeyRotation (REL-04, conformance oidcc-client-test-signing-key-rotation
// and -kid-absent-single-jwks): the provider starts signing with a new key
// it has just published, and the connector, having cached the old set,
// fetches the set again instead of refusing; a token without kid verifies
// against a single-key set.
func TestKeyRotation(t *testing.T) {
	r := newRig(t)
	var fetches atomic.Int32
	r.op.set(func(o *testOP) { o.jwks = func(map[string]any) { fetches.Add(1) } })
	if _, err := r.flow(t, nil); err != nil {
		t.Fatalf("first sign-in: %v", err)
	}
	if n := fetches.Load(); n != 1 {
		t.Fatalf("%d JWKS fetches for the first sign-in; want 1", n)
	}
	if _, err := r.flow(t, nil); err != nil {
		t.Fatalf("second sign-in: %v", err)
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("%d JWKS fetches after two sign-ins; want 1 (the set is cached)", n)
	}

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "rotated-2"))
	if err != nil {
		t.Fatal(err)
	}
	publish := func(only bool) func(set map[string]any) {
		return func(set map[string]any) {
			fetches.Add(1)
			b, _ := json.Marshal(jose.JSONWebKey{Key: &key.PublicKey, KeyID: "rotated-2", Algorithm: "RS256", Use: "sig"})
			var jwk map[string]any
			_ = json.Unmarshal(b, &jwk)
			keys, _ := set["keys"].([]any)
			if only {
				keys = nil
			}
			set["keys"] = append(keys, jwk)
		}
	}
	r.op.set(func(o *testOP) { o.jwks = publish(false) })
	r.op.rewriteClaims(signer, func(map[string]any) {})
	if _, err := r.flow(t, nil); err != nil {
		t.Fatalf("sign-in after the rotation: %v", err)
	}
	if n := fetches.Load(); n != 2 {
		t.Errorf("%d JWKS fetches; want 2 (one more for the new kid)", n)
	}

	// The old key is retired and the new one signs without a kid.
	r.op.set(func(o *testOP) { o.jwks = publish(true) })
	bare, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	r2 := rigFor(t, r.op) // a fresh cache: the single-key set
	r2.op.rewriteClaims(bare, func(map[string]any) {})
	if _, err := r2.flow(t, nil); err != nil {
		t.Fatalf("token without kid against a single-key set: %v", err)
	}
}
