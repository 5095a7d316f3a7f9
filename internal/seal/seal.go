package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
)

// KeySize is the length of a master key: AES-256.
const KeySize = 32

// Format of a sealed value (all lengths in bytes):
//
//	version(1) = 2 | key id(4) | nonce(12) | AES-256-GCM ciphertext and tag(16)
//
// The key id names the master key that sealed the value (KeyID), so that
// after a rotation Open picks the right one of several keys and a re-seal
// can skip values already under the current key. Version 1, written before
// key ids, has one zero byte in its place; Open still reads it by trying
// each key. The header is authenticated as part of the associated data, so
// neither version nor key id can be changed without Open failing.
const (
	version1     byte = 1
	version2     byte = 2
	v1Header          = 2
	v2Header          = 5
	nonceSize         = 12
	tagSize           = 16
	minSealedLen      = v1Header + nonceSize + tagSize
)

// ErrOpen is returned by Open for any sealed value that does not
// authenticate: wrong key, wrong associated data, truncated or tampered.
// The cause is deliberately not distinguished.
var ErrOpen = errors.New("seal: cannot open sealed value")

// Sealer seals with one master key, the current one, and opens with any of
// its keys: the current one and those it replaced, during a rotation. It is
// safe for concurrent use.
type Sealer struct {
	current uint32
	keys    map[uint32]cipher.AEAD
	order   []uint32 // current first, as given
}

// New returns a Sealer that seals with keys[0] and opens with every key.
// Each key must be exactly 32 bytes, and no two alike.
func New(keys ...[]byte) (*Sealer, error) {
	if len(keys) == 0 {
		return nil, errors.New("seal: no master key")
	}
	s := &Sealer{keys: make(map[uint32]cipher.AEAD, len(keys))}
	for i, key := range keys {
		if len(key) != KeySize {
			return nil, fmt.Errorf("seal: master key %d must be %d bytes, got %d", i+1, KeySize, len(key))
		}
		id := keyID(key)
		if _, dup := s.keys[id]; dup {
			return nil, fmt.Errorf("seal: master key %d is given twice (or two keys share id %08x; generate another)", i+1, id)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("seal: new cipher: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("seal: new gcm: %w", err)
		}
		s.keys[id] = aead
		s.order = append(s.order, id)
	}
	s.current = s.order[0]
	return s, nil
}

// keyID names a key without revealing it: the first four bytes of an HMAC
// of a fixed label under the key.
func keyID(key []byte) uint32 {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("gatehouse seal key id"))
	return binary.BigEndian.Uint32(m.Sum(nil))
}

// KeyID returns the id of the key that seals, in hex, as logs and the
// rotate-master command show it.
func (s *Sealer) KeyID() string { return hexID(s.current) }

func hexID(id uint32) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], id)
	return hex.EncodeToString(b[:])
}

// Seal encrypts plaintext under the current key and binds it to
// associatedData (e.g. the id of the row that stores it, so a sealed value
// cannot be moved to another row).
func (s *Sealer) Seal(plaintext, associatedData []byte) ([]byte, error) {
	out := make([]byte, v2Header+nonceSize, v2Header+nonceSize+len(plaintext)+tagSize)
	out[0] = version2
	binary.BigEndian.PutUint32(out[1:v2Header], s.current)
	if _, err := rand.Read(out[v2Header:]); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	nonce := out[v2Header : v2Header+nonceSize]
	return s.keys[s.current].Seal(out, nonce, plaintext, ad(out[:v2Header], associatedData)), nil
}

// Open decrypts a value made by Seal with the same associatedData, under
// any of the Sealer's keys. Any failure is ErrOpen.
func (s *Sealer) Open(sealed, associatedData []byte) ([]byte, error) {
	plain, _, err := s.open(sealed, associatedData)
	return plain, err
}

// Reseal opens sealed and, unless the current key sealed it already, seals
// it again under the current key. resealed says whether out is new.
func (s *Sealer) Reseal(sealed, associatedData []byte) (out []byte, resealed bool, err error) {
	plain, current, err := s.open(sealed, associatedData)
	if err != nil || current {
		return sealed, false, err
	}
	out, err = s.Seal(plain, associatedData)
	return out, err == nil, err
}

// open returns the plaintext and whether the current key sealed it.
func (s *Sealer) open(sealed, associatedData []byte) ([]byte, bool, error) {
	if len(sealed) < minSealedLen {
		return nil, false, ErrOpen
	}
	switch sealed[0] {
	case version2:
		if len(sealed) < v2Header+nonceSize+tagSize {
			return nil, false, ErrOpen
		}
		id := binary.BigEndian.Uint32(sealed[1:v2Header])
		aead, ok := s.keys[id]
		if !ok {
			return nil, false, ErrOpen
		}
		plain, err := aead.Open(nil, sealed[v2Header:v2Header+nonceSize], sealed[v2Header+nonceSize:], ad(sealed[:v2Header], associatedData))
		if err != nil {
			return nil, false, ErrOpen
		}
		return plain, id == s.current, nil
	case version1:
		if sealed[1] != 0 {
			return nil, false, ErrOpen
		}
		for _, id := range s.order {
			plain, err := s.keys[id].Open(nil, sealed[v1Header:v1Header+nonceSize], sealed[v1Header+nonceSize:], ad(sealed[:v1Header], associatedData))
			if err == nil {
				return plain, false, nil // version 1 is re-sealed whatever its key
			}
		}
	}
	return nil, false, ErrOpen
}

// ad authenticates the header together with the caller's associated data.
func ad(header, associatedData []byte) []byte {
	out := make([]byte, 0, len(header)+len(associatedData))
	return append(append(out, header...), associatedData...)
}
