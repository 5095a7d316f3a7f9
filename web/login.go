package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/consent"
	"github.com/gatehouse-id/gatehouse/ent/membership"
	"github.com/gatehouse-id/gatehouse/ent/organization"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/ent/user"
	"github.com/gatehouse-id/gatehouse/internal/httpserver"
	"github.com/gatehouse-id/gatehouse/internal/password"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// What the browser is told. One sentence each; details go to the log.
const (
	msgExpired      = "This sign-in link has expired. Go back to the application and try again."
	msgFormExpired  = "This page has expired. Go back to the application and try again."
	msgSessionEnded = "Your sign-in has ended. Go back to the application and try again."
	msgBadLogin     = "Email or password is incorrect."
	msgInternal     = "Something went wrong on our side. Go back to the application and try again."
	msgNoOrg        = "Your account does not belong to any organization yet. Ask an administrator of your organization to invite you, then try again."
	msgNotMember    = "You are not a member of that organization."
	msgNotRequested = "Your account is not a member of the organization this application asked for."
	msgCannotLogin  = "This sign-in cannot be completed. Go back to the application and try again."
)

// maxForm bounds a posted form; the largest legitimate one is well under.
const maxForm = 16 << 10

func (w *Web) getLogin(rw http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("authRequest")
	req, ok := w.loginRequest(rw, r, id)
	if !ok {
		return
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
	w.renderLogin(rw, http.StatusOK, loginPage{
		AuthRequest: req.ID, CSRF: csrfField(w.csrfToken(rw, r), req.ID),
		ClientName: req.ClientName, Email: req.LoginHint,
	})
}

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

	res, ok := w.reserveAttempt(rw, r, req, email, page)
	if !ok {
		return
	}
	u, matched, reason, err := w.checkPassword(ctx, email, isAddress, pw)
	if errors.Is(err, password.ErrBusy) {
		w.busy(rw, r, res, page)
		return
	}
	if err != nil {
		w.settle(ctx, res.Cancel)
		w.fail(rw, r, err)
		return
	}
	if u == nil {
		// Unknown user, no password, wrong password and disabled user all
		// look the same to the browser (ATO-04); the log and the audit
		// trail keep the reason. The attempt stays counted.
		w.cfg.Logger.InfoContext(ctx, "login failed", "auth_request", req.ID, "reason", reason, "ip", httpserver.ClientIP(r))
		w.loginFailed(ctx, r, req, matched, reason)
		page.Error = msgBadLogin
		w.renderLogin(rw, http.StatusUnauthorized, page)
		return
	}
	w.settle(ctx, res.Success)
	w.rememberDevice(rw, r, email)
	s, err := w.startSession(ctx, rw, r, u, []string{"pwd"})
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	w.cfg.Logger.InfoContext(ctx, "login succeeded", "auth_request", req.ID, "user", u.ID, "session", s.ID)
	w.proceed(rw, r, req, s, u, nil)
}

