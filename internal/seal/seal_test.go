package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func TestSealOpenRoundTrip(t *testing.T) {
	s, err := New(testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	for _, plain := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte("secret"), 1000)} {
		sealed, err := s.Seal(plain, []byte("sk_1"))
		if err != nil {
			t.Fatal(err)
		}
		if sealed[0] != version2 || s.KeyID() != hex.EncodeToString(sealed[1:v2Header]) {
			t.Fatalf("header = %x, want version 2 and key id %s", sealed[:v2Header], s.KeyID())
		}
		got, err := s.Open(sealed, []byte("sk_1"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, plain) {
			t.Fatalf("round trip changed the plaintext")
		}
		// Only a plaintext long enough not to occur in random bytes by chance
		// (a single byte does in ~1 of 9 seals) says anything.
		if len(plain) >= 8 && bytes.Contains(sealed, plain) {
			t.Fatal("plaintext visible in sealed value")
		}
	}
}

func TestSealNonceIsFresh(t *testing.T) {
	s, _ := New(testKey(1))
	a, _ := s.Seal([]byte("same"), nil)
	b, _ := s.Seal([]byte("same"), nil)
	if bytes.Equal(a, b) {
		t.Fatal("two seals of one plaintext are equal")
	}
}

func TestOpenRejects(t *testing.T) {
	s, _ := New(testKey(1))
	other, _ := New(testKey(2))
	sealed, _ := s.Seal([]byte("private key"), []byte("sk_1"))
	flip := func(i int) []byte {
		c := bytes.Clone(sealed)
		c[i] ^= 1
		return c
	}
	cases := map[string]struct {
		sealer *Sealer
		sealed []byte
		ad     string
	}{
		"wrong associated data": {s, sealed, "sk_2"},
		"wrong key":             {other, sealed, "sk_1"},
		"version changed":       {s, flip(0), "sk_1"},
		"key id changed":        {s, flip(1), "sk_1"},
		"key id byte 4 changed": {s, flip(4), "sk_1"},
		"nonce changed":         {s, flip(3), "sk_1"},
		"ciphertext changed":    {s, flip(len(sealed) - 1), "sk_1"},
		"truncated":             {s, sealed[:minSealedLen-1], "sk_1"},
		"truncated past header": {s, sealed[:v2Header+nonceSize+tagSize-1], "sk_1"},
		"empty":                 {s, nil, "sk_1"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := c.sealer.Open(c.sealed, []byte(c.ad)); !errors.Is(err, ErrOpen) {
				t.Fatalf("Open = %v, want ErrOpen", err)
			}
		})
	}
}

func TestNewKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := New(make([]byte, n)); err == nil {
			t.Errorf("New accepted a %d-byte key", n)
		}
	}
}

func TestParseKey(t *testing.T) {
	key := testKey(7)
	for name, s := range map[string]string{
		"hex":          hex.EncodeToString(key),
		"base64":       base64.StdEncoding.EncodeToString(key),
		"raw base64":   base64.RawStdEncoding.EncodeToString(key),
		"url base64":   base64.URLEncoding.EncodeToString(key),
		"with newline": base64.StdEncoding.EncodeToString(key) + "\n",
	} {
		got, err := ParseKey(s)
		if err != nil || !bytes.Equal(got, key) {
			t.Errorf("%s: ParseKey = %x, %v", name, got, err)
		}
	}
	for name, s := range map[string]string{
		"empty":     "",
		"short b64": base64.StdEncoding.EncodeToString(key[:16]),
		"long hex":  hex.EncodeToString(append(key, 1)),
		"garbage":   "not a key!",
	} {
		if _, err := ParseKey(s); err == nil || !strings.Contains(err.Error(), "32") {
			t.Errorf("%s: ParseKey error = %v, want a message naming 32 bytes", name, err)
		}
	}
}

func TestLoadOrCreateKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	k1s, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Fatalf("mode = %04o, want 0600", perm)
	}
	k2s, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(k1s) != 1 || len(k2s) != 1 || !bytes.Equal(k1s[0], k2s[0]) || len(k1s[0]) != KeySize {
		t.Fatal("second load returned another key")
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKeyFile(path); err == nil {
		t.Fatal("group-readable key file accepted")
	}
	bad := filepath.Join(t.TempDir(), "bad.key")
	if err := os.WriteFile(bad, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKeyFile(bad); err == nil {
		t.Fatal("malformed key file accepted")
	}
}

func FuzzOpen(f *testing.F) {
	s, _ := New(testKey(1))
	good, _ := s.Seal([]byte("plaintext"), []byte("ad"))
	f.Add(good, []byte("ad"))
	f.Add([]byte{}, []byte{})
	f.Add([]byte{1, 0}, []byte("ad"))
	f.Add(bytes.Repeat([]byte{1}, minSealedLen), []byte{})
	f.Fuzz(func(t *testing.T, sealed, ad []byte) {
		plain, err := s.Open(sealed, ad)
		if err != nil {
			if !errors.Is(err, ErrOpen) {
				t.Fatalf("unexpected error type %v", err)
			}
			return
		}
		// Only authentic input opens; resealing must round-trip.
		again, err := s.Seal(plain, ad)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.Open(again, ad); err != nil || !bytes.Equal(got, plain) {
			t.Fatal("reseal round trip failed")
		}
	})
}

// TestRotation: a Sealer of several keys seals with the first and opens
// what any of them sealed, including version-1 values (written before key
// ids); Reseal moves a value to the current key once and leaves it alone
// after.
func TestRotation(t *testing.T) {
	oldKey, newKey := testKey(1), testKey(2)
	old, err := New(oldKey)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := New(newKey, oldKey)
	if err != nil {
		t.Fatal(err)
	}
	if ring.KeyID() == old.KeyID() {
		t.Fatal("two keys share an id")
	}
	underOld, _ := old.Seal([]byte("signing key"), []byte("sk_1"))
	legacy := sealV1(t, oldKey, []byte("legacy key"), []byte("sk_2"))

	for name, c := range map[string]struct {
		sealed []byte
		plain  string
	}{"old key": {underOld, "signing key"}, "version 1": {legacy, "legacy key"}} {
		t.Run(name, func(t *testing.T) {
			if got, err := ring.Open(c.sealed, adOf(name)); err != nil || string(got) != c.plain {
				t.Fatalf("Open = %q, %v", got, err)
			}
			again, resealed, err := ring.Reseal(c.sealed, adOf(name))
			if err != nil || !resealed || again[0] != version2 || hex.EncodeToString(again[1:v2Header]) != ring.KeyID() {
				t.Fatalf("Reseal = %x, %v, %v", again[:v2Header], resealed, err)
			}
			if _, resealed, err := ring.Reseal(again, adOf(name)); err != nil || resealed {
				t.Fatalf("second Reseal = %v, %v; want nothing to do", resealed, err)
			}
			// Once re-sealed, the new key alone opens it: the old one can go.
			newOnly, _ := New(newKey)
			if got, err := newOnly.Open(again, adOf(name)); err != nil || string(got) != c.plain {
				t.Fatalf("new key alone: %q, %v", got, err)
			}
			if _, err := old.Open(again, adOf(name)); !errors.Is(err, ErrOpen) {
				t.Fatalf("old key opened a value re-sealed under the new one: %v", err)
			}
		})
	}
	// Re-sealing keeps the binding to the associated data.
	if _, _, err := ring.Reseal(underOld, []byte("sk_other")); !errors.Is(err, ErrOpen) {
		t.Fatalf("Reseal with other associated data = %v, want ErrOpen", err)
	}
	if _, err := New(oldKey, oldKey); err == nil {
		t.Fatal("the same key twice was accepted")
	}
	if _, err := New(); err == nil {
		t.Fatal("no key was accepted")
	}
}

func adOf(name string) []byte {
	if name == "version 1" {
		return []byte("sk_2")
	}
	return []byte("sk_1")
}

// sealV1 writes the version-1 format (one zero key-id byte), as Gatehouse
// did before key ids.
func sealV1(t *testing.T, key, plain, associated []byte) []byte {
	t.Helper()
	block, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(block)
	out := make([]byte, v1Header+nonceSize)
	out[0] = version1
	if _, err := rand.Read(out[v1Header:]); err != nil {
		t.Fatal(err)
	}
	return aead.Seal(out, out[v1Header:], plain, append([]byte{version1, 0}, associated...))
}

func TestParseKeys(t *testing.T) {
	a, b := base64.StdEncoding.EncodeToString(testKey(1)), hex.EncodeToString(testKey(2))
	for name, s := range map[string]string{"comma": a + "," + b, "newlines": a + "\n" + b + "\n", "spaces": "  " + a + "   " + b} {
		keys, err := ParseKeys(s)
		if err != nil || len(keys) != 2 || !bytes.Equal(keys[0], testKey(1)) || !bytes.Equal(keys[1], testKey(2)) {
			t.Errorf("%s: ParseKeys = %d keys, %v", name, len(keys), err)
		}
	}
	if _, err := ParseKeys(a + ",short"); err == nil || !strings.Contains(err.Error(), "key 2 of 2") {
		t.Errorf("a bad second key: %v, want it named", err)
	}
	if _, err := ParseKeys(" , "); err == nil {
		t.Error("no keys accepted")
	}
}
