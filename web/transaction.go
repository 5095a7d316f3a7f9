package web

// The login transaction as the browser holds it: a cookie with the
// transaction's token, which changes with every proven factor
// (tenants.ProveFactor), and which is dropped once a session exists.

import (
	"context"
	"net/http"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// proveFactor records that u proved f in the browser's transaction for
// req and gives the browser the transaction's new token.
func (w *Web) proveFactor(ctx context.Context, rw http.ResponseWriter, r *http.Request, req *LoginRequest, u *ent.User, f tenants.Factor) (*ent.LoginTransaction, error) {
	tx, token, err := w.cfg.Tenants.ProveFactor(ctx, tenants.LoginStep{
		Token: w.loginToken(r), AuthRequestID: req.ID, UserID: u.ID,
		OrganizationID: pulid.ID(req.RequestedOrganizationID), Factor: f,
	})
	if err != nil {
		return nil, err
	}
	w.setLoginCookie(rw, token, tx.ExpiresAt)
	return tx, nil
}

// completeTransaction turns a transaction the policy found done into a
// session of u lasting as long as l allows, and ends the transaction.
func (w *Web) completeTransaction(ctx context.Context, rw http.ResponseWriter, r *http.Request, tx *ent.LoginTransaction, u *ent.User, l tenants.SessionLifetimes) (*ent.Session, error) {
	s, err := w.startSession(ctx, rw, r, u, tenants.AMR(tx.Factors), l)
	if err != nil {
		return nil, err
	}
	if err := w.cfg.Tenants.EndLoginTransaction(ctx, tx.ID); err != nil {
		// The session stands; the transaction expires on its own.
		w.cfg.Logger.ErrorContext(ctx, "end login transaction", "transaction", tx.ID, "err", err)
	}
	w.clearLoginCookie(rw)
	return s, nil
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
