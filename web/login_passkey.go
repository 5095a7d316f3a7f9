package web

// The passkey step: a discoverable credential as the first factor (the
// "Sign in with a passkey" button, or autofill on the email field), or
// one of the user's passkeys as the second factor of a login transaction.
// The options come from a JSON endpoint; the assertion comes back in a
// plain form post, so the step ends like the password step: proveFactor,
// then proceed.

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/internal/httpserver"
	"github.com/gatehouse-id/gatehouse/internal/ratelimit"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// msgBadPasskey is what the browser is told of every refused passkey
// sign-in, whatever the reason (ATO-04); the audit trail keeps the reason.
const msgBadPasskey = "page.error.bad_passkey"

// Reasons of user.login.failed for a refused passkey sign-in.
const (
	reasonPasskeyUnknown  = "passkey_unknown"  // no passkey has the credential id
	reasonPasskeyInvalid  = "passkey_invalid"  // go-webauthn refused the assertion, or its user handle is not the owner
	reasonPasskeyClone    = "passkey_clone"    // the sign counter went backwards (tenants.UsePasskey)
	reasonPasskeyCeremony = "passkey_ceremony" // no live ceremony of this browser for this step
)

// errPasskeyUnknown and errPasskeyOwner are what the discoverable-login
// handler tells go-webauthn; the step maps them to reasons.
var (
	errPasskeyUnknown = errors.New("unknown credential id")
	errPasskeyOwner   = errors.New("user handle is not the credential's owner")
)

// postPasskeyRequestOptions begins a passkey sign-in for an authorization
// request: request options for a discoverable credential (no
// allowCredentials: the authenticator offers what it holds for our RP ID),
// user verification required. The sign-in page calls it at load, for
// autofill (mediation "conditional"), and from its button.
func (w *Web) postPasskeyRequestOptions(rw http.ResponseWriter, r *http.Request) {
	_, req, ok := w.beginForRequest(rw, r)
	if !ok || !w.reserveCeremony(rw, r, req) {
		return
	}
	assertion, sd, err := w.passkeys.BeginDiscoverableLogin()
	if err != nil {
		w.jsonFail(rw, r, fmt.Errorf("begin passkey login: %w", err))
		return
	}
	if err := w.beginCeremony(r.Context(), rw, tenants.CeremonyLogin, "", sd); err != nil {
		w.jsonFail(rw, r, err)
		return
	}
	w.funnel(r.Context(), req, tenants.FunnelPasskeyOffered)
	writeJSON(rw, http.StatusOK, assertion)
}

// postPasskeySecondFactorOptions begins a passkey as the second factor of
// the browser's login transaction: request options that allow only the
// transaction user's passkeys (those not flagged as cloned).
func (w *Web) postPasskeySecondFactorOptions(rw http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	_, req, ok := w.beginForRequest(rw, r)
	if !ok {
		return
	}
	tx, err := w.cfg.Tenants.LoginTransaction(ctx, w.loginToken(r), req.ID)
	if err != nil {
		w.jsonFail(rw, r, err)
		return
	}
	if tx == nil {
		writeJSONError(rw, http.StatusBadRequest, "no_login_transaction")
		return
	}
	u, pks, err := w.passkeyHolder(r, tx.UserID)
	if err != nil {
		w.jsonFail(rw, r, err)
		return
	}
	if u == nil || len(pks) == 0 {
		writeJSONError(rw, http.StatusBadRequest, "no_passkey")
		return
	}
	if !w.reserveCeremony(rw, r, req) {
		return
	}
	pu := passkeyUser{u: u, pks: pks}
	assertion, sd, err := w.passkeys.BeginLogin(pu)
	if err != nil {
		w.jsonFail(rw, r, fmt.Errorf("begin passkey second factor: %w", err))
		return
	}
	if err := w.beginCeremony(ctx, rw, tenants.CeremonySecondFactor, u.ID, sd); err != nil {
		w.jsonFail(rw, r, err)
		return
	}
	writeJSON(rw, http.StatusOK, assertion)
}

