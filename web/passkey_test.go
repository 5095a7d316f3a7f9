package web

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/passkey"
	"github.com/gatehouse-id/gatehouse/internal/ratelimit"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// Protocol-level passkey tests: a tiny software authenticator (an ES256
// key; authenticator data, clientDataJSON and signatures built here) talks
// to the pages over HTTP, and each test bends one part of what it sends
// (SECURITY-CHECKLIST PK-01..PK-05).

const (
	pkOrigin = "http://localhost" // the test issuer's origin
	pkRPID   = "localhost"
)

var b64u = base64.RawURLEncoding

// authenticator flags (WebAuthn L3 §6.1).
const (
	flagUP = 0x01
	flagUV = 0x04
	flagBE = 0x08
	flagBS = 0x10
	flagAT = 0x40
)

// softKey is one discoverable credential of a software authenticator.
type softKey struct {
	t          testing.TB
	priv       *ecdsa.PrivateKey
	id         []byte
	userHandle []byte
	count      uint32
	backup     bool // backup eligible (and backed up)
}

func newSoftKey(t testing.TB, userHandle []byte, backup bool) *softKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	return &softKey{t: t, priv: priv, id: id, userHandle: userHandle, backup: backup}
}

// cose is the public key as a COSE_Key (RFC 9053).
func (k *softKey) cose() []byte {
	k.t.Helper()
	pub, err := k.priv.PublicKey.Bytes() // uncompressed point 0x04 || X || Y
	if err != nil {
		k.t.Fatal(err)
	}
	b, err := webauthncbor.Marshal(webauthncose.EC2PublicKeyData{
		PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(webauthncose.AlgES256)},
		Curve:         1, XCoord: pub[1:33], YCoord: pub[33:],
	})
	if err != nil {
		k.t.Fatal(err)
	}
	return b
}

func (k *softKey) flags() byte {
	f := byte(flagUP | flagUV)
	if k.backup {
		f |= flagBE | flagBS
	}
	return f
}

// authData is authenticator data for rpID with flags and count, and the
// attested credential data when attested.
func (k *softKey) authData(rpID string, flags byte, count uint32, attested bool) []byte {
	h := sha256.Sum256([]byte(rpID))
	b := append(h[:], flags)
	b = binary.BigEndian.AppendUint32(b, count)
	if attested {
		b = append(b, make([]byte, 16)...) // AAGUID: none
		b = binary.BigEndian.AppendUint16(b, uint16(len(k.id)))
		b = append(b, k.id...)
		b = append(b, k.cose()...)
	}
	return b
}

func clientData(typ, challenge, origin string, extra string) []byte {
	return []byte(`{"type":"` + typ + `","challenge":"` + challenge + `","origin":"` + origin + `","crossOrigin":false` + extra + `}`)
}

func (k *softKey) sign(data []byte) []byte {
	k.t.Helper()
	h := sha256.Sum256(data)
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, h[:])
	if err != nil {
		k.t.Fatal(err)
	}
	return sig
}

// assertion is what the authenticator answers to challenge; bend changes
// any part of it before it is signed.
type assertion struct {
	typ, origin, rpID string
	flags             byte
	count             uint32
	userHandle        []byte
	extra             string   // more clientDataJSON members
	signer            *softKey // signs it; k when nil
}

func (k *softKey) assert(challenge string, bend ...func(*assertion)) string {
	k.t.Helper()
	k.count++
	a := assertion{typ: "webauthn.get", origin: pkOrigin, rpID: pkRPID, flags: k.flags(), count: k.count, userHandle: k.userHandle}
	for _, f := range bend {
		f(&a)
	}
	ad := k.authData(a.rpID, a.flags, a.count, false)
	cd := clientData(a.typ, challenge, a.origin, a.extra)
	signer := k
	if a.signer != nil {
		signer = a.signer
	}
	h := sha256.Sum256(cd)
	sig := signer.sign(append(slices.Clone(ad), h[:]...))
	resp := map[string]any{"clientDataJSON": b64u.EncodeToString(cd), "authenticatorData": b64u.EncodeToString(ad),
		"signature": b64u.EncodeToString(sig)}
	if a.userHandle != nil {
		resp["userHandle"] = b64u.EncodeToString(a.userHandle)
	}
	return k.credentialJSON(resp)
}

// attest is the authenticator's answer to a creation challenge ("none"
// attestation).
func (k *softKey) attest(challenge string) string {
	k.t.Helper()
	obj, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{},
		"authData": k.authData(pkRPID, k.flags()|flagAT, 0, true)})
	if err != nil {
		k.t.Fatal(err)
	}
	cd := clientData("webauthn.create", challenge, pkOrigin, "")
	return k.credentialJSON(map[string]any{"clientDataJSON": b64u.EncodeToString(cd),
		"attestationObject": b64u.EncodeToString(obj), "transports": []string{"internal"}})
}

