package web

// Passkeys (W3C WebAuthn L3, go-webauthn): the relying party, the
// ceremony cookie, and registration from the account pages. The sign-in
// step is login_passkey.go; the rules (one answer per ceremony, one owner
// per credential id, the sign counter) are tenants' (tenants/passkeys.go).

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/internal/httpserver"
	"github.com/gatehouse-id/gatehouse/internal/ratelimit"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// ceremonyTimeout is how long a WebAuthn ceremony may take: the timeout
// the browser is given, go-webauthn's SessionData.Expires, and the stored
// ceremony's expires_at, which tenants enforces on the injected clock.
const ceremonyTimeout = 5 * time.Minute

// passkeyAlgorithms are the COSE algorithms a passkey may use (PK-07):
// ES256, EdDSA, RS256, in order of preference.
var passkeyAlgorithms = []protocol.CredentialParameter{
	{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgES256},
	{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgEdDSA},
	{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgRS256},
}

// newRelyingParty configures go-webauthn for issuer: the RP ID is the
// issuer's host and the only origin allowed is the issuer's own (PK-01);
// no cross-origin (iframe) ceremonies; user verification and a
// discoverable credential required; no attestation asked for; ceremony
// timeouts enforced by the library as well (PK-02).
func newRelyingParty(issuer *url.URL) (*webauthn.WebAuthn, error) {
	yes := true
	timeout := webauthn.TimeoutConfig{Enforce: true, Timeout: ceremonyTimeout, TimeoutUVD: ceremonyTimeout}
	return webauthn.New(&webauthn.Config{
		RPID:          issuer.Hostname(),
		RPDisplayName: issuer.Hostname(),
		RPOrigins:     []string{issuer.Scheme + "://" + issuer.Host},
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			RequireResidentKey: &yes,
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			UserVerification:   protocol.VerificationRequired,
		},
		AttestationPreference: protocol.PreferNoAttestation,
		Timeouts:              webauthn.TimeoutsConfig{Login: timeout, Registration: timeout},
	})
}

// passkeyUser is a user as go-webauthn sees one: the user handle is the
// user id's bytes (never the email, which may change and must not leak
// from an authenticator), with the passkeys the ceremony may use.
type passkeyUser struct {
	u   *ent.User
	pks []*ent.Passkey
}

func (p passkeyUser) WebAuthnID() []byte   { return []byte(p.u.ID) }
func (p passkeyUser) WebAuthnName() string { return p.u.Email }
func (p passkeyUser) WebAuthnDisplayName() string {
	if p.u.Name != "" {
		return p.u.Name
	}
	return p.u.Email
}

func (p passkeyUser) WebAuthnCredentials() []webauthn.Credential {
	cs := make([]webauthn.Credential, 0, len(p.pks))
	for _, pk := range p.pks {
		cs = append(cs, credentialOf(pk))
	}
	return cs
}

// credentialOf is a stored passkey as go-webauthn's credential record.
// The library's own counter check (CloneWarning) is not used: tenants
// applies the sign counter rule (UsePasskey).
func credentialOf(pk *ent.Passkey) webauthn.Credential {
	ts := make([]protocol.AuthenticatorTransport, 0, len(pk.Transports))
	for _, t := range pk.Transports {
		ts = append(ts, protocol.AuthenticatorTransport(t))
	}
	return webauthn.Credential{
		ID: pk.CredentialID, PublicKey: pk.PublicKey, AttestationType: pk.AttestationType, Transport: ts,
		Flags: webauthn.CredentialFlags{UserPresent: true, UserVerified: pk.UserVerified,
			BackupEligible: pk.BackupEligible, BackupState: pk.BackupState},
		Authenticator: webauthn.Authenticator{AAGUID: pk.Aaguid, SignCount: uint32(pk.SignCount)},
	}
}

