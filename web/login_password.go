package web

// The password step: the throttle, then the password (tenants), then the
// login policy, and only then a session.

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/internal/httpserver"
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
	email, err := tenants.NormalizeEmail("email", r.PostFormValue("email"))
	isAddress := err == nil
	if !isAddress {
		email = truncate(strings.ToLower(strings.TrimSpace(r.PostFormValue("email"))), 320)
	}
	pw := r.PostFormValue("password")
	page := loginPage{AuthRequest: req.ID, CSRF: r.PostFormValue("csrf"), ClientName: req.ClientName, Email: email}

	accountKey, ipKey := "account:"+email, "ip:"+httpserver.ClientIP(r)
	if wait, err := w.throttled(ctx, accountKey, ipKey); err != nil {
		w.fail(rw, r, err)
		return
	} else if wait > 0 {
		secs := int((wait + time.Second - 1) / time.Second)
		rw.Header().Set("Retry-After", strconv.Itoa(secs))
		page.Error = fmt.Sprintf("Too many attempts. Wait %s and try again.", waitText(secs))
		w.cfg.Logger.InfoContext(ctx, "login throttled", "auth_request", req.ID, "ip", httpserver.ClientIP(r), "retry_after", secs)
		w.loginFailed(ctx, r, req, w.userIDByEmail(ctx, email), reasonThrottled)
		w.renderLogin(rw, http.StatusTooManyRequests, page)
		return
	}

	u, matched, reason, err := w.checkPassword(ctx, email, isAddress, pw)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	if u == nil {
		// Unknown user, no password, wrong password and disabled user all
		// look the same to the browser (ATO-04); the log and the audit
		// trail keep the reason.
		w.cfg.Logger.InfoContext(ctx, "login failed", "auth_request", req.ID, "reason", reason, "ip", httpserver.ClientIP(r))
		w.loginFailed(ctx, r, req, matched, reason)
		for _, l := range []struct {
			limiter Limiter
			key     string
		}{{w.cfg.AccountLimiter, accountKey}, {w.cfg.IPLimiter, ipKey}} {
			if err := l.limiter.Failure(ctx, l.key); err != nil {
				w.cfg.Logger.ErrorContext(ctx, "count failed login", "err", err)
			}
		}
		page.Error = msgBadLogin
		w.renderLogin(rw, http.StatusUnauthorized, page)
		return
	}
	if err := w.cfg.AccountLimiter.Success(ctx, accountKey); err != nil {
		w.cfg.Logger.ErrorContext(ctx, "reset login throttle", "err", err)
	}
	// The password is one proven factor of the login transaction; the
	// policy decides whether the transaction is done, and only then is
	// there a session.
	tx, err := w.proveFactor(ctx, rw, r, req, u, tenants.Factor{Method: tenants.FactorPassword, At: w.cfg.Now()})
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	d, policies, err := w.policyDecision(ctx, req, u, pulid.ID(req.RequestedOrganizationID), tx.Factors)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	if d.Outcome != tenants.Done {
		// No session: the transaction keeps what was proven for the next
		// step, when the policy names one this sign-in offers.
		w.policyStopped(rw, r, req, u, d)
		return
	}
	s, err := w.completeTransaction(ctx, rw, r, tx, u, w.lifetimes(policies))
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	w.cfg.Logger.InfoContext(ctx, "login succeeded", "auth_request", req.ID, "user", u.ID, "session", s.ID)
	w.proceed(rw, r, req, s, u, nil)
}

func (w *Web) throttled(ctx context.Context, accountKey, ipKey string) (time.Duration, error) {
	a, err := w.cfg.AccountLimiter.Wait(ctx, accountKey)
	if err != nil {
		return 0, fmt.Errorf("check login throttle: %w", err)
	}
	i, err := w.cfg.IPLimiter.Wait(ctx, ipKey)
	if err != nil {
		return 0, fmt.Errorf("check login throttle: %w", err)
	}
	return max(a, i), nil
}

func waitText(secs int) string {
	switch {
	case secs == 1:
		return "a second"
	case secs < 120:
		return strconv.Itoa(secs) + " seconds"
	default:
		return strconv.Itoa((secs+59)/60) + " minutes"
	}
}

// checkPassword returns the user when email (normalized; isAddress is
// false when it is not an address) and password match an active user.
// Otherwise it returns nil, the id of the user the email matched (if any,
// for the audit trail) and the reason (reason* constants). Every path
// verifies one argon2id hash (tenants.VerifyPassword), so the time taken
// does not reveal whether the user exists.
func (w *Web) checkPassword(ctx context.Context, email string, isAddress bool, pw string) (u *ent.User, matched pulid.ID, reason string, err error) {
	if !isAddress {
		email = "" // not an address: no account to look up, but the same cost
	}
	c, err := w.cfg.Tenants.VerifyPassword(ctx, email, pw)
	if err != nil {
		return nil, "", "", err
	}
	return c.User, c.Matched, c.Reason, nil
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
