package web

// The login transaction as the browser holds it: a cookie with the
// transaction's token, which changes with every proven factor
// (tenants.ProveFactor), and which is dropped once a session exists.

import (
	"net/http"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// proveFactor records that u proved f for req and asks the login policy
// whether the sign-in is done: then it returns the new session, and
// otherwise it has written the response (the second-factor step,
// policyStopped, or the failure) and returns false.
func (w *Web) proveFactor(rw http.ResponseWriter, r *http.Request, req *LoginRequest, u *ent.User, f tenants.Factor) (*ent.Session, bool) {
	return w.proveFactors(rw, r, req, u, []tenants.Factor{f})
}

// proveFactors is proveFactor for a step that proved several factors at
// once (fs, the step's own first: an upstream sign-in and what its IdP
// vouched for, tenants.UpstreamFactors).
//
// The factors decided on are the transaction's: those proven before in
// this browser (tenants.ProveFactor) and fs. A transaction row is written
// only when it carries something: factors from an earlier step, or fs to
// a step still to come. A browser with no transaction whose fs alone are
// enough (the common one-step sign-in) gets its session without one, as a
// row would be written only to be deleted in the same request.
func (w *Web) proveFactors(rw http.ResponseWriter, r *http.Request, req *LoginRequest, u *ent.User, fs []tenants.Factor) (*ent.Session, bool) {
	if w.loginToken(r) != "" {
		tx, err := w.recordFactors(rw, r, req, u, fs)
		if err != nil {
			w.fail(rw, r, err)
			return nil, false
		}
		return w.signInTransaction(rw, r, req, u, tx)
	}
	ctx := r.Context()
	d, policies, err := w.policyDecision(ctx, req, u, pulid.ID(req.RequestedOrganizationID), fs)
	if err != nil {
		w.fail(rw, r, err)
		return nil, false
	}
	if d.Outcome != tenants.Done {
		// No session: the transaction keeps what was proven for the next
		// step, when the policy names one this sign-in offers.
		if _, err := w.recordFactors(rw, r, req, u, fs); err != nil {
			w.fail(rw, r, err)
			return nil, false
		}
		w.nextStep(rw, r, req, u, d)
		return nil, false
	}
	s, err := w.startSession(ctx, rw, r, req, u, tenants.AMR(fs), w.lifetimes(policies), "")
	if err != nil {
		w.fail(rw, r, err)
		return nil, false
	}
	w.funnel(ctx, req, tenants.LoginFunnel(fs[0].Method, true))
	return s, true
}

// signInTransaction asks the login policy whether the factors of tx are
// enough, into the organization tx names (else the one req names): then
// it returns the new session, which ended tx as it started; otherwise it has written the
// response (the next step, policyStopped, or the failure) and returns
// false.
func (w *Web) signInTransaction(rw http.ResponseWriter, r *http.Request, req *LoginRequest, u *ent.User, tx *ent.LoginTransaction) (*ent.Session, bool) {
	ctx := r.Context()
	org := pulid.ID(req.RequestedOrganizationID)
	if tx.OrganizationID != "" {
		org = tx.OrganizationID
	}
	d, policies, err := w.policyDecision(ctx, req, u, org, tx.Factors)
	if err != nil {
		w.fail(rw, r, err)
		return nil, false
	}
	if d.Outcome != tenants.Done {
		w.nextStep(rw, r, req, u, d)
		return nil, false
	}
	s, err := w.startSession(ctx, rw, r, req, u, tenants.AMR(tx.Factors), w.lifetimes(policies), tx.ID)
	if err != nil {
		w.fail(rw, r, err)
		return nil, false
	}
	// The step that completed the sign-in: the last factor the funnel
	// counts (an upstream's "mfa" came with its sign-in's own factor).
	for i := len(tx.Factors) - 1; i >= 0; i-- {
		if ev := tenants.LoginFunnel(tx.Factors[i].Method, true); ev != "" {
			w.funnel(ctx, req, ev)
			break
		}
	}
	w.clearLoginCookie(rw) // the transaction ended with the session's start
	return s, true
}

// nextStep answers a decision other than Done for a browser that holds
// the transaction: the second-factor step when the policy needs one,
// otherwise policyStopped.
func (w *Web) nextStep(rw http.ResponseWriter, r *http.Request, req *LoginRequest, u *ent.User, d tenants.Decision) {
	if needsSecondFactor(d) {
		w.askSecondFactor(rw, r, req, u, false, http.StatusOK, text{})
		return
	}
	w.policyStopped(rw, r, req, u, d)
}

// recordFactor records that u proved f in the browser's transaction for
// req (recordFactors).
func (w *Web) recordFactor(rw http.ResponseWriter, r *http.Request, req *LoginRequest, u *ent.User, f tenants.Factor) (*ent.LoginTransaction, error) {
	return w.recordFactors(rw, r, req, u, []tenants.Factor{f})
}

// recordFactors records that u proved fs in one step in the browser's
// transaction for req (a new one when there is none) and gives the
// browser the transaction's new token: one rotation for the step, however
// many factors it proved.
func (w *Web) recordFactors(rw http.ResponseWriter, r *http.Request, req *LoginRequest, u *ent.User, fs []tenants.Factor) (*ent.LoginTransaction, error) {
	tx, token, err := w.cfg.Tenants.ProveFactor(r.Context(), tenants.LoginStep{
		Token: w.loginToken(r), AuthRequestID: req.ID, UserID: u.ID,
		OrganizationID: pulid.ID(req.RequestedOrganizationID), Factor: fs[0], More: fs[1:],
	})
	if err != nil {
		return nil, err
	}
	w.setLoginCookie(rw, token, tx.ExpiresAt)
	return tx, nil
}

// loginToken is the transaction cookie's value, or "".
func (w *Web) loginToken(r *http.Request) string { return cookieValue(r, w.loginCk) }

func (w *Web) setLoginCookie(rw http.ResponseWriter, token string, expires time.Time) {
	http.SetCookie(rw, &http.Cookie{
		Name: w.loginCk, Value: token, Path: "/", Expires: expires,
		Secure: w.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}

func (w *Web) clearLoginCookie(rw http.ResponseWriter) {
	http.SetCookie(rw, &http.Cookie{
		Name: w.loginCk, Value: "", Path: "/", MaxAge: -1,
		Secure: w.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}
