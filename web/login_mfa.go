package web

// The second-factor step: when the login policy needs a second factor
// (tenants.StepMFA: an organization's mfaRequired, or an application
// that asked for acr urn:gatehouse:acr:mfa), the browser holds a login
// transaction with its first factor and nothing else: no session exists
// until the policy says Done, so the pre-MFA browser reaches no step
// that needs one (organization, consent, completion). This page asks for
// a code from the user's authenticator app, or one of their recovery
// codes; a user with neither enrolls first (mfa_enroll.go).

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/internal/httpserver"
	"github.com/gatehouse-id/gatehouse/internal/password"
	"github.com/gatehouse-id/gatehouse/internal/ratelimit"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// DefaultOTPPolicy is each account's allowance of second-factor codes
// (SECURITY-CHECKLIST ATO-02, ATO-05 d): a six-digit code is one of a
// million, so after 5 wrong ones each further try waits 30s, doubling
// to an hour, forgotten a day after the last; a right code forgets them.
// It is counted per user, whatever the session, browser or address, so
// parallel sessions share it. It is never a lockout: the owner can
// always try again after the wait, and authenticator codes and recovery
// codes have separate allowances, so guessing one does not stop the
// other.
var DefaultOTPPolicy = ratelimit.Policy{Free: 5, Base: 30 * time.Second, Max: time.Hour, Forget: 24 * time.Hour}

// Reasons of user.login.failed at the second-factor step.
const (
	reasonBadOTP          = "bad_otp"
	reasonOTPReplayed     = "otp_replayed"
	reasonBadRecoveryCode = "bad_recovery_code"
	reasonMFARequired     = "mfa_required" // prompt=none, or no way to ask
)

// What the browser is told at the second-factor step.
const (
	msgBadOTP          = "page.error.bad_otp"
	msgOTPReplayed     = "page.error.otp_replayed"
	msgBadRecoveryCode = "page.error.bad_recovery_code"
)

// mfaPage asks for a second factor.
type mfaPage struct {
	layout
	AuthRequest string
	CSRF        string
	ClientName  string
	// TOTP: the user has an authenticator app; Recovery: unspent recovery
	// codes; Passkey: a passkey (offered by the passkey step).
	TOTP, Recovery, Passkey bool
	// UseRecovery shows the recovery-code form instead of the app's.
	UseRecovery bool
	Error       text
}

// needsSecondFactor reports whether d asks for a second factor.
func needsSecondFactor(d tenants.Decision) bool {
	return d.Outcome == tenants.Need && slices.Contains(d.Steps, tenants.StepMFA)
}

// wantsMFA reports whether the application asked for multi-factor
// authentication: its acr_values (those this instance defines, most
// preferred first) do not accept a single factor (OIDC Core §3.1.2.1;
// voluntary claims, but Gatehouse honours them with a step-up).
func wantsMFA(req *LoginRequest) bool {
	return len(req.ACRValues) > 0 && !slices.Contains(req.ACRValues, acrSingleFactor)
}

// askSecondFactor shows the second-factor step to u, whose browser holds
// (or, in this response, is given) the transaction with the first
// factor: the code form when u has a second factor, enrollment when u has
// none. For prompt=none the application hears interaction_required.
func (w *Web) askSecondFactor(rw http.ResponseWriter, r *http.Request, req *LoginRequest, u *ent.User, useRecovery bool, status int, msg text) {
	ctx := r.Context()
	if silent(req) {
		w.loginFailed(ctx, r, req, u.ID, reasonMFARequired)
		w.failLogin(rw, r, req, "interaction_required", "a second factor is required")
		return
	}
	sf, err := w.cfg.Tenants.SecondFactors(ctx, u.ID)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	if sf.TOTP == 0 && sf.RecoveryCodes == 0 && sf.Passkeys == 0 {
		w.beginEnrollment(rw, r, req, u, status, msg)
		return
	}
	w.render(rw, r, status, pageMFA, "page.title.mfa", &mfaPage{
		layout:      layout{Brand: w.memberBrand(ctx, req, u.ID)},
		AuthRequest: req.ID, CSRF: csrfField(w.csrfToken(rw, r), req.ID), ClientName: clientName(req),
		TOTP: sf.TOTP > 0, Recovery: sf.RecoveryCodes > 0, Passkey: sf.Passkeys > 0 && w.passkeys != nil,
		UseRecovery: (useRecovery || sf.TOTP == 0) && sf.RecoveryCodes > 0, Error: msg,
	})
}