// checkPassword returns the user when email (normalized; isAddress is
// false when it is not an address) and password match an active user.
// Otherwise it returns nil, the id of the user the email matched (if any,
// for the audit trail) and the reason (reason* constants). Every path
// verifies one argon2id hash at cfg.PasswordParams, so the time taken does
// not reveal whether the user exists.
func (w *Web) checkPassword(ctx context.Context, email string, isAddress bool, pw string) (u *ent.User, matched pulid.ID, reason string, err error) {
	ctx = sys(ctx)
	if !isAddress {
		// not an address: no account to look up
		return nil, "", reasonUnknownEmail, w.verifyNothing(pw)
	}
	u, err = w.cfg.Client.User.Query().Where(user.Email(email)).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		return nil, "", reasonUnknownEmail, w.verifyNothing(pw)
	case err != nil:
		_ = w.verifyNothing(pw)
		return nil, "", "", fmt.Errorf("find user: %w", err)
	case u.PasswordHash == "":
		return nil, u.ID, reasonNoPassword, w.verifyNothing(pw)
	}
	rehash, err := password.Verify(pw, u.PasswordHash, w.cfg.PasswordParams)
	switch {
	case errors.Is(err, password.ErrBusy):
		return nil, u.ID, "", err
	case errors.Is(err, password.ErrMalformedHash):
		w.cfg.Logger.ErrorContext(ctx, "malformed password hash", "user", u.ID)
		return nil, u.ID, reasonMalformedHash, w.verifyNothing(pw)
	case err != nil:
		return nil, u.ID, reasonBadPassword, nil
	case u.Status != user.StatusACTIVE:
		return nil, u.ID, reasonDisabled, nil
	}
	upd := w.cfg.Client.User.UpdateOneID(u.ID).SetLastLoginAt(w.cfg.Now())
	if rehash {
		// A failed rehash keeps the old hash; the sign-in stands.
		if h, err := password.Hash(pw, w.cfg.PasswordParams); err != nil {
			w.cfg.Logger.ErrorContext(ctx, "rehash password", "user", u.ID, "err", err)
		} else {
			upd.SetPasswordHash(h)
		}
	}
	if err := upd.Exec(ctx); err != nil {
		return nil, "", "", fmt.Errorf("record login: %w", err)
	}
	return u, u.ID, "", nil
}

// verifyNothing spends the time of one password verification at
// cfg.PasswordParams, for sign-ins that have no hash to verify. Its only
// error is password.ErrBusy.
func (w *Web) verifyNothing(pw string) error {
	w.dummyChecks.Add(1)
	return w.dummy.Verify(pw)
}

// userIDByEmail is the id of the user with email, or "" (for the audit
// trail of throttled sign-ins; a lookup error is logged and ignored).
func (w *Web) userIDByEmail(ctx context.Context, email string) pulid.ID {
	if email == "" {
		return ""
	}
	id, err := w.cfg.Client.User.Query().Where(user.Email(email)).OnlyID(sys(ctx))
	if err != nil {
		if !ent.IsNotFound(err) {
			w.cfg.Logger.ErrorContext(ctx, "find user for audit", "err", err)
		}
		return ""
	}
	return id
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
	w.renderContinue(rw, http.StatusOK, continuePage{
		AuthRequest: req.ID, CSRF: csrfField(w.csrfToken(rw, r), req.ID), Ticket: ticket(s, req.ID),
		ClientName: clientName(req), UserEmail: u.Email, UserName: u.Name,
	})
}

// postContinue is the answer to the page of selectAccount: continue as the
// signed-in user, or sign in as someone else.
func (w *Web) postContinue(rw http.ResponseWriter, r *http.Request) {
	req, s, u, ok := w.postedStep(rw, r)
	if !ok {
		return
	}
	if r.PostFormValue("action") == "switch" {
		w.anotherAccount(rw, r, req)
		return
	}
	w.proceed(rw, r, req, s, u, nil)
}

// anotherAccount shows the sign-in form, empty, for "Use another account".
func (w *Web) anotherAccount(rw http.ResponseWriter, r *http.Request, req *LoginRequest) {
	w.renderLogin(rw, http.StatusOK, loginPage{
		AuthRequest: req.ID, CSRF: csrfField(w.csrfToken(rw, r), req.ID), ClientName: req.ClientName,
	})
}

// maxAgeMet reports whether s is recent enough for req (OIDC Core §3.1.2.1).
func (w *Web) maxAgeMet(req *LoginRequest, s *ent.Session) bool {
	return req.MaxAge == nil || w.cfg.Now().Sub(s.AuthTime) <= *req.MaxAge
}

