package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/connection"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/federation"
	"github.com/gatehouse-id/gatehouse/internal/httpserver"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// Enterprise SSO, the step where the sign-in goes to the organization's
// own identity provider (SAML or OIDC) and comes back with an identity:
//
//   - home-realm discovery sends a person there from the identifier step
//     (their address's domain is VERIFIED by an organization with an
//     ACTIVE connection: tenants.DiscoverConnection), from an application's
//     login_hint, from a password or link sign-in the policy refuses
//     (enforce_sso, which reaches only addresses at the organization's
//     verified domains: tenants.ScopeEnforceSSO), and for a signed-in
//     person the application's organization cannot take (removed from it,
//     or never provisioned: ssoForOrganization);
//   - beginSSO asks the connection's connector (SSO.Connector) for the
//     way there, keeps its state server-side (tenants.StartSSOAttempt)
//     and gives the browser a cookie that binds the attempt to it;
//   - the answer comes back to the connection's own endpoint: an OIDC
//     callback (a top-level GET that carries the cookie) is finished at
//     once; a SAML response is a cross-site POST that carries no
//     SameSite=Lax cookie, so the ACS finds the attempt by its RelayState,
//     verifies the response, keeps the identity, and redirects the browser
//     to /complete, where the cookie proves it is the browser that began
//     (a response pushed into another browser signs nobody in there);
//   - finishSSO maps the identity to a user and membership
//     (tenants.SignInFederated: JIT provisioning and linking) and proves
//     the factor "sso:<connection>", and the sign-in goes on as any other
//     (LoginPolicy, MFA, organization, consent).
//
// Every refusal is logged, audited (sso.rejected, with the connector's
// precise reason) and kept in the connection's recent attempts
// (tenants.RecordLoginAttempt) for its administrator; the browser sees one
// sentence.

// SSO is what the pages need of the protocols: cmd gives them
// federation/connectors' Registry.
type SSO interface {
	// Connector returns the connector of c.
	Connector(ctx context.Context, c *ent.Connection) (federation.Connector, error)
	// SignInInput maps what c's IdP asserted to what tenants signs in.
	SignInInput(c *ent.Connection, id federation.Identity) tenants.FederatedIdentityInput
	// Metadata is c's SAML service provider metadata.
	Metadata(ctx context.Context, c *ent.Connection) ([]byte, error)
}

const (
	msgSSOFailed      = "page.error.sso_failed"
	msgSSORefused     = "page.error.sso_refused"
	actionSSORejected = "sso.rejected"
)

// ssoCookie binds an attempt to the browser that began it.
func (w *Web) ssoCookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: w.ssoCk, Value: value, Path: "/sso/", MaxAge: maxAge,
		Secure: w.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode}
}

// ssoFromRequest sends a new sign-in straight to an identity provider
// when the application's request says where: a login_hint whose domain
// discovery knows. A request that names an organization enforcing SSO
// is not enough: its enforce_sso reaches only addresses at its verified
// domains (tenants.ScopeEnforceSSO), so the person is asked who they are
// first, and the identifier step sends such an address to the IdP. It
// reports whether it answered the request.
func (w *Web) ssoFromRequest(rw http.ResponseWriter, r *http.Request, req *LoginRequest) bool {
	if w.cfg.SSO == nil {
		return false
	}
	hint, err := tenants.NormalizeEmail("login_hint", req.LoginHint)
	if err != nil {
		return false
	}
	d, found, err := w.discoverSSO(r.Context(), hint)
	if err != nil {
		w.fail(rw, r, err)
		return true
	}
	return found && w.sendToIdP(rw, r, req, d, hint)
}

// ssoForUser answers a sign-in the policy sends to SSO (enforce_sso) for
// u: the IdP of u's address's organization, the only one whose
// enforce_sso reaches u (tenants.ScopeEnforceSSO). It reports whether it
// found one to send u to.
func (w *Web) ssoForUser(rw http.ResponseWriter, r *http.Request, req *LoginRequest, u *ent.User) bool {
	return w.ssoForAddress(rw, r, req, u, "")
}

