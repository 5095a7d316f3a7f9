package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/internal/httpserver"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// The admin portal (tenants/adminportal.go): a customer's IT admin opens
// a link ({issuer}/portal/{token}), confirms with one button (the POST
// spends the link, so a mail or chat scanner that fetches it spends
// nothing), and gets a portal session cookie. The portal page is static
// markup and static/portal.js, which talks to the public GraphQL API
// (/graphql accepts the cookie with the X-Gatehouse-Portal header from
// this origin). A test sign-in (POST /portal/test) begins an SSO attempt
// flagged as a test at a DRAFT or INACTIVE connection of the session's
// organization; its answer is verified and recorded and signs no one in
// (portal_test.go).

const (
	portalPath = "/portal"
	// portalLinkCSRFSubject binds the confirm form to portal links.
	portalLinkCSRFSubject = "portal-link"

	pagePortalLink   = "portal-link"
	pagePortal       = "portal"
	pagePortalResult = "portal-result"

	msgPortalLink    = "page.error.portal_link"
	msgPortalSession = "page.error.portal_session"

	actionPortalLinkRefused = "portal.link_refused"
)

// portalLinkPage is the one click between opening a portal link and
// spending it.
type portalLinkPage struct {
	layout
	CSRF   string
	Action string
}

// portalPage is the portal itself; portal.js drives its steps.
type portalPage struct {
	layout
	Organization string
	Intent       string
	Issuer       string
	ReturnURL    string
	Providers    []portalProvider
	// Said are the catalog keys of what the API answers in codes
	// (portalSaid), for portal.js to say in the page's language.
	Said []string
	// Resume is the DRAFT connection SSO setup takes up
	// (tenants.PortalResumeConnection), empty to start afresh.
	Resume string
}

// portalSaid are the catalog keys portal.js says for the API's codes:
// "page.portal." + kind + "." + the code in lower case, where kind is
// state (Connection.state), dns (VerifyDomainPayload.failureCode) or
// error (extensions.code; with "." + extensions.field first, where the
// page has words for that field).
var portalSaid = []string{
	"page.portal.state.draft", "page.portal.state.active", "page.portal.state.inactive",
	"page.portal.dns.no_record", "page.portal.dns.wrong_token", "page.portal.dns.lookup_failed",
	"page.portal.error.bad_user_input", "page.portal.error.bad_user_input.domain",
	"page.portal.error.conflict", "page.portal.error.conflict.domain",
	"page.portal.error.forbidden", "page.portal.error.not_found", "page.portal.error.unauthenticated",
	"page.portal.error.rate_limited", "page.portal.error.internal_server_error",
	"page.portal.error.details", "page.portal.resumed",
}

// portalProvider is an identity provider the SSO steps know: its preset
// and protocol, and the catalog key prefix of its instructions.
type portalProvider struct {
	Key      string // page.portal.idp.<Key>…
	Preset   string // connection.Preset
	Protocol string // SAML or OIDC
	Mapping  map[string]string
}

// portalProviders are the IdPs the portal offers, in order.
var portalProviders = []portalProvider{
	{Key: "okta", Preset: "OKTA", Protocol: "SAML"},
	{Key: "entra_id", Preset: "ENTRA_ID", Protocol: "SAML"},
	{Key: "google_workspace", Preset: "GOOGLE_WORKSPACE", Protocol: "SAML"},
	{Key: "adfs", Preset: "ADFS", Protocol: "SAML"},
	{Key: "onelogin", Preset: "ONELOGIN", Protocol: "SAML"},
	{Key: "jumpcloud", Preset: "JUMPCLOUD", Protocol: "SAML"},
	{Key: "generic_saml", Preset: "GENERIC", Protocol: "SAML"},
	{Key: "generic_oidc", Preset: "GENERIC", Protocol: "OIDC"},
}

// PresetMappings is an optional ability of Config.SSO: the attribute
// names each preset reads by default (federation/saml.Presets), by
// protocol and preset ("SAML", "OKTA"), for the portal to show.
type PresetMappings interface {
	PresetMapping(protocol, preset string) map[string]string
}

func (w *Web) portalCookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: tenants.PortalCookieName(w.secure), Value: value, Path: "/", MaxAge: maxAge,
		Secure: w.secure, HttpOnly: true, SameSite: http.SameSiteStrictMode}
}

// portalSession is the request's live portal session. Without one it
// answers itself (401, or the failure) and returns nil.
func (w *Web) portalSession(rw http.ResponseWriter, r *http.Request) *tenants.PortalSession {
	ps, err := w.cfg.Tenants.PortalSessionFor(r.Context(), cookieValue(r, tenants.PortalCookieName(w.secure)))
	switch {
	case errors.Is(err, tenants.ErrUnauthenticated):
		w.renderError(rw, r, http.StatusUnauthorized, msgPortalSession)
		return nil
	case err != nil:
		w.fail(rw, r, err)
		return nil
	}
	return ps
}