func (w *Web) postOrganization(rw http.ResponseWriter, r *http.Request) {
	req, s, u, ok := w.postedStep(rw, r)
	if !ok {
		return
	}
	if r.PostFormValue("action") == "switch" {
		w.anotherAccount(rw, r, req)
		return
	}
	orgs, err := w.organizations(r.Context(), u.ID)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	chosen := pulid.ID(r.PostFormValue("organization"))
	org := chosenOrganization(req, orgs, chosen)
	if org == nil {
		w.cfg.Logger.InfoContext(r.Context(), "organization refused", "auth_request", req.ID, "user", u.ID, "organization", chosen)
		w.pickOrganization(rw, r, req, s, orgs, http.StatusForbidden, msgNotMember)
		return
	}
	w.proceed(rw, r, req, s, u, org)
}

func (w *Web) postConsent(rw http.ResponseWriter, r *http.Request) {
	req, s, u, ok := w.postedStep(rw, r)
	if !ok {
		return
	}
	ctx := r.Context()
	org := pulid.ID(r.PostFormValue("organization"))
	if needsOrganization(req) {
		orgs, err := w.organizations(ctx, u.ID)
		if err != nil {
			w.fail(rw, r, err)
			return
		}
		if chosenOrganization(req, orgs, org) == nil {
			w.renderError(rw, http.StatusForbidden, msgNotMember)
			return
		}
	} else {
		org = ""
	}
	meta := map[string]any{"client_id": req.ClientID, "scopes": req.Scopes}
	if r.PostFormValue("action") != "allow" {
		// The application hears it (OIDC Core §3.1.2.6) and the request
		// ends; nothing is stored.
		w.cfg.Logger.InfoContext(ctx, "consent denied", "auth_request", req.ID, "user", u.ID, "client", req.ClientID)
		w.audit(ctx, r, auditEvent{action: actionConsentDeny, user: u.ID, org: org, metadata: meta})
		w.failLogin(rw, r, req, "access_denied", "the user did not allow access")
		return
	}
	if err := w.grantConsent(ctx, u.ID, req.ClientID, req.Scopes); err != nil {
		w.fail(rw, r, err)
		return
	}
	w.audit(ctx, r, auditEvent{action: actionConsentGrant, user: u.ID, org: org, metadata: meta})
	w.complete(rw, r, req, s, u, org)
}

// proceed runs the steps after authentication: the organization choice
// when the request asks for one, consent for third-party applications, and
// finally the hand-back to the provider. org is the organization the user
// chose on the picker, or nil.
func (w *Web) proceed(rw http.ResponseWriter, r *http.Request, req *LoginRequest, s *ent.Session, u *ent.User, org *ent.Organization) {
	ctx := r.Context()
	var orgID pulid.ID
	switch {
	case org != nil:
		orgID = org.ID
	case !needsOrganization(req):
	case req.RequestedOrganizationID != "":
		// The application named the organization; the provider checks the
		// membership in CompleteLogin.
		orgID = pulid.ID(req.RequestedOrganizationID)
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
			w.renderError(rw, http.StatusForbidden, msgNoOrg)
			return
		default:
			w.pickOrganization(rw, r, req, s, orgs, http.StatusOK, "")
			return
		}
	}
	if !req.FirstParty {
		covered, err := w.consentCovers(ctx, u.ID, req.ClientID, req.Scopes)
		if err != nil {
			w.fail(rw, r, err)
			return
		}
		if !covered || slices.Contains(req.Prompt, "consent") {
			if silent(req) {
				w.failLogin(rw, r, req, "consent_required", "the user must approve the application")
				return
			}
			w.askConsent(rw, r, req, s, u, orgID, org)
			return
		}
	}
	w.complete(rw, r, req, s, u, orgID)
}

