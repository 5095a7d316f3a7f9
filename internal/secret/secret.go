// Package secret makes and checks high-entropy secrets: API keys, client
// secrets and verification tokens. Such secrets are stored only as SHA-256
// hashes — a slow password KDF adds nothing against 256-bit guesses and would
// cost every authenticated request.
package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
)

var lowerBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Token returns n random bytes encoded as lower-case base32: safe in URLs,
// DNS TXT records, headers and shells.
func Token(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms.
	return lowerBase32.EncodeToString(b)
}

// Hash returns the hex SHA-256 of s, the form in which secrets are stored.
func Hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Matches reports, in constant time, whether s hashes to hash.
func Matches(hash, s string) bool {
	return subtle.ConstantTimeCompare([]byte(hash), []byte(Hash(s))) == 1
}
