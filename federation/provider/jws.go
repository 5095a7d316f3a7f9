package provider

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// Access tokens, and the ID tokens of refreshes, are signed here as
// compact JWS (RFC 7515 §7.1), not by go-jose: it is the hot path of the
// token endpoint, and go-jose marshals the protected header and copies the
// payload for every token. The header of a key never changes, so it is
// encoded once per key and token type; the signature is the one JWA
// (RFC 7518 §3) asks for: RSASSA-PKCS1-v1_5 with SHA-256, ECDSA P-256
// with SHA-256 as the fixed 64-byte R||S (§3.4, not ASN.1), or Ed25519
// (RFC 8037 §3.1). Verification stays with go-jose (verify.go); tests
// verify every algorithm's output with it.

var b64 = base64.RawURLEncoding

// protectedHeader is the protected header of the tokens signed here.
type protectedHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// idTokenType is the JWS typ of ID tokens, as the library signs them
// (access tokens: accessTokenType, RFC 9068 §2.1).
const idTokenType = "JWT"

// signToken signs payload as a token of type typ with the active key of
// alg.
func (p *Provider) signToken(ctx context.Context, alg jose.SignatureAlgorithm, typ string, payload []byte) (string, error) {
	k, err := p.keys.signer(ctx, alg)
	if err != nil {
		return "", p.serverError(ctx, "signing key", err)
	}
	token, err := k.signJWS(typ, payload)
	if err != nil {
		return "", p.serverError(ctx, "sign "+typ, err)
	}
	return token, nil
}

// header is the base64url-encoded protected header of the tokens of type
// typ that k signs, encoded once per key and type.
func (k *signingKey) header(typ string) string {
	encode := func() string {
		raw, _ := json.Marshal(protectedHeader{Alg: string(k.alg), Kid: k.id, Typ: typ}) // strings only: cannot fail
		return b64.EncodeToString(raw)
	}
	if typ == accessTokenType {
		k.atOnce.Do(func() { k.atHeader = encode() })
		return k.atHeader
	}
	k.idOnce.Do(func() { k.idHeader = encode() })
	return k.idHeader
}

// signJWS returns the compact JWS of payload with the protected header
// for typ (accessTokenType or idTokenType).
func (k *signingKey) signJWS(typ string, payload []byte) (string, error) {
	header := k.header(typ)
	sigLen := k.signatureSize()
	n := len(header) + 1 + b64.EncodedLen(len(payload))
	out := make([]byte, n, n+1+b64.EncodedLen(sigLen))
	copy(out, header)
	out[len(header)] = '.'
	b64.Encode(out[len(header)+1:], payload)
	sig, err := k.sign(out)
	if err != nil {
		return "", fmt.Errorf("sign with %s key %s: %w", k.alg, k.id, err)
	}
	out = append(out, '.')
	out = b64.AppendEncode(out, sig)
	return string(out), nil
}

// signatureSize is the length of k's JWS signature in bytes.
func (k *signingKey) signatureSize() int {
	switch key := k.private.(type) {
	case *rsa.PrivateKey:
		return key.Size()
	case *ecdsa.PrivateKey:
		return 2 * ((key.Curve.Params().BitSize + 7) / 8)
	}
	return ed25519.SignatureSize
}

var errUnsupportedKey = errors.New("unsupported key type for its algorithm")

// sign is the JWS Signature of a JWS Signing Input (RFC 7515 §5.1).
func (k *signingKey) sign(input []byte) ([]byte, error) {
	switch key := k.private.(type) {
	case *rsa.PrivateKey:
		if k.alg != jose.RS256 {
			return nil, errUnsupportedKey
		}
		d := sha256.Sum256(input)
		return rsa.SignPKCS1v15(nil, key, crypto.SHA256, d[:])
	case *ecdsa.PrivateKey:
		if k.alg != jose.ES256 || key.Curve.Params().BitSize != 256 {
			return nil, errUnsupportedKey
		}
		d := sha256.Sum256(input)
		der, err := ecdsa.SignASN1(rand.Reader, key, d[:])
		if err != nil {
			return nil, err
		}
		return ecdsaFixed(der, 32)
	case ed25519.PrivateKey:
		if k.alg != jose.EdDSA {
			return nil, errUnsupportedKey
		}
		return ed25519.Sign(key, input), nil
	}
	return nil, errUnsupportedKey
}

// ecdsaFixed turns an ASN.1 ECDSA-Sig-Value into R||S, each left-padded
// to size bytes (RFC 7518 §3.4).
func ecdsaFixed(der []byte, size int) ([]byte, error) {
	var (
		r, s  big.Int
		inner cryptobyte.String
	)
	in := cryptobyte.String(der)
	if !in.ReadASN1(&inner, asn1.SEQUENCE) || !in.Empty() ||
		!inner.ReadASN1Integer(&r) || !inner.ReadASN1Integer(&s) || !inner.Empty() ||
		r.Sign() <= 0 || s.Sign() <= 0 || len(r.Bytes()) > size || len(s.Bytes()) > size {
		return nil, errors.New("malformed ECDSA signature")
	}
	out := make([]byte, 2*size)
	r.FillBytes(out[:size])
	s.FillBytes(out[size:])
	return out, nil
}