// askConsent shows the consent screen, in the look of organization orgID
// when there is one (org, when the caller has it loaded already).
func (w *Web) askConsent(rw http.ResponseWriter, r *http.Request, req *LoginRequest, s *ent.Session, u *ent.User, orgID pulid.ID, org *ent.Organization) {
	if org == nil && orgID != "" {
		o, err := w.cfg.Client.Organization.Get(sys(r.Context()), orgID)
		if err != nil && !ent.IsNotFound(err) {
			w.fail(rw, r, err)
			return
		}
		org = o
	}
	p := consentPage{
		AuthRequest: req.ID, CSRF: csrfField(w.csrfToken(rw, r), req.ID), Ticket: ticket(s, req.ID),
		Organization: string(orgID), ClientName: clientName(req),
		UserEmail: u.Email, UserName: u.Name, Scopes: req.Scopes,
	}
	if org != nil {
		p.Brand = brandOf(org)
	}
	w.renderConsent(rw, http.StatusOK, p)
}

// complete hands the authentication to the provider and sends the browser
// where it says, with 303 so the password post is never repeated (OIDC-14).
func (w *Web) complete(rw http.ResponseWriter, r *http.Request, req *LoginRequest, s *ent.Session, u *ent.User, org pulid.ID) {
	ctx := r.Context()
	if len(req.ACRValues) > 0 && !slices.Contains(req.ACRValues, acrSingleFactor) {
		// The application asked for multi-factor only. Gatehouse has no
		// second factor yet; acr_values are voluntary (OIDC Core
		// §3.1.2.1), so the login goes on with one factor and the ID token
		// states the acr achieved, for the application to judge.
		w.cfg.Logger.InfoContext(ctx, "requested acr not available, continuing with single factor",
			"auth_request", req.ID, "client", req.ClientID, "acr_values", req.ACRValues, "amr", s.Amr)
	}
	to, err := w.cfg.Flow.CompleteLogin(ctx, req.ID, Authentication{
		UserID: u.ID, SessionID: s.ID, OrganizationID: org,
		// No ACR claim: the provider derives it from AMR.
		AuthTime: s.AuthTime, AMR: s.Amr,
	})
	switch {
	case err == nil:
		w.cfg.Logger.InfoContext(ctx, "login completed", "auth_request", req.ID, "user", u.ID, "session", s.ID)
		w.audit(ctx, r, auditEvent{action: actionLogin, user: u.ID, org: org, metadata: map[string]any{
			"client_id": req.ClientID, "amr": s.Amr, "session_id": string(s.ID), "auth_time": s.AuthTime.UTC().Format(time.RFC3339),
		}})
		http.Redirect(rw, r, to, http.StatusSeeOther)
	case silent(req) && (errors.Is(err, ErrReauthenticate) || errors.Is(err, ErrUserInactive)):
		w.failLogin(rw, r, req, "login_required", "the user must sign in again")
	case silent(req) && errors.Is(err, ErrNotMember):
		w.failLogin(rw, r, req, "interaction_required", "the user must choose an organization")
	case errors.Is(err, ErrNotMember):
		w.cfg.Logger.InfoContext(ctx, "organization refused by provider", "auth_request", req.ID, "user", u.ID, "organization", org)
		if req.RequestedOrganizationID != "" {
			w.renderError(rw, http.StatusForbidden, msgNotRequested)
			return
		}
		orgs, err := w.organizations(ctx, u.ID)
		if err != nil {
			w.fail(rw, r, err)
			return
		}
		w.pickOrganization(rw, r, req, s, orgs, http.StatusForbidden, msgNotMember)
	case errors.Is(err, ErrReauthenticate):
		// The session is older than the request allows: sign in again.
		w.renderLogin(rw, http.StatusOK, loginPage{
			AuthRequest: req.ID, CSRF: csrfField(w.csrfToken(rw, r), req.ID),
			ClientName: req.ClientName, Email: u.Email,
		})
	case errors.Is(err, ErrUserInactive):
		w.renderError(rw, http.StatusUnauthorized, msgSessionEnded)
	case errors.Is(err, ErrUnknownRequest):
		w.renderError(rw, http.StatusBadRequest, msgExpired)
	case errors.Is(err, ErrUnknownACR):
		// Web and provider disagree on the ACRs: ours to fix, but a plain
		// refusal for the browser, never a redirect.
		w.cfg.Logger.ErrorContext(ctx, "acr refused by provider", "auth_request", req.ID, "user", u.ID, "amr", s.Amr)
		w.loginFailed(ctx, r, req, u.ID, reasonUnknownACR)
		w.renderError(rw, http.StatusBadRequest, msgCannotLogin)
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
		w.renderError(rw, http.StatusBadRequest, msgExpired)
	case err != nil:
		w.fail(rw, r, fmt.Errorf("fail login: %w", err))
	default:
		w.cfg.Logger.InfoContext(ctx, "login request failed", "auth_request", req.ID, "error", code)
		http.Redirect(rw, r, to, http.StatusSeeOther)
	}
}

