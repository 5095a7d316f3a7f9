package web

import (
	"net/http"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
)

// The consent step, for third-party applications.

func (w *Web) postConsent(rw http.ResponseWriter, r *http.Request) {
	req, s, u, ok := w.postedStep(rw, r)
	if !ok {
		return
	}
	ctx := r.Context()
	org := pulid.ID(r.PostFormValue("organization"))
	if needsOrganization(req) {
		// The organization the consent page named: the application's, when
		// it named one, and one of the user's active memberships.
		member := req.RequestedOrganizationID == "" || string(org) == req.RequestedOrganizationID
		if member {
			var err error
			if member, err = w.cfg.Tenants.IsActiveMember(ctx, u.ID, org); err != nil {
				w.fail(rw, r, err)
				return
			}
		}
		if !member {
			w.renderError(rw, r, http.StatusForbidden, msgNotMember)
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
	granted := w.event(r, auditEvent{action: actionConsentGrant, user: u.ID, org: org, metadata: meta})
	if err := w.cfg.Tenants.GrantConsent(ctx, u.ID, req.ClientID, req.Scopes, &granted); err != nil {
		w.fail(rw, r, err)
		return
	}
	w.complete(rw, r, req, s, u, org)
}

// askConsent shows the consent screen, in the look of org when there is
// one.
func (w *Web) askConsent(rw http.ResponseWriter, r *http.Request, req *LoginRequest, s *ent.Session, u *ent.User, org *ent.Organization) {
	p := consentPage{
		AuthRequest: req.ID, CSRF: csrfField(w.csrfToken(rw, r), req.ID), Ticket: ticket(s, req.ID),
		ClientName: clientName(req), UserEmail: u.Email, UserName: u.Name, Scopes: req.Scopes,
	}
	if org != nil {
		p.Organization, p.Brand = string(org.ID), brandOf(org)
	}
	w.renderConsent(rw, r, http.StatusOK, p)
}
