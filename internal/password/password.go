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

// Default uses RFC 9106 §4's second recommended memory and passes (64 MiB,
// t=3) with two lanes instead of four, to leave a 2-core server's other core
// free; ~200 ms a verification on this VM.
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
	if err := p.Validate(); err != nil {
		return "", err
	}
	if len(pw) > MaxLength {
		return "", fmt.Errorf("hash password: longer than %d bytes", MaxLength)
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	var key []byte
	if err := run(func() { key = argon2.IDKey([]byte(pw), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLen) }); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Iterations,
		p.Parallelism, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify checks pw against a PHC string in constant time. It reports
// whether the hash should be recomputed because its parameters are weaker
// than want. ErrBusy means it could not run (see SetConcurrency).
func Verify(pw, hash string, want Params) (rehash bool, err error) {
	p, salt, key, err := parse(hash)
	if err != nil {
		return false, err
	}
	if len(pw) > MaxLength {
		return false, ErrMismatch
	}
	var got []byte
	if err := run(func() { got = argon2.IDKey([]byte(pw), salt, p.Iterations, p.Memory, p.Parallelism, uint32(len(key))) }); err != nil {
		return false, err
	}
	if subtle.ConstantTimeCompare(got, key) != 1 {
		return false, ErrMismatch
	}
	return p.Memory < want.Memory || p.Iterations < want.Iterations, nil
}

// Bounds on cost parameters, shared by Validate (what may be hashed) and
// parse (what a stored hash may demand): a tampered or misconfigured hash
// must not cost more than this, and nothing may be hashed that Verify would
// later refuse.
const (
	maxMemory     = 1 << 18 // KiB: 256 MiB
	maxIterations = 64
	minKeyLen     = 16
	maxKeyLen     = 64
)

// Validate reports whether p is usable: Hash refuses anything else, so a
// configuration cannot produce hashes that Verify would reject.
func (p Params) Validate() error {
	switch {
	case p.Parallelism < 1:
		return errors.New("password params: Parallelism must be at least 1")
	case p.Memory < 8*uint32(p.Parallelism) || p.Memory > maxMemory:
		return fmt.Errorf("password params: Memory must be between 8×Parallelism and %d KiB", maxMemory)
	case p.Iterations < 1 || p.Iterations > maxIterations:
		return fmt.Errorf("password params: Iterations must be between 1 and %d", maxIterations)
	case p.SaltLen < 16:
		return errors.New("password params: SaltLen must be at least 16 bytes")
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("password params: KeyLen must be between %d and %d bytes", minKeyLen, maxKeyLen)
	}
	return nil
}

// Dummy stands in for a stored hash where there is none (an unknown user, a
// user without a password), so that such a sign-in takes as long as a real
// one (SECURITY-CHECKLIST ATO-04).
type Dummy struct {
	hash string
	p    Params
}

// NewDummy hashes a fixed password under p once.
func NewDummy(p Params) (*Dummy, error) {
	h, err := Hash("gatehouse-timing-equalizer", p)
	if err != nil {
		return nil, err
	}
	return &Dummy{hash: h, p: p}, nil
}

// Verify spends the time of one verification. It reports only ErrBusy,
// when it could not run: the caller must then not answer as if a password
// had been checked.
func (d *Dummy) Verify(pw string) error {
	if _, err := Verify(pw, d.hash, d.p); errors.Is(err, ErrBusy) {
		return err
	}
	return nil
}

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
	if p.Memory < 8 || p.Memory > maxMemory || p.Iterations < 1 || p.Iterations > maxIterations || p.Parallelism < 1 {
		return Params{}, nil, nil, ErrMalformedHash
	}
	salt, err1 := b64.DecodeString(parts[4])
	key, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < minKeyLen || len(key) > maxKeyLen {
		return Params{}, nil, nil, ErrMalformedHash
	}
	return p, salt, key, nil
}
