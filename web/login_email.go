package web

// The email step: a one-time code and a magic link, sent together. The
// code counts in the browser that asked; the link anywhere, after one
// click on a page it opens (a mail scanner that follows links spends
// nothing). Both prove the "email" factor, and the login policy decides
// what else is needed, as after a password.

import (
	"net/http"
	"net/url"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/internal/httpserver"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// emailSentPage asks for the code that was sent.
type emailSentPage struct {
	layout
	AuthRequest string
	CSRF        string
	ClientName  string
	Email       string
	// Action is where the code is posted; Challenge names the challenge.
	Action    string
	Challenge string
	Error     text
}

// emailLinkPage is the one click between opening an emailed link and
// spending it.
type emailLinkPage struct {
	layout
	CSRF   string
	Action string
	Token  string
}

// postEmailLogin sends a sign-in code and link to the address typed at
// the identifier step and asks for the code. The answer is the same
// whether the address has an account or not; only an account's owner is
// sent anything.
func (w *Web) postEmailLogin(rw http.ResponseWriter, r *http.Request) {
	req, ok := w.postedRequest(rw, r)
	if !ok {
		return
	}
	ctx := r.Context()
	p := loginPage{AuthRequest: req.ID, CSRF: r.PostFormValue("csrf"), ClientName: clientName(req)}
	email, err := tenants.NormalizeEmail("email", r.PostFormValue("email"))
	if err != nil {
		p.Error = say(msgBadEmail)
		w.renderIdentify(rw, r, http.StatusBadRequest, p)
		return
	}
	p.Email = email
	if wait, err := w.reserveMail(r, email); err != nil {
		w.fail(rw, r, err)
		return
	} else if wait > 0 {
		p.Error = tooMany(rw, wait)
		w.loginThrottled(ctx, r, req, email)
		w.renderLogin(rw, r, http.StatusTooManyRequests, p)
		return
	}
	ch, u, err := w.cfg.Tenants.StartEmailLogin(ctx, email, w.csrfToken(rw, r), req.ID)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	if u != nil {
		w.cfg.Mailer.Mail(ctx, r.Header.Get("Accept-Language"), "login_code", email, map[string]any{
			"Code": ch.Code, "Minutes": int(tenants.EmailCodeLifetime.Minutes()),
			"Link": w.link("/login/email/link", url.Values{"token": {ch.LinkToken}}),
		})
	}
	w.cfg.Logger.InfoContext(ctx, "sign-in code requested", "auth_request", req.ID, "challenge", ch.Challenge.ID, "sent", u != nil)
	w.renderEmailSent(rw, r, http.StatusOK, emailSentPage{AuthRequest: req.ID, CSRF: p.CSRF, ClientName: p.ClientName,
		Email: email, Action: "/login/email/verify", Challenge: string(ch.Challenge.ID)})
}

// postEmailCode spends a typed sign-in code.
func (w *Web) postEmailCode(rw http.ResponseWriter, r *http.Request) {
	req, ok := w.postedRequest(rw, r)
	if !ok {
		return
	}
	ch, ok := w.redeemCode(rw, r, req, tenants.EmailLogin, "/login/email/verify")
	if !ok {
		return
	}
	w.emailSignIn(rw, r, req, ch)
}

// redeemCode spends the code posted for a challenge of purpose, or
// answers: the code page again with one message for every failure, or
// 429.
func (w *Web) redeemCode(rw http.ResponseWriter, r *http.Request, req *LoginRequest, purpose tenants.EmailPurpose, action string) (*ent.EmailChallenge, bool) {
	ctx := r.Context()
	page := emailSentPage{AuthRequest: req.ID, CSRF: r.PostFormValue("csrf"), ClientName: clientName(req),
		Email: truncate(r.PostFormValue("email"), 320), Action: action, Challenge: truncate(r.PostFormValue("challenge"), 64)}
	if wait, err := w.reserveCode(r); err != nil {
		w.fail(rw, r, err)
		return nil, false
	} else if wait > 0 {
		page.Error = tooMany(rw, wait)
		w.loginFailed(ctx, r, req, "", reasonThrottled)
		w.renderEmailSent(rw, r, http.StatusTooManyRequests, page)
		return nil, false
	}
	c, err := r.Cookie(w.csrfCk)
	if err != nil {
		c = &http.Cookie{}
	}
	ch, why, err := w.cfg.Tenants.RedeemEmailCode(ctx, purpose, page.Challenge, c.Value, r.PostFormValue("code"))
	if err != nil {
		w.fail(rw, r, err)
		return nil, false
	}
	if ch == nil {
		w.cfg.Logger.InfoContext(ctx, "email code refused", "auth_request", req.ID, "reason", why, "ip", httpserver.ClientIP(r))
		w.loginFailed(ctx, r, req, "", why)
		w.funnel(ctx, req, tenants.FunnelLoginFailedEmail)
		page.Error = say(msgBadCode)
		w.renderEmailSent(rw, r, http.StatusUnauthorized, page)
		return nil, false
	}
	return ch, true
}

// getEmailLink shows the one button that spends an emailed link; the
// link's purpose is in its path.
func (w *Web) getEmailLink(rw http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	if token == "" || len(token) > 128 {
		w.renderError(rw, r, http.StatusBadRequest, msgBadCode)
		return
	}
	w.render(rw, r, http.StatusOK, pageEmailLink, "page.title.continue", &emailLinkPage{
		CSRF: csrfField(w.csrfToken(rw, r), linkCSRFSubject), Action: r.URL.Path, Token: token})
}

// linkCSRFSubject is what an emailed link's form is bound to: it belongs
// to no authorization request.
const linkCSRFSubject = "email-link"

// linkForm checks the form of an emailed link's page (emailLinkPage,
// resetPage): its CSRF field, and the client network's allowance of typed
// codes, as a link is a guessable secret too. It answers itself when it
// returns false.
func (w *Web) linkForm(rw http.ResponseWriter, r *http.Request) bool {
	if !w.parseForm(rw, r) {
		return false
	}
	ctx := r.Context()
	direct := directRequest()
	if !w.checkCSRF(r, func(token string) string { return csrfField(token, linkCSRFSubject) }) {
		w.loginFailed(ctx, r, direct, "", reasonCSRF)
		w.renderError(rw, r, http.StatusForbidden, msgFormExpired)
		return false
	}
	if wait, err := w.reserveCode(r); err != nil {
		w.fail(rw, r, err)
		return false
	} else if wait > 0 {
		msg := tooMany(rw, wait)
		w.loginFailed(ctx, r, direct, "", reasonThrottled)
		w.renderErrorText(rw, r, http.StatusTooManyRequests, msg)
		return false
	}
	return true
}

// postedLink checks an emailed link's form and spends its token for
// purpose. The challenge's authorization request is continued when it is
// still pending; otherwise the sign-in is a direct one.
func (w *Web) postedLink(rw http.ResponseWriter, r *http.Request, purpose tenants.EmailPurpose) (*LoginRequest, *ent.EmailChallenge, bool) {
	if !w.linkForm(rw, r) {
		return nil, nil, false
	}
	ctx := r.Context()
	direct := directRequest()
	ch, why, err := w.cfg.Tenants.RedeemEmailLink(ctx, purpose, r.PostFormValue("token"))
	if err != nil {
		w.fail(rw, r, err)
		return nil, nil, false
	}
	if ch == nil {
		w.cfg.Logger.InfoContext(ctx, "email link refused", "reason", why, "ip", httpserver.ClientIP(r))
		w.loginFailed(ctx, r, direct, "", why)
		w.renderError(rw, r, http.StatusUnauthorized, msgBadCode)
		return nil, nil, false
	}
	req := w.pendingRequest(rw, r, string(ch.AuthRequestID))
	if req == nil {
		return nil, nil, false
	}
	return req, ch, true
}

// postEmailLink spends an emailed sign-in link.
func (w *Web) postEmailLink(rw http.ResponseWriter, r *http.Request) {
	req, ch, ok := w.postedLink(rw, r, tenants.EmailLogin)
	if !ok {
		return
	}
	w.emailSignIn(rw, r, req, ch)
}

// emailSignIn proves the email factor for the account ch names and goes
// on as any sign-in does.
func (w *Web) emailSignIn(rw http.ResponseWriter, r *http.Request, req *LoginRequest, ch *ent.EmailChallenge) {
	ctx := r.Context()
	u, why, err := w.cfg.Tenants.EmailLoginUser(ctx, ch)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	if u == nil {
		// No account had the address (nothing was sent), or it was
		// disabled since: the same answer as a wrong code.
		w.loginFailed(ctx, r, req, ch.UserID, why)
		w.renderError(rw, r, http.StatusUnauthorized, msgBadCode)
		return
	}
	s, ok := w.proveFactor(rw, r, req, u, tenants.Factor{Method: tenants.FactorEmail, At: w.cfg.Now()})
	if !ok {
		return
	}
	w.cfg.Logger.InfoContext(ctx, "login succeeded", "auth_request", req.ID, "user", u.ID, "session", s.ID, "method", "email")
	w.proceed(rw, r, req, s, u, nil)
}

func (w *Web) renderEmailSent(rw http.ResponseWriter, r *http.Request, status int, p emailSentPage) {
	w.render(rw, r, status, pageEmailSent, "page.title.check_email", &p)
}
