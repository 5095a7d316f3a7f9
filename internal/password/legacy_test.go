package password

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// hashRaw is Hash as it was before passwords were normalized: pw as typed.
func hashRaw(t *testing.T, pw string, p Params) string {
	t.Helper()
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte(pw), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Iterations, p.Parallelism,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// "Ångström ﬁ①": precomposed (NFC) vs decomposed (NFD/NFKD) Å and ö, and
// compatibility characters (the ﬁ ligature, a circled digit) that NFKC
// replaces with "fi" and "1".
const (
	composed   = "\u00c5ngstr\u00f6m \ufb01\u2460"
	decomposed = "A\u030angstro\u0308m \ufb01\u2460"
	nfkc       = "\u00c5ngstr\u00f6m fi1"
)

func TestNormalize(t *testing.T) {
	if Normalize(composed) != nfkc || Normalize(decomposed) != nfkc {
		t.Fatalf("Normalize: %q, %q; want %q", Normalize(composed), Normalize(decomposed), nfkc)
	}
}

func TestNFKCAndNFKDFormsBothVerify(t *testing.T) {
	h, err := Hash(decomposed, fast)
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{composed, decomposed, nfkc} {
		if rehash, err := Verify(pw, h, fast); err != nil || rehash {
			t.Errorf("Verify(%q) = %v, %v; want a match without rehash", pw, rehash, err)
		}
	}
	if _, err := Verify("Angstrom fi1", h, fast); !errors.Is(err, ErrMismatch) {
		t.Errorf("a different password: %v, want ErrMismatch", err)
	}
}

func TestHashOfUnnormalizedPasswordStillVerifiesAndAsksForRehash(t *testing.T) {
	legacy := hashRaw(t, decomposed, fast)
	rehash, err := Verify(decomposed, legacy, fast)
	if err != nil || !rehash {
		t.Fatalf("the password as typed against its old hash: rehash=%v err=%v; want a match asking for rehash", rehash, err)
	}
	// The composed form was never hashed: it cannot match the old hash.
	if _, err := Verify(composed, legacy, fast); !errors.Is(err, ErrMismatch) {
		t.Errorf("composed form against a hash of the decomposed one: %v, want ErrMismatch", err)
	}
	// Once rehashed, both forms sign in.
	h, _ := Hash(decomposed, fast)
	if _, err := Verify(composed, h, fast); err != nil {
		t.Errorf("after rehash: %v", err)
	}
}

func bcryptHash(t *testing.T, pw string, cost int, prefix string) string {
	t.Helper()
	b, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
	if err != nil {
		t.Fatal(err)
	}
	return prefix + string(b[4:])
}

func TestBcrypt(t *testing.T) {
	for _, prefix := range []string{"$2a$", "$2b$", "$2y$"} {
		h := bcryptHash(t, "hunter2 legacy", bcrypt.MinCost, prefix)
		if rehash, err := Verify("hunter2 legacy", h, fast); err != nil || !rehash {
			t.Errorf("%s: right password: rehash=%v err=%v; want a match that asks for an argon2id rehash", prefix, rehash, err)
		}
		if _, err := Verify("hunter2 Legacy", h, fast); !errors.Is(err, ErrMismatch) {
			t.Errorf("%s: wrong password: %v, want ErrMismatch", prefix, err)
		}
	}
	if _, err := Verify("x", "$2x$04$"+strings.Repeat("a", 53), fast); !errors.Is(err, ErrMalformedHash) {
		t.Errorf("$2x$: %v, want ErrMalformedHash", err)
	}
	if _, err := Verify("x", "$2a$31$"+strings.Repeat("a", 53), fast); !errors.Is(err, ErrMalformedHash) {
		t.Errorf("cost 31: %v, want ErrMalformedHash (it would run for days)", err)
	}
}

func TestBcryptRefusesWhatItWouldTruncate(t *testing.T) {
	first72 := strings.Repeat("a", 72)
	h := bcryptHash(t, first72, bcrypt.MinCost, "$2b$")
	if _, err := Verify(first72, h, fast); err != nil {
		t.Fatalf("72 bytes: %v", err)
	}
	// bcrypt reads 72 bytes at most: a longer password equal in its first
	// 72 bytes would match if it were passed on.
	for _, longer := range []string{first72 + "b", first72 + strings.Repeat("z", 100)} {
		if _, err := Verify(longer, h, fast); !errors.Is(err, ErrMismatch) {
			t.Errorf("%d bytes sharing the first 72: %v, want ErrMismatch", len(longer), err)
		}
	}
}

func TestImportableHash(t *testing.T) {
	argon, _ := Hash("pw", fast)
	for _, tc := range []struct {
		hash string
		want error
	}{
		{argon, nil},
		{bcryptHash(t, "pw", 10, "$2a$"), nil},
		{bcryptHash(t, "pw", 10, "$2y$"), nil},
		{bcryptHash(t, "pw", bcrypt.MinCost, "$2b$"), ErrWeakHash},
		{"$2b$15$" + strings.Repeat("a", 53), ErrMalformedHash},
		{"$2b$10$short", ErrMalformedHash},
		{"$1$md5crypt$abcdefghijklmnopqrstuv", ErrMalformedHash},
		{"5f4dcc3b5aa765d61d8327deb882cf99", ErrMalformedHash},
		{"$pbkdf2-sha256$29000$c2FsdA$a2V5", ErrMalformedHash},
		{"", ErrMalformedHash},
	} {
		if err := ImportableHash(tc.hash); !errors.Is(err, tc.want) {
			t.Errorf("ImportableHash(%.20q) = %v, want %v", tc.hash, err, tc.want)
		}
	}
}

// The ATO-04 trade-off in numbers: a bcrypt verification at the lowest
// importable cost against the argon2id one that unknown accounts get.
func BenchmarkVerifyBcryptCost10(b *testing.B) {
	h, _ := bcrypt.GenerateFromPassword([]byte("legacy secret"), MinBcryptCost)
	for b.Loop() {
		_, _ = Verify("wrong secret", string(h), Default)
	}
}

func BenchmarkVerifyArgon2idDefault(b *testing.B) {
	h, _ := Hash("a password", Default)
	for b.Loop() {
		_, _ = Verify("wrong secret", h, Default)
	}
}
