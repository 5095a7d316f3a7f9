package web

// The account page: who is signed in, and the browsers signed in as them,
// each of which the user can sign out, or all at once. Reached directly
// (a direct sign-in ends here); without a live session it sends the
// browser to sign in first.

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/internal/httpserver"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// accountPath is the account page.
const accountPath = "/account"

type accountPage struct {
	layout
	CSRF     string
	Email    string
	Name     string
	Sessions []accountSession
	Notice   text
	Error    text
	// Passkeys links to adding a passkey (passkey.go), when passkeys are on.
	Passkeys bool
	// Recent: the sign-in is recent enough to change factors and the
	// address (tenants.SignedInRecently); otherwise those forms are a link
	// to sign in again.
	Recent       bool
	Apps         []*ent.TOTPCredential
	PasskeyList  []*ent.Passkey
	CodesLeft    int
	EmailPending bool
}

// accountSession is one signed-in browser as the account page lists it.
type accountSession struct {
	ID        string
	Current   bool
	UserAgent string
	IP        string
	SignedIn  string
	LastSeen  string
}

// accountField is the account forms' CSRF field: the CSRF cookie's MAC of
// the session, so a form is good for this browser and this session only.
func accountField(token string, s *ent.Session) string { return mac(token, "account", string(s.ID)) }

func (w *Web) getAccount(rw http.ResponseWriter, r *http.Request) {
	s, u, err := w.currentSession(r.Context(), r)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	if s == nil {
		http.Redirect(rw, r, "/login", http.StatusSeeOther)
		return
	}
	w.showAccount(rw, r, s, u, http.StatusOK, text{})
}

func (w *Web) showAccount(rw http.ResponseWriter, r *http.Request, s *ent.Session, u *ent.User, status int, notice text) {
	sessions, err := w.cfg.Tenants.ListSessions(r.Context(), u.ID)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	ctx := r.Context()
	p := accountPage{CSRF: accountField(w.csrfToken(rw, r), s), Email: u.Email, Name: u.Name, Notice: notice,
		Passkeys: w.passkeys != nil, Recent: tenants.SignedInRecently(s, w.cfg.Now())}
	if notice.Key != "" && strings.HasPrefix(notice.Key, "page.error.") {
		p.Notice, p.Error = text{}, notice
	}
	apps, err := w.cfg.Tenants.ListTOTP(ctx, u.ID)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	for _, a := range apps {
		if a.ConfirmedAt != nil {
			p.Apps = append(p.Apps, a)
		}
	}
	if p.PasskeyList, err = w.cfg.Tenants.ListPasskeys(ctx, u.ID); err != nil {
		w.fail(rw, r, err)
		return
	}
	if p.CodesLeft, err = w.cfg.Tenants.RecoveryCodesLeft(ctx, u.ID); err != nil {
		w.fail(rw, r, err)
		return
	}
	for _, o := range sessions {
		p.Sessions = append(p.Sessions, accountSession{
			ID: string(o.ID), Current: o.ID == s.ID, UserAgent: truncate(o.UserAgent, 120), IP: o.IP,
			SignedIn: o.AuthTime.UTC().Format("2006-01-02 15:04 MST"), LastSeen: o.LastSeenAt.UTC().Format("2006-01-02 15:04 MST"),
		})
	}
	w.render(rw, r, status, pageAccount, "page.title.account", &p)
}

// postRevokeSession signs out one of the user's browsers (session=<id>),
// or every one but this (session=others), or all (session=all, which
// signs this browser out too).
func (w *Web) postRevokeSession(rw http.ResponseWriter, r *http.Request) {
	s, u, ok := w.accountForm(rw, r, false)
	if !ok {
		return
	}
	// As the signed-in user, from this request: tenants writes each
	// ended session's session.revoke (reason user) with the change.
	ctx := tenants.SessionUserContext(withOrigin(r.Context(), r), s)
	var signedOut bool
	switch which := r.PostFormValue("session"); which {
	case "all", "others":
		except := s.ID
		if which == "all" {
			except, signedOut = "", true
		}
		if _, err := w.cfg.Tenants.RevokeUserSessions(ctx, u.ID, except); err != nil {
			w.fail(rw, r, err)
			return
		}
	default:
		id := pulid.ID(truncate(which, 64))
		// Only the user's own sessions: another user's id is not found
		// and revokes nothing, like an unknown one.
		if _, err := w.cfg.Tenants.RevokeSessionByID(ctx, id); err != nil && !errors.Is(err, tenants.ErrNotFound) {
			w.fail(rw, r, err)
			return
		}
		signedOut = id == s.ID
	}
	if signedOut {
		w.clearSessionCookie(rw)
		w.renderLoggedOut(rw, r, http.StatusOK, loggedOutPage{})
		return
	}
	w.showAccount(rw, r, s, u, http.StatusOK, say("page.account.signed_out"))
}

