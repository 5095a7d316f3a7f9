package web

import (
	"net/http"
	"slices"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// The arrival step: /login shows the sign-in form, or reuses the browser's
// session when the request allows (prompt, max_age), or asks which account
// to continue with (prompt=select_account).

func (w *Web) getLogin(rw http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("authRequest")
	req, ok := w.loginRequest(rw, r, id)
	if !ok {
		return
	}
	if isDirect(req) && r.URL.Query().Get("prompt") == "login" {
		// Signing in again on purpose (the account page asks before a
		// sensitive change): the form, whatever the session.
		req.Prompt = []string{"login"}
	} else if isDirect(req) {
		// Signed in already: the account page; otherwise sign in to it.
		if s, _, err := w.currentSession(r.Context(), r); err != nil {
			w.fail(rw, r, err)
			return
		} else if s != nil {
			http.Redirect(rw, r, accountPath, http.StatusSeeOther)
			return
		}
	}
	if !slices.Contains(req.Prompt, "login") {
		s, u, err := w.currentSession(r.Context(), r)
		if err != nil {
			w.fail(rw, r, err)
			return
		}
		if s != nil && w.maxAgeMet(req, s) {
			if slices.Contains(req.Prompt, "select_account") && !silent(req) {
				w.selectAccount(rw, r, req, s, u)
				return
			}
			w.proceed(rw, r, req, s, u, nil)
			return
		}
	}
	if silent(req) {
		// prompt=none: no page may be shown (OIDC Core §3.1.2.1).
		w.failLogin(rw, r, req, "login_required", "the user is not signed in")
		return
	}
	if w.ssoFromRequest(rw, r, req) {
		return
	}
	w.signInForm(rw, r, req, req.LoginHint)
}

// selectAccount answers prompt=select_account (OIDC Core §3.1.2.1) for a
// browser that is signed in: the session is never reused silently. When
// the application wants an organization of the user's choice and there are
// several, the choice is the organization picker; otherwise the page asks
// whether to continue as the signed-in user. Both offer "Use another
// account", which shows the sign-in form (a new sign-in replaces the
// session, ATO-07).
func (w *Web) selectAccount(rw http.ResponseWriter, r *http.Request, req *LoginRequest, s *ent.Session, u *ent.User) {
	if needsOrganization(req) && req.RequestedOrganizationID == "" {
		orgs, err := w.organizations(r.Context(), u.ID)
		if err != nil {
			w.fail(rw, r, err)
			return
		}
		if len(orgs) > 1 {
			w.pickOrganization(rw, r, req, s, orgs, http.StatusOK, "")
			return
		}
	}
	w.renderContinue(rw, r, http.StatusOK, continuePage{
		AuthRequest: req.ID, CSRF: csrfField(w.csrfToken(rw, r), req.ID), Ticket: ticket(s, req.ID),
		ClientName: clientName(req), UserEmail: u.Email, UserName: u.Name,
	})
}

// postContinue is the answer to the page of selectAccount: continue as the
// signed-in user, or sign in as someone else.
func (w *Web) postContinue(rw http.ResponseWriter, r *http.Request) {
	req, s, u, ok := w.postedChoice(rw, r)
	if !ok {
		return
	}
	w.proceed(rw, r, req, s, u, nil)
}

// signInForm shows the first step of a sign-in for req: the email field
// alone, or, when the address is known already (the application's
// login_hint, a user signing in again), the ways to sign in as it.
func (w *Web) signInForm(rw http.ResponseWriter, r *http.Request, req *LoginRequest, email string) {
	p := loginPage{AuthRequest: req.ID, CSRF: csrfField(w.csrfToken(rw, r), req.ID), ClientName: clientName(req), Email: email}
	if err := w.organizationSSO(r.Context(), req, &p); err != nil {
		w.fail(rw, r, err)
		return
	}
	if email == "" {
		w.renderIdentify(rw, r, http.StatusOK, p)
		return
	}
	w.renderLogin(rw, r, http.StatusOK, p)
}

// postIdentify is the identifier step: an email in, the ways to sign in
// out. The page is the same for every address, registered or not, with
// an account or without (ATO-04): nothing about the account is read.
// (Home-realm discovery, which sends an organization's verified domain to
// its identity provider, plugs in here with federation.)
func (w *Web) postIdentify(rw http.ResponseWriter, r *http.Request) {
	req, ok := w.postedRequest(rw, r)
	if !ok {
		return
	}
	p := loginPage{AuthRequest: req.ID, CSRF: r.PostFormValue("csrf"), ClientName: clientName(req)}
	if err := w.organizationSSO(r.Context(), req, &p); err != nil {
		w.fail(rw, r, err)
		return
	}
	email, err := tenants.NormalizeEmail("email", r.PostFormValue("email"))
	if err != nil {
		p.Email, p.Error = truncate(r.PostFormValue("email"), 320), say(msgBadEmail)
		w.renderIdentify(rw, r, http.StatusBadRequest, p)
		return
	}
	p.Email = email
	// Home-realm discovery: an address at an organization's verified
	// domain with SSO goes to its identity provider. The answer depends
	// on the domain, never on whether an account exists.
	d, found, err := w.discoverSSO(r.Context(), email)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	if found && w.sendToIdP(rw, r, req, d, email) {
		return
	}
	w.renderLogin(rw, r, http.StatusOK, p)
}

// signInAgain asks u to sign in again, their sign-in being older than req
// allows, or for prompt=none tells the application so.
func (w *Web) signInAgain(rw http.ResponseWriter, r *http.Request, req *LoginRequest, u *ent.User) {
	if silent(req) {
		w.failLogin(rw, r, req, "login_required", "the user must sign in again")
		return
	}
	w.signInForm(rw, r, req, u.Email)
}

// maxAgeMet reports whether s is recent enough for req (OIDC Core §3.1.2.1).
func (w *Web) maxAgeMet(req *LoginRequest, s *ent.Session) bool {
	return req.MaxAge == nil || w.cfg.Now().Sub(s.AuthTime) <= *req.MaxAge
}
