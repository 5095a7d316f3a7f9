package provider

import (
	"encoding/json"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

func testSigningKey(t testing.TB, alg jose.SignatureAlgorithm) *signingKey {
	t.Helper()
	priv, err := generateKey(alg)
	must(t, err)
	return &signingKey{id: "sk_test_" + string(alg), alg: alg, private: priv,
		public: jose.JSONWebKey{Key: priv.Public(), KeyID: "sk_test_" + string(alg), Algorithm: string(alg), Use: "sig"}}
}

// Every algorithm's compact JWS verifies with go-jose (an implementation
// we did not write) and carries the RFC 9068 header.
func TestAccessTokenJWSVerifiesWithGoJose(t *testing.T) {
	payload := []byte(`{"iss":"https://id.example","sub":"app_1","scope":"a b"}`)
	for _, alg := range algorithms {
		t.Run(string(alg), func(t *testing.T) {
			k := testSigningKey(t, alg)
			for range 20 { // ECDSA: R and S of varying length must all pad to 32 bytes
				token, err := k.signJWS(accessTokenType, payload)
				must(t, err)
				if strings.ContainsAny(token, "=+/") || strings.Count(token, ".") != 2 {
					t.Fatalf("not compact base64url: %s", token)
				}
				jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{alg})
				must(t, err)
				got, err := jws.Verify(k.public.Key)
				must(t, err)
				if string(got) != string(payload) {
					t.Fatalf("payload %s, want %s", got, payload)
				}
				h := jws.Signatures[0].Protected
				if h.Algorithm != string(alg) || h.KeyID != k.id || h.ExtraHeaders["typ"] != "at+jwt" {
					t.Fatalf("header %+v", h)
				}
			}
		})
	}
}

func TestAccessTokenJWSRefusesKeyOfAnotherAlgorithm(t *testing.T) {
	k := testSigningKey(t, jose.ES256)
	k.alg = jose.RS256
	if _, err := k.signJWS(accessTokenType, []byte(`{}`)); err == nil {
		t.Fatal("an ECDSA key signed as RS256")
	}
}

func TestECDSAFixedRefusesMalformedSignatures(t *testing.T) {
	for name, der := range map[string][]byte{
		"empty":          nil,
		"not a sequence": {0x02, 0x01, 0x01},
		"trailing data":  {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00},
		"zero r":         {0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01},
		"negative s":     {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0xff},
		"r too long":     append([]byte{0x30, 0x25, 0x02, 0x21, 0x01}, append(make([]byte, 32), 0x02, 0x01, 0x01)...),
	} {
		if _, err := ecdsaFixed(der, 32); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	out, err := ecdsaFixed([]byte{0x30, 0x06, 0x02, 0x01, 0x07, 0x02, 0x01, 0x09}, 32)
	must(t, err)
	if len(out) != 64 || out[31] != 7 || out[63] != 9 {
		t.Fatalf("R||S = %x", out)
	}
}

// The header is encoded once per key and is valid JSON with exactly the
// three members.
func TestAccessTokenHeader(t *testing.T) {
	k := testSigningKey(t, jose.EdDSA)
	for _, typ := range []string{accessTokenType, idTokenType} {
		raw, err := b64.DecodeString(k.header(typ))
		must(t, err)
		var h map[string]string
		must(t, json.Unmarshal(raw, &h))
		if len(h) != 3 || h["alg"] != "EdDSA" || h["kid"] != k.id || h["typ"] != typ {
			t.Fatalf("header %s", raw)
		}
	}
}

func BenchmarkAccessTokenJWS(b *testing.B) {
	payload := []byte(`{"iss":"http://127.0.0.1:8080","sub":"app_01JD","aud":["app_01JD"],"client_id":"app_01JD","jti":"cc.abcdefghijklmn","iat":1,"nbf":1,"exp":2,"scope":"invoices:read"}`)
	for _, alg := range algorithms {
		b.Run(string(alg), func(b *testing.B) {
			k := testSigningKey(b, alg)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.signJWS(accessTokenType, payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
