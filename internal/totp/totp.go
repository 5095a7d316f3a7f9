package totp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1" // RFC 6238 with the HMAC-SHA1 every authenticator app supports
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// The parameters Gatehouse uses, the defaults of RFC 6238 and the only
// ones every authenticator app honours.
const (
	// Digits is the length of a code.
	Digits = 6
	// Period is the length of a time step (RFC 6238 §4.1 X).
	Period = 30 * time.Second
	// SecretSize is the length of a shared secret in bytes: 160 bits, the
	// length RFC 4226 §4 recommends for HMAC-SHA1.
	SecretSize = 20
	// Skew is how many steps either side of now a code may come from (RFC
	// 6238 §5.2 "at most one time step"), for clocks that drift and users
	// who type slowly.
	Skew = 1
)

// ErrBadSecret: the secret is not base32 of SecretSize bytes or more.
var ErrBadSecret = errors.New("totp: secret is not base32 of at least 20 bytes")

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewSecret is a new random shared secret, base32 without padding (the
// form the key URI and the manual key take).
func NewSecret() string {
	b := make([]byte, SecretSize)
	_, _ = rand.Read(b) // crypto/rand never fails (Go 1.24)
	return EncodeSecret(b)
}

// EncodeSecret is key as a base32 secret without padding.
func EncodeSecret(key []byte) string { return b32.EncodeToString(key) }

// DecodeSecret reads a base32 secret, ignoring case, spaces and padding.
func DecodeSecret(secret string) ([]byte, error) {
	s := strings.ToUpper(strings.TrimRight(strings.ReplaceAll(secret, " ", ""), "="))
	b, err := b32.DecodeString(s)
	if err != nil || len(b) < SecretSize {
		return nil, ErrBadSecret
	}
	return b, nil
}

// Step is the RFC 6238 time step of t (T = floor((t - T0) / X), T0 = 0).
func Step(t time.Time) int64 { return t.Unix() / int64(Period/time.Second) }

// Code is the digits-long one-time password of key at step (RFC 4226
// §5.3 dynamic truncation of HMAC-SHA1(key, step)).
func Code(key []byte, step int64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(step))
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

// Verify reports whether code is key's code for the step of now or one
// step either side (Skew), and which step it matched: the caller accepts
// it only if that step is later than the last one it accepted (RFC 6238
// §5.2: a code is accepted once). The comparison takes the same time
// wherever the codes differ; a code that is not Digits digits never
// matches.
func Verify(key []byte, code string, now time.Time) (step int64, ok bool) {
	if len(code) != Digits {
		return 0, false
	}
	for _, c := range code {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	cur := Step(now)
	// The latest matching step wins, so that a code never counts for an
	// earlier step than it could (each step is used at most once).
	for s := cur + Skew; s >= cur-Skew; s-- {
		if subtle.ConstantTimeCompare([]byte(Code(key, s, Digits)), []byte(code)) == 1 {
			return s, true
		}
	}
	return 0, false
}

// KeyURI is the otpauth:// URI an authenticator app reads from the QR
// code (Google Authenticator's "Key Uri Format"): the label is
// "issuer:account", and the issuer is repeated as a parameter. The
// parameters are the defaults, stated so that no app guesses.
func KeyURI(issuer, account, secret string) string {
	label := url.PathEscape(issuer + ":" + account)
	q := url.Values{}
	q.Set("secret", secret)
	q.Set("issuer", issuer)
	q.Set("algorithm", "SHA1")
	q.Set("digits", fmt.Sprint(Digits))
	q.Set("period", fmt.Sprint(int(Period/time.Second)))
	return "otpauth://totp/" + label + "?" + q.Encode()
}

// Group splits a base32 secret into groups of four for reading and
// typing (the manual key); DecodeSecret ignores the spaces.
func Group(secret string) string {
	var b strings.Builder
	for i, r := range secret {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}
