package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/internal/httpserver"
)

// Shared by every step: what the browser is told, reading a posted form,
// loading its request, and the checks every post passes.

// What the browser is told: catalog keys (internal/i18n), one sentence
// each; details go to the log.
const (
	msgExpired      = "page.error.expired"
	msgFormExpired  = "page.error.form_expired"
	msgSessionEnded = "page.error.session_ended"
	msgBadLogin     = "page.error.bad_login"
	msgBadEmail     = "page.error.bad_email"
	msgBadCode      = "page.error.bad_code"
	msgInternal     = "page.error.internal"
	msgNoOrg        = "page.error.no_org"
	msgNotMember    = "page.error.not_member"
	msgNotRequested = "page.error.not_requested"
	msgCannotLogin  = "page.error.cannot_login"
)

// maxForm bounds a posted form; the largest legitimate one is well under.
const maxForm = 16 << 10

// loginRequest fetches the pending request id, or shows the expired page.
// No id at all is a direct sign-in (directRequest): the browser came to
// /login, /signup or /account itself, not from an application.
func (w *Web) loginRequest(rw http.ResponseWriter, r *http.Request, id string) (*LoginRequest, bool) {
	if id == "" {
		return directRequest(), true
	}
	if len(id) > 128 {
		w.renderError(rw, r, http.StatusBadRequest, msgExpired)
		return nil, false
	}
	req, err := w.liveRequest(r.Context(), id)
	switch {
	case errors.Is(err, ErrUnknownRequest):
		w.renderError(rw, r, http.StatusBadRequest, msgExpired)
		return nil, false
	case err != nil:
		w.fail(rw, r, fmt.Errorf("load auth request: %w", err))
		return nil, false
	}
	return req, true
}

// liveRequest is the flow's request id while it is still pending:
// ErrUnknownRequest when it is unknown, completed or past its expiry.
func (w *Web) liveRequest(ctx context.Context, id string) (*LoginRequest, error) {
	req, err := w.cfg.Flow.LoginRequest(ctx, id)
	switch {
	case err != nil:
		return nil, err
	case req == nil || (!req.ExpiresAt.IsZero() && !w.cfg.Now().Before(req.ExpiresAt)):
		return nil, ErrUnknownRequest
	}
	return req, nil
}

// pendingRequest is the authorization request id when it is still
// pending, else a direct sign-in: the application's request ended while
// the person was away (reading mail, at their identity provider), and
// they still sign in, to the account page. It answers a failure to load
// it and returns nil.
func (w *Web) pendingRequest(rw http.ResponseWriter, r *http.Request, id string) *LoginRequest {
	if id == "" {
		return directRequest()
	}
	switch pending, err := w.liveRequest(r.Context(), id); {
	case err == nil:
		return pending
	case err != nil && !errors.Is(err, ErrUnknownRequest):
		w.fail(rw, r, fmt.Errorf("load auth request: %w", err))
		return nil
	}
	return directRequest()
}

// directRequest is a sign-in that answers no application: it ends in a
// session and the account page. It names no organization, so every
// organization of the user has its say (LoginPolicy), and has no consent
// to ask.
func directRequest() *LoginRequest {
	return &LoginRequest{FirstParty: true}
}

// isDirect reports whether req is a direct sign-in.
func isDirect(req *LoginRequest) bool { return req.ID == "" }

// parseForm reads a posted form of at most maxForm bytes, or shows the
// expired page.
func (w *Web) parseForm(rw http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(rw, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		w.renderError(rw, r, http.StatusBadRequest, msgFormExpired)
		return false
	}
	return true
}

// postedRequest parses a posted form, loads its authorization request and
// checks its CSRF field.
func (w *Web) postedRequest(rw http.ResponseWriter, r *http.Request) (*LoginRequest, bool) {
	if !w.parseForm(rw, r) {
		return nil, false
	}
	req, ok := w.loginRequest(rw, r, r.PostFormValue("authRequest"))
	if !ok {
		return nil, false
	}
	if !w.checkCSRF(r, func(token string) string { return csrfField(token, req.ID) }) {
		w.cfg.Logger.InfoContext(r.Context(), "csrf check failed", "auth_request", req.ID, "ip", httpserver.ClientIP(r))
		w.loginFailed(r.Context(), r, req, "", reasonCSRF)
		w.renderError(rw, r, http.StatusForbidden, msgFormExpired)
		return nil, false
	}
	return req, true
}

// postedChoice is postedStep for the pages that also offer "sign in as
// someone else" (action=switch), which it answers itself.
func (w *Web) postedChoice(rw http.ResponseWriter, r *http.Request) (*LoginRequest, *ent.Session, *ent.User, bool) {
	req, s, u, ok := w.postedStep(rw, r)
	if ok && r.PostFormValue("action") == "switch" {
		w.signInForm(rw, r, req, "") // "Use another account": the form, empty
		return nil, nil, nil, false
	}
	return req, s, u, ok
}

// postedStep is postedRequest for the steps after authentication: the
// browser must still hold the session the ticket was issued for.
func (w *Web) postedStep(rw http.ResponseWriter, r *http.Request) (*LoginRequest, *ent.Session, *ent.User, bool) {
	req, ok := w.postedRequest(rw, r)
	if !ok {
		return nil, nil, nil, false
	}
	s, u, err := w.currentSession(r.Context(), r)
	if err != nil {
		w.fail(rw, r, err)
		return nil, nil, nil, false
	}
	if s == nil {
		w.renderError(rw, r, http.StatusUnauthorized, msgSessionEnded)
		return nil, nil, nil, false
	}
	if !checkTicket(r, s, req.ID) {
		w.cfg.Logger.InfoContext(r.Context(), "login ticket check failed", "auth_request", req.ID, "session", s.ID)
		w.loginFailed(r.Context(), r, req, u.ID, reasonTicket)
		w.renderError(rw, r, http.StatusForbidden, msgFormExpired)
		return nil, nil, nil, false
	}
	return req, s, u, true
}

// fail logs err and shows the generic error page.
func (w *Web) fail(rw http.ResponseWriter, r *http.Request, err error) {
	w.cfg.Logger.ErrorContext(r.Context(), "hosted page failed", "path", r.URL.Path, "err", err)
	w.renderError(rw, r, http.StatusInternalServerError, msgInternal)
}

// clientName is the application's name; the pages say something general
// when it has none (layout.ClientLabel).
func clientName(req *LoginRequest) string { return req.ClientName }