// accountForm checks an account form: a live session, this page's CSRF
// field, and, when recent, a sign-in within tenants.RecentSignIn (the
// page then says to sign in again). It answers itself when ok is false.
func (w *Web) accountForm(rw http.ResponseWriter, r *http.Request, recent bool) (*ent.Session, *ent.User, bool) {
	if !w.parseForm(rw, r) {
		return nil, nil, false
	}
	ctx := r.Context()
	s, u, err := w.currentSession(ctx, r)
	if err != nil {
		w.fail(rw, r, err)
		return nil, nil, false
	}
	if s == nil {
		w.renderError(rw, r, http.StatusUnauthorized, msgSessionEnded)
		return nil, nil, false
	}
	if !w.checkCSRF(r, func(token string) string { return accountField(token, s) }) {
		w.cfg.Logger.InfoContext(ctx, "account csrf check failed", "session", s.ID, "ip", httpserver.ClientIP(r))
		w.audit(ctx, r, auditEvent{action: "account.change.failed", user: u.ID,
			metadata: map[string]any{"reason": reasonCSRF, "path": r.URL.Path}})
		w.renderError(rw, r, http.StatusForbidden, msgFormExpired)
		return nil, nil, false
	}
	if recent && !tenants.SignedInRecently(s, w.cfg.Now()) {
		w.showAccount(rw, r, s, u, http.StatusUnauthorized, say(msgReauth))
		return nil, nil, false
	}
	return s, u, true
}

// msgReauth asks for a fresh sign-in before a sensitive change.
const msgReauth = "page.error.reauth"

// postProfile sets the display name.
func (w *Web) postProfile(rw http.ResponseWriter, r *http.Request) {
	s, u, ok := w.accountForm(rw, r, false)
	if !ok {
		return
	}
	u, err := w.cfg.Tenants.UpdateOwnName(withOrigin(r.Context(), r), u.ID, strings.TrimSpace(r.PostFormValue("name")))
	var bad *tenants.InputError
	if errors.As(err, &bad) {
		w.showAccount(rw, r, s, u, http.StatusBadRequest, say("page.error.bad_name"))
		return
	}
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	w.showAccount(rw, r, s, u, http.StatusOK, say("page.account.saved"))
}

// postEmail sends a code and a link to a new address; the change happens
// once it is proved, from this session.
func (w *Web) postEmail(rw http.ResponseWriter, r *http.Request) {
	s, u, ok := w.accountForm(rw, r, true)
	if !ok {
		return
	}
	ctx := r.Context()
	email, err := tenants.NormalizeEmail("email", r.PostFormValue("email"))
	if err != nil {
		w.showAccount(rw, r, s, u, http.StatusBadRequest, say(msgBadEmail))
		return
	}
	if wait, err := w.reserveMail(r, email); err != nil {
		w.fail(rw, r, err)
		return
	} else if wait > 0 {
		w.showAccount(rw, r, s, u, http.StatusTooManyRequests, tooMany(rw, wait))
		return
	}
	ch, err := w.cfg.Tenants.StartEmailChange(ctx, u.ID, email, w.csrfToken(rw, r))
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	w.cfg.Mailer.Mail(ctx, r.Header.Get("Accept-Language"), "email_change_verify", email, map[string]any{
		"Code": ch.Code, "Minutes": int(tenants.EmailCodeLifetime.Minutes()),
		"Link": w.link(accountPath+"/email/link", url.Values{"token": {ch.LinkToken}})})
	w.renderEmailSent(rw, r, http.StatusOK, emailSentPage{CSRF: accountField(w.csrfToken(rw, r), s), Email: email,
		Action: accountPath + "/email/verify", Challenge: string(ch.Challenge.ID)})
}

