package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
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
// (ATO-07). The session lasts as long as l allows. It ends the login
// transaction tx, if any, with the same change; and for a direct sign-in
// (isDirect: no authorization request, whose completion the provider
// records) the sign-in's user.login event is written with it too
// (tenants.NewSession.Login).
//
// The browser is remembered as one that has signed in to u (its own
// throttle allowance, device.go); when it had not before and u has signed
// in elsewhere, u is mailed about the new device — unless the sign-in was
// at the organization's identity provider, whose own notices and password
// are the ones that apply (the mail's advice to reset a password here
// would mislead).
func (w *Web) startSession(ctx context.Context, rw http.ResponseWriter, r *http.Request, req *LoginRequest, u *ent.User, amr []string,
	l tenants.SessionLifetimes, tx pulid.ID) (*ent.Session, error) {
	known := w.knownDevice(r, u.Email) != ""
	device := w.rememberDevice(rw, r, u.Email)
	s, token, err := w.cfg.Tenants.CreateSession(withOrigin(ctx, r), tenants.NewSession{
		UserID: u.ID, AMR: amr, Lifetimes: l, IP: httpserver.ClientIP(r), UserAgent: r.UserAgent(),
		DeviceID: device, Replaces: w.sessionToken(r), Transaction: tx, Login: isDirect(req),
	})
	if err != nil {
		return nil, err
	}
	w.setSessionCookie(rw, token, s.ExpiresAt)
	if !known && !upstream(amr) {
		if before, err := w.cfg.Tenants.SignedInElsewhere(ctx, u.ID, s.ID); err != nil {
			w.cfg.Logger.ErrorContext(ctx, "check for a new device", "user", u.ID, "err", err)
		} else if before {
			agent := truncate(r.UserAgent(), 200)
			if agent == "" {
				agent = "an unknown browser"
			}
			w.cfg.Mailer.Mail(ctx, r.Header.Get("Accept-Language"), "new_device", u.Email, map[string]any{
				"When": w.cfg.Now(), "IP": httpserver.ClientIP(r), "UserAgent": agent,
				"ResetLink": w.link(recoverPath, nil)})
		}
	}
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

// cookieSession is the session the browser's cookie names, when it is
// neither revoked nor past its absolute lifetime: what a sign-out would
// end. Unlike currentSession it does not mind idleness or a disabled user
// (the session is unusable then, but still not revoked), and it does not
// touch last_seen_at.
func (w *Web) cookieSession(ctx context.Context, r *http.Request) (*ent.Session, error) {
	return w.cfg.Tenants.SessionByToken(ctx, w.sessionToken(r))
}

// sessionToken is the session cookie's value, or "".
func (w *Web) sessionToken(r *http.Request) string { return cookieValue(r, w.sessionCk) }

// cookieValue is the value of the request's cookie name when it is worth
// looking up (the tokens the pages set are at most 52 characters; anything
// longer than 128 is not one of them), else "".
func cookieValue(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil || len(c.Value) > 128 {
		return ""
	}
	return c.Value
}

// upstream reports whether amr names a sign-in at an organization's
// identity provider.
func upstream(amr []string) bool {
	for _, m := range amr {
		if strings.HasPrefix(m, tenants.FactorSSOPrefix) {
			return true
		}
	}
	return false
}
