// Package password hashes and verifies user passwords with argon2id
// (RFC 9106), stored as PHC strings so parameters can change over time.
// It also verifies bcrypt hashes imported from legacy systems ($2a$, $2b$,
// $2y$), which Verify asks to rehash, so that they become argon2id at the
// user's first sign-in. Passwords are hashed and verified in Unicode
// normalization form NFKC (NIST SP 800-63B §3.1.1.2), so the same password
// typed on keyboards or systems that compose characters differently is
// the same password.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/text/unicode/norm"
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

// ErrMalformedHash means a stored hash cannot be parsed: it is neither an
// argon2id PHC string nor a bcrypt hash within the bounds below.
var ErrMalformedHash = errors.New("malformed password hash")

// Normalize returns pw in normalization form NFKC, the form Hash hashes
// and Verify checks first.
func Normalize(pw string) string { return norm.NFKC.String(pw) }

var b64 = base64.RawStdEncoding

// Hash returns the PHC string of pw under p.
func Hash(pw string, p Params) (string, error) {
	if err := p.Validate(); err != nil {
		return "", err
	}
	pw = Normalize(pw)
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

// Verify checks pw against a stored hash, an argon2id PHC string or a
// bcrypt hash, in constant time. It reports whether the hash should be
// recomputed with Hash: always for bcrypt (an imported legacy hash), for
// argon2id when its parameters are weaker than want or when only the
// password as typed, not its NFKC form, matched (a hash made before
// passwords were normalized). ErrBusy means it could not run (see
// SetConcurrency).
//
// A password whose NFKC form differs from it costs two verifications when
// it does not match, whoever the account: Dummy.Verify goes through here
// too, so unknown accounts take as long.
func Verify(pw, hash string, want Params) (rehash bool, err error) {
	if isBcrypt(hash) {
		return verifyBcrypt(pw, hash)
	}
	p, salt, key, err := parse(hash)
	if err != nil {
		return false, err
	}
	n := Normalize(pw)
	ok, err := argon2Match(n, p, salt, key)
	if err != nil {
		return false, err
	}
	if ok {
		return p.Memory < want.Memory || p.Iterations < want.Iterations, nil
	}
	if n != pw {
		if ok, err := argon2Match(pw, p, salt, key); err != nil || ok {
			return ok, err
		}
	}
	return false, ErrMismatch
}

// argon2Match computes pw's key under the stored parameters and compares.
func argon2Match(pw string, p Params, salt, key []byte) (bool, error) {
	if len(pw) > MaxLength {
		return false, nil
	}
	var got []byte
	if err := run(func() { got = argon2.IDKey([]byte(pw), salt, p.Iterations, p.Memory, p.Parallelism, uint32(len(key))) }); err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// Bounds on imported bcrypt hashes. A bcrypt cost below MinBcryptCost is
// too cheap to keep even until the first sign-in (ImportableHash refuses
// it); above maxBcryptCost one verification would take seconds, so a
// tampered hash cannot make a sign-in that slow.
const (
	MinBcryptCost = 10
	maxBcryptCost = 14
	// bcryptMaxBytes is where bcrypt stops reading its input. Some
	// legacy systems silently truncated longer passwords; Verify never
	// matches a longer candidate instead, so that two passwords equal in
	// their first 72 bytes are not both accepted (SECURITY-CHECKLIST
	// ATO-03). A user whose legacy password was longer resets it.
	bcryptMaxBytes = 72
)

// isBcrypt reports whether hash is in the modular crypt format of bcrypt
// revisions 2a, 2b or 2y (2y is PHP's name for 2b).
func isBcrypt(hash string) bool {
	return strings.HasPrefix(hash, "$2a$") || strings.HasPrefix(hash, "$2b$") || strings.HasPrefix(hash, "$2y$")
}

// bcryptCost parses a bcrypt hash just enough to bound its cost.
func bcryptCost(hash string) (int, error) {
	cost, err := bcrypt.Cost([]byte(hash))
	if err != nil || len(hash) != 60 || cost > maxBcryptCost {
		return 0, ErrMalformedHash
	}
	return cost, nil
}

// verifyBcrypt checks pw (its NFKC form, then as typed) against a bcrypt
// hash. A match always asks for a rehash: bcrypt hashes are only kept until
// the user's next sign-in.
//
// Timing (SECURITY-CHECKLIST ATO-04): a bcrypt verification at cost 10
// takes about 100 ms on the 2-core VM, and each step of cost doubles it,
// while the argon2id verification that unknown accounts get (Dummy) takes
// 200 to 300 ms (BenchmarkVerifyBcryptCost10, BenchmarkVerifyArgon2idDefault);
// so a failed sign-in of an imported, not yet migrated account may answer
// measurably faster (or, from cost 12, slower) than an unknown one. That is accepted for the migration window: padding it would
// need a second hash on every sign-in, and every successful sign-in ends
// the difference for that account.
func verifyBcrypt(pw, hash string) (bool, error) {
	if _, err := bcryptCost(hash); err != nil {
		return false, err
	}
	n := Normalize(pw)
	for i, c := range []string{n, pw} {
		if i == 1 && c == n {
			break
		}
		if len(c) > bcryptMaxBytes {
			continue
		}
		var err error
		if rerr := run(func() { err = bcrypt.CompareHashAndPassword([]byte(hash), []byte(c)) }); rerr != nil {
			return false, rerr
		}
		switch {
		case err == nil:
			return true, nil
		case !errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
			return false, ErrMalformedHash
		}
	}
	return false, ErrMismatch
}

// ErrWeakHash means an imported hash is well formed but too cheap to
// store (a bcrypt cost below MinBcryptCost).
var ErrWeakHash = fmt.Errorf("password hash: bcrypt cost below %d", MinBcryptCost)

// ImportableHash checks a hash brought from another system before it is
// stored: an argon2id PHC string within this package's bounds, or a bcrypt
// hash ($2a$, $2b$, $2y$) of cost MinBcryptCost to 14. Anything else is
// ErrMalformedHash (an unknown format) or ErrWeakHash.
func ImportableHash(hash string) error {
	if isBcrypt(hash) {
		cost, err := bcryptCost(hash)
		if err != nil {
			return err
		}
		if cost < MinBcryptCost {
			return ErrWeakHash
		}
		return nil
	}
	_, _, _, err := parse(hash)
	return err
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
