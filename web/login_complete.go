package web

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/internal/httpserver"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// Completion: the steps after authentication in order (organization,
// consent), the login policy for the organization in question, and the
// hand-back to the provider.

// proceed runs the steps after authentication: the profile the
// application needs (login_profile.go), the organization choice
// when the request asks for one, consent for third-party applications, and
// finally the hand-back to the provider. org is the organization the user
// chose on the picker, or nil.
func (w *Web) proceed(rw http.ResponseWriter, r *http.Request, req *LoginRequest, s *ent.Session, u *ent.User, org *ent.Organization) {
	ctx := r.Context()
	if w.askProfileIfMissing(rw, r, req, s, u) {
		return
	}
	var orgID pulid.ID
	switch {
	case org != nil:
		orgID = org.ID
	case !needsOrganization(req):
	case req.RequestedOrganizationID != "":
		// The application named the organization. Nothing of it (its
		// branding on the consent page) is shown before the membership is
		// checked: it is read only as one of u's active memberships. The
		// provider checks again in CompleteLogin.
		orgID = pulid.ID(req.RequestedOrganizationID)
		var err error
		if org, err = w.memberOrganization(ctx, u.ID, orgID); err != nil {
			w.fail(rw, r, err)
			return
		}
		if org == nil && w.ssoForOrganization(rw, r, req, u, orgID) {
			return
		}
		if org == nil {
			w.cfg.Logger.InfoContext(ctx, "requested organization refused", "auth_request", req.ID, "user", u.ID, "organization", orgID)
			if silent(req) {
				w.failLogin(rw, r, req, "interaction_required", "the user is not a member of the requested organization")
				return
			}
			w.renderError(rw, r, http.StatusForbidden, msgNotRequested)
			return
		}
	default:
		orgs, err := w.organizations(ctx, u.ID)
		if err != nil {
			w.fail(rw, r, err)
			return
		}
		switch {
		case len(orgs) == 1:
			// One organization is no choice: take it without a page.
			org, orgID = orgs[0], orgs[0].ID
		case silent(req):
			// No page may be shown: the application must ask again
			// interactively, where the user sees the picker (or why there
			// is nothing to pick).
			w.failLogin(rw, r, req, "interaction_required", "the user must choose an organization")
			return
		case len(orgs) == 0:
			if w.ssoForOrganization(rw, r, req, u, "") {
				return
			}
			w.renderError(rw, r, http.StatusForbidden, msgNoOrg)
			return
		default:
			w.pickOrganization(rw, r, req, s, orgs, http.StatusOK, "")
			return
		}
	}
	if !req.FirstParty {
		covered, err := w.cfg.Tenants.ConsentCovers(ctx, u.ID, req.ClientID, req.Scopes)
		if err != nil {
			w.fail(rw, r, err)
			return
		}
		if !covered || slices.Contains(req.Prompt, "consent") {
			if silent(req) {
				w.failLogin(rw, r, req, "consent_required", "the user must approve the application")
				return
			}
			w.askConsent(rw, r, req, s, u, org)
			return
		}
	}
	w.complete(rw, r, req, s, u, orgID)
}

