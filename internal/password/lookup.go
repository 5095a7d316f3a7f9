package password

import (
	"fmt"

	"golang.org/x/crypto/argon2"
)

// HashLike returns the PHC string of secret under the parameters and the
// salt of the stored hash like: the same string Hash gave, when secret is
// what like was made from. It is for secrets found by their hash rather
// than checked against one (a user's recovery codes share one salt, so a
// typed code is hashed once and looked up), whose entropy is too low for
// a plain hash (NIST SP 800-63B §5.1.2.2: look-up secrets under 112 bits
// take a salted key derivation function). It runs in a slot like Hash;
// ErrBusy means it could not.
func HashLike(secret, like string) (string, error) {
	p, salt, key, err := parse(like)
	if err != nil {
		return "", err
	}
	if len(secret) > MaxLength {
		return "", fmt.Errorf("hash secret: longer than %d bytes", MaxLength)
	}
	var got []byte
	if err := run(func() {
		got = argon2.IDKey([]byte(secret), salt, p.Iterations, p.Memory, p.Parallelism, uint32(len(key)))
	}); err != nil {
		return "", err
	}
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Iterations,
		p.Parallelism, b64.EncodeToString(salt), b64.EncodeToString(got)), nil
}
