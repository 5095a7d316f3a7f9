package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/httpserver"
	"github.com/gatehouse-id/gatehouse/internal/password"
	"github.com/gatehouse-id/gatehouse/internal/ratelimit"
)

// Default sign-in throttle policies (SECURITY-CHECKLIST ATO-02, ATO-11):
// growing delays, never a lockout, far under NIST's 100 failures.
var (
	// DefaultAccountPolicy: 5 attempts at once per account, then 1s
	// doubling to 1h, forgotten a day after the last one.
	DefaultAccountPolicy = ratelimit.Policy{Free: 5, Base: time.Second, Max: time.Hour, Forget: 24 * time.Hour}
	// DefaultAddressPolicy: 20 attempts at once per client address (an
	// IPv6 /64), then 1s doubling to 1h, forgotten an hour after the last;
	// a success gives its own attempt back but forgets no one else's.
	DefaultAddressPolicy = ratelimit.Policy{Free: 20, Base: time.Second, Max: time.Hour, Forget: time.Hour, KeepOnSuccess: true}
)

// throttleKeys are the counters a password sign-in for email counts on:
// the account (or, from a browser that has signed in to it before, that
// browser's own allowance for it) and the client's network. Emails are
// hashed so that the shared store never holds one.
func (w *Web) throttleKeys(r *http.Request, email string) []ratelimit.Key {
	sum := sha256.Sum256([]byte(email))
	account := "acct:" + hex.EncodeToString(sum[:16])
	if device := w.knownDevice(r, email); device != "" {
		account += ":dev:" + device
	}
	return []ratelimit.Key{
		{Name: account, Policy: w.cfg.AccountPolicy},
		{Name: "addr:" + httpserver.ClientNetwork(r), Policy: w.cfg.AddressPolicy},
	}
}

// reserveAttempt counts a password sign-in before its password is
// verified, so that parallel attempts cannot all pass a check that no
// failure has reached yet. A refused attempt gets the 429 page here and a
// nil reservation.
func (w *Web) reserveAttempt(rw http.ResponseWriter, r *http.Request, req *LoginRequest, email string, page loginPage) (*ratelimit.Reservation, bool) {
	ctx := r.Context()
	res, wait, err := w.cfg.Limiter.Attempt(ctx, w.throttleKeys(r, email)...)
	if err != nil {
		w.fail(rw, r, fmt.Errorf("count sign-in attempt: %w", err))
		return nil, false
	}
	if wait > 0 {
		page.Error = tooMany(rw, wait)
		w.cfg.Logger.InfoContext(ctx, "login throttled", "auth_request", req.ID, "ip", httpserver.ClientIP(r), "retry_after", wait)
		w.loginThrottled(ctx, r, req, email)
		w.renderLogin(rw, r, http.StatusTooManyRequests, page)
		return nil, false
	}
	return res, true
}

// busy answers a sign-in that found every password-hashing slot taken
// (password.ErrBusy): 503 with Retry-After, the attempt given back.
func (w *Web) busy(rw http.ResponseWriter, r *http.Request, res *ratelimit.Reservation, page loginPage) {
	w.settle(r.Context(), res.Cancel)
	secs := int(password.BusyRetryAfter / time.Second)
	rw.Header().Set("Retry-After", strconv.Itoa(secs))
	page.Error = say("page.error.busy", "wait", waitText(secs))
	w.cfg.Logger.WarnContext(r.Context(), "login refused: password hashing at capacity", "ip", httpserver.ClientIP(r))
	w.renderLogin(rw, r, http.StatusServiceUnavailable, page)
}

// settle reports an attempt's outcome; a failure to do so is logged (the
// attempt stays counted, which errs on the safe side).
func (w *Web) settle(ctx context.Context, outcome func(context.Context) error) {
	if err := outcome(ctx); err != nil {
		w.cfg.Logger.ErrorContext(ctx, "settle sign-in attempt", "err", err)
	}
}
