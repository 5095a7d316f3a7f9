package web

// The password step: the throttle, then the password (tenants), then the
// login policy, and only then a session.

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/internal/httpserver"
	"github.com/gatehouse-id/gatehouse/internal/password"
	"github.com/gatehouse-id/gatehouse/tenants"
)

func (w *Web) postLogin(rw http.ResponseWriter, r *http.Request) {
	req, ok := w.postedRequest(rw, r)
	if !ok {
		return
	}
	ctx := r.Context()
	// Normalized as accounts store it; anything that is not an address can
	// match no account, and is cut to an address's length so that it
	// cannot grow the throttle's keys.
	typed := r.PostFormValue("email")
	email, err := tenants.NormalizeEmail("email", typed)
	if err != nil {
		email = truncate(strings.ToLower(strings.TrimSpace(typed)), 320)
	}
	pw := r.PostFormValue("password")
	page := loginPage{AuthRequest: req.ID, CSRF: r.PostFormValue("csrf"), ClientName: req.ClientName, Email: email}

	res, ok := w.reserveAttempt(rw, r, req, email, page)
	if !ok {
		return
	}
	// Every path verifies one argon2id hash, so the time taken does not
	// reveal whether the account exists (tenants.VerifyPassword, which
	// normalizes typed as above).
	c, err := w.cfg.Tenants.VerifyPassword(ctx, typed, pw)
	if errors.Is(err, password.ErrBusy) {
		w.busy(rw, r, res, page)
		return
	}
	if err != nil {
		w.settle(ctx, res.Cancel)
		w.fail(rw, r, err)
		return
	}
	u := c.User
	if u == nil {
		// Unknown user, no password, wrong password and disabled user all
		// look the same to the browser (ATO-04); the log and the audit
		// trail keep the reason. The attempt stays counted.
		w.cfg.Logger.InfoContext(ctx, "login failed", "auth_request", req.ID, "reason", c.Reason, "ip", httpserver.ClientIP(r))
		w.loginFailed(ctx, r, req, c.Matched, c.Reason)
		w.funnel(ctx, req, tenants.FunnelLoginFailedPassword)
		page.Error = say(msgBadLogin)
		w.renderLogin(rw, r, http.StatusUnauthorized, page)
		return
	}
	w.settle(ctx, res.Success)
	s, ok := w.proveFactor(rw, r, req, u, tenants.Factor{Method: tenants.FactorPassword, At: w.cfg.Now()})
	if !ok {
		return
	}
	w.cfg.Logger.InfoContext(ctx, "login succeeded", "auth_request", req.ID, "user", u.ID, "session", s.ID)
	w.proceed(rw, r, req, s, u, nil)
}

// userIDByEmail is the id of the user with email, or "" (for the audit
// trail of throttled sign-ins; a lookup error is logged and ignored).
func (w *Web) userIDByEmail(ctx context.Context, email string) pulid.ID {
	id, err := w.cfg.Tenants.UserIDByEmail(ctx, email)
	if err != nil {
		w.cfg.Logger.ErrorContext(ctx, "find user for audit", "err", err)
	}
	return id
}
