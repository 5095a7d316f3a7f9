package provider

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-id/gatehouse/internal/testkit"
)

// Hostile JOSE headers and serializations (OIDC-11, OIDC-12) at every
// ingress where we verify a JWS ourselves: access tokens at
// VerifyAccessToken, introspection and userinfo, and private_key_jwt
// client assertions at the token endpoint. Each is refused in the
// endpoint's own form, and no URL a token names (jku, x5u) is fetched.
//
// Most hostile cases are signed with a key we do trust (the provider's
// own key, the client's registered key), so that the header or
// serialization check is all that refuses them: a token signed by an
// attacker's key fails on its signature anyway, whether or not we look at
// the header.

// rawCompact signs header and payload with k as a compact JWS (RFC 7515
// §7.1), whatever the header says: the header is the test's choice.
func rawCompact(t *testing.T, header map[string]any, payload []byte, k *signingKey) string {
	t.Helper()
	h, err := json.Marshal(header)
	must(t, err)
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(payload)
	sig, err := k.sign([]byte(input))
	must(t, err)
	return input + "." + b64.EncodeToString(sig)
}

// jsonSerializations returns the flattened and general JWS JSON
// serializations (RFC 7515 §7.2) of compact tokens. An extra member
// carries ".<payload>." so that the JSON also has exactly two dots and a
// payload between them, as a splitter that counts segments expects.
func jsonSerializations(t *testing.T, tokens ...string) (flattened, general string) {
	t.Helper()
	type sig struct {
		Protected string `json:"protected"`
		Signature string `json:"signature"`
	}
	var (
		payload string
		sigs    []sig
	)
	for _, tok := range tokens {
		parts := strings.Split(tok, ".")
		if len(parts) != 3 {
			t.Fatalf("not compact: %s", tok)
		}
		payload = parts[1]
		sigs = append(sigs, sig{parts[0], parts[2]})
	}
	pad := "." + payload + "."
	f, err := json.Marshal(map[string]any{"payload": payload, "protected": sigs[0].Protected, "signature": sigs[0].Signature, "x": pad})
	must(t, err)
	g, err := json.Marshal(map[string]any{"payload": payload, "signatures": sigs, "x": pad})
	must(t, err)
	return string(f), string(g)
}

// selfSignedCert is a self-signed certificate of k's public key, as an
// x5c entry (standard base64 DER, RFC 7515 §4.1.6).
func selfSignedCert(t *testing.T, k *signingKey) string {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "attacker"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.private.Public(), k.private)
	must(t, err)
	return base64.StdEncoding.EncodeToString(der)
}

// keyURLServer stands for an attacker's jku / x5u target on loopback: it
// serves the attacker's JWKS and certificate and counts every request.
type keyURLServer struct {
	*httptest.Server
	hits atomic.Int32
}

func newKeyURLServer(t *testing.T, attacker *signingKey) *keyURLServer {
	t.Helper()
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{attacker.public}})
	must(t, err)
	cert, err := base64.StdEncoding.DecodeString(selfSignedCert(t, attacker))
	must(t, err)
	s := &keyURLServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		if strings.HasSuffix(r.URL.Path, ".pem") {
			_, _ = w.Write(cert)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(jwks)
	}))
	t.Cleanup(s.Close)
	return s
}

// withMembers is a copy of base (a JOSE header or claims) with the
// changes in set; a nil value removes the member.
func withMembers(base map[string]any, set map[string]any) map[string]any {
	h := map[string]any{}
	for k, v := range base {
		h[k] = v
	}
	for k, v := range set {
		if v == nil {
			delete(h, k)
		} else {
			h[k] = v
		}
	}
	return h
}

