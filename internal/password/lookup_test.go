package password

import (
	"errors"
	"testing"
)

func TestHashLike(t *testing.T) {
	p := Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}
	first, err := Hash("abcde12345", p)
	if err != nil {
		t.Fatal(err)
	}
	again, err := HashLike("abcde12345", first)
	if err != nil || again != first {
		t.Fatalf("HashLike(same) = %q, %v; want %q", again, err, first)
	}
	other, err := HashLike("zzzzz99999", first)
	if err != nil || other == first || other[:len(other)-43] != first[:len(first)-43] {
		t.Fatalf("HashLike(other) = %q, %v: want the same parameters and salt, another key", other, err)
	}
	if _, err := Verify("zzzzz99999", other, p); err != nil {
		t.Fatalf("Verify(HashLike) = %v", err)
	}
	if _, err := HashLike("x", "$argon2id$junk"); !errors.Is(err, ErrMalformedHash) {
		t.Fatalf("HashLike(malformed) = %v", err)
	}
}