// ssoForOrganization answers a signed-in u whom the request's
// organization cannot take — not an active member of the organization it
// names (orgID), or of none when it wants one (orgID "") — by home-realm
// discovery on u's address: a member removed from an organization (or
// one never provisioned) whose address is at its verified domain goes to
// its IdP, as the identifier step would send them, and JIT provisioning
// (tenants.SignInFederated) makes them a member again if the IdP still
// lets them in. A silent request is left to the caller. It reports
// whether it answered.
func (w *Web) ssoForOrganization(rw http.ResponseWriter, r *http.Request, req *LoginRequest, u *ent.User, orgID pulid.ID) bool {
	if silent(req) {
		return false
	}
	return w.ssoForAddress(rw, r, req, u, orgID)
}

// ssoForAddress begins SSO for u at the active connection of the
// organization that verified u's address's domain, when there is one
// (and it is orgID, unless orgID is ""). It reports whether it answered.
func (w *Web) ssoForAddress(rw http.ResponseWriter, r *http.Request, req *LoginRequest, u *ent.User, orgID pulid.ID) bool {
	if w.cfg.SSO == nil {
		return false
	}
	ctx := r.Context()
	d, found, err := w.discoverSSO(ctx, u.Email)
	if err != nil {
		w.fail(rw, r, err)
		return true
	}
	if !found || d.ConnectionID == "" || orgID != "" && d.OrganizationID != orgID {
		return false
	}
	conn, err := w.activeConnection(ctx, d.ConnectionID)
	if err != nil {
		w.fail(rw, r, err)
		return true
	}
	if conn == nil {
		return false
	}
	w.beginSSO(rw, r, req, conn, u.Email)
	return true
}

// sendToIdP begins SSO at d's connection, or, when the organization
// enforces SSO without an active connection, says there is no way in.
// It reports whether it answered the request.
func (w *Web) sendToIdP(rw http.ResponseWriter, r *http.Request, req *LoginRequest, d tenants.Discovery, hint string) bool {
	var conn *ent.Connection
	if d.ConnectionID != "" {
		var err error
		if conn, err = w.activeConnection(r.Context(), d.ConnectionID); err != nil {
			w.fail(rw, r, err)
			return true
		}
	}
	switch {
	case conn != nil:
		w.beginSSO(rw, r, req, conn, hint)
		return true
	case d.EnforceSSO:
		w.renderError(rw, r, http.StatusForbidden, msgSSORequired)
		return true
	}
	// No active connection (discovery's answer may be a few seconds old)
	// and SSO not enforced: the other ways in.
	return false
}

// activeConnection is connection id when it is ACTIVE, else nil.
func (w *Web) activeConnection(ctx context.Context, id pulid.ID) (*ent.Connection, error) {
	conn, err := w.cfg.Client.Connection.Get(sys(ctx), id)
	switch {
	case ent.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, err
	case conn.State != connection.StateACTIVE:
		return nil, nil
	}
	return conn, nil
}

// beginSSO sends the browser to conn's identity provider.
func (w *Web) beginSSO(rw http.ResponseWriter, r *http.Request, req *LoginRequest, conn *ent.Connection, hint string) {
	ctx := r.Context()
	if silent(req) {
		w.failLogin(rw, r, req, "login_required", "the user must sign in at the organization's identity provider")
		return
	}
	connector, ok := w.connector(rw, r, req, conn)
	if !ok {
		return
	}
	err := w.startSSO(rw, r, conn, connector, tenants.NewSSOAttempt{ConnectionID: conn.ID, AuthRequestID: req.ID},
		federation.BeginRequest{LoginHint: hint, ForceAuthn: slices.Contains(req.Prompt, "login") || req.MaxAge != nil && *req.MaxAge == 0})
	var bad *tenants.InputError
	switch {
	case err == nil:
		w.cfg.Logger.InfoContext(ctx, "sso started", "auth_request", req.ID, "connection", conn.ID, "protocol", conn.Protocol)
	case errors.As(err, &bad):
		w.fail(rw, r, err)
	default:
		w.ssoRejected(ctx, r, req, conn, "begin", err.Error(), nil)
		w.renderError(rw, r, http.StatusBadGateway, msgSSOFailed)
	}
}