// beginForRequest reads an options request for an authorization request
// and checks its CSRF field as the request's forms do.
func (w *Web) beginForRequest(rw http.ResponseWriter, r *http.Request) (beginBody, *LoginRequest, bool) {
	in, ok := w.readBegin(rw, r)
	if !ok {
		return in, nil, false
	}
	// No authorization request: a direct sign-in (directRequest), as on
	// the pages.
	req, err := directRequest(), error(nil)
	if in.AuthRequest != "" {
		req, err = w.cfg.Flow.LoginRequest(r.Context(), in.AuthRequest)
	}
	switch {
	case errors.Is(err, ErrUnknownRequest) || (err == nil && req == nil) ||
		(err == nil && !req.ExpiresAt.IsZero() && !w.cfg.Now().Before(req.ExpiresAt)):
		writeJSONError(rw, http.StatusBadRequest, "expired")
		return in, nil, false
	case err != nil:
		w.jsonFail(rw, r, fmt.Errorf("load auth request: %w", err))
		return in, nil, false
	}
	if !w.csrfMatches(r, in.CSRF, func(token string) string { return csrfField(token, req.ID) }) {
		w.loginFailed(r.Context(), r, req, "", reasonCSRF)
		writeJSONError(rw, http.StatusForbidden, "csrf")
		return in, nil, false
	}
	return in, req, true
}

// passkeyHolder is user id with their usable passkeys (not flagged), or
// a nil user when id names no active user.
func (w *Web) passkeyHolder(r *http.Request, id pulid.ID) (*ent.User, []*ent.Passkey, error) {
	u, err := w.cfg.Client.User.Get(sys(r.Context()), id)
	if ent.IsNotFound(err) || (err == nil && !tenants.IsActiveUser(u)) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("find user: %w", err)
	}
	all, err := w.cfg.Tenants.ListPasskeys(r.Context(), id)
	if err != nil {
		return nil, nil, err
	}
	var pks []*ent.Passkey
	for _, pk := range all {
		if !pk.CloneWarning {
			pks = append(pks, pk)
		}
	}
	return u, pks, nil
}

