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
// otherwise it has written the response (policyStopped, or the failure)
// and returns false.
//
// The factors decided on are the transaction's: those proven before in
// this browser (tenants.ProveFactor) and f. A transaction row is written
// only when it carries something: factors from an earlier step, or f to a
// step still to come. A browser with no transaction whose f alone is
// enough (the common one-step sign-in) gets its session without one, as a
// row would be written only to be deleted in the same request.
func (w *Web) proveFactor(rw http.ResponseWriter, r *http.Request, req *LoginRequest, u *ent.User, f tenants.Factor) (*ent.Session, bool) {
	ctx := r.Context()
	factors := []tenants.Factor{f}
	var tx *ent.LoginTransaction
	if w.loginToken(r) != "" {
		var err error
		if tx, err = w.recordFactor(rw, r, req, u, f); err != nil {
			w.fail(rw, r, err)
			return nil, false
		}
		factors = tx.Factors
	}
	d, policies, err := w.policyDecision(ctx, req, u, pulid.ID(req.RequestedOrganizationID), factors)
	if err != nil {
		w.fail(rw, r, err)
		return nil, false
	}
	if d.Outcome != tenants.Done {
		// No session: the transaction keeps what was proven for the next
		// step, when the policy names one this sign-in offers.
		if tx == nil {
			if _, err := w.recordFactor(rw, r, req, u, f); err != nil {
				w.fail(rw, r, err)
				return nil, false
			}
		}
		w.policyStopped(rw, r, req, u, d)
		return nil, false
	}
	s, err := w.startSession(ctx, rw, r, u, tenants.AMR(factors), w.lifetimes(policies))
	if err != nil {
		w.fail(rw, r, err)
		return nil, false
	}
	w.funnel(ctx, req, tenants.LoginFunnel(f.Method, true))
	if tx != nil {
		if err := w.cfg.Tenants.EndLoginTransaction(ctx, tx.ID); err != nil {
			// The session stands; the transaction expires on its own.
			w.cfg.Logger.ErrorContext(ctx, "end login transaction", "transaction", tx.ID, "err", err)
		}
		w.clearLoginCookie(rw)
	}
	return s, true
}

// recordFactor records that u proved f in the browser's transaction for
// req (a new one when there is none) and gives the browser the
// transaction's new token.
func (w *Web) recordFactor(rw http.ResponseWriter, r *http.Request, req *LoginRequest, u *ent.User, f tenants.Factor) (*ent.LoginTransaction, error) {
	tx, token, err := w.cfg.Tenants.ProveFactor(r.Context(), tenants.LoginStep{
		Token: w.loginToken(r), AuthRequestID: req.ID, UserID: u.ID,
		OrganizationID: pulid.ID(req.RequestedOrganizationID), Factor: f,
	})
	if err != nil {
		return nil, err
	}
	w.setLoginCookie(rw, token, tx.ExpiresAt)
	return tx, nil
}

// loginToken is the transaction cookie's value, or "".
func (w *Web) loginToken(r *http.Request) string {
	c, err := r.Cookie(w.loginCk)
	if err != nil || len(c.Value) > 128 {
		return ""
	}
	return c.Value
}

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
