package web

// Sign-up: an email address (and a password, if the person wants one),
// then the address proved by a code or a link, and only then an account,
// signed in with the "email" factor (and "pwd" when a password was set).
// Name and other profile fields are asked later, when an application
// needs them. The answer is "check your email" whether or not the address
// has an account (ATO-04); its owner is then sent a notice with a sign-in
// link instead of a code.

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/tenants"
)

type signupPage struct {
	layout
	AuthRequest string
	CSRF        string
	ClientName  string
	Email       string
	Error       text
	// MinLength is the shortest password accepted.
	MinLength int
}

// signupMinLength is the password rule of a new account, which belongs
// to no organization yet (tenants applies it).
const signupMinLength = tenants.DefaultPasswordMinLength

func (w *Web) getSignup(rw http.ResponseWriter, r *http.Request) {
	req, ok := w.loginRequest(rw, r, r.URL.Query().Get("authRequest"))
	if !ok {
		return
	}
	w.renderSignup(rw, r, http.StatusOK, signupPage{AuthRequest: req.ID, CSRF: csrfField(w.csrfToken(rw, r), req.ID),
		ClientName: clientName(req), MinLength: signupMinLength})
}

func (w *Web) postSignup(rw http.ResponseWriter, r *http.Request) {
	req, ok := w.postedRequest(rw, r)
	if !ok {
		return
	}
	ctx := r.Context()
	p := signupPage{AuthRequest: req.ID, CSRF: r.PostFormValue("csrf"), ClientName: clientName(req),
		Email: truncate(r.PostFormValue("email"), 320), MinLength: signupMinLength}
	email, err := tenants.NormalizeEmail("email", p.Email)
	if err != nil {
		p.Error = say(msgBadEmail)
		w.renderSignup(rw, r, http.StatusBadRequest, p)
		return
	}
	p.Email = email
	if wait, err := w.reserveMail(r, email); err != nil {
		w.fail(rw, r, err)
		return
	} else if wait > 0 {
		p.Error = tooMany(rw, wait)
		w.loginThrottled(ctx, r, req, email)
		w.renderSignup(rw, r, http.StatusTooManyRequests, p)
		return
	}
	st, err := w.cfg.Tenants.StartSignup(ctx, tenants.SignupInput{Email: email, Password: r.PostFormValue("password"),
		BrowserToken: w.csrfToken(rw, r), AuthRequestID: req.ID})
	var invalid *tenants.InputError
	if errors.As(err, &invalid) {
		p.Error = inputMessage(invalid)
		w.renderSignup(rw, r, http.StatusBadRequest, p)
		return
	}
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	lang := r.Header.Get("Accept-Language")
	link := w.link("/signup/link", url.Values{"token": {st.Challenge.LinkToken}})
	if st.Existing != nil {
		w.cfg.Mailer.Mail(ctx, lang, "signup_exists", email, map[string]any{
			"SignInLink": link, "ResetLink": w.link(recoverPath, nil)})
	} else {
		w.cfg.Mailer.Mail(ctx, lang, "signup_verify", email, map[string]any{
			"Code": st.Challenge.Code, "Link": link, "Minutes": int(tenants.EmailCodeLifetime.Minutes())})
	}
	w.cfg.Logger.InfoContext(ctx, "signup started", "auth_request", req.ID, "challenge", st.Challenge.Challenge.ID)
	w.funnel(ctx, req, tenants.FunnelSignupStarted)
	w.renderEmailSent(rw, r, http.StatusOK, emailSentPage{AuthRequest: req.ID, CSRF: p.CSRF, ClientName: p.ClientName,
		Email: email, Action: "/signup/verify", Challenge: string(st.Challenge.Challenge.ID)})
}

// postSignupCode spends a typed signup code.
func (w *Web) postSignupCode(rw http.ResponseWriter, r *http.Request) {
	req, ok := w.postedRequest(rw, r)
	if !ok {
		return
	}
	ch, ok := w.redeemCode(rw, r, req, tenants.EmailSignup, "/signup/verify")
	if !ok {
		return
	}
	w.signedUp(rw, r, req, ch)
}

// postSignupLink spends an emailed signup link.
func (w *Web) postSignupLink(rw http.ResponseWriter, r *http.Request) {
	req, ch, ok := w.postedLink(rw, r, tenants.EmailSignup)
	if !ok {
		return
	}
	w.signedUp(rw, r, req, ch)
}

// signedUp creates the account ch proved (or finds the one the address
// had) and signs it in with what was proved.
func (w *Web) signedUp(rw http.ResponseWriter, r *http.Request, req *LoginRequest, ch *ent.EmailChallenge) {
	ctx := r.Context()
	u, why, err := w.cfg.Tenants.CompleteSignup(ctx, ch)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	if u == nil {
		w.loginFailed(ctx, r, req, ch.UserID, why)
		w.renderError(rw, r, http.StatusUnauthorized, msgBadCode)
		return
	}
	w.cfg.Logger.InfoContext(ctx, "signup verified", "auth_request", req.ID, "user", u.ID, "new", ch.UserID == "")
	if ch.UserID == "" {
		w.funnel(ctx, req, tenants.FunnelSignupVerified)
	}
	// Setting a password is not signing in with it: the factor proven is
	// the address.
	now := w.cfg.Now()
	s, ok := w.proveFactor(rw, r, req, u, tenants.Factor{Method: tenants.FactorEmail, At: now})
	if !ok {
		return
	}
	if ch.UserID == "" {
		w.funnel(ctx, req, tenants.FunnelSignupCompleted)
	}
	w.proceed(rw, r, req, s, u, nil)
}

func (w *Web) renderSignup(rw http.ResponseWriter, r *http.Request, status int, p signupPage) {
	w.render(rw, r, status, pageSignup, "page.title.signup", &p)
}

// inputMessage is a tenants input error as a sentence for the page: the
// password rules by their code, anything else as a bad address (the
// only other field these forms send).
func inputMessage(e *tenants.InputError) text {
	if e.Field != "password" {
		return say(msgBadEmail)
	}
	switch e.Code {
	case tenants.PasswordTooShort:
		return say("page.password.too_short", "min", firstNumber(e.Reason, tenants.DefaultPasswordMinLength))
	case tenants.PasswordTooLong:
		return say("page.password.too_long", "max", tenants.PasswordMaxLength)
	case tenants.PasswordBreached, tenants.PasswordContextual:
		return say("page.password." + e.Code)
	}
	return say("page.password.invalid")
}

// firstNumber is the first number in s (the length a rule's reason
// names), or def.
func firstNumber(s string, def int) int {
	if m := digits.FindString(s); m != "" {
		if n, err := strconv.Atoi(m); err == nil {
			return n
		}
	}
	return def
}

var digits = regexp.MustCompile(`[0-9]+`)