// hostileHeaders returns the hostile tokens of the table for one ingress.
// trusted is a key the verifier trusts, named by kid; other is a trusted
// key of another algorithm (kid otherKid); attacker is the attacker's
// key; base is the header a good token of trusted carries; payload makes
// a fresh payload (assertions need a fresh jti each).
func hostileHeaders(t *testing.T, srv *keyURLServer, base map[string]any, payload func() []byte,
	trusted *signingKey, kid string, other *signingKey, otherKid string, attacker *signingKey) map[string]string {
	t.Helper()
	attackerJWK := attacker.public
	attackerJWK.KeyID = ""
	trustedJWK := jose.JSONWebKey{Key: trusted.private.Public(), Algorithm: string(trusted.alg), Use: "sig"}
	asAttacker := map[string]any{"alg": string(attacker.alg)}
	jku, x5u := srv.URL+"/jwks.json", srv.URL+"/cert.pem"
	sign := func(k *signingKey, set map[string]any) string {
		return rawCompact(t, withMembers(base, set), payload(), k)
	}
	good := func() string { return sign(trusted, nil) }
	goodOther := func() string { return sign(other, map[string]any{"alg": string(other.alg), "kid": otherKid}) }

	cases := map[string]string{
		// jwk (RFC 7515 §4.1.3): the attacker's key, signed with it, under
		// our kid and under none; and the trusted key itself, signed
		// with it, which only the header check refuses.
		"jwk attacker key, trusted kid": sign(attacker, withMembers(asAttacker, map[string]any{"jwk": attackerJWK})),
		"jwk attacker key, no kid":      sign(attacker, withMembers(asAttacker, map[string]any{"jwk": attackerJWK, "kid": nil})),
		"jwk trusted key":               sign(trusted, map[string]any{"jwk": trustedJWK}),
		// jku / x5u (§4.1.2, §4.1.5): never fetched.
		"jku attacker key":                sign(attacker, withMembers(asAttacker, map[string]any{"jku": jku, "kid": attacker.id})),
		"jku trusted kid":                 sign(attacker, withMembers(asAttacker, map[string]any{"jku": jku})),
		"jku trusted key":                 sign(trusted, map[string]any{"jku": jku}),
		"x5u attacker cert":               sign(attacker, withMembers(asAttacker, map[string]any{"x5u": x5u, "kid": nil})),
		"x5u trusted key":                 sign(trusted, map[string]any{"x5u": x5u}),
		"x5c attacker chain":              sign(attacker, withMembers(asAttacker, map[string]any{"x5c": []string{selfSignedCert(t, attacker)}, "kid": nil})),
		"x5c attacker chain, trusted kid": sign(attacker, withMembers(asAttacker, map[string]any{"x5c": []string{selfSignedCert(t, attacker)}})),
		"x5c with trusted key":            sign(trusted, map[string]any{"x5c": []string{selfSignedCert(t, attacker)}}),
		// crit (§4.1.11): an extension we do not understand, and b64
		// (RFC 7797), which go-jose understands and we do not; both on a
		// signature that is otherwise valid.
		"crit unknown":        sign(trusted, map[string]any{"crit": []string{"urn:example:hostile"}, "urn:example:hostile": true}),
		"crit b64":            sign(trusted, map[string]any{"crit": []string{"b64"}, "b64": true}),
		"crit empty":          sign(trusted, map[string]any{"crit": []string{}}),
		"crit not a list":     sign(trusted, map[string]any{"crit": "urn:example:hostile"}),
		"crit names standard": sign(trusted, map[string]any{"crit": []string{"alg"}}),
		// kid and alg.
		"unknown kid":                  sign(trusted, map[string]any{"kid": "kid-nobody-has"}),
		"kid of another algorithm":     sign(trusted, map[string]any{"kid": otherKid}),
		"alg of the other key":         sign(other, map[string]any{"alg": string(other.alg)}),
		"alg mismatching the key type": sign(trusted, map[string]any{"alg": string(other.alg)}),
		"alg outside the allowlist":    sign(trusted, map[string]any{"alg": "PS384"}),
	}
	// PS256 with a key registered for RS256: the same key type, so only
	// our check of the key's algorithm refuses it where PS256 is allowed
	// (assertions).
	rsaKey, rsaKid := trusted, kid
	if _, ok := other.private.(*rsa.PrivateKey); ok {
		rsaKey, rsaKid = other, otherKid
	}
	if priv, ok := rsaKey.private.(*rsa.PrivateKey); ok {
		h, err := json.Marshal(withMembers(base, map[string]any{"alg": "PS256", "kid": rsaKid}))
		must(t, err)
		input := b64.EncodeToString(h) + "." + b64.EncodeToString(payload())
		d := sha256.Sum256([]byte(input))
		sig, err := rsa.SignPSS(rand.Reader, priv, crypto.SHA256, d[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		must(t, err)
		cases["PS256 with an RS256 key"] = input + "." + b64.EncodeToString(sig)
	}
	// Serializations.
	// Each from a token of its own: an assertion's jti is single-use.
	cases["JSON flattened"], _ = jsonSerializations(t, good())
	_, cases["JSON general"] = jsonSerializations(t, good())
	_, cases["JSON general, two signatures"] = jsonSerializations(t, good(), goodOther())
	g := good()
	flat, _ := jsonSerializations(t, g)
	cases["JSON flattened, no dots"] = strings.ReplaceAll(flat, "."+strings.Split(g, ".")[1]+".", "")
	g = good()
	cases["2 segments"] = g[:strings.LastIndex(g, ".")]
	cases["4 segments"] = good() + "." + strings.Split(g, ".")[2]
	cases["4 segments, empty last"] = good() + "."
	cases["header 64 KiB"] = sign(trusted, map[string]any{"pad": strings.Repeat("A", 64<<10)})
	return cases
}

// TestHostileJOSEHeadersAccessToken: access tokens with hostile headers
// or serializations are invalid at VerifyAccessToken, inactive at
// introspection and 401 at userinfo.
func TestHostileJOSEHeadersAccessToken(t *testing.T) {
	forEachJWKSEnv(t, loopbackAllowed, func(t *testing.T, e *env, _ *testkit.LogBuffer) {
		now := e.clock.Now()
		claims, err := json.Marshal(map[string]any{"iss": e.issuer, "sub": "machine", "client_id": "machine", "jti": "cc.jose",
			"scope": "read", "aud": "machine", "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "nbf": now.Unix()})
		must(t, err)
		rs := e.p.keys.byID[e.p.keys.activeID(jose.RS256)]
		es := e.p.keys.byID[e.p.keys.activeID(jose.ES256)]
		attacker := testSigningKey(t, jose.ES256)
		srv := newKeyURLServer(t, attacker)
		base := map[string]any{"alg": string(rs.alg), "kid": rs.id, "typ": accessTokenType}
		payload := func() []byte { return claims }

		active := func(tok string) (verify error, introspected any, userinfo int) {
			_, verify = e.p.VerifyAccessToken(e.ctx, tok)
			introspected = introspect(t, e, tok, "machine", machineSecret)["active"]
			req, _ := http.NewRequest(http.MethodGet, e.issuer+pathUserinfo, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			must(t, err)
			resp.Body.Close()
			// The same token as a POSTed access_token (RFC 6750 §2.2) must
			// fare the same as in the header.
			posted := postForm(t, e.issuer+pathUserinfo, url.Values{"access_token": {tok}}, "", "")
			posted.Body.Close()
			if (posted.StatusCode == http.StatusUnauthorized) != (resp.StatusCode == http.StatusUnauthorized) {
				t.Errorf("userinfo: %d with the token in the header, %d with it in the body", resp.StatusCode, posted.StatusCode)
			}
			return verify, introspected, resp.StatusCode
		}
		// The control, built as the hostile tokens are, is accepted
		// everywhere: a refusal below is the header's doing.
		for name, tok := range map[string]string{
			"RS256": rawCompact(t, base, claims, rs),
			"ES256": rawCompact(t, withMembers(base, map[string]any{"alg": "ES256", "kid": es.id}), claims, es),
		} {
			// userinfo: 403, the client credentials token has no openid
			// scope, but it is not 401.
			if err, act, status := active(tok); err != nil || act != true || status == http.StatusUnauthorized {
				t.Fatalf("control %s: verify %v, active %v, userinfo %d", name, err, act, status)
			}
		}
		for name, tok := range hostileHeaders(t, srv, base, payload, rs, rs.id, es, es.id, attacker) {
			err, act, status := active(tok)
			if !errors.Is(err, ErrInvalidToken) {
				t.Errorf("%s: VerifyAccessToken accepted (%v)", name, err)
			}
			if act != false {
				t.Errorf("%s: introspection active %v", name, act)
			}
			if status != http.StatusUnauthorized {
				t.Errorf("%s: userinfo status %d", name, status)
			}
		}
		if n := srv.hits.Load(); n != 0 {
			t.Errorf("jku/x5u server received %d requests", n)
		}
	})
}

// TestHostileJOSEHeadersClientAssertion: private_key_jwt assertions with
// hostile headers or serializations are 401 invalid_client at the token
// endpoint (client_credentials), for a client with inline jwks and one
// with a jwks_uri.
func TestHostileJOSEHeadersClientAssertion(t *testing.T) {
	forEachJWKSEnv(t, loopbackAllowed, func(t *testing.T, e *env, _ *testkit.LogBuffer) {
		es, rs := newClientKey(t, jose.ES256), newClientKey(t, jose.RS256)
		e.pkjwtApp("svc-jose", "MACHINE", es, rs)
		jwksURI := newJWKSServer(t, es, rs)
		e.uriApp("svc-jose-uri", jwksURI.URL)
		attacker := testSigningKey(t, jose.ES256)
		srv := newKeyURLServer(t, attacker)
		tokenURL := e.issuer + pathToken
		asSigner := func(k clientKey) *signingKey { return &signingKey{id: k.kid, alg: k.alg, private: k.priv} }
		esKey, rsKey := asSigner(es), asSigner(rs)
		post := func(assertion string) (int, string) {
			t.Helper()
			resp := postForm(t, tokenURL, url.Values{"grant_type": {"client_credentials"},
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}, "", "")
			if resp.StatusCode == http.StatusOK {
				resp.Body.Close()
				return resp.StatusCode, ""
			}
			if resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("status %d without WWW-Authenticate", resp.StatusCode)
			}
			return resp.StatusCode, oauthError(t, resp)
		}
		for _, clientID := range []string{"svc-jose", "svc-jose-uri"} {
			t.Run(clientID, func(t *testing.T) {
				payload := func() []byte {
					now := e.clock.Now()
					b, _ := json.Marshal(map[string]any{"iss": clientID, "sub": clientID, "aud": tokenURL, "jti": rand.Text(),
						"iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix()})
					return b
				}
				base := map[string]any{"alg": string(es.alg), "kid": es.kid, "typ": "JWT"}
				for name, a := range map[string]string{
					"ES256": rawCompact(t, base, payload(), esKey),
					"RS256": rawCompact(t, withMembers(base, map[string]any{"alg": "RS256", "kid": rs.kid}), payload(), rsKey),
				} {
					if status, code := post(a); status != http.StatusOK {
						t.Fatalf("control %s: status %d %q", name, status, code)
					}
				}
				for name, a := range hostileHeaders(t, srv, base, payload, esKey, es.kid, rsKey, rs.kid, attacker) {
					if status, code := post(a); status != http.StatusUnauthorized || code != "invalid_client" {
						t.Errorf("%s: status %d %q, want 401 invalid_client", name, status, code)
					}
				}
			})
		}
		if n := srv.hits.Load(); n != 0 {
			t.Errorf("jku/x5u server received %d requests", n)
		}
	})
}