// complete hands the authentication to the provider and sends the browser
// where it says, with 303 so the password post is never repeated (OIDC-14).
func (w *Web) complete(rw http.ResponseWriter, r *http.Request, req *LoginRequest, s *ent.Session, u *ent.User, org pulid.ID) {
	ctx := r.Context()
	// The policy of the organization in question decides every sign-in,
	// fresh or a reused session (LoginPolicy), and so does an application
	// that asked for a second factor (acr_values): a session without one
	// steps up (stepUp). The policy's lifetimes bound the session from now
	// on. org is the application's named organization when it named one
	// (proceed takes it; postConsent accepts no other).
	policies, ok := w.policyAllows(rw, r, req, s, u, org)
	if !ok {
		return
	}
	var err error
	if s, err = w.cfg.Tenants.BoundSession(ctx, s, w.lifetimes(policies)); err != nil {
		w.fail(rw, r, err)
		return
	}
	if isDirect(req) {
		// No application to hand back to: the account page. The provider
		// writes user.login for an application's sign-in; a direct one's
		// was written with its session (startSession), which every direct
		// sign-in reaching here has just started (reusing a session, a
		// direct sign-in goes to the account page without a step).
		w.cfg.Logger.InfoContext(ctx, "direct sign-in completed", "user", u.ID, "session", s.ID)
		http.Redirect(rw, r, accountPath, http.StatusSeeOther)
		return
	}
	// The flow writes user.login with its change, from this request.
	to, err := w.cfg.Flow.CompleteLogin(tenants.WithOrigin(ctx, tenants.Origin(httpserver.OriginOf(r))), req.ID, Authentication{
		UserID: u.ID, SessionID: s.ID, OrganizationID: org, DeviceID: s.DeviceID,
		// No ACR claim: the provider derives it from AMR.
		AuthTime: s.AuthTime, AMR: s.Amr,
	})
	switch {
	case err == nil:
		w.cfg.Logger.InfoContext(ctx, "login completed", "auth_request", req.ID, "user", u.ID, "session", s.ID)
		http.Redirect(rw, r, to, http.StatusSeeOther)
	case errors.Is(err, ErrReauthenticate):
		// The session is older than the request allows: sign in again.
		w.signInAgain(rw, r, req, u)
	case silent(req) && errors.Is(err, ErrUserInactive):
		w.failLogin(rw, r, req, "login_required", "the user must sign in again")
	case silent(req) && errors.Is(err, ErrNotMember):
		w.failLogin(rw, r, req, "interaction_required", "the user must choose an organization")
	case errors.Is(err, ErrNotMember):
		w.cfg.Logger.InfoContext(ctx, "organization refused by provider", "auth_request", req.ID, "user", u.ID, "organization", org)
		if req.RequestedOrganizationID != "" {
			w.renderError(rw, r, http.StatusForbidden, msgNotRequested)
			return
		}
		orgs, err := w.organizations(ctx, u.ID)
		if err != nil {
			w.fail(rw, r, err)
			return
		}
		w.pickOrganization(rw, r, req, s, orgs, http.StatusForbidden, msgNotMember)
	case errors.Is(err, ErrUserInactive):
		w.renderError(rw, r, http.StatusUnauthorized, msgSessionEnded)
	case errors.Is(err, ErrUnknownRequest):
		w.renderError(rw, r, http.StatusBadRequest, msgExpired)
	case silent(req) && errors.Is(err, ErrPolicyRefused):
		w.failLogin(rw, r, req, "interaction_required", "the organization's policy requires another sign-in method")
	case errors.Is(err, ErrPolicyRefused):
		// The policy changed between web's decision and the provider's.
		w.cfg.Logger.InfoContext(ctx, "login refused by policy at completion", "auth_request", req.ID, "user", u.ID, "amr", s.Amr)
		w.loginFailed(ctx, r, req, u.ID, reasonMethodNotAllowed)
		w.renderError(rw, r, http.StatusForbidden, msgCannotLogin)
	case errors.Is(err, ErrUnknownACR):
		// Web and provider disagree on the ACRs: ours to fix, but a plain
		// refusal for the browser, never a redirect.
		w.cfg.Logger.ErrorContext(ctx, "acr refused by provider", "auth_request", req.ID, "user", u.ID, "amr", s.Amr)
		w.loginFailed(ctx, r, req, u.ID, reasonUnknownACR)
		w.renderError(rw, r, http.StatusBadRequest, msgCannotLogin)
	default:
		w.fail(rw, r, fmt.Errorf("complete login: %w", err))
	}
}

// silent reports whether the application asked for no page at all
// (prompt=none): where one would be shown, the request fails instead.
func silent(req *LoginRequest) bool { return slices.Contains(req.Prompt, "none") }

// failLogin ends the request with an OAuth error and sends the browser back
// to the application with it (OIDC Core §3.1.2.6), with 303.
func (w *Web) failLogin(rw http.ResponseWriter, r *http.Request, req *LoginRequest, code, description string) {
	ctx := r.Context()
	to, err := w.cfg.Flow.FailLogin(ctx, req.ID, code, description)
	switch {
	case errors.Is(err, ErrUnknownRequest):
		w.renderError(rw, r, http.StatusBadRequest, msgExpired)
	case err != nil:
		w.fail(rw, r, fmt.Errorf("fail login: %w", err))
	default:
		w.cfg.Logger.InfoContext(ctx, "login request failed", "auth_request", req.ID, "error", code)
		http.Redirect(rw, r, to, http.StatusSeeOther)
	}
}
