package web

// The account page: who is signed in, and the browsers signed in as them,
// each of which the user can sign out, or all at once. Reached directly
// (a direct sign-in ends here); without a live session it sends the
// browser to sign in first.

import (
	"net/http"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/internal/httpserver"
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
	// Passkeys links to adding a passkey (passkey.go), when passkeys are on.
	Passkeys bool
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
	p := accountPage{CSRF: accountField(w.csrfToken(rw, r), s), Email: u.Email, Name: u.Name, Notice: notice,
		Passkeys: w.passkeys != nil}
	for _, o := range sessions {
		p.Sessions = append(p.Sessions, accountSession{
			ID: string(o.ID), Current: o.ID == s.ID, UserAgent: truncate(o.UserAgent, 120), IP: o.IP,
			SignedIn: o.AuthTime.UTC().Format("2006-01-02 15:04 MST"), LastSeen: o.LastSeenAt.UTC().Format("2006-01-02 15:04 MST"),
		})
	}
	w.render(rw, r, status, pageAccount, "Your account", &p)
}

// postRevokeSession signs out one of the user's browsers (session=<id>),
// or every one but this (session=others), or all (session=all, which
// signs this browser out too).
func (w *Web) postRevokeSession(rw http.ResponseWriter, r *http.Request) {
	if !w.parseForm(rw, r) {
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
	if !w.checkCSRF(r, func(token string) string { return accountField(token, s) }) {
		w.cfg.Logger.InfoContext(ctx, "account csrf check failed", "session", s.ID, "ip", httpserver.ClientIP(r))
		w.audit(ctx, r, auditEvent{action: "session.revoke.failed", user: u.ID,
			metadata: map[string]any{"reason": reasonCSRF, "path": r.URL.Path}})
		w.renderError(rw, r, http.StatusForbidden, msgFormExpired)
		return
	}
	var targets []pulid.ID
	switch which := r.PostFormValue("session"); which {
	case "all", "others":
		all, err := w.cfg.Tenants.ListSessions(ctx, u.ID)
		if err != nil {
			w.fail(rw, r, err)
			return
		}
		for _, o := range all {
			if which == "all" || o.ID != s.ID {
				targets = append(targets, o.ID)
			}
		}
	default:
		targets = []pulid.ID{pulid.ID(truncate(which, 64))}
	}
	signedOut := false
	for _, id := range targets {
		ev := w.event(r, auditEvent{action: "session.revoke", user: u.ID,
			metadata: map[string]any{"reason": "user", "session_id": string(id)}})
		// Only the user's own sessions: another user's id revokes nothing.
		if _, err := w.cfg.Tenants.RevokeSession(ctx, id, u.ID, "user_signed_out", &ev); err != nil {
			w.fail(rw, r, err)
			return
		}
		signedOut = signedOut || id == s.ID
	}
	if signedOut {
		w.clearSessionCookie(rw)
		w.renderLoggedOut(rw, r, http.StatusOK, loggedOutPage{})
		return
	}
	w.showAccount(rw, r, s, u, http.StatusOK, say("page.account.signed_out"))
}
