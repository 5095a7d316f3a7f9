package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/internal/httpserver"
	"github.com/gatehouse-id/gatehouse/internal/secret"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// sys is ctx acting as Gatehouse itself: the hosted pages read users'
// memberships and organizations on behalf of a browser that has no viewer
// of its own yet.
func sys(ctx context.Context) context.Context { return viewer.SystemContext(ctx) }

// currentSession returns the browser's live session and its user, or nils
// when the cookie is missing, unknown, revoked, expired (absolute or idle)
// or belongs to a user who is no longer active (tenants.LiveSession).
func (w *Web) currentSession(ctx context.Context, r *http.Request) (*ent.Session, *ent.User, error) {
	return w.cfg.Tenants.LiveSession(ctx, w.sessionToken(r))
}

// startSession signs the browser in as u with a new session and a new
// cookie value, and revokes the session the browser presented before, if
// any, so an identifier planted before sign-in is worthless after it
// (ATO-07). The session lasts as long as l allows.
func (w *Web) startSession(ctx context.Context, rw http.ResponseWriter, r *http.Request, u *ent.User, amr []string, l tenants.SessionLifetimes) (*ent.Session, error) {
	s, token, err := w.cfg.Tenants.CreateSession(ctx, tenants.NewSession{
		UserID: u.ID, AMR: amr, Lifetimes: l, IP: httpserver.ClientIP(r), UserAgent: r.UserAgent(),
		Replaces: w.sessionToken(r),
	})
	if err != nil {
		return nil, err
	}
	w.setSessionCookie(rw, token, s.ExpiresAt)
	return s, nil
}

func (w *Web) setSessionCookie(rw http.ResponseWriter, token string, expires time.Time) {
	http.SetCookie(rw, &http.Cookie{
		Name: w.sessionCk, Value: token, Path: "/", Expires: expires,
		Secure: w.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}

// CSRF protection is double-submit: a random token in a SameSite=Strict,
// HttpOnly cookie, and in each form an HMAC of the authorization request id
// keyed with that token, so a form is good for one request in one browser
// only (ATO-08, login CSRF included).

// csrfToken returns the browser's CSRF cookie value, setting a new one when
// there is none.
func (w *Web) csrfToken(rw http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(w.csrfCk); err == nil && len(c.Value) >= 32 && len(c.Value) <= 128 {
		return c.Value
	}
	token := secret.Token(32)
	http.SetCookie(rw, &http.Cookie{
		Name: w.csrfCk, Value: token, Path: "/",
		Secure: w.secure, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
	return token
}

// mac is key's HMAC of subject (an authorization request or session id)
// for purpose.
func mac(key, purpose, subject string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(purpose + "\x00" + subject))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func csrfField(token, authRequest string) string { return mac(token, "csrf", authRequest) }

// checkCSRF reports whether the posted csrf field is field(the CSRF
// cookie): csrfField for the login forms, logoutField for the sign-out
// form.
func (w *Web) checkCSRF(r *http.Request, field func(token string) string) bool {
	c, err := r.Cookie(w.csrfCk)
	if err != nil || c.Value == "" {
		return false
	}
	return hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(field(c.Value)))
}

// A ticket proves that the server authenticated this session for this
// authorization request (a fresh sign-in, or an existing session that met
// prompt and max_age). The organization and consent steps require it, so
// they cannot be reached by posting to them directly with an older session
// when the application asked for a fresh sign-in. It is keyed with the
// session's stored hash, which never leaves the server.
func ticket(s *ent.Session, authRequest string) string {
	return mac(s.TokenHash, "ticket", authRequest)
}

func checkTicket(r *http.Request, s *ent.Session, authRequest string) bool {
	return hmac.Equal([]byte(r.PostFormValue("ticket")), []byte(ticket(s, authRequest)))
}

// truncate cuts s to at most n bytes of valid UTF-8 (PostgreSQL refuses
// anything else in a text column).
func truncate(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}

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
	w.renderLoggedOut(rw, http.StatusOK, loggedOutPage{Confirm: true, CSRF: logoutField(w.csrfToken(rw, r), s)})
}

// postLoggedOut ends the browser's session when the form's CSRF field
// matches the CSRF cookie and this session: the session is revoked
// server-side with the grants (refresh tokens) issued from it (ATO-10), the cookie cleared, user.logout written. A missing
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
		w.renderError(rw, http.StatusForbidden, msgFormExpired)
		return
	}
	ended, err := w.cfg.Tenants.RevokeSession(ctx, s.ID, s.UserID, "logout")
	if err != nil {
		w.fail(rw, r, fmt.Errorf("revoke session: %w", err))
		return
	}
	if ended {
		w.cfg.Logger.InfoContext(ctx, "logged out", "user", s.UserID, "session", s.ID)
		w.audit(ctx, r, auditEvent{action: actionLogout, user: s.UserID,
			metadata: map[string]any{"session_id": string(s.ID)}})
	}
	w.clearSessionCookie(rw)
	w.renderLoggedOut(rw, http.StatusOK, loggedOutPage{})
}

// signedOut says the browser is signed out, for a browser without a
// session, and drops its session cookie if it still sends a stale one.
func (w *Web) signedOut(rw http.ResponseWriter, r *http.Request) {
	if _, err := r.Cookie(w.sessionCk); err == nil {
		w.clearSessionCookie(rw)
	}
	w.renderLoggedOut(rw, http.StatusOK, loggedOutPage{})
}

// cookieSession is the session the browser's cookie names, when it is
// neither revoked nor past its absolute lifetime: what a sign-out would
// end. Unlike currentSession it does not mind idleness or a disabled user
// (the session is unusable then, but still not revoked), and it does not
// touch last_seen_at.
func (w *Web) cookieSession(ctx context.Context, r *http.Request) (*ent.Session, error) {
	return w.cfg.Tenants.SessionByToken(ctx, w.sessionToken(r))
}

// sessionToken is the session cookie's value, or "" when there is none
// worth looking up (tokens are 52 characters; anything long is not one).
func (w *Web) sessionToken(r *http.Request) string {
	c, err := r.Cookie(w.sessionCk)
	if err != nil || len(c.Value) > 128 {
		return ""
	}
	return c.Value
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
