package web

import (
	"fmt"
	"net/http"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/internal/httpserver"
)

// The logged-out page (/login/logged-out) is where the provider sends the
// browser after RP-initiated logout without a post_logout_redirect_uri.
// Any site can send a browser there (end_session without an id_token_hint
// needs no proof of anything), so a GET never signs anyone out (ATO-08):
// while the browser holds a session, it asks "Sign out?" with a form whose
// CSRF field is bound to the browser's CSRF cookie and to that session, and
// only the POST of that form ends the session. When the session is already
// gone (end_session with a valid id_token_hint revoked the one its sid
// named; expired; never there) the page just says so. Neither variant
// links anywhere: the page must not guess where to send the user (OIDC-02).

// getLoggedOut shows "Sign out?" for a browser that still holds a session,
// otherwise "You have signed out." (and drops a stale session cookie).
func (w *Web) getLoggedOut(rw http.ResponseWriter, r *http.Request) {
	s, err := w.cookieSession(r.Context(), r)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	if s == nil {
		w.signedOut(rw, r)
		return
	}
	w.renderLoggedOut(rw, r, http.StatusOK, loggedOutPage{Confirm: true, CSRF: logoutField(w.csrfToken(rw, r), s)})
}

// postLoggedOut ends the browser's session when the form's CSRF field
// matches the CSRF cookie and this session: the session is revoked
// server-side with the grants (refresh tokens) issued from it (ATO-10)
// and user.logout written in the same transaction, and the cookie cleared. A missing
// or wrong field is rejected with 403 and a user.logout.failed event, and
// nothing is revoked. Without a session (signed out meanwhile, e.g. in
// another tab, or a repeated post) there is nothing to protect or to end:
// the page says the browser is signed out.
func (w *Web) postLoggedOut(rw http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !w.parseForm(rw, r) {
		return
	}
	s, err := w.cookieSession(ctx, r)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	if s == nil {
		w.signedOut(rw, r)
		return
	}
	if !w.checkCSRF(r, func(token string) string { return logoutField(token, s) }) {
		w.cfg.Logger.InfoContext(ctx, "logout csrf check failed", "session", s.ID, "ip", httpserver.ClientIP(r))
		w.audit(ctx, r, auditEvent{action: actionLogoutFailed, user: s.UserID,
			metadata: map[string]any{"reason": reasonCSRF, "session_id": string(s.ID), "path": r.URL.Path}})
		w.renderError(rw, r, http.StatusForbidden, msgFormExpired)
		return
	}
	loggedOut := w.event(r, auditEvent{action: actionLogout, user: s.UserID, metadata: map[string]any{"session_id": string(s.ID)}})
	ended, err := w.cfg.Tenants.RevokeSession(ctx, s.ID, s.UserID, "logout", &loggedOut)
	if err != nil {
		w.fail(rw, r, fmt.Errorf("revoke session: %w", err))
		return
	}
	if ended {
		w.cfg.Logger.InfoContext(ctx, "logged out", "user", s.UserID, "session", s.ID)
	}
	w.clearSessionCookie(rw)
	w.renderLoggedOut(rw, r, http.StatusOK, loggedOutPage{})
}

// signedOut says the browser is signed out, for a browser without a
// session, and drops its session cookie if it still sends a stale one.
func (w *Web) signedOut(rw http.ResponseWriter, r *http.Request) {
	if _, err := r.Cookie(w.sessionCk); err == nil {
		w.clearSessionCookie(rw)
	}
	w.renderLoggedOut(rw, r, http.StatusOK, loggedOutPage{})
}

// logoutField is the sign-out form's CSRF field: the CSRF cookie's MAC of
// the session id, so it is good for this browser and this session only (a
// form from before a new sign-in cannot end the new session).
func logoutField(token string, s *ent.Session) string { return mac(token, "logout", string(s.ID)) }

// clearSessionCookie tells the browser to drop the session cookie: same
// name and attributes, Max-Age=0.
func (w *Web) clearSessionCookie(rw http.ResponseWriter) {
	http.SetCookie(rw, &http.Cookie{
		Name: w.sessionCk, Value: "", Path: "/", MaxAge: -1,
		Secure: w.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}