// startSSO begins an attempt at conn (att, without its Begin) and sends
// the browser on to the IdP's first step: br is sent to the connector
// with conn's callback and, for SAML, the attempt's relay token as
// RelayState; the connector's state stays here, and the browser token
// goes into the SSO cookie. An error (the connector's, or a
// *tenants.InputError) is the caller's to answer. The sign-in (beginSSO)
// and the admin portal's test (beginSSOTest) start this way.
func (w *Web) startSSO(rw http.ResponseWriter, r *http.Request, conn *ent.Connection, connector federation.Connector,
	att tenants.NewSSOAttempt, br federation.BeginRequest) error {
	ep := federation.ConnectionEndpoints(w.cfg.Issuer, conn.ID)
	br.CallbackURL = ep.OIDCRedirectURI
	if conn.Protocol == connection.ProtocolSAML {
		br.CallbackURL = ep.SAMLACS
	}
	var step federation.Step
	att.Begin = func(relay string) ([]byte, error) {
		if conn.Protocol == connection.ProtocolSAML {
			br.RelayState = relay
		}
		var err error
		step, err = connector.Begin(r.Context(), br)
		return step.State, err
	}
	browser, err := w.cfg.Tenants.StartSSOAttempt(r.Context(), att)
	if err != nil {
		return err
	}
	http.SetCookie(rw, w.ssoCookie(browser, int(tenants.SSOAttemptTTL.Seconds())))
	if step.RedirectURL != "" {
		http.Redirect(rw, r, step.RedirectURL, http.StatusSeeOther)
		return nil
	}
	w.renderSSOPost(rw, r, ssoPostPage{Action: step.FormAction, Fields: step.FormFields})
	return nil
}

// getSSOCallback finishes an OIDC sign-in: the browser's cookie names the
// attempt (taken once), the connector checks the answer.
func (w *Web) getSSOCallback(rw http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	conn, ok := w.ssoConnection(rw, r, connection.ProtocolOIDC)
	if !ok {
		return
	}
	http.SetCookie(rw, w.ssoCookie("", -1))
	a, err := w.cfg.Tenants.TakeSSOAttemptByBrowser(ctx, conn.ID, cookieValue(r, w.ssoCk))
	if err != nil {
		w.ssoAttemptGone(rw, r, conn, err)
		return
	}
	req := w.pendingRequest(rw, r, a.AuthRequestID)
	if req == nil {
		return
	}
	connector, ok := w.connector(rw, r, req, conn)
	if !ok {
		return
	}
	id, err := connector.Finish(ctx, r, a.State)
	if w.testAnswer(rw, r, a, conn, id, err) { // a test from the admin portal (portalsso.go)
		return
	}
	if err != nil {
		w.ssoFinishFailed(rw, r, req, conn, err)
		return
	}
	w.finishSSO(rw, r, req, conn, id)
}

// postSAMLACS is the Assertion Consumer Service: a cross-site POST from
// the IdP with SAMLResponse and RelayState. No CSRF check can apply (the
// IdP's page posts it); what binds it is the attempt its RelayState
// names, the request id the response must answer (InResponseTo), and the
// browser check at /complete.
func (w *Web) postSAMLACS(rw http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	conn, ok := w.ssoConnection(rw, r, connection.ProtocolSAML)
	if !ok {
		return
	}
	r.Body = http.MaxBytesReader(rw, r.Body, maxSAMLForm)
	if err := r.ParseForm(); err != nil {
		w.ssoRejected(ctx, r, directRequest(), conn, "malformed", "the posted form could not be read: "+err.Error(), nil)
		w.renderError(rw, r, http.StatusBadRequest, msgSSOFailed)
		return
	}
	connector, ok := w.connector(rw, r, directRequest(), conn)
	if !ok {
		return
	}
	relay := r.PostFormValue("RelayState")
	if relay == "" {
		// IdP-initiated: the connector refuses it unless the connection
		// allows it; then it signs in directly, bound to no request.
		id, err := connector.Finish(ctx, r, nil)
		if err != nil {
			w.ssoFinishFailed(rw, r, directRequest(), conn, err)
			return
		}
		w.finishSSO(rw, r, directRequest(), conn, id)
		return
	}
	a, err := w.cfg.Tenants.TakeSSOAttemptByRelay(ctx, conn.ID, relay)
	if err != nil {
		w.ssoAttemptGone(rw, r, conn, err)
		return
	}
	req := w.pendingRequest(rw, r, a.AuthRequestID)
	if req == nil {
		return
	}
	id, err := connector.Finish(ctx, r, a.State)
	if err != nil && w.testAnswer(rw, r, a, conn, id, err) { // a refused test (portalsso.go)
		return
	}
	if err != nil {
		w.ssoFinishFailed(rw, r, req, conn, err)
		return
	}
	data, err := json.Marshal(id)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	if err := w.cfg.Tenants.KeepSSOIdentity(ctx, a, data); err != nil {
		w.fail(rw, r, err)
		return
	}
	complete := federation.ConnectionEndpoints(w.cfg.Issuer, conn.ID).SAMLComplete
	http.Redirect(rw, r, complete+"?relay="+url.QueryEscape(relay), http.StatusSeeOther)
}