// postLoginPasskey finishes a passkey sign-in step: the throttle (per
// client address: no account is known before verification), the
// browser's ceremony (taken, so it is answered once), the assertion
// (go-webauthn: challenge, origin, RP ID hash, UP and UV, signature, user
// handle), the sign counter (tenants.UsePasskey), and then the factor:
// "swk" or "hwk" (passkeyFactor). Form fields: authRequest, csrf,
// credential (the PublicKeyCredential as JSON) and mode ("second_factor"
// for the second factor of the browser's login transaction).
func (w *Web) postLoginPasskey(rw http.ResponseWriter, r *http.Request) {
	req, ok := w.postedRequest(rw, r)
	if !ok {
		return
	}
	ctx := withOrigin(r.Context(), r)
	second := r.PostFormValue("mode") == "second_factor"
	purpose := tenants.CeremonyLogin
	if second {
		purpose = tenants.CeremonySecondFactor
	}
	page := loginPage{AuthRequest: req.ID, CSRF: r.PostFormValue("csrf"), ClientName: req.ClientName}
	refuse := func(user pulid.ID, reason string, detail any) {
		w.cfg.Logger.InfoContext(ctx, "passkey login failed", "auth_request", req.ID, "user", user, "reason", reason,
			"detail", detail, "ip", httpserver.ClientIP(r))
		w.loginFailed(ctx, r, req, user, reason)
		w.funnel(ctx, req, tenants.FunnelLoginFailedPasskey)
		if second {
			w.renderError(rw, r, http.StatusUnauthorized, msgBadPasskey)
			return
		}
		page.Error = say(msgBadPasskey)
		w.renderIdentify(rw, r, http.StatusUnauthorized, page)
	}

	res, wait, err := w.cfg.Limiter.Attempt(ctx, ratelimit.Key{Name: "addr:" + httpserver.ClientNetwork(r), Policy: w.cfg.AddressPolicy})
	if err != nil {
		w.fail(rw, r, fmt.Errorf("count sign-in attempt: %w", err))
		return
	}
	if wait > 0 {
		secs := int((wait + time.Second - 1) / time.Second)
		rw.Header().Set("Retry-After", strconv.Itoa(secs))
		w.loginFailed(ctx, r, req, "", reasonThrottled)
		page.Error = say("page.error.too_many", "wait", waitText(secs))
		w.renderIdentify(rw, r, http.StatusTooManyRequests, page)
		return
	}

	cer, sd, err := w.takeCeremony(rw, r, purpose)
	if err != nil {
		if !errors.Is(err, tenants.ErrCeremony) {
			w.fail(rw, r, err)
			return
		}
		refuse("", reasonPasskeyCeremony, nil)
		return
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes([]byte(r.PostFormValue("credential")))
	if err != nil {
		refuse("", reasonPasskeyInvalid, protocolDetail(err))
		return
	}
	// UV is required whatever the options said (PK-04); go-webauthn checks
	// it too, from the stored session data.
	if !parsed.Response.AuthenticatorData.Flags.HasUserVerified() {
		refuse("", reasonPasskeyInvalid, "user not verified")
		return
	}

	var claimed pulid.ID // the user the credential names, once known
	var (
		used  *ent.Passkey // the passkey that answered, as read for the ceremony
		owner *ent.User    // its user, nil when not active
	)
	if second {
		tx, err := w.cfg.Tenants.LoginTransaction(ctx, w.loginToken(r), req.ID)
		if err != nil {
			w.fail(rw, r, err)
			return
		}
		if tx == nil || tx.UserID != cer.UserID {
			refuse(cer.UserID, reasonPasskeyCeremony, "no login transaction of the ceremony's user")
			return
		}
		claimed = tx.UserID
		u, pks, err := w.passkeyHolder(r, tx.UserID)
		if err != nil {
			w.fail(rw, r, err)
			return
		}
		if u == nil {
			refuse(claimed, tenants.ReasonDisabled, nil)
			return
		}
		if _, err := w.passkeys.ValidateLogin(passkeyUser{u: u, pks: pks}, *sd, parsed); err != nil {
			refuse(claimed, reasonPasskeyInvalid, protocolDetail(err))
			return
		}
		owner = u
		for _, k := range pks {
			if bytes.Equal(k.CredentialID, parsed.RawID) {
				used = k
				break
			}
		}
	} else {
		var lookupErr error
		handler := func(rawID, userHandle []byte) (webauthn.User, error) {
			pk, u, err := w.cfg.Tenants.PasskeyOwner(ctx, rawID)
			switch {
			case err != nil:
				lookupErr = err
				return nil, err
			case pk == nil:
				lookupErr = errPasskeyUnknown
				return nil, errPasskeyUnknown
			}
			claimed = pk.UserID
			if string(userHandle) != string(pk.UserID) {
				lookupErr = errPasskeyOwner
				return nil, errPasskeyOwner
			}
			used, owner = pk, u
			if u == nil { // not active: UsePasskey refuses it after the signature is checked
				u = &ent.User{ID: pk.UserID}
			}
			return passkeyUser{u: u, pks: []*ent.Passkey{pk}}, nil
		}
		if _, err := w.passkeys.ValidateDiscoverableLogin(handler, *sd, parsed); err != nil {
			switch {
			case errors.Is(lookupErr, errPasskeyUnknown):
				refuse("", reasonPasskeyUnknown, nil)
			case lookupErr != nil && !errors.Is(lookupErr, errPasskeyOwner):
				w.fail(rw, r, lookupErr)
			default:
				refuse(claimed, reasonPasskeyInvalid, protocolDetail(err))
			}
			return
		}
	}

	flags := parsed.Response.AuthenticatorData.Flags
	pk, err := w.cfg.Tenants.UsePasskey(ctx, used, owner, tenants.PasskeyUse{
		SignCount: parsed.Response.AuthenticatorData.Counter, UserVerified: flags.HasUserVerified(), BackupState: flags.HasBackupState()})
	u := owner
	switch {
	case errors.Is(err, tenants.ErrPasskeyClone):
		refuse(claimed, reasonPasskeyClone, nil)
		return
	case errors.Is(err, tenants.ErrPasskeyUserInactive):
		refuse(claimed, tenants.ReasonDisabled, nil)
		return
	case errors.Is(err, tenants.ErrPasskeyUnknown):
		refuse("", reasonPasskeyUnknown, "removed during the ceremony")
		return
	case err != nil:
		w.fail(rw, r, err)
		return
	case u.ID != claimed:
		refuse(claimed, reasonPasskeyInvalid, "passkey of another user")
		return
	}
	w.settle(ctx, res.Success)
	s, ok := w.proveFactor(rw, r, req, u, tenants.Factor{Method: passkeyFactor(pk), At: w.cfg.Now()})
	if !ok {
		return
	}
	w.cfg.Logger.InfoContext(ctx, "login succeeded", "auth_request", req.ID, "user", u.ID, "session", s.ID, "method", passkeyFactor(pk))
	w.proceed(rw, r, req, s, u, nil)
}
