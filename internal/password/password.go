// Package password hashes and verifies user passwords with argon2id
// (RFC 9106), stored as PHC strings so parameters can change over time.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id cost parameters.
type Params struct {
	Memory      uint32 // KiB
	Iterations  uint32
	Parallelism uint8
	SaltLen     uint32
	KeyLen      uint32
}

// Default follows RFC 9106 §4's second recommended option (64 MiB, t=3),
// which costs ~50–70 ms on one core here.
var Default = Params{Memory: 64 * 1024, Iterations: 3, Parallelism: 2, SaltLen: 16, KeyLen: 32}

// MaxLength bounds what is hashed, so a megabyte "password" costs no more
// than a normal one (argon2 pre-hashes anyway; the bound is for memory).
const MaxLength = 1024

// ErrMismatch means the password does not match the hash.
var ErrMismatch = errors.New("password does not match")

// ErrMalformedHash means a stored hash cannot be parsed.
var ErrMalformedHash = errors.New("malformed password hash")

var b64 = base64.RawStdEncoding

// Hash returns the PHC string of pw under p.
func Hash(pw string, p Params) (string, error) {
	if len(pw) > MaxLength {
		return "", fmt.Errorf("hash password: longer than %d bytes", MaxLength)
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Iterations,
		p.Parallelism, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify checks pw against a PHC string in constant time. It reports
// whether the hash should be recomputed because its parameters are weaker
// than want.
func Verify(pw, hash string, want Params) (rehash bool, err error) {
	p, salt, key, err := parse(hash)
	if err != nil {
		return false, err
	}
	if len(pw) > MaxLength {
		return false, ErrMismatch
	}
	got := argon2.IDKey([]byte(pw), salt, p.Iterations, p.Memory, p.Parallelism, uint32(len(key)))
	if subtle.ConstantTimeCompare(got, key) != 1 {
		return false, ErrMismatch
	}
	return p.Memory < want.Memory || p.Iterations < want.Iterations, nil
}

// dummyHash is verified against when a user has no password or does not
// exist, so such sign-ins take as long as a real one (SECURITY-CHECKLIST ATO-04).
var dummyHash, _ = Hash("gatehouse-timing-equalizer", Default)

// VerifyNothing spends the time of one verification, for unknown users.
func VerifyNothing(pw string) { _, _ = Verify(pw, dummyHash, Default) }

func parse(hash string) (Params, []byte, []byte, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return Params{}, nil, nil, ErrMalformedHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return Params{}, nil, nil, ErrMalformedHash
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Iterations, &p.Parallelism); err != nil {
		return Params{}, nil, nil, ErrMalformedHash
	}
	if p.Memory < 8 || p.Memory > 1<<18 || p.Iterations < 1 || p.Iterations > 64 || p.Parallelism < 1 {
		return Params{}, nil, nil, ErrMalformedHash
	}
	salt, err1 := b64.DecodeString(parts[4])
	key, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 16 || len(key) > 64 {
		return Params{}, nil, nil, ErrMalformedHash
	}
	return p, salt, key, nil
}
