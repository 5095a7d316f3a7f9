package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// KeySize is the length of a master key: AES-256.
const KeySize = 32

// Format of a sealed value (all lengths in bytes):
//
//	version(1) = 1 | key id(1) | nonce(12) | AES-256-GCM ciphertext and tag(16)
//
// The version and key id are authenticated as part of the associated data,
// so neither can be changed without Open failing.
const (
	version1     byte = 1
	headerSize        = 2
	nonceSize         = 12
	tagSize           = 16
	minSealedLen      = headerSize + nonceSize + tagSize
)

// ErrOpen is returned by Open for any sealed value that does not
// authenticate: wrong key, wrong associated data, truncated or tampered.
// The cause is deliberately not distinguished.
var ErrOpen = errors.New("seal: cannot open sealed value")

// Sealer seals and opens secrets with one master key. It is safe for
// concurrent use.
type Sealer struct {
	keyID byte
	aead  cipher.AEAD
}

// New returns a Sealer for masterKey, which must be exactly 32 bytes.
// Its key id is 0; later rotations will add keys with other ids.
func New(masterKey []byte) (*Sealer, error) {
	if len(masterKey) != KeySize {
		return nil, fmt.Errorf("seal: master key must be %d bytes, got %d", KeySize, len(masterKey))
	}
	block, err := aes.NewCipher(masterKey)
	if err != nil {
		return nil, fmt.Errorf("seal: new cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: new gcm: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext and binds it to associatedData (e.g. the id of the
// row that stores it, so a sealed value cannot be moved to another row).
func (s *Sealer) Seal(plaintext, associatedData []byte) ([]byte, error) {
	out := make([]byte, headerSize+nonceSize, headerSize+nonceSize+len(plaintext)+tagSize)
	out[0], out[1] = version1, s.keyID
	if _, err := rand.Read(out[headerSize:]); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	nonce := out[headerSize : headerSize+nonceSize]
	return s.aead.Seal(out, nonce, plaintext, s.ad(out[:headerSize], associatedData)), nil
}

// Open decrypts a value made by Seal with the same associatedData. Any
// failure is ErrOpen.
func (s *Sealer) Open(sealed, associatedData []byte) ([]byte, error) {
	if len(sealed) < minSealedLen || sealed[0] != version1 || sealed[1] != s.keyID {
		return nil, ErrOpen
	}
	nonce := sealed[headerSize : headerSize+nonceSize]
	plain, err := s.aead.Open(nil, nonce, sealed[headerSize+nonceSize:], s.ad(sealed[:headerSize], associatedData))
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}

// ad authenticates the header together with the caller's associated data.
func (s *Sealer) ad(header, associatedData []byte) []byte {
	ad := make([]byte, 0, len(header)+len(associatedData))
	return append(append(ad, header...), associatedData...)
}