func (w *Web) pickOrganization(rw http.ResponseWriter, r *http.Request, req *LoginRequest, s *ent.Session, orgs []*ent.Organization, status int, msg string) {
	p := organizationPage{
		AuthRequest: req.ID, CSRF: csrfField(w.csrfToken(rw, r), req.ID), Ticket: ticket(s, req.ID),
		ClientName: clientName(req), Error: msg,
	}
	for _, o := range orgs {
		c := organizationChoice{ID: string(o.ID), Name: o.Name, Slug: o.Slug}
		if safeLogoURL(o.LogoURL) {
			c.LogoURL = o.LogoURL
		}
		p.Organizations = append(p.Organizations, c)
	}
	w.renderOrganization(rw, status, p)
}

func needsOrganization(req *LoginRequest) bool {
	return req.WantsOrganization || req.RequestedOrganizationID != ""
}

// chosenOrganization returns org when the user may choose it for req: it
// is one of orgs (the user's active memberships) and, when the application
// named an organization, that one. Otherwise it returns nil.
func chosenOrganization(req *LoginRequest, orgs []*ent.Organization, org pulid.ID) *ent.Organization {
	if req.RequestedOrganizationID != "" && string(org) != req.RequestedOrganizationID {
		return nil
	}
	if i := slices.IndexFunc(orgs, func(o *ent.Organization) bool { return o.ID == org }); i >= 0 {
		return orgs[i]
	}
	return nil
}

// organizations lists the organizations where userID is an active member,
// by name.
func (w *Web) organizations(ctx context.Context, userID pulid.ID) ([]*ent.Organization, error) {
	orgs, err := w.cfg.Client.Organization.Query().
		Where(organization.HasMembershipsWith(membership.UserID(userID), membership.StatusEQ(membership.StatusACTIVE))).
		Order(ent.Asc(organization.FieldName), ent.Asc(organization.FieldID)).
		Limit(500).
		All(sys(ctx))
	if err != nil {
		return nil, fmt.Errorf("list organizations: %w", err)
	}
	return orgs, nil
}

// consentCovers reports whether the user has already granted the client
// every scope it asks for.
func (w *Web) consentCovers(ctx context.Context, userID pulid.ID, clientID string, scopes []string) (bool, error) {
	c, err := w.cfg.Client.Consent.Query().Where(consent.UserID(userID), consent.ClientID(clientID)).Only(sys(ctx))
	if ent.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("find consent: %w", err)
	}
	for _, s := range scopes {
		if !slices.Contains(c.Scopes, s) {
			return false, nil
		}
	}
	return true, nil
}

