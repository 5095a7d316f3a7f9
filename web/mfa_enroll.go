package web

// Enrollment at sign-in: a user who must prove a second factor
// (mfaRequired, or an application's step-up) but has none sets up an
// authenticator app here, with the first factor in the login transaction
// and still no session. The page shows the key as a QR code and as text;
// the first code from the app confirms it and counts as the second
// factor; then the user's ten recovery codes are shown, once, and
// "continue" completes the sign-in. A user who has any second factor
// never reaches enrollment with a first factor alone (ATO-05 g): adding
// another factor is for the account page, behind re-authentication.

import (
	"errors"
	"html/template"
	"net/http"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/internal/httpserver"
	"github.com/gatehouse-id/gatehouse/internal/totp"
	"github.com/gatehouse-id/gatehouse/tenants"
)

const (
	msgEnrollBadCode = "page.error.enroll_bad_code"
	msgEnrollExpired = "page.error.enroll_expired"
)

// enrollPage shows a new authenticator app's key.
type enrollPage struct {
	layout
	AuthRequest string
	CSRF        string
	ClientName  string
	// Enrollment is the unconfirmed credential's id.
	Enrollment string
	// QR is the key URI as an inline <svg> (totp.QRSVG, our own markup).
	QR template.HTML
	// Key is the secret in groups of four, to type in by hand.
	Key   string
	Error text
}

// recoveryCodesPage shows the user's new recovery codes, once.
type recoveryCodesPage struct {
	layout
	AuthRequest string
	CSRF        string
	Codes       []string
	// Account: made on the account page, which the page links back to
	// (rather than going on with a sign-in).
	Account bool
}

// beginEnrollment starts an authenticator app enrollment for u and shows
// its key.
func (w *Web) beginEnrollment(rw http.ResponseWriter, r *http.Request, req *LoginRequest, u *ent.User, status int, msg text) {
	en, err := w.cfg.Tenants.BeginTOTP(r.Context(), u.ID)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	w.showEnrollment(rw, r, req, en, status, msg)
}

func (w *Web) showEnrollment(rw http.ResponseWriter, r *http.Request, req *LoginRequest, en tenants.TOTPEnrollment, status int, msg text) {
	qr, err := totp.QRSVG(en.URI, "QR code with the key for your authenticator app")
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	w.render(rw, r, status, pageMFAEnroll, "page.title.mfa_enroll", &enrollPage{
		layout:      layout{Brand: w.memberBrand(r.Context(), req, en.Credential.UserID)},
		AuthRequest: req.ID, CSRF: csrfField(w.csrfToken(rw, r), req.ID), ClientName: clientName(req),
		Enrollment: string(en.Credential.ID), QR: template.HTML(qr), Key: totp.Group(en.Secret), Error: msg, //nolint:gosec // our own SVG, its one text escaped
	})
}

// postEnroll confirms the enrollment with the app's first code, which is
// the sign-in's second factor, and shows the new recovery codes.
func (w *Web) postEnroll(rw http.ResponseWriter, r *http.Request) {
	req, ok := w.postedRequest(rw, r)
	if !ok {
		return
	}
	_, u, ok := w.pendingSecondFactor(rw, r, req)
	if !ok {
		return
	}
	ctx := tenants.WithOrigin(r.Context(), tenants.Origin(httpserver.OriginOf(r)))
	sf, err := w.cfg.Tenants.SecondFactors(ctx, u.ID)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	if sf.Any() {
		// A factor exists (another tab enrolled meanwhile): prove it
		// instead; no second enrollment on a first factor alone.
		w.askSecondFactor(rw, r, req, u, false, http.StatusConflict, text{})
		return
	}
	cred := pulid.ID(truncate(r.PostFormValue("enrollment"), 64))
	good, err := w.cfg.Tenants.ConfirmTOTP(ctx, u.ID, cred, truncate(r.PostFormValue("code"), 64))
	var input *tenants.InputError
	switch {
	case errors.As(err, &input):
		w.beginEnrollment(rw, r, req, u, http.StatusBadRequest, say(msgEnrollExpired))
		return
	case err != nil:
		w.fail(rw, r, err)
		return
	case !good:
		w.loginFailed(ctx, r, req, u.ID, reasonBadOTP)
		en, err := w.cfg.Tenants.PendingTOTP(ctx, u.ID, cred)
		if err != nil {
			w.beginEnrollment(rw, r, req, u, http.StatusBadRequest, say(msgEnrollExpired))
			return
		}
		w.showEnrollment(rw, r, req, en, http.StatusUnauthorized, say(msgEnrollBadCode))
		return
	}
	// The app's first code proves the second factor: the transaction
	// records it now, so that "continue" needs nothing from the form.
	if _, err := w.recordFactor(rw, r, req, u, tenants.Factor{Method: tenants.FactorOTP, At: w.cfg.Now()}); err != nil {
		w.fail(rw, r, err)
		return
	}
	codes, err := w.cfg.Tenants.GenerateRecoveryCodes(ctx, u.ID)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	w.cfg.Logger.InfoContext(ctx, "authenticator app enrolled at sign-in", "auth_request", req.ID, "user", u.ID)
	w.funnel(ctx, req, tenants.FunnelMFAEnrolled)
	// The owner hears of every new factor at the address (PK-08, ATO-05 g).
	w.cfg.Mailer.Mail(ctx, r.Header.Get("Accept-Language"), "mfa_added", u.Email, map[string]any{
		"Method": "totp", "When": w.cfg.Now(), "ResetLink": w.link(recoverPath, nil)})
	w.render(rw, r, http.StatusOK, pageRecoveryCodes, "page.title.recovery_codes", &recoveryCodesPage{
		layout:      layout{Brand: w.memberBrand(ctx, req, u.ID)},
		AuthRequest: req.ID, CSRF: csrfField(w.csrfToken(rw, r), req.ID), Codes: codes,
	})
}

// postMFAContinue completes a sign-in whose transaction the policy finds
// done (after enrollment and the recovery codes); otherwise it shows the
// step still needed.
func (w *Web) postMFAContinue(rw http.ResponseWriter, r *http.Request) {
	req, ok := w.postedRequest(rw, r)
	if !ok {
		return
	}
	tx, u, ok := w.pendingSecondFactor(rw, r, req)
	if !ok {
		return
	}
	s, ok := w.signInTransaction(rw, r, req, u, tx)
	if !ok {
		return
	}
	org, err := w.chosenInTransaction(r.Context(), req, u, tx)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	w.cfg.Logger.InfoContext(r.Context(), "login succeeded", "auth_request", req.ID, "user", u.ID, "session", s.ID)
	w.proceed(rw, r, req, s, u, org)
}