// stepUp asks the user of a reused session s, which does not satisfy the
// policy or the application (a single factor where a second is needed),
// for a second factor: a new transaction starts from the session's
// factors, into org, and a success gives a new session (ATO-07).
func (w *Web) stepUp(rw http.ResponseWriter, r *http.Request, req *LoginRequest, s *ent.Session, u *ent.User, org pulid.ID) {
	if silent(req) {
		w.askSecondFactor(rw, r, req, u, false, http.StatusOK, text{})
		return
	}
	token := w.loginToken(r)
	var tx *ent.LoginTransaction
	for _, f := range sessionFactors(s) {
		var err error
		tx, token, err = w.cfg.Tenants.ProveFactor(r.Context(), tenants.LoginStep{
			Token: token, AuthRequestID: req.ID, UserID: u.ID, OrganizationID: org, Factor: f,
		})
		if err != nil {
			w.fail(rw, r, err)
			return
		}
	}
	if tx == nil {
		w.signInAgain(rw, r, req, u)
		return
	}
	w.setLoginCookie(rw, token, tx.ExpiresAt)
	w.cfg.Logger.InfoContext(r.Context(), "step-up to a second factor", "auth_request", req.ID, "user", u.ID, "session", s.ID)
	w.askSecondFactor(rw, r, req, u, false, http.StatusOK, text{})
}

// pendingSecondFactor is the browser's transaction for req and its user,
// who must still be active; otherwise it has written the response (the
// ended-sign-in page, or the failure) and returns false. The user is the
// transaction's, never one a form names; what the transaction still needs
// is the policy's to say when a factor is added (proveFactor).
func (w *Web) pendingSecondFactor(rw http.ResponseWriter, r *http.Request, req *LoginRequest) (*ent.LoginTransaction, *ent.User, bool) {
	ctx := r.Context()
	tx, err := w.cfg.Tenants.LoginTransaction(ctx, w.loginToken(r), req.ID)
	if err != nil {
		w.fail(rw, r, err)
		return nil, nil, false
	}
	if tx == nil {
		w.renderError(rw, r, http.StatusUnauthorized, msgSessionEnded)
		return nil, nil, false
	}
	u, err := w.cfg.Client.User.Get(sys(ctx), tx.UserID)
	if err != nil && !ent.IsNotFound(err) {
		w.fail(rw, r, fmt.Errorf("load user of login transaction: %w", err))
		return nil, nil, false
	}
	if u == nil || !tenants.IsActiveUser(u) {
		w.renderError(rw, r, http.StatusUnauthorized, msgSessionEnded)
		return nil, nil, false
	}
	return tx, u, true
}

// getMFA shows the second-factor step again (a reload, or "use a recovery
// code" with method=recovery) to a browser whose transaction needs it.
func (w *Web) getMFA(rw http.ResponseWriter, r *http.Request) {
	req, ok := w.loginRequest(rw, r, r.URL.Query().Get("authRequest"))
	if !ok {
		return
	}
	_, u, ok := w.pendingSecondFactor(rw, r, req)
	if !ok {
		return
	}
	w.askSecondFactor(rw, r, req, u, r.URL.Query().Get("method") == "recovery", http.StatusOK, text{})
}