// postEmailCode spends the new address's code.
func (w *Web) postEmailChangeCode(rw http.ResponseWriter, r *http.Request) {
	s, u, ok := w.accountForm(rw, r, false)
	if !ok {
		return
	}
	c, err := r.Cookie(w.csrfCk)
	if err != nil {
		c = &http.Cookie{}
	}
	ch, why, err := w.cfg.Tenants.RedeemEmailCode(r.Context(), tenants.EmailChangeEmail,
		truncate(r.PostFormValue("challenge"), 64), c.Value, r.PostFormValue("code"))
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	if ch == nil {
		w.cfg.Logger.InfoContext(r.Context(), "email change code refused", "user", u.ID, "reason", why)
		w.renderEmailSent(rw, r, http.StatusUnauthorized, emailSentPage{CSRF: r.PostFormValue("csrf"),
			Email: truncate(r.PostFormValue("email"), 320), Action: accountPath + "/email/verify",
			Challenge: truncate(r.PostFormValue("challenge"), 64), Error: say(msgBadCode)})
		return
	}
	w.changedEmail(rw, r, s, u, ch)
}

// postEmailChangeLink spends the new address's link, in a browser signed
// in as the account that asked.
func (w *Web) postEmailChangeLink(rw http.ResponseWriter, r *http.Request) {
	if !w.linkForm(rw, r) {
		return
	}
	ctx := r.Context()
	s, u, err := w.currentSession(ctx, r)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	if s == nil {
		w.renderError(rw, r, http.StatusUnauthorized, msgSessionEnded)
		return
	}
	ch, why, err := w.cfg.Tenants.RedeemEmailLink(ctx, tenants.EmailChangeEmail, r.PostFormValue("token"))
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	if ch == nil || ch.UserID != u.ID {
		w.cfg.Logger.InfoContext(ctx, "email change link refused", "user", u.ID, "reason", why)
		w.renderError(rw, r, http.StatusUnauthorized, msgBadCode)
		return
	}
	w.changedEmail(rw, r, s, u, ch)
}

// changedEmail completes an email change ch proved and tells the old
// address.
func (w *Web) changedEmail(rw http.ResponseWriter, r *http.Request, s *ent.Session, u *ent.User, ch *ent.EmailChallenge) {
	nu, old, err := w.cfg.Tenants.CompleteEmailChange(withOrigin(r.Context(), r), u.ID, ch)
	var bad *tenants.InputError
	if errors.As(err, &bad) {
		w.showAccount(rw, r, s, u, http.StatusConflict, say("page.error.email_taken"))
		return
	}
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	w.cfg.Mailer.Mail(r.Context(), r.Header.Get("Accept-Language"), "email_changed", old, map[string]any{"NewEmail": nu.Email})
	w.showAccount(rw, r, s, nu, http.StatusOK, say("page.account.email_changed"))
}

// postRemoveFactor removes an authenticator app (kind=totp) or a passkey
// (kind=passkey) of the user's, after a recent sign-in.
func (w *Web) postRemoveFactor(rw http.ResponseWriter, r *http.Request) {
	s, u, ok := w.accountForm(rw, r, true)
	if !ok {
		return
	}
	ctx := withOrigin(r.Context(), r)
	id := pulid.ID(truncate(r.PostFormValue("id"), 64))
	var err error
	switch r.PostFormValue("kind") {
	case "totp":
		err = w.cfg.Tenants.RemoveTOTP(ctx, u.ID, id)
	case "passkey":
		err = w.cfg.Tenants.RemovePasskey(ctx, u.ID, id)
	default:
		w.showAccount(rw, r, s, u, http.StatusBadRequest, say(msgFormExpired))
		return
	}
	var forbidden *tenants.ForbiddenError
	switch {
	case errors.As(err, &forbidden):
		w.showAccount(rw, r, s, u, http.StatusForbidden, say("page.error.last_factor"))
	case errors.Is(err, tenants.ErrNotFound):
		w.showAccount(rw, r, s, u, http.StatusNotFound, say(msgFormExpired))
	case err != nil:
		w.fail(rw, r, err)
	default:
		w.showAccount(rw, r, s, u, http.StatusOK, say("page.account.removed"))
	}
}

// postRecoveryCodes replaces the user's recovery codes and shows the new
// ones once, after a recent sign-in.
func (w *Web) postRecoveryCodes(rw http.ResponseWriter, r *http.Request) {
	_, u, ok := w.accountForm(rw, r, true)
	if !ok {
		return
	}
	codes, err := w.cfg.Tenants.GenerateRecoveryCodes(withOrigin(r.Context(), r), u.ID)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	w.render(rw, r, http.StatusOK, pageRecoveryCodes, "page.title.recovery_codes", &recoveryCodesPage{Codes: codes, Account: true})
}