// getPortalLink shows the button that spends a portal link.
func (w *Web) getPortalLink(rw http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	if token == "" || len(token) > 128 {
		w.renderError(rw, r, http.StatusBadRequest, msgPortalLink)
		return
	}
	w.render(rw, r, http.StatusOK, pagePortalLink, "page.title.portal", &portalLinkPage{
		CSRF: csrfField(w.csrfToken(rw, r), portalLinkCSRFSubject), Action: portalPath + "/" + url.PathEscape(token)})
}

// postPortalLink spends a portal link and starts the portal session.
func (w *Web) postPortalLink(rw http.ResponseWriter, r *http.Request) {
	if !w.linkFormFor(rw, r, portalLinkCSRFSubject) {
		return
	}
	ctx := r.Context()
	session, ps, err := w.cfg.Tenants.RedeemAdminPortalLink(withOrigin(ctx, r), r.PathValue("token"))
	switch {
	case errors.Is(err, tenants.ErrUnauthenticated):
		w.cfg.Logger.InfoContext(ctx, "portal link refused", "ip", httpserver.ClientIP(r))
		w.audit(ctx, r, auditEvent{action: actionPortalLinkRefused, metadata: map[string]any{"reason": "unknown_expired_or_used"}})
		w.renderError(rw, r, http.StatusUnauthorized, msgPortalLink)
		return
	case err != nil:
		w.fail(rw, r, err)
		return
	}
	http.SetCookie(rw, w.portalCookie(session, int(tenants.PortalSessionLifetime.Seconds())))
	w.cfg.Logger.InfoContext(ctx, "portal session started", "organization", ps.OrganizationID, "intent", ps.Intent)
	http.Redirect(rw, r, portalPath, http.StatusSeeOther)
}

// getPortal shows the portal's steps for the session's intent.
func (w *Web) getPortal(rw http.ResponseWriter, r *http.Request) {
	ps := w.portalSession(rw, r)
	if ps == nil {
		return
	}
	p := &portalPage{Organization: string(ps.OrganizationID), Intent: string(ps.Intent),
		Issuer: strings.TrimRight(w.cfg.Issuer, "/"), ReturnURL: ps.ReturnURL, Said: portalSaid}
	presets, _ := w.cfg.SSO.(PresetMappings)
	for _, pr := range portalProviders {
		if presets != nil {
			pr.Mapping = presets.PresetMapping(pr.Protocol, pr.Preset)
		}
		p.Providers = append(p.Providers, pr)
	}
	resume, err := w.cfg.Tenants.PortalResumeConnection(r.Context(), ps)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	if resume != nil {
		p.Resume = string(resume.ID)
	}
	w.render(rw, r, http.StatusOK, pagePortal, portalTitle(ps.Intent), p)
}

// portalTitle is the catalog key of the portal's title for intent.
func portalTitle(intent tenants.PortalIntent) string {
	switch intent {
	case tenants.PortalIntentDomainVerification:
		return "page.title.portal_domain"
	case tenants.PortalIntentSSO:
		return "page.title.portal_sso"
	}
	return "page.title.portal"
}

// postPortalTest begins a test sign-in at one of the session's
// organization's connections, in the tab the portal opened for it.
func (w *Web) postPortalTest(rw http.ResponseWriter, r *http.Request) {
	if w.cfg.SSO == nil {
		http.NotFound(rw, r)
		return
	}
	if !w.parseForm(rw, r) {
		return
	}
	ctx := r.Context()
	if !w.sameOrigin(r) {
		w.renderError(rw, r, http.StatusForbidden, msgFormExpired)
		return
	}
	ps := w.portalSession(rw, r)
	if ps == nil {
		return
	}
	id := pulid.ID(r.PostFormValue("connection"))
	if !id.Valid() {
		w.renderError(rw, r, http.StatusNotFound, msgPortalTestUnavailable)
		return
	}
	conn, err := w.cfg.Tenants.PortalTestConnection(ctx, ps, id)
	if err != nil {
		w.cfg.Logger.InfoContext(ctx, "portal test refused", "connection", id, "portal_session", ps.ID, "err", err)
		w.renderError(rw, r, http.StatusNotFound, msgPortalTestUnavailable)
		return
	}
	w.beginSSOTest(rw, r, ps, conn)
}

// sameOrigin reports whether r comes from the issuer's own pages: its
// Origin is the issuer's, or, where the browser sends "Origin: null" (a
// form post from a page whose referrer policy is no-referrer, as every
// hosted page's is), its Fetch Metadata says same-origin (Sec-Fetch-Site,
// which no page's script can set). A request with neither is refused.
func (w *Web) sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		return r.Header.Get("Sec-Fetch-Site") == "same-origin"
	}
	return httpserver.SameOrigin(origin, w.issuer)
}