// postMFA checks a code from the user's authenticator app (field code) or
// one of their recovery codes (field recovery_code): the throttle first
// (per user, then per address), then the code (tenants, which accepts a
// time step once and spends a recovery code once), then the login policy
// with the new factor, and only then a session.
func (w *Web) postMFA(rw http.ResponseWriter, r *http.Request) {
	req, ok := w.postedRequest(rw, r)
	if !ok {
		return
	}
	tx, u, ok := w.pendingSecondFactor(rw, r, req)
	if !ok {
		return
	}
	ctx := r.Context()
	recovery := r.PostForm.Has("recovery_code")
	code := truncate(r.PostFormValue("code"), 64)
	key, method, bad, badMsg := "otp:"+string(u.ID), tenants.FactorOTP, reasonBadOTP, msgBadOTP
	if recovery {
		code = truncate(r.PostFormValue("recovery_code"), 64)
		key, method, bad, badMsg = "rc:"+string(u.ID), tenants.FactorRecoveryCode, reasonBadRecoveryCode, msgBadRecoveryCode
	}
	res, wait, err := w.cfg.Limiter.Attempt(ctx,
		ratelimit.Key{Name: key, Policy: w.cfg.OTPPolicy},
		ratelimit.Key{Name: "addr:" + httpserver.ClientNetwork(r), Policy: w.cfg.AddressPolicy})
	if err != nil {
		w.fail(rw, r, fmt.Errorf("count second-factor attempt: %w", err))
		return
	}
	if wait > 0 {
		msg := tooMany(rw, wait)
		w.cfg.Logger.InfoContext(ctx, "second factor throttled", "auth_request", req.ID, "user", u.ID, "retry_after", wait)
		w.loginFailed(ctx, r, req, u.ID, reasonThrottled)
		w.askSecondFactor(rw, r, req, u, recovery, http.StatusTooManyRequests, msg)
		return
	}
	var good bool
	if recovery {
		good, err = w.cfg.Tenants.UseRecoveryCode(tenants.WithOrigin(ctx, tenants.Origin(httpserver.OriginOf(r))), u.ID, code)
	} else {
		good, err = w.cfg.Tenants.VerifyTOTP(ctx, u.ID, code)
	}
	switch {
	case errors.Is(err, tenants.ErrOTPReplayed):
		// The attempt stays counted: a replay is a guess that was right
		// once, for someone.
		w.cfg.Logger.InfoContext(ctx, "one-time code replayed", "auth_request", req.ID, "user", u.ID, "ip", httpserver.ClientIP(r))
		w.loginFailed(ctx, r, req, u.ID, reasonOTPReplayed)
		w.askSecondFactor(rw, r, req, u, false, http.StatusUnauthorized, say(msgOTPReplayed))
		return
	case errors.Is(err, password.ErrBusy):
		// A recovery code is hashed like a password: no slot, no answer.
		w.settle(ctx, res.Cancel)
		secs := int(password.BusyRetryAfter / time.Second)
		rw.Header().Set("Retry-After", strconv.Itoa(secs))
		w.askSecondFactor(rw, r, req, u, recovery, http.StatusServiceUnavailable,
			say("page.error.busy", "wait", waitText(secs)))
		return
	case err != nil:
		w.settle(ctx, res.Cancel)
		w.fail(rw, r, err)
		return
	case !good:
		w.cfg.Logger.InfoContext(ctx, "second factor failed", "auth_request", req.ID, "user", u.ID, "reason", bad, "ip", httpserver.ClientIP(r))
		w.loginFailed(ctx, r, req, u.ID, bad)
		w.funnel(ctx, req, tenants.LoginFunnel(method, false))
		w.askSecondFactor(rw, r, req, u, recovery, http.StatusUnauthorized, say(badMsg))
		return
	}
	w.settle(ctx, res.Success)
	w.finishSecondFactor(rw, r, req, tx, u, tenants.Factor{Method: method, At: w.cfg.Now()})
}

// finishSecondFactor records the proven second factor f in the
// transaction tx and, when the policy is satisfied, signs the browser in
// (a new session) and goes on with the steps after authentication, into
// the organization the transaction names when the user chose it.
func (w *Web) finishSecondFactor(rw http.ResponseWriter, r *http.Request, req *LoginRequest, tx *ent.LoginTransaction, u *ent.User, f tenants.Factor) {
	ctx := r.Context()
	s, ok := w.proveFactor(rw, r, req, u, f)
	if !ok {
		return
	}
	org, err := w.chosenInTransaction(ctx, req, u, tx)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	w.cfg.Logger.InfoContext(ctx, "login succeeded", "auth_request", req.ID, "user", u.ID, "session", s.ID, "factor", f.Method)
	w.proceed(rw, r, req, s, u, org)
}

// chosenInTransaction is the organization a step-up began for, when the
// user chose it on the picker (the application named none), and u is
// still an active member; otherwise nil.
func (w *Web) chosenInTransaction(ctx context.Context, req *LoginRequest, u *ent.User, tx *ent.LoginTransaction) (*ent.Organization, error) {
	if tx.OrganizationID == "" || !req.WantsOrganization || req.RequestedOrganizationID != "" {
		return nil, nil
	}
	return w.memberOrganization(ctx, u.ID, tx.OrganizationID)
}
