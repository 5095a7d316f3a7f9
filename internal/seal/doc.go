// Package seal encrypts secrets at rest (signing keys, upstream client
// secrets, TOTP seeds) with the instance's master key, using AES-256-GCM.
// Sealed values carry a format version and a key id so the master key can
// be rotated later without re-sealing everything at once.
package seal