// maxSAMLForm bounds an ACS post (a response with many attributes and
// an encrypted assertion stays far below).
const maxSAMLForm = 1 << 20

// getSAMLComplete takes the identity the ACS kept, for the browser that
// began the attempt only.
func (w *Web) getSAMLComplete(rw http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	conn, ok := w.ssoConnection(rw, r, connection.ProtocolSAML)
	if !ok {
		return
	}
	http.SetCookie(rw, w.ssoCookie("", -1))
	a, err := w.cfg.Tenants.TakeSSOIdentity(ctx, conn.ID, r.URL.Query().Get("relay"), cookieValue(r, w.ssoCk))
	if err != nil {
		w.ssoAttemptGone(rw, r, conn, err)
		return
	}
	var id federation.Identity
	if err := json.Unmarshal(a.Identity, &id); err != nil {
		w.fail(rw, r, fmt.Errorf("read kept sso identity: %w", err))
		return
	}
	if w.testAnswer(rw, r, a, conn, id, nil) { // a test from the admin portal (portalsso.go)
		return
	}
	if req := w.pendingRequest(rw, r, a.AuthRequestID); req != nil {
		w.finishSSO(rw, r, req, conn, id)
	}
}

// getSAMLMetadata publishes a connection's SP metadata, for its IdP's
// administrator (a URL to paste, or a file to upload).
func (w *Web) getSAMLMetadata(rw http.ResponseWriter, r *http.Request) {
	conn, ok := w.ssoConnection(rw, r, connection.ProtocolSAML)
	if !ok {
		return
	}
	md, err := w.cfg.SSO.Metadata(r.Context(), conn)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	rw.Header().Set("Content-Type", "application/samlmetadata+xml")
	_, _ = rw.Write(md)
}

// ssoConnection loads the path's connection of protocol p, answering 404
// for anything else: a connection id of another protocol, or none.
func (w *Web) ssoConnection(rw http.ResponseWriter, r *http.Request, p connection.Protocol) (*ent.Connection, bool) {
	id := pulid.ID(r.PathValue("connection"))
	if w.cfg.SSO == nil || !id.Valid() || id.Prefix() != "conn" {
		http.NotFound(rw, r)
		return nil, false
	}
	conn, err := w.cfg.Client.Connection.Get(sys(r.Context()), id)
	switch {
	case ent.IsNotFound(err) || err == nil && conn.Protocol != p:
		http.NotFound(rw, r)
		return nil, false
	case err != nil:
		w.fail(rw, r, err)
		return nil, false
	}
	return conn, true
}

// finishSSO signs in the person the IdP vouched for.
func (w *Web) finishSSO(rw http.ResponseWriter, r *http.Request, req *LoginRequest, conn *ent.Connection, id federation.Identity) {
	ctx := withOrigin(r.Context(), r)
	in := w.cfg.SSO.SignInInput(conn, id)
	u, _, err := w.cfg.Tenants.SignInFederated(ctx, conn, in)
	var refused *tenants.SSORejectedError
	var bad *tenants.InputError
	switch {
	case errors.As(err, &refused):
		w.recordAttempt(ctx, conn, id, refused.Reason, refused.Detail)
		w.funnel(ctx, req, tenants.FunnelLoginFailedSSO)
		w.renderError(rw, r, http.StatusForbidden, msgSSORefused)
		return
	case errors.As(err, &bad):
		// The IdP sent no usable subject or address: the connection's
		// mapping is wrong, which its administrator sees.
		w.ssoRejected(ctx, r, req, conn, "mapping", bad.Error(), &id)
		w.renderError(rw, r, http.StatusForbidden, msgSSOFailed)
		return
	case err != nil:
		w.fail(rw, r, err)
		return
	}
	w.recordAttempt(ctx, conn, id, "", "")
	// The factor is the connection's sign-in, with what its IdP reported
	// (tenants.UpstreamFactors, as of the IdP's auth time: its methods,
	// which the tokens name, and "mfa" for a multi-factor sign-in there
	// when the connection trusts it); a second factor the policy still
	// asks for is asked here.
	now := w.cfg.Now()
	at := now
	if !id.AuthTime.IsZero() && id.AuthTime.Before(now) {
		at = id.AuthTime
	}
	fs := append([]tenants.Factor{{Method: tenants.FactorSSOPrefix + string(conn.ID), At: now}},
		tenants.UpstreamFactors(conn.TrustUpstreamAmr, id.AMR, at)...)
	s, ok := w.proveFactors(rw, r, req, u, fs)
	if !ok {
		return
	}
	w.cfg.Logger.InfoContext(ctx, "sso sign-in", "auth_request", req.ID, "user", u.ID, "connection", conn.ID, "session", s.ID)
	var org *ent.Organization
	if needsOrganization(req) && (req.RequestedOrganizationID == "" || req.RequestedOrganizationID == string(conn.OrganizationID)) {
		// Signed in through the organization's own IdP: into that
		// organization, without the picker.
		if org, err = w.memberOrganization(ctx, u.ID, conn.OrganizationID); err != nil {
			w.fail(rw, r, err)
			return
		}
	}
	w.proceed(rw, r, req, s, u, org)
}

