package web

// Account recovery: the address, a reset link sent to it (the same answer
// for every address), and a new password set from the link, which signs
// the account out everywhere. The link proves the "email" factor; the
// sign-in that follows asks the login policy like any other, so a second
// factor is still asked where one is needed (tenants/recovery.go).

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/gatehouse-id/gatehouse/internal/httpserver"
	"github.com/gatehouse-id/gatehouse/tenants"
)

type recoverPage struct {
	layout
	AuthRequest string
	CSRF        string
	ClientName  string
	Email       string
	Sent        bool
	Error       text
}

type resetPage struct {
	layout
	CSRF      string
	Token     string
	Email     string
	MinLength int
	Error     text
}

const recoverPath = "/login/recover"

func (w *Web) getRecover(rw http.ResponseWriter, r *http.Request) {
	req, ok := w.loginRequest(rw, r, r.URL.Query().Get("authRequest"))
	if !ok {
		return
	}
	w.renderRecover(rw, r, http.StatusOK, recoverPage{AuthRequest: req.ID, CSRF: csrfField(w.csrfToken(rw, r), req.ID),
		ClientName: clientName(req), Email: truncate(r.URL.Query().Get("email"), 320)})
}

func (w *Web) postRecover(rw http.ResponseWriter, r *http.Request) {
	req, ok := w.postedRequest(rw, r)
	if !ok {
		return
	}
	ctx := r.Context()
	p := recoverPage{AuthRequest: req.ID, CSRF: r.PostFormValue("csrf"), ClientName: clientName(req),
		Email: truncate(r.PostFormValue("email"), 320)}
	email, err := tenants.NormalizeEmail("email", p.Email)
	if err != nil {
		p.Error = say(msgBadEmail)
		w.renderRecover(rw, r, http.StatusBadRequest, p)
		return
	}
	p.Email = email
	if wait, err := w.reserveMail(r, email); err != nil {
		w.fail(rw, r, err)
		return
	} else if wait > 0 {
		p.Error = tooMany(rw, wait)
		w.loginThrottled(ctx, r, req, email)
		w.renderRecover(rw, r, http.StatusTooManyRequests, p)
		return
	}
	ch, u, err := w.cfg.Tenants.StartRecovery(ctx, email, req.ID, w.event(r, auditEvent{}))
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	if u != nil {
		w.cfg.Mailer.Mail(ctx, r.Header.Get("Accept-Language"), "password_reset", email, map[string]any{
			"Link": w.link(recoverPath+"/link", url.Values{"token": {ch.LinkToken}}), "Minutes": int(tenants.RecoveryLinkLifetime.Minutes())})
	}
	w.cfg.Logger.InfoContext(ctx, "recovery requested", "auth_request", req.ID, "sent", u != nil)
	w.funnel(ctx, req, tenants.FunnelRecoveryStarted)
	p.Sent = true
	w.renderRecover(rw, r, http.StatusOK, p)
}

// getRecoverLink asks for the new password; the link is spent only when
// one is set (a mail scanner opening it spends nothing).
func (w *Web) getRecoverLink(rw http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	ch, why, err := w.cfg.Tenants.RecoveryLink(r.Context(), token)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	if ch == nil {
		w.cfg.Logger.InfoContext(r.Context(), "reset link refused", "reason", why, "ip", httpserver.ClientIP(r))
		w.renderError(rw, r, http.StatusBadRequest, msgBadCode)
		return
	}
	w.renderReset(rw, r, http.StatusOK, resetPage{CSRF: csrfField(w.csrfToken(rw, r), linkCSRFSubject), Token: token,
		Email: ch.Email, MinLength: signupMinLength})
}

// postRecoverLink sets the new password and signs in with the address
// the link proved.
func (w *Web) postRecoverLink(rw http.ResponseWriter, r *http.Request) {
	if !w.linkForm(rw, r) {
		return
	}
	ctx := r.Context()
	direct := directRequest()
	token := r.PostFormValue("token")
	u, ch, why, err := w.cfg.Tenants.ResetPassword(ctx, token, r.PostFormValue("password"))
	var invalid *tenants.InputError
	switch {
	case errors.As(err, &invalid):
		w.renderReset(rw, r, http.StatusBadRequest, resetPage{CSRF: r.PostFormValue("csrf"), Token: truncate(token, 128),
			MinLength: signupMinLength, Error: inputMessage(invalid)})
		return
	case err != nil:
		w.fail(rw, r, err)
		return
	case u == nil:
		w.cfg.Logger.InfoContext(ctx, "password reset refused", "reason", why, "ip", httpserver.ClientIP(r))
		w.loginFailed(ctx, r, direct, "", why)
		w.renderError(rw, r, http.StatusUnauthorized, msgBadCode)
		return
	}
	// The owner hears of it at the address, with a way back if it was not
	// them (ATO-06).
	w.cfg.Mailer.Mail(ctx, r.Header.Get("Accept-Language"), "password_changed", u.Email, map[string]any{
		"When": w.cfg.Now(), "IP": httpserver.ClientIP(r), "ResetLink": w.link(recoverPath, nil)})
	req := w.pendingRequest(rw, r, string(ch.AuthRequestID))
	if req == nil {
		return
	}
	w.funnel(ctx, req, tenants.FunnelRecoveryCompleted)
	s, ok := w.proveFactor(rw, r, req, u, tenants.Factor{Method: tenants.FactorEmail, At: w.cfg.Now()})
	if !ok {
		return
	}
	w.cfg.Logger.InfoContext(ctx, "password reset", "user", u.ID, "session", s.ID)
	w.proceed(rw, r, req, s, u, nil)
}

func (w *Web) renderRecover(rw http.ResponseWriter, r *http.Request, status int, p recoverPage) {
	title := "page.title.recover"
	if p.Sent {
		title = "page.title.check_email"
	}
	w.render(rw, r, status, pageRecover, title, &p)
}

func (w *Web) renderReset(rw http.ResponseWriter, r *http.Request, status int, p resetPage) {
	w.render(rw, r, status, pageReset, "page.title.reset", &p)
}