func (k *softKey) credentialJSON(resp map[string]any) string {
	b, err := json.Marshal(map[string]any{"id": b64u.EncodeToString(k.id), "rawId": b64u.EncodeToString(k.id),
		"type": "public-key", "response": resp, "clientExtensionResults": map[string]any{}})
	if err != nil {
		k.t.Fatal(err)
	}
	return string(b)
}

// register stores k for u directly (tenants.AddPasskey), with count.
func (e *env) register(u *ent.User, k *softKey, count uint32) *ent.Passkey {
	e.t.Helper()
	k.count = count
	pk, err := e.web.cfg.Tenants.AddPasskey(e.t.Context(), tenants.NewPasskey{UserID: u.ID, CredentialID: k.id,
		PublicKey: k.cose(), SignCount: count, UserVerified: true, BackupEligible: k.backup, BackupState: k.backup, RPID: pkRPID})
	if err != nil {
		e.t.Fatal(err)
	}
	return pk
}

func newPasskeyEnv(t *testing.T, db testdb.Database, tweak ...func(*Config)) *env {
	return newEnv(t, db, append([]func(*Config){func(c *Config) { c.Issuer = pkOrigin }}, tweak...)...)
}

// postJSON posts body as JSON.
func (b *browser) postJSON(path string, body any) response {
	b.t.Helper()
	data, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(b.t.Context(), http.MethodPost, b.e.srv.URL+path, bytes.NewReader(data))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return b.do(req)
}