// grantConsent adds scopes to what the user granted the client.
func (w *Web) grantConsent(ctx context.Context, userID pulid.ID, clientID string, scopes []string) error {
	ctx = sys(ctx)
	for range 2 { // a concurrent first grant may win the unique index once
		c, err := w.cfg.Client.Consent.Query().Where(consent.UserID(userID), consent.ClientID(clientID)).Only(ctx)
		switch {
		case ent.IsNotFound(err):
			err = w.cfg.Client.Consent.Create().SetUserID(userID).SetClientID(clientID).
				SetScopes(union(nil, scopes)).Exec(ctx)
			if ent.IsConstraintError(err) {
				continue
			}
		case err == nil:
			err = w.cfg.Client.Consent.UpdateOneID(c.ID).SetScopes(union(c.Scopes, scopes)).Exec(ctx)
		}
		if err != nil {
			return fmt.Errorf("store consent: %w", err)
		}
		return nil
	}
	return errors.New("store consent: conflicting concurrent grants")
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// loginRequest fetches the pending request id, or shows the expired page.
func (w *Web) loginRequest(rw http.ResponseWriter, r *http.Request, id string) (*LoginRequest, bool) {
	if id == "" || len(id) > 128 {
		w.renderError(rw, http.StatusBadRequest, msgExpired)
		return nil, false
	}
	req, err := w.cfg.Flow.LoginRequest(r.Context(), id)
	switch {
	case errors.Is(err, ErrUnknownRequest):
		w.renderError(rw, http.StatusBadRequest, msgExpired)
		return nil, false
	case err != nil:
		w.fail(rw, r, fmt.Errorf("load auth request: %w", err))
		return nil, false
	case req == nil || (!req.ExpiresAt.IsZero() && !w.cfg.Now().Before(req.ExpiresAt)):
		w.renderError(rw, http.StatusBadRequest, msgExpired)
		return nil, false
	}
	return req, true
}

// parseForm reads a posted form of at most maxForm bytes, or shows the
// expired page.
func (w *Web) parseForm(rw http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(rw, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		w.renderError(rw, http.StatusBadRequest, msgFormExpired)
		return false
	}
	return true
}

// postedRequest parses a posted form, loads its authorization request and
// checks its CSRF field.
func (w *Web) postedRequest(rw http.ResponseWriter, r *http.Request) (*LoginRequest, bool) {
	if !w.parseForm(rw, r) {
		return nil, false
	}
	req, ok := w.loginRequest(rw, r, r.PostFormValue("authRequest"))
	if !ok {
		return nil, false
	}
	if !w.checkCSRF(r, func(token string) string { return csrfField(token, req.ID) }) {
		w.cfg.Logger.InfoContext(r.Context(), "csrf check failed", "auth_request", req.ID, "ip", httpserver.ClientIP(r))
		w.loginFailed(r.Context(), r, req, "", reasonCSRF)
		w.renderError(rw, http.StatusForbidden, msgFormExpired)
		return nil, false
	}
	return req, true
}

// postedStep is postedRequest for the steps after authentication: the
// browser must still hold the session the ticket was issued for.
func (w *Web) postedStep(rw http.ResponseWriter, r *http.Request) (*LoginRequest, *ent.Session, *ent.User, bool) {
	req, ok := w.postedRequest(rw, r)
	if !ok {
		return nil, nil, nil, false
	}
	s, u, err := w.currentSession(r.Context(), r)
	if err != nil {
		w.fail(rw, r, err)
		return nil, nil, nil, false
	}
	if s == nil {
		w.renderError(rw, http.StatusUnauthorized, msgSessionEnded)
		return nil, nil, nil, false
	}
	if !checkTicket(r, s, req.ID) {
		w.cfg.Logger.InfoContext(r.Context(), "login ticket check failed", "auth_request", req.ID, "session", s.ID)
		w.loginFailed(r.Context(), r, req, u.ID, reasonTicket)
		w.renderError(rw, http.StatusForbidden, msgFormExpired)
		return nil, nil, nil, false
	}
	return req, s, u, true
}

// fail logs err and shows the generic error page.
func (w *Web) fail(rw http.ResponseWriter, r *http.Request, err error) {
	w.cfg.Logger.ErrorContext(r.Context(), "hosted page failed", "path", r.URL.Path, "err", err)
	w.renderError(rw, http.StatusInternalServerError, msgInternal)
}

func clientName(req *LoginRequest) string {
	if req.ClientName != "" {
		return req.ClientName
	}
	return "the application"
}
