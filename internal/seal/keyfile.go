package seal

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"unicode"
)

// ParseKey decodes a master key given as text (GATEHOUSE_MASTER_KEY):
// standard or URL-safe base64 (padded or not) or hex, of exactly 32 bytes.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("seal: master key is empty; expected 32 bytes as base64 or hex (e.g. `openssl rand -base64 32`)")
	}
	if len(s) == 2*KeySize {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("seal: master key decodes to %d bytes; need exactly %d (e.g. `openssl rand -base64 32`)", len(b), KeySize)
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("seal: master key is neither base64 nor hex of %d bytes (e.g. `openssl rand -base64 32`)", KeySize)
}

// LoadOrCreateKeyFile returns the master key stored in path, creating the
// file with a new random key and mode 0600 when it does not exist. It is for
// development: production passes GATEHOUSE_MASTER_KEY or
// GATEHOUSE_MASTER_KEY_FILE. An existing file
// that group or others may read is refused rather than used, since the key
// in it must be treated as disclosed.
func LoadOrCreateKeyFile(path string) ([][]byte, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("seal: generate key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		_, werr := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
		cerr := f.Close()
		if werr != nil || cerr != nil {
			_ = os.Remove(path)
			return nil, fmt.Errorf("seal: write key file %s: %w", path, errors.Join(werr, cerr))
		}
		return [][]byte{key}, nil
	case !errors.Is(err, fs.ErrExist):
		return nil, fmt.Errorf("seal: create key file: %w", err)
	}
	return ReadKeyFile(path)
}

// ReadKeyFile returns the master keys in path (see ParseKeys), read as
// ReadSecretFile reads a secret.
func ReadKeyFile(path string) ([][]byte, error) {
	s, err := ReadSecretFile(path)
	if err != nil {
		return nil, fmt.Errorf("seal: key file: %w", err)
	}
	keys, err := ParseKeys(s)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return keys, nil
}

// ReadSecretFile is the content of the file at path, trimmed, refusing a
// file that is not regular, that group or others may access (what it
// holds must then be treated as disclosed), or that is empty: the master
// key file, and every secret configuration reads from a file.
func ReadSecretFile(path string) (string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, errors.Unwrap(err))
	}
	if !info.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", path)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("%s has mode %04o; it must not be accessible by group or others (chmod 600, and treat what it holds as disclosed)", path, perm)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, errors.Unwrap(err))
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return v, nil
}

// ParseKeys decodes one or more master keys, each as ParseKey reads it,
// separated by commas or white space (a file may hold one a line). The
// first seals; the others only open what they sealed, while a rotation
// re-seals it (gatehouse keys rotate-master).
func ParseKeys(s string) ([][]byte, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	if len(fields) == 0 {
		return nil, errors.New("seal: master key is empty; expected 32 bytes as base64 or hex (e.g. `openssl rand -base64 32`)")
	}
	keys := make([][]byte, len(fields))
	for i, f := range fields {
		k, err := ParseKey(f)
		if err != nil {
			if len(fields) > 1 {
				return nil, fmt.Errorf("key %d of %d: %w", i+1, len(fields), err)
			}
			return nil, err
		}
		keys[i] = k
	}
	return keys, nil
}