// challengeOf is the challenge of an options answer.
func challengeOf(t *testing.T, r response) string {
	t.Helper()
	wantStatus(t, r, http.StatusOK)
	var o struct {
		PublicKey struct {
			Challenge        string `json:"challenge"`
			AllowCredentials []struct {
				ID string `json:"id"`
			} `json:"allowCredentials"`
			UserVerification       string `json:"userVerification"`
			AuthenticatorSelection struct {
				UserVerification string `json:"userVerification"`
			} `json:"authenticatorSelection"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal([]byte(r.body), &o); err != nil || o.PublicKey.Challenge == "" {
		t.Fatalf("options %v: %s", err, r.body)
	}
	if uv := o.PublicKey.UserVerification + o.PublicKey.AuthenticatorSelection.UserVerification; uv != "required" {
		t.Fatalf("userVerification %q", uv)
	}
	return o.PublicKey.Challenge
}

// passkeyStart opens the sign-in page for a new request and begins a
// passkey ceremony: the request id, the page's CSRF field, the challenge.
func (b *browser) passkeyStart(req LoginRequest) (id, csrf, challenge string) {
	b.t.Helper()
	id = b.e.flow.add(req)
	page := b.get("/login?authRequest=" + url.QueryEscape(id))
	wantStatus(b.t, page, http.StatusOK)
	csrf = page.field("csrf")
	return id, csrf, challengeOf(b.t, b.postJSON("/login/passkey/options", map[string]string{"authRequest": id, "csrf": csrf}))
}

func (b *browser) passkeyFinish(id, csrf, credential string, extra ...string) response {
	b.t.Helper()
	f := url.Values{"authRequest": {id}, "csrf": {csrf}, "credential": {credential}}
	for i := 0; i+1 < len(extra); i += 2 {
		f.Set(extra[i], extra[i+1])
	}
	return b.post("/login/passkey", f)
}

// wantRefused checks the generic refusal and the audited reason.
func wantRefused(t *testing.T, e *env, r response, id, reason string) {
	t.Helper()
	wantStatus(t, r, http.StatusUnauthorized)
	if !strings.Contains(r.body, "Your passkey could not sign you in") {
		t.Errorf("the page does not say the generic sentence:\n%s", r.body)
	}
	if _, ok := e.flow.completed(id); ok {
		t.Fatal("a refused passkey completed the request")
	}
	evs := e.audits(actionLoginFailed)
	if len(evs) == 0 || evs[len(evs)-1].Metadata["reason"] != reason {
		var got any
		if len(evs) > 0 {
			got = evs[len(evs)-1].Metadata["reason"]
		}
		t.Fatalf("last user.login.failed reason %v, want %s", got, reason)
	}
}

func TestPasskeySignIn(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newPasskeyEnv(t, db)
		ada := e.user(userSpec{email: "ada@example.com", name: "Ada", password: pw})
		synced := newSoftKey(t, []byte(ada.ID), true)
		bound := newSoftKey(t, []byte(ada.ID), false)
		e.register(ada, synced, 0)
		e.register(ada, bound, 7)

		for _, c := range []struct {
			key *softKey
			amr string
		}{{synced, tenants.FactorSoftwareKey}, {bound, tenants.FactorHardwareKey}} {
			b := e.browser()
			id, csrf, ch := b.passkeyStart(LoginRequest{FirstParty: true})
			if b.cookie(e.web.ceremonyCk) == "" {
				t.Fatal("no ceremony cookie")
			}
			r := b.passkeyFinish(id, csrf, c.key.assert(ch))
			wantRedirect(t, r, id)
			a, _ := e.flow.completed(id)
			if a.UserID != ada.ID || !slices.Equal(a.AMR, []string{c.amr}) {
				t.Errorf("completed as %s with amr %v, want %s", a.UserID, a.AMR, c.amr)
			}
			if b.cookie(e.web.ceremonyCk) != "" {
				t.Error("the ceremony cookie outlived its answer")
			}
		}
		pk := e.client.Passkey.Query().Where(passkey.CredentialID(bound.id)).OnlyX(sys(t.Context()))
		if pk.SignCount != 8 || pk.LastUsedAt == nil {
			t.Errorf("after sign-in: count %d, last used %v", pk.SignCount, pk.LastUsedAt)
		}
	})
}

// PK-01: only the issuer's origin and RP ID; no cross-origin ceremony.
// PK-02: one answer per ceremony, before it expires, for its purpose.
// PK-03: a counter that goes backwards flags the passkey.
// PK-04: UV and UP are required.
// PK-05: the user handle must be the credential's owner, the signature
// the credential's key, the credential known.
func TestPasskeyRefusals(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		// Many refusals from one address: the throttle is TestPasskeyThrottle's.
		e := newPasskeyEnv(t, db, func(c *Config) { c.AddressPolicy.Free = 1000; c.AddressPolicy.Base = time.Second })
		ada := e.user(userSpec{email: "ada@example.com", name: "Ada", password: pw})
		grace := e.user(userSpec{email: "grace@example.com", name: "Grace", password: pw})
		key := newSoftKey(t, []byte(ada.ID), true)
		e.register(ada, key, 0)
		graceKey := newSoftKey(t, []byte(grace.ID), false)
		e.register(grace, graceKey, 0)

		bends := []struct {
			name, reason string
			bend         func(*assertion)
		}{
			{"origin evil.test", reasonPasskeyInvalid, func(a *assertion) { a.origin = "https://evil.test" }},
			{"origin https", reasonPasskeyInvalid, func(a *assertion) { a.origin = "https://localhost" }},
			{"origin other port", reasonPasskeyInvalid, func(a *assertion) { a.origin = "http://localhost:8443" }},
			{"origin sibling", reasonPasskeyInvalid, func(a *assertion) { a.origin = "http://app.localhost" }},
			{"rpIdHash evil.test", reasonPasskeyInvalid, func(a *assertion) { a.rpID = "evil.test" }},
			{"cross origin", reasonPasskeyInvalid, func(a *assertion) { a.extra = `,"crossOrigin":true,"topOrigin":"https://evil.test"` }},
			{"type webauthn.create", reasonPasskeyInvalid, func(a *assertion) { a.typ = "webauthn.create" }},
			{"UV=0", reasonPasskeyInvalid, func(a *assertion) { a.flags &^= flagUV }},
			{"UP=0", reasonPasskeyInvalid, func(a *assertion) { a.flags &^= flagUP }},
			{"BE flipped", reasonPasskeyInvalid, func(a *assertion) { a.flags &^= flagBE | flagBS }},
			{"userHandle of another user", reasonPasskeyInvalid, func(a *assertion) { a.userHandle = []byte(grace.ID) }},
			{"signed by another key", reasonPasskeyInvalid, func(a *assertion) { a.signer = graceKey }},
			{"no userHandle", reasonPasskeyInvalid, func(a *assertion) { a.userHandle = nil }},
		}
		for _, c := range bends {
			t.Run(c.name, func(t *testing.T) {
				b := e.browser()
				id, csrf, ch := b.passkeyStart(LoginRequest{FirstParty: true})
				wantRefused(t, e, b.passkeyFinish(id, csrf, key.assert(ch, c.bend)), id, c.reason)
			})
		}

		t.Run("unknown credential", func(t *testing.T) {
			b := e.browser()
			id, csrf, ch := b.passkeyStart(LoginRequest{FirstParty: true})
			stranger := newSoftKey(t, []byte(ada.ID), true)
			wantRefused(t, e, b.passkeyFinish(id, csrf, stranger.assert(ch)), id, reasonPasskeyUnknown)
		})
		t.Run("credential id over 1023 bytes", func(t *testing.T) {
			b := e.browser()
			id, csrf, ch := b.passkeyStart(LoginRequest{FirstParty: true})
			long := newSoftKey(t, []byte(ada.ID), true)
			long.id = bytes.Repeat([]byte{7}, 1100)
			wantRefused(t, e, b.passkeyFinish(id, csrf, long.assert(ch)), id, reasonPasskeyUnknown)
		})
		t.Run("malformed credential", func(t *testing.T) {
			b := e.browser()
			id, csrf, _ := b.passkeyStart(LoginRequest{FirstParty: true})
			wantRefused(t, e, b.passkeyFinish(id, csrf, `{"id":"x"}`), id, reasonPasskeyInvalid)
		})

		t.Run("replay", func(t *testing.T) {
			b := e.browser()
			id, csrf, ch := b.passkeyStart(LoginRequest{FirstParty: true})
			cred := key.assert(ch)
			wantRedirect(t, b.passkeyFinish(id, csrf, cred), id)
			// The same assertion again: the ceremony is gone.
			id2, csrf2, _ := b.passkeyStart(LoginRequest{FirstParty: true, Prompt: []string{"login"}})
			b.http.Jar.SetCookies(mustURL(t, e.srv.URL), []*http.Cookie{{Name: e.web.ceremonyCk, Value: "", MaxAge: -1}})
			wantRefused(t, e, b.passkeyFinish(id2, csrf2, cred), id2, reasonPasskeyCeremony)
			// With a fresh ceremony, the old assertion's challenge is wrong.
			id3, csrf3, _ := b.passkeyStart(LoginRequest{FirstParty: true, Prompt: []string{"login"}})
			wantRefused(t, e, b.passkeyFinish(id3, csrf3, cred), id3, reasonPasskeyInvalid)
			// From another browser (no ceremony cookie) too.
			other := e.browser()
			id4 := e.flow.add(LoginRequest{FirstParty: true})
			csrf4 := other.get("/login?authRequest=" + id4).field("csrf")
			wantRefused(t, e, other.passkeyFinish(id4, csrf4, cred), id4, reasonPasskeyCeremony)
		})

		t.Run("answered wrong, then right", func(t *testing.T) {
			b := e.browser()
			id, csrf, ch := b.passkeyStart(LoginRequest{FirstParty: true})
			jar := b.http.Jar.Cookies(mustURL(t, e.srv.URL))
			wantRefused(t, e, b.passkeyFinish(id, csrf, key.assert(ch, func(a *assertion) { a.flags &^= flagUV })), id, reasonPasskeyInvalid)
			b.http.Jar.SetCookies(mustURL(t, e.srv.URL), jar) // the ceremony cookie back
			wantRefused(t, e, b.passkeyFinish(id, csrf, key.assert(ch)), id, reasonPasskeyCeremony)
		})

		t.Run("two ceremonies, the first answered", func(t *testing.T) {
			b := e.browser()
			id, csrf, ch1 := b.passkeyStart(LoginRequest{FirstParty: true})
			challengeOf(t, b.postJSON("/login/passkey/options", map[string]string{"authRequest": id, "csrf": csrf}))
			wantRefused(t, e, b.passkeyFinish(id, csrf, key.assert(ch1)), id, reasonPasskeyInvalid)
		})

		t.Run("expired", func(t *testing.T) {
			b := e.browser()
			id, csrf, ch := b.passkeyStart(LoginRequest{FirstParty: true, ExpiresAt: e.clock.Now().Add(time.Hour)})
			e.clock.Advance(ceremonyTimeout + time.Second)
			wantRefused(t, e, b.passkeyFinish(id, csrf, key.assert(ch)), id, reasonPasskeyCeremony)
		})

		t.Run("registration ceremony used for sign-in", func(t *testing.T) {
			b := e.browser()
			id := e.flow.add(LoginRequest{FirstParty: true})
			wantRedirect(t, b.login(id, "ada@example.com", pw), id)
			page := b.get("/account/passkeys/new")
			wantStatus(t, page, http.StatusOK)
			ch := challengeOf(t, b.postJSON("/account/passkeys/options", map[string]string{"csrf": page.field("csrf")}))
			id2 := e.flow.add(LoginRequest{FirstParty: true, Prompt: []string{"login"}})
			csrf2 := b.get("/login?authRequest=" + id2).field("csrf")
			wantRefused(t, e, b.passkeyFinish(id2, csrf2, key.assert(ch)), id2, reasonPasskeyCeremony)
		})

		t.Run("csrf", func(t *testing.T) {
			b := e.browser()
			id := e.flow.add(LoginRequest{FirstParty: true})
			b.get("/login?authRequest=" + id)
			r := b.postJSON("/login/passkey/options", map[string]string{"authRequest": id, "csrf": "forged"})
			wantStatus(t, r, http.StatusForbidden)
			r = b.post("/login/passkey/options", url.Values{"authRequest": {id}})
			wantStatus(t, r, http.StatusUnsupportedMediaType)
		})

		t.Run("counter regression", func(t *testing.T) {
			counted := newSoftKey(t, []byte(ada.ID), false)
			e.register(ada, counted, 10)
			b := e.browser()
			id, csrf, ch := b.passkeyStart(LoginRequest{FirstParty: true})
			wantRefused(t, e, b.passkeyFinish(id, csrf, counted.assert(ch, func(a *assertion) { a.count = 5 })), id, reasonPasskeyClone)
			pk := e.client.Passkey.Query().Where(passkey.CredentialID(counted.id)).OnlyX(sys(t.Context()))
			if !pk.CloneWarning {
				t.Error("the passkey is not flagged")
			}
			if evs := e.audits(tenants.ActionPasskeyCloneDetected); len(evs) != 1 || evs[0].Actor != string(ada.ID) {
				t.Errorf("clone events %+v", evs)
			}
			// Refused from then on, whatever the counter.
			id, csrf, ch = b.passkeyStart(LoginRequest{FirstParty: true})
			wantRefused(t, e, b.passkeyFinish(id, csrf, counted.assert(ch, func(a *assertion) { a.count = 1000 })), id, reasonPasskeyClone)
		})

		t.Run("disabled user", func(t *testing.T) {
			eve := e.user(userSpec{email: "eve@example.com", name: "Eve"})
			k := newSoftKey(t, []byte(eve.ID), true)
			e.register(eve, k, 0)
			e.client.User.UpdateOneID(eve.ID).SetStatus("DISABLED").ExecX(sys(t.Context()))
			b := e.browser()
			id, csrf, ch := b.passkeyStart(LoginRequest{FirstParty: true})
			wantRefused(t, e, b.passkeyFinish(id, csrf, k.assert(ch)), id, tenants.ReasonDisabled)
		})
	})
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// Registration: a recent sign-in only (PK-08), a credential id registered
// to anyone refused (PK-05), the new passkey signs in.
func TestPasskeyRegistration(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newPasskeyEnv(t, db)
		ada := e.user(userSpec{email: "ada@example.com", name: "Ada", password: pw})
		grace := e.user(userSpec{email: "grace@example.com", name: "Grace", password: pw})

		// No session: asked to sign in again.
		b := e.browser()
		r := b.get("/account/passkeys/new")
		wantStatus(t, r, http.StatusUnauthorized)
		if !strings.Contains(r.body, "signed in within the last 10 minutes") {
			t.Errorf("no re-authentication message:\n%s", r.body)
		}

		id := e.flow.add(LoginRequest{FirstParty: true})
		wantRedirect(t, b.login(id, "ada@example.com", pw), id)
		page := b.get("/account/passkeys/new")
		wantStatus(t, page, http.StatusOK)
		csrf := page.field("csrf")
		r = b.postJSON("/account/passkeys/options", map[string]string{"csrf": csrf})
		ch := challengeOf(t, r)
		var o struct {
			PublicKey struct {
				User struct {
					ID string `json:"id"`
				} `json:"user"`
				AuthenticatorSelection struct {
					ResidentKey string `json:"residentKey"`
				} `json:"authenticatorSelection"`
				Attestation      string `json:"attestation"`
				PubKeyCredParams []struct {
					Alg int `json:"alg"`
				} `json:"pubKeyCredParams"`
			} `json:"publicKey"`
		}
		if err := json.Unmarshal([]byte(r.body), &o); err != nil {
			t.Fatal(err)
		}
		if uh, _ := b64u.DecodeString(o.PublicKey.User.ID); string(uh) != string(ada.ID) || o.PublicKey.AuthenticatorSelection.ResidentKey != "required" ||
			o.PublicKey.Attestation != "none" || len(o.PublicKey.PubKeyCredParams) != 3 {
			t.Errorf("creation options %s", r.body)
		}
		key := newSoftKey(t, []byte(ada.ID), true)
		r = b.post("/account/passkeys", url.Values{"csrf": {csrf}, "name": {"Laptop"}, "credential": {key.attest(ch)}})
		wantStatus(t, r, http.StatusOK)
		if !strings.Contains(r.body, "Your passkey was added") || !strings.Contains(r.body, "Laptop") {
			t.Errorf("no success:\n%s", r.body)
		}
		if evs := e.audits(tenants.ActionPasskeyRegister); len(evs) != 1 || evs[0].Actor != string(ada.ID) {
			t.Errorf("register events %+v", evs)
		}

		// The same credential again (to Grace, whose browser signs in now):
		// refused.
		gb := e.browser()
		gid := e.flow.add(LoginRequest{FirstParty: true})
		wantRedirect(t, gb.login(gid, "grace@example.com", pw), gid)
		gpage := gb.get("/account/passkeys/new")
		gch := challengeOf(t, gb.postJSON("/account/passkeys/options", map[string]string{"csrf": gpage.field("csrf")}))
		dup := *key
		dup.userHandle = []byte(grace.ID)
		r = gb.post("/account/passkeys", url.Values{"csrf": {gpage.field("csrf")}, "credential": {dup.attest(gch)}})
		wantStatus(t, r, http.StatusConflict)
		if n := e.client.Passkey.Query().CountX(sys(t.Context())); n != 1 {
			t.Errorf("%d passkeys stored, want 1", n)
		}

		// A credential id over 1023 bytes (PK-05): refused.
		lch := challengeOf(t, b.postJSON("/account/passkeys/options", map[string]string{"csrf": csrf}))
		long := newSoftKey(t, []byte(ada.ID), true)
		long.id = bytes.Repeat([]byte{7}, 1100)
		wantStatus(t, b.post("/account/passkeys", url.Values{"csrf": {csrf}, "credential": {long.attest(lch)}}), http.StatusBadRequest)

		// A forged form, or an answer without a ceremony: refused.
		r = b.post("/account/passkeys", url.Values{"csrf": {"forged"}, "credential": {key.attest(ch)}})
		wantStatus(t, r, http.StatusForbidden)
		r = b.post("/account/passkeys", url.Values{"csrf": {csrf}, "credential": {key.attest(ch)}})
		wantStatus(t, r, http.StatusBadRequest)

		// The new passkey signs in, passkey only.
		pb := e.browser()
		pid, pcsrf, pch := pb.passkeyStart(LoginRequest{FirstParty: true})
		wantRedirect(t, pb.passkeyFinish(pid, pcsrf, key.assert(pch)), pid)

		// Ten minutes after the sign-in: asked to sign in again.
		e.clock.Advance(reauthWindow + time.Second)
		wantStatus(t, b.get("/account/passkeys/new"), http.StatusUnauthorized)
		wantStatus(t, b.postJSON("/account/passkeys/options", map[string]string{"csrf": csrf}), http.StatusUnauthorized)
	})
}

// A passkey as the second factor of a password sign-in that an
// organization's mfaRequired stopped.
func TestPasskeySecondFactor(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newPasskeyEnv(t, db)
		ada := e.user(userSpec{email: "ada@example.com", name: "Ada", password: pw})
		strict := e.org("Strict", "strict")
		e.policy(strict, func(p *ent.OrganizationPolicyCreate) { p.SetMfaRequired(true) })
		e.member(ada, strict, "ACTIVE")
		key := newSoftKey(t, []byte(ada.ID), false)
		e.register(ada, key, 0)
		other := newSoftKey(t, []byte(ada.ID), false) // not registered

		b := e.browser()
		id := e.flow.add(LoginRequest{FirstParty: true})
		r := b.login(id, "ada@example.com", pw)
		if _, ok := e.flow.completed(id); ok || b.cookie(e.web.loginCk) == "" {
			t.Fatalf("the password alone completed, or no transaction: %d", r.status)
		}
		// The second-factor page offers the passkey.
		mfa := r
		if r.status == http.StatusSeeOther {
			mfa = b.get(r.header.Get("Location"))
		}
		if !strings.Contains(mfa.body, `data-passkey="second_factor"`) || !strings.Contains(mfa.body, `name="mode" value="second_factor"`) {
			t.Fatalf("the second-factor page does not offer the passkey (%d):\n%s", mfa.status, mfa.body)
		}
		csrf := mfa.field("csrf")
		begin := func() string {
			r := b.postJSON("/login/mfa/passkey/options", map[string]string{"authRequest": id, "csrf": csrf})
			ch := challengeOf(t, r)
			if !strings.Contains(r.body, b64u.EncodeToString(key.id)) {
				t.Fatalf("allowCredentials does not list the user's passkey: %s", r.body)
			}
			return ch
		}
		// A discoverable-login ceremony does not answer the second factor.
		challengeOf(t, b.postJSON("/login/passkey/options", map[string]string{"authRequest": id, "csrf": csrf}))
		wantStatus(t, b.passkeyFinish(id, csrf, key.assert("x"), "mode", "second_factor"), http.StatusUnauthorized)
		// A credential not in allowCredentials: refused.
		wantStatus(t, b.passkeyFinish(id, csrf, other.assert(begin()), "mode", "second_factor"), http.StatusUnauthorized)
		if e.audits(actionLoginFailed)[len(e.audits(actionLoginFailed))-1].Metadata["reason"] != reasonPasskeyInvalid {
			t.Error("a foreign credential was not refused as invalid")
		}
		r = b.passkeyFinish(id, csrf, key.assert(begin()), "mode", "second_factor")
		wantRedirect(t, r, id)
		a, _ := e.flow.completed(id)
		if a.UserID != ada.ID || !slices.Equal(a.AMR, []string{"pwd", "hwk"}) {
			t.Errorf("completed as %s with %v", a.UserID, a.AMR)
		}

		// Without a login transaction there is nothing to be second to.
		nb := e.browser()
		nid := e.flow.add(LoginRequest{FirstParty: true})
		ncsrf := nb.get("/login?authRequest=" + nid).field("csrf")
		wantStatus(t, nb.postJSON("/login/mfa/passkey/options", map[string]string{"authRequest": nid, "csrf": ncsrf}), http.StatusBadRequest)
	})
}

// Passkey sign-ins count on the client address's allowance (no account is
// known before verification): past it, 429 without looking at the
// assertion.
func TestPasskeyThrottle(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newPasskeyEnv(t, db, func(c *Config) { c.AddressPolicy.Free = 2; c.AddressPolicy.Base = time.Minute })
		ada := e.user(userSpec{email: "ada@example.com", name: "Ada"})
		key := newSoftKey(t, []byte(ada.ID), true)
		e.register(ada, key, 0)
		b := e.browser()
		for range 2 {
			id, csrf, ch := b.passkeyStart(LoginRequest{FirstParty: true})
			wantRefused(t, e, b.passkeyFinish(id, csrf, key.assert(ch, func(a *assertion) { a.flags &^= flagUV })), id, reasonPasskeyInvalid)
		}
		id, csrf, ch := b.passkeyStart(LoginRequest{FirstParty: true})
		r := b.passkeyFinish(id, csrf, key.assert(ch))
		wantStatus(t, r, http.StatusTooManyRequests)
		if r.header.Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
		e.clock.Advance(time.Hour)
		id, csrf, ch = b.passkeyStart(LoginRequest{FirstParty: true, ExpiresAt: e.clock.Now().Add(time.Hour)})
		wantRedirect(t, b.passkeyFinish(id, csrf, key.assert(ch)), id)
	})
}

// FuzzPasskeyLogin posts arbitrary credential fields (and modes) to
// POST /login/passkey with a live ceremony: never a panic nor a 500, and
// never a completed sign-in.
func FuzzPasskeyLogin(f *testing.F) {
	seedKey := newSoftKey(f, []byte("usr_seed"), true)
	ch := b64u.EncodeToString(make([]byte, 32))
	f.Add(seedKey.assert(ch), "")
	f.Add(seedKey.assert(ch), "second_factor")
	f.Add(`{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"","signature":""}}`, "")
	f.Add(`{}`, "")
	f.Add(`null`, "second_factor")
	f.Add(`{"id":"`+strings.Repeat("A", 2000)+`","type":"public-key"}`, "")
	f.Add("\x00\xff", "x")
	// One Web for every input (SQLite: fast enough to fuzz), and a fresh
	// browser and ceremony for each.
	db := testdb.All(f)[0]
	clock := testkit.NewClock()
	client := db.Client()
	flow := &fakeFlow{client: client, now: clock.Now, reqs: map[string]*LoginRequest{}, done: map[string]Authentication{},
		failed: map[string]string{}, base: "https://app.example"}
	w, err := New(Config{Flow: flow, Client: client, Issuer: pkOrigin, Now: clock.Now, PasswordParams: cheap,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), AddressPolicy: ratelimit.Policy{Free: 1 << 30}})
	if err != nil {
		f.Fatal(err)
	}
	srv := httptest.NewServer(w.Handler())
	f.Cleanup(srv.Close)
	e := &env{client: client, clock: clock, flow: flow, web: w, srv: srv}
	f.Fuzz(func(t *testing.T, credential, mode string) {
		b := &browser{t: t, e: e, http: &http.Client{Jar: testkit.NewJar(clock.Now),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
		id, csrf, _ := b.passkeyStart(LoginRequest{FirstParty: true})
		r := b.passkeyFinish(id, csrf, credential, "mode", mode)
		if r.status >= 500 {
			t.Fatalf("status %d for %q", r.status, credential)
		}
		if _, ok := e.flow.completed(id); ok {
			t.Fatalf("completed with %q", credential)
		}
	})
}

// Without an application (a direct sign-in at /login), a passkey signs in
// to the account page, and the fresh sign-in may add another passkey.
func TestPasskeyDirectSignIn(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newPasskeyEnv(t, db)
		ada := e.user(userSpec{email: "ada@example.com", name: "Ada"})
		key := newSoftKey(t, []byte(ada.ID), true)
		e.register(ada, key, 0)
		b := e.browser()
		page := b.get("/login")
		wantStatus(t, page, http.StatusOK)
		csrf := page.field("csrf")
		ch := challengeOf(t, b.postJSON("/login/passkey/options", map[string]string{"csrf": csrf}))
		r := b.post("/login/passkey", url.Values{"csrf": {csrf}, "credential": {key.assert(ch)}})
		if r.status != http.StatusSeeOther || r.header.Get("Location") != accountPath {
			t.Fatalf("status %d, Location %q; want the account page", r.status, r.header.Get("Location"))
		}
		wantStatus(t, b.get("/account/passkeys/new"), http.StatusOK)
		// A forged CSRF field is refused here too.
		wantStatus(t, b.postJSON("/login/passkey/options", map[string]string{"csrf": "forged"}), http.StatusForbidden)
	})
}

// BenchmarkPasskeySignIn is one whole passkey sign-in per op through the
// pages (request options, the ceremony row, the assertion verified, the
// counter updated, the session and the fake flow's completion), on each
// database, browsers in parallel. Indicative only: the real provider's
// completion and the network are not in it (bench/ measures those).
func BenchmarkPasskeySignIn(b *testing.B) {
	for _, db := range testdb.All(b) {
		b.Run(db.Name, func(b *testing.B) {
			clock := testkit.NewClock()
			client := db.Client()
			flow := &fakeFlow{client: client, now: clock.Now, reqs: map[string]*LoginRequest{}, done: map[string]Authentication{},
				failed: map[string]string{}, base: "https://app.example"}
			w, err := New(Config{Flow: flow, Client: client, Issuer: pkOrigin, Now: clock.Now, PasswordParams: cheap,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), AddressPolicy: ratelimit.Policy{Free: 1 << 30}})
			if err != nil {
				b.Fatal(err)
			}
			srv := httptest.NewServer(w.Handler())
			b.Cleanup(srv.Close)
			e := &env{client: client, clock: clock, flow: flow, web: w, srv: srv}
			// The body runs once per b.N tried, on the same database.
			r := make([]byte, 8)
			_, _ = rand.Read(r)
			u, err := client.User.Create().SetEmail("ada-" + hex.EncodeToString(r) + "@example.com").SetName("Ada").Save(sys(b.Context()))
			if err != nil {
				b.Fatal(err)
			}
			b.SetParallelism(8) // browsers waiting on the network and the database
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				key := newSoftKey(b, []byte(u.ID), true)
				if _, err := w.cfg.Tenants.AddPasskey(b.Context(), tenants.NewPasskey{UserID: u.ID, CredentialID: key.id,
					PublicKey: key.cose(), BackupEligible: true, BackupState: true, RPID: pkRPID}); err != nil {
					b.Error(err)
					return
				}
				c := &http.Client{Jar: testkit.NewJar(clock.Now),
					CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
				do := func(method, path, ctype, body string) (response, error) {
					req, err := http.NewRequestWithContext(b.Context(), method, srv.URL+path, strings.NewReader(body))
					if err != nil {
						return response{}, err
					}
					if ctype != "" {
						req.Header.Set("Content-Type", ctype)
					}
					res, err := c.Do(req)
					if err != nil {
						return response{}, err
					}
					defer res.Body.Close()
					data, err := io.ReadAll(res.Body)
					return response{status: res.StatusCode, header: res.Header, body: string(data)}, err
				}
				for pb.Next() {
					id := e.flow.add(LoginRequest{FirstParty: true, Prompt: []string{"login"}})
					page, err := do(http.MethodGet, "/login?authRequest="+id, "", "")
					if err != nil {
						b.Error(err)
						return
					}
					csrf := page.field("csrf")
					opts, err := do(http.MethodPost, "/login/passkey/options", "application/json",
						`{"authRequest":"`+id+`","csrf":"`+csrf+`"}`)
					var o struct {
						PublicKey struct {
							Challenge string `json:"challenge"`
						} `json:"publicKey"`
					}
					if err != nil || json.Unmarshal([]byte(opts.body), &o) != nil {
						b.Errorf("options: %v %s", err, opts.body)
						return
					}
					form := url.Values{"authRequest": {id}, "csrf": {csrf}, "credential": {key.assert(o.PublicKey.Challenge)}}
					r, err := do(http.MethodPost, "/login/passkey", "application/x-www-form-urlencoded", form.Encode())
					if err != nil || r.status != http.StatusSeeOther {
						b.Errorf("sign-in: %v %d", err, r.status)
						return
					}
				}
			})
		})
	}
}
