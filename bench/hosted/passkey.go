package main

// The passkey cell: whole passkey sign-ins (a discoverable credential as
// the first factor) through the hosted pages, each browser holding a
// software authenticator: an ES256 key whose authenticatorData,
// clientDataJSON and signature are built here, as web/passkey_test.go's
// softKey builds them.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
)

var b64u = base64.RawURLEncoding

// Authenticator data flags (WebAuthn L3 §6.1): user present, user
// verified, backup eligible, backed up.
const (
	flagUP = 0x01
	flagUV = 0x04
	flagBE = 0x08
	flagBS = 0x10
)

// softKey is a software authenticator holding one discoverable ES256
// credential for one user.
type softKey struct {
	priv       *ecdsa.PrivateKey
	id         []byte // the credential id
	userHandle []byte // the user's id
	count      uint32 // the signature counter
	// device is the device cookie the server set at this passkey's last
	// sign-in: the browser the passkey lives in comes back with it, as a
	// returning user's does (the first sign-in is a new device's).
	device string
}

func newSoftKey(userHandle []byte) (*softKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	return &softKey{priv: priv, id: id, userHandle: userHandle}, nil
}

// cose is the public key as a COSE_Key (RFC 9053).
func (k *softKey) cose() ([]byte, error) {
	pub, err := k.priv.PublicKey.Bytes() // uncompressed point 0x04 || X || Y
	if err != nil {
		return nil, err
	}
	return webauthncbor.Marshal(webauthncose.EC2PublicKeyData{
		PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(webauthncose.AlgES256)},
		Curve:         1, XCoord: pub[1:33], YCoord: pub[33:],
	})
}

// assert is the authenticator's answer to challenge from origin (whose
// host is the RP ID), as the credential JSON the page posts.
func (k *softKey) assert(challenge, origin, rpID string) (string, error) {
	k.count++
	h := sha256.Sum256([]byte(rpID))
	ad := append(h[:], flagUP|flagUV|flagBE|flagBS)
	ad = binary.BigEndian.AppendUint32(ad, k.count)
	cd := []byte(`{"type":"webauthn.get","challenge":"` + challenge + `","origin":"` + origin + `","crossOrigin":false}`)
	cdHash := sha256.Sum256(cd)
	signed := sha256.Sum256(append(slices.Clone(ad), cdHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, signed[:])
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(map[string]any{"id": b64u.EncodeToString(k.id), "rawId": b64u.EncodeToString(k.id),
		"type": "public-key", "clientExtensionResults": map[string]any{},
		"response": map[string]any{"clientDataJSON": b64u.EncodeToString(cd), "authenticatorData": b64u.EncodeToString(ad),
			"signature": b64u.EncodeToString(sig), "userHandle": b64u.EncodeToString(k.userHandle)}})
	return string(b), err
}

// seedPasskeys registers one software passkey for each of n seeded users
// (user0000000…, every 997th), written into the passkeys table as
// tenants.AddPasskey stores one: user verified, backup eligible and
// backed up, for rpID.
func seedPasskeys(ctx context.Context, dbURL string, n, users int, rpID string) ([]*softKey, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	emails := make([]string, n)
	for i := range emails {
		emails[i] = knownEmail((i * 997) % users)
	}
	rows, err := conn.Query(ctx, "SELECT id FROM users WHERE email = ANY($1) ORDER BY email", emails)
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	if len(ids) != n {
		return nil, fmt.Errorf("passkeys: %d of %d users found", len(ids), n)
	}
	now := time.Now().UTC()
	keys := make([]*softKey, n)
	var rowsIn [][]any
	for i, id := range ids {
		k, err := newSoftKey([]byte(id))
		if err != nil {
			return nil, err
		}
		pub, err := k.cose()
		if err != nil {
			return nil, err
		}
		keys[i] = k
		rowsIn = append(rowsIn, []any{string(pulid.New("pk")), k.id, pub, true, true, true, rpID, now, id})
	}
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"passkeys"},
		[]string{"id", "credential_id", "public_key", "user_verified", "backup_eligible", "backup_state", "rp_id", "created_at", "user_id"},
		pgx.CopyFromRows(rowsIn))
	return keys, err
}

// passkeySignIn is one direct passkey sign-in with k, as the sign-in page
// makes it: GET /login, POST /login/passkey/options (the challenge, for a
// discoverable credential), POST /login/passkey with the assertion, which
// must answer with a session cookie and the redirect to the account.
func (h *hostedClient) passkeySignIn(k *softKey) error {
	b := h.browser()
	if k.device != "" {
		b.cookies["gatehouse_device"] = k.device
	}
	_, csrf, err := b.start(false)
	if err != nil {
		return err
	}
	status, _, body, err := b.doJSON("/login/passkey/options", `{"authRequest":"","csrf":"`+csrf+`"}`)
	if err != nil {
		return err
	}
	var o struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
		} `json:"publicKey"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &o) != nil || o.PublicKey.Challenge == "" {
		return fmt.Errorf("POST /login/passkey/options: %d %.300s", status, body)
	}
	cred, err := k.assert(o.PublicKey.Challenge, h.origin, h.rpID)
	if err != nil {
		return err
	}
	status, loc, body, err := b.do(http.MethodPost, "/login/passkey", url.Values{"authRequest": {""}, "csrf": {csrf}, "credential": {cred}})
	if err != nil {
		return err
	}
	if status != http.StatusSeeOther || loc != "/account" || b.cookies["gatehouse_session"] == "" {
		return fmt.Errorf("POST /login/passkey: %d %q (session cookie %t) %.300s", status, loc, b.cookies["gatehouse_session"] != "", body)
	}
	k.device = b.cookies["gatehouse_device"]
	return nil
}