// passkeyFactor is the RFC 8176 method a passkey proves: "swk" (a
// software-secured key) for a backup-eligible passkey, which its provider
// may sync to other devices, and "hwk" (a hardware-secured key) for a
// device-bound one, whose private key cannot leave the authenticator.
// Backup eligibility is fixed at registration (WebAuthn L3 §6.1.3), so a
// passkey always proves the same method.
func passkeyFactor(pk *ent.Passkey) string {
	if pk.BackupEligible {
		return tenants.FactorSoftwareKey
	}
	return tenants.FactorHardwareKey
}

// beginCeremony stores sd for purpose (and userID) and gives the browser
// the ceremony cookie: HttpOnly, SameSite=Lax, Secure over https. A new
// ceremony replaces the browser's previous one.
func (w *Web) beginCeremony(ctx context.Context, rw http.ResponseWriter, purpose tenants.CeremonyPurpose, userID pulid.ID, sd *webauthn.SessionData) error {
	data, err := json.Marshal(sd)
	if err != nil {
		return fmt.Errorf("encode webauthn session: %w", err)
	}
	expires := w.cfg.Now().Add(ceremonyTimeout)
	token, err := w.cfg.Tenants.BeginCeremony(ctx, purpose, userID, data, expires)
	if err != nil {
		return err
	}
	http.SetCookie(rw, &http.Cookie{
		Name: w.ceremonyCk, Value: token, Path: "/", Expires: expires,
		Secure: w.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
	return nil
}

// takeCeremony takes the browser's ceremony for purpose (tenants.TakeCeremony:
// gone whatever the answer) and clears its cookie; the error is
// tenants.ErrCeremony when there is none to take.
func (w *Web) takeCeremony(rw http.ResponseWriter, r *http.Request, purpose tenants.CeremonyPurpose) (*ent.WebAuthnCeremony, *webauthn.SessionData, error) {
	token := cookieValue(r, w.ceremonyCk)
	http.SetCookie(rw, &http.Cookie{
		Name: w.ceremonyCk, Value: "", Path: "/", MaxAge: -1,
		Secure: w.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
	cer, err := w.cfg.Tenants.TakeCeremony(r.Context(), token, purpose)
	if err != nil {
		return nil, nil, err
	}
	if purpose != tenants.CeremonyRegister {
		// Answered: no longer outstanding (reserveCeremony).
		if err := ratelimit.GiveBack(r.Context(), w.cfg.Limiter, w.ceremonyKey(r)); err != nil {
			w.cfg.Logger.ErrorContext(r.Context(), "give back ceremony", "err", err)
		}
	}
	var sd webauthn.SessionData
	if err := json.Unmarshal(cer.SessionData, &sd); err != nil {
		return nil, nil, fmt.Errorf("decode webauthn session: %w", err)
	}
	return cer, &sd, nil
}

// CeremonyPolicy bounds the sign-in ceremonies one client network may
// hold unanswered (each is a row until answered or swept): 30 at once,
// then 1s doubling to the ceremony's own lifetime, forgotten once every
// ceremony counted has expired. Answering one, right or wrong, gives its
// count back (takeCeremony), so a browser that signs in again and again
// never meets it; only options requested and left unanswered add up.
var CeremonyPolicy = ratelimit.Policy{Free: 30, Base: time.Second, Max: ceremonyTimeout, Forget: ceremonyTimeout}

// ceremonyKey is the counter of r's network's unanswered sign-in
// ceremonies. It is not the sign-in throttle's address key: the sign-in
// page asks for options at every load (autofill), and those must not use
// up the sign-in attempts of everyone behind the address.
func (w *Web) ceremonyKey(r *http.Request) ratelimit.Key {
	return ratelimit.Key{Name: "ceremony:" + httpserver.ClientNetwork(r), Policy: CeremonyPolicy}
}

// reserveCeremony counts a sign-in ceremony about to begin on r's network
// (CeremonyPolicy), before its row is written. Over the allowance it
// answers 429 itself, in the options endpoints' JSON with Retry-After and
// the sentence the pages show, records the refusal as the other throttled
// steps do, and returns false.
func (w *Web) reserveCeremony(rw http.ResponseWriter, r *http.Request, req *LoginRequest) bool {
	ctx := r.Context()
	_, wait, err := w.cfg.Limiter.Attempt(ctx, w.ceremonyKey(r))
	if err != nil {
		w.jsonFail(rw, r, fmt.Errorf("count webauthn ceremony: %w", err))
		return false
	}
	if wait <= 0 {
		return true
	}
	msg := tooMany(rw, wait)
	secs, _ := strconv.Atoi(rw.Header().Get("Retry-After"))
	w.cfg.Logger.InfoContext(ctx, "passkey options throttled", "auth_request", req.ID, "ip", httpserver.ClientIP(r), "retry_after", wait)
	w.loginFailed(ctx, r, req, "", reasonThrottled)
	writeJSON(rw, http.StatusTooManyRequests, map[string]any{"error": "too_many_requests",
		"retry_after": secs, "message": msg.in(w.locale(rw, r))})
	return false
}

// withOrigin is ctx carrying where r came from, for the events tenants
// writes with passkey changes.
func withOrigin(ctx context.Context, r *http.Request) context.Context {
	return tenants.WithOrigin(ctx, tenants.Origin(httpserver.OriginOf(r)))
}

// The options endpoints take a small JSON body and answer JSON: the page's
// script calls them with fetch. A body must say it is JSON, which a
// cross-site form cannot, besides carrying the CSRF field.

// maxJSON bounds an options request's body.
const maxJSON = 4 << 10

// beginBody is what the page posts to an options endpoint.
type beginBody struct {
	AuthRequest string `json:"authRequest"`
	CSRF        string `json:"csrf"`
}

// readBegin decodes an options request's body, or answers 400.
func (w *Web) readBegin(rw http.ResponseWriter, r *http.Request) (beginBody, bool) {
	var b beginBody
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		writeJSONError(rw, http.StatusUnsupportedMediaType, "json_required")
		return b, false
	}
	data, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, maxJSON))
	if err != nil || json.Unmarshal(data, &b) != nil || len(b.AuthRequest) > 128 || len(b.CSRF) > 128 {
		writeJSONError(rw, http.StatusBadRequest, "bad_request")
		return b, false
	}
	return b, true
}

// csrfMatches reports whether value is field(the CSRF cookie).
func (w *Web) csrfMatches(r *http.Request, value string, field func(token string) string) bool {
	c, err := r.Cookie(w.csrfCk)
	if err != nil || c.Value == "" {
		return false
	}
	return hmac.Equal([]byte(value), []byte(field(c.Value)))
}

func writeJSON(rw http.ResponseWriter, status int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(v)
}

// writeJSONError answers an options request with a machine-readable code;
// the page shows its own sentence.
func writeJSONError(rw http.ResponseWriter, status int, code string) {
	writeJSON(rw, status, map[string]string{"error": code})
}

// Registration, from the account pages: only for a session whose sign-in
// is recent (tenants.RecentSignIn), with the CSRF field keyed on the session.

// What the registration page says (message catalog keys).
const (
	msgPasskeyAdded  = "page.passkeys.added"
	msgPasskeyFailed = "page.passkeys.failed"
	msgPasskeyExists = "page.passkeys.exists"
)

// passkeysPage is /account/passkeys/new: the user's passkeys and the form
// that adds one (filled in by passkey.js), or only a sentence.
type passkeysPage struct {
	layout
	CSRF     string
	Email    string
	Passkeys []*ent.Passkey
	// Reauth: the sign-in is not recent enough; the page says msgReauth.
	Reauth  bool
	Message text
	Error   text
}

// recentSession is the browser's live session and user when the sign-in
// is at most tenants.RecentSignIn old; otherwise the page asking to sign in again
// is written and ok is false.
func (w *Web) recentSession(rw http.ResponseWriter, r *http.Request, asJSON bool) (*ent.Session, *ent.User, bool) {
	s, u, err := w.currentSession(r.Context(), r)
	if err != nil {
		if asJSON {
			w.cfg.Logger.ErrorContext(r.Context(), "hosted page failed", "path", r.URL.Path, "err", err)
			writeJSONError(rw, http.StatusInternalServerError, "internal")
		} else {
			w.fail(rw, r, err)
		}
		return nil, nil, false
	}
	if !tenants.SignedInRecently(s, w.cfg.Now()) {
		if asJSON {
			writeJSONError(rw, http.StatusUnauthorized, "reauthenticate")
		} else {
			w.renderPasskeys(rw, r, http.StatusUnauthorized, passkeysPage{Reauth: true})
		}
		return nil, nil, false
	}
	return s, u, true
}

func (w *Web) renderPasskeys(rw http.ResponseWriter, r *http.Request, status int, p passkeysPage) {
	w.render(rw, r, status, pagePasskeys, "page.title.add_passkey", &p)
}

// passkeysForm renders the page for s and u with message or error (catalog
// keys, or "").
func (w *Web) passkeysForm(rw http.ResponseWriter, r *http.Request, status int, s *ent.Session, u *ent.User, message, errMsg string) {
	pks, err := w.cfg.Tenants.ListPasskeys(r.Context(), u.ID)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	p := passkeysPage{CSRF: accountField(w.csrfToken(rw, r), s), Email: u.Email, Passkeys: pks}
	if message != "" {
		p.Message = say(message)
	}
	if errMsg != "" {
		p.Error = say(errMsg)
	}
	w.renderPasskeys(rw, r, status, p)
}

func (w *Web) getNewPasskey(rw http.ResponseWriter, r *http.Request) {
	s, u, ok := w.recentSession(rw, r, false)
	if !ok {
		return
	}
	w.passkeysForm(rw, r, http.StatusOK, s, u, "", "")
}

// postPasskeyCreationOptions begins a registration: creation options for
// a discoverable credential with user verification, excluding the user's
// passkeys (so an authenticator holding one says so instead of making a
// second).
func (w *Web) postPasskeyCreationOptions(rw http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	in, ok := w.readBegin(rw, r)
	if !ok {
		return
	}
	s, u, ok := w.recentSession(rw, r, true)
	if !ok {
		return
	}
	if !w.csrfMatches(r, in.CSRF, func(token string) string { return accountField(token, s) }) {
		writeJSONError(rw, http.StatusForbidden, "csrf")
		return
	}
	pks, err := w.cfg.Tenants.ListPasskeys(ctx, u.ID)
	if err != nil {
		w.jsonFail(rw, r, err)
		return
	}
	pu := passkeyUser{u: u, pks: pks}
	creation, sd, err := w.passkeys.BeginRegistration(pu,
		webauthn.WithExclusions(webauthn.Credentials(pu.WebAuthnCredentials()).CredentialDescriptors()),
		webauthn.WithCredentialParameters(passkeyAlgorithms))
	if err != nil {
		w.jsonFail(rw, r, fmt.Errorf("begin passkey registration: %w", err))
		return
	}
	if err := w.beginCeremony(ctx, rw, tenants.CeremonyRegister, u.ID, sd); err != nil {
		w.jsonFail(rw, r, err)
		return
	}
	writeJSON(rw, http.StatusOK, creation)
}

// postPasskey finishes a registration: the ceremony (this browser's, for
// this user), the attestation (go-webauthn: challenge, origin, RP ID, UP
// and UV, algorithm), then tenants.AddPasskey, which refuses a credential
// id registered already and writes passkey.register.
//
// The notification mail for a new sign-in method (issue 9) is sent from
// here once mail exists: see passkeyAdded.
func (w *Web) postPasskey(rw http.ResponseWriter, r *http.Request) {
	ctx := withOrigin(r.Context(), r)
	if !w.parseForm(rw, r) {
		return
	}
	s, u, ok := w.recentSession(rw, r, false)
	if !ok {
		return
	}
	if !w.checkCSRF(r, func(token string) string { return accountField(token, s) }) {
		w.cfg.Logger.InfoContext(ctx, "passkey csrf check failed", "session", s.ID, "ip", httpserver.ClientIP(r))
		w.renderError(rw, r, http.StatusForbidden, msgFormExpired)
		return
	}
	cer, sd, err := w.takeCeremony(rw, r, tenants.CeremonyRegister)
	if err != nil && !errors.Is(err, tenants.ErrCeremony) {
		w.fail(rw, r, err)
		return
	}
	if err != nil || cer.UserID != u.ID {
		w.cfg.Logger.InfoContext(ctx, "passkey registration refused", "user", u.ID, "reason", "ceremony")
		w.passkeysForm(rw, r, http.StatusBadRequest, s, u, "", msgPasskeyFailed)
		return
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes([]byte(r.PostFormValue("credential")))
	var cred *webauthn.Credential
	if err == nil {
		pks, lerr := w.cfg.Tenants.ListPasskeys(ctx, u.ID)
		if lerr != nil {
			w.fail(rw, r, lerr)
			return
		}
		cred, err = w.passkeys.CreateCredential(passkeyUser{u: u, pks: pks}, *sd, parsed)
	}
	if err != nil {
		w.cfg.Logger.InfoContext(ctx, "passkey registration refused", "user", u.ID, "reason", "invalid", "err", protocolDetail(err))
		w.passkeysForm(rw, r, http.StatusBadRequest, s, u, "", msgPasskeyFailed)
		return
	}
	transports := make([]string, 0, len(cred.Transport))
	for _, t := range cred.Transport {
		transports = append(transports, string(t))
	}
	pk, err := w.cfg.Tenants.AddPasskey(ctx, tenants.NewPasskey{
		UserID: u.ID, Name: r.PostFormValue("name"), CredentialID: cred.ID, PublicKey: cred.PublicKey,
		AttestationType: cred.AttestationType, AAGUID: cred.Authenticator.AAGUID, SignCount: cred.Authenticator.SignCount,
		UserVerified: cred.Flags.UserVerified, BackupEligible: cred.Flags.BackupEligible, BackupState: cred.Flags.BackupState,
		Transports: transports, RPID: w.passkeys.Config.RPID,
	})
	var conflict *tenants.ConflictError
	var bad *tenants.InputError
	switch {
	case errors.As(err, &conflict):
		w.passkeysForm(rw, r, http.StatusConflict, s, u, "", msgPasskeyExists)
		return
	case errors.As(err, &bad): // a credential id over 1023 bytes (PK-05)
		w.cfg.Logger.InfoContext(ctx, "passkey registration refused", "user", u.ID, "reason", "invalid", "err", err)
		w.passkeysForm(rw, r, http.StatusBadRequest, s, u, "", msgPasskeyFailed)
		return
	case err != nil:
		w.fail(rw, r, err)
		return
	}
	w.passkeyAdded(ctx, r, u, pk)
	w.passkeysForm(rw, r, http.StatusOK, s, u, msgPasskeyAdded, "")
}

// passkeyAdded announces a new passkey beyond the audit trail
// (passkey.register): the funnel counts it, and the owner is mailed, so a
// passkey added by someone else is noticed (PK-08).
func (w *Web) passkeyAdded(ctx context.Context, r *http.Request, u *ent.User, pk *ent.Passkey) {
	w.cfg.Logger.InfoContext(ctx, "passkey added", "user", u.ID, "passkey", pk.ID)
	w.funnel(ctx, directRequest(), tenants.FunnelPasskeyEnrolled)
	w.cfg.Mailer.Mail(ctx, r.Header.Get("Accept-Language"), "mfa_added", u.Email, map[string]any{
		"Method": "passkey", "When": w.cfg.Now(), "ResetLink": w.link(recoverPath, nil)})
}

// jsonFail logs err and answers an options request with 500.
func (w *Web) jsonFail(rw http.ResponseWriter, r *http.Request, err error) {
	w.cfg.Logger.ErrorContext(r.Context(), "hosted page failed", "path", r.URL.Path, "err", err)
	writeJSONError(rw, http.StatusInternalServerError, "internal")
}

// protocolDetail is go-webauthn's explanation of a refusal, for the log.
func protocolDetail(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.Details + " " + pe.DevInfo
	}
	return err.Error()
}
