package password

import (
	"errors"
	"strings"
	"testing"
)

var fast = Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

func TestHashAndVerify(t *testing.T) {
	h, err := Hash("correct horse battery staple", fast)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("hash = %q, want a PHC argon2id string", h)
	}
	if _, err := Verify("correct horse battery staple", h, fast); err != nil {
		t.Errorf("right password: %v", err)
	}
	for _, wrong := range []string{"", "correct horse battery stapl", "Correct horse battery staple", strings.Repeat("x", MaxLength+1)} {
		if _, err := Verify(wrong, h, fast); !errors.Is(err, ErrMismatch) {
			t.Errorf("Verify(%.20q) = %v, want ErrMismatch", wrong, err)
		}
	}
	if rehash, _ := Verify("correct horse battery staple", h, Default); !rehash {
		t.Error("a hash weaker than Default should ask for a rehash")
	}
	h2, _ := Hash("correct horse battery staple", fast)
	if h == h2 {
		t.Error("two hashes of one password are equal: salt is not random")
	}
}

func TestMalformedHashes(t *testing.T) {
	for _, h := range []string{"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=18$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=1,p=1$!!$a2V5a2V5a2V5a2V5a2V5a2V5"} {
		if _, err := Verify("x", h, fast); !errors.Is(err, ErrMalformedHash) {
			t.Errorf("Verify against %q = %v, want ErrMalformedHash", h, err)
		}
	}
}

func FuzzVerify(f *testing.F) {
	h, _ := Hash("pw", fast)
	f.Add("pw", h)
	f.Add("x", "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5")
	f.Fuzz(func(t *testing.T, pw, hash string) {
		if strings.Contains(hash, "m=") && !strings.Contains(hash, "m=64,") {
			return // keep the fuzzer away from expensive parameters
		}
		_, _ = Verify(pw, hash, fast)
	})
}

// TestValidateAgreesWithVerify: whatever Validate accepts, Verify accepts
// the hash of; what it refuses, Hash refuses.
func TestValidateAgreesWithVerify(t *testing.T) {
	for _, p := range []Params{fast, {Memory: maxMemory, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 64}} {
		h, err := Hash("pw", p)
		if err != nil {
			t.Fatalf("Hash(%+v): %v", p, err)
		}
		if _, err := Verify("pw", h, p); err != nil {
			t.Errorf("Verify of a hash under %+v: %v", p, err)
		}
	}
	for _, p := range []Params{
		{Memory: maxMemory + 8, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Iterations: maxIterations + 1, Parallelism: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Iterations: 1, Parallelism: 0, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 8, KeyLen: 32},
		{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 65},
	} {
		if _, err := Hash("pw", p); err == nil {
			t.Errorf("Hash accepted %+v", p)
		}
	}
}

func TestDummy(t *testing.T) {
	d, err := NewDummy(fast)
	if err != nil {
		t.Fatal(err)
	}
	d.Verify("anything") // must not panic; it reports nothing by design
	if _, err := NewDummy(Params{}); err == nil {
		t.Error("NewDummy accepted zero params")
	}
}