// connector is conn's connector, or, when it cannot be built (a
// configuration the connection's administrator must fix), the refusal
// recorded and answered.
func (w *Web) connector(rw http.ResponseWriter, r *http.Request, req *LoginRequest, conn *ent.Connection) (federation.Connector, bool) {
	c, err := w.cfg.SSO.Connector(r.Context(), conn)
	if err != nil {
		w.ssoRejected(r.Context(), r, req, conn, "configuration", err.Error(), nil)
		w.renderError(rw, r, http.StatusBadGateway, msgSSOFailed)
		return nil, false
	}
	return c, true
}

// ssoFinishFailed records a connector's refusal of an answer.
func (w *Web) ssoFinishFailed(rw http.ResponseWriter, r *http.Request, req *LoginRequest, conn *ent.Connection, err error) {
	code, reason := federation.RejectionOf(err)
	w.ssoRejected(r.Context(), r, req, conn, code, reason, nil)
	w.funnel(r.Context(), req, tenants.FunnelLoginFailedSSO)
	w.renderError(rw, r, http.StatusUnauthorized, msgSSOFailed)
}

// ssoAttemptGone answers an answer that belongs to no attempt of this
// browser: unknown, expired, answered already, or another browser's.
func (w *Web) ssoAttemptGone(rw http.ResponseWriter, r *http.Request, conn *ent.Connection, err error) {
	if !errors.Is(err, tenants.ErrSSOAttempt) {
		w.fail(rw, r, err)
		return
	}
	w.ssoRejected(r.Context(), r, directRequest(), conn, "attempt_unknown",
		"the answer belongs to no sign-in this browser began here (unknown, expired or already answered)", nil)
	w.renderError(rw, r, http.StatusBadRequest, msgExpired)
}

// ssoRejected logs, audits and records a refused SSO answer.
func (w *Web) ssoRejected(ctx context.Context, r *http.Request, req *LoginRequest, conn *ent.Connection, code, reason string, id *federation.Identity) {
	w.cfg.Logger.InfoContext(ctx, "sso rejected", "auth_request", req.ID, "connection", conn.ID, "code", code, "reason", reason,
		"ip", httpserver.ClientIP(r))
	w.audit(ctx, r, auditEvent{action: actionSSORejected, org: conn.OrganizationID,
		metadata: map[string]any{"connection_id": string(conn.ID), "code": code, "reason": reason, "client_id": req.ClientID}})
	var ident federation.Identity
	if id != nil {
		ident = *id
	}
	w.recordAttempt(ctx, conn, ident, code, reason)
}

// recordAttempt keeps a sign-in attempt in the connection's recent ones.
func (w *Web) recordAttempt(ctx context.Context, conn *ent.Connection, id federation.Identity, code, reason string) {
	if err := w.cfg.Tenants.RecordLoginAttempt(ctx, conn.ID, tenants.LoginAttempt{
		Succeeded: code == "", ErrorCode: code, ErrorReason: reason,
		Subject: id.Subject, Email: id.Email, Attributes: id.Attributes,
	}); err != nil {
		w.cfg.Logger.ErrorContext(ctx, "record sso attempt", "connection", conn.ID, "err", err)
	}
}
