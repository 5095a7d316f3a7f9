package web

import (
	"context"
	"net/http"

	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
)

// A request that names its organization (organization:<id> in the OIDC
// request's scope) whose organization has an ACTIVE connection offers a
// way in through that identity provider beside the email field. The
// button is offered rather than taken: enforce_sso reaches only the
// addresses at the organization's verified domains
// (tenants.ScopeEnforceSSO), which the identifier step sends to the IdP
// itself, so a member at another address (a contractor) still signs in
// with the email field. Before anyone has signed in, the page says
// nothing of the organization but that it has single sign-on: any
// application may name any organization, and its name and look are
// shown only to its members (the consent page).

// organizationSSO gives p the single sign-on button when req names an
// organization with an active connection.
func (w *Web) organizationSSO(ctx context.Context, req *LoginRequest, p *loginPage) error {
	if req.RequestedOrganizationID == "" || w.cfg.SSO == nil {
		return nil
	}
	d, found, err := w.cfg.Tenants.DiscoverConnectionForOrganization(ctx, pulid.ID(req.RequestedOrganizationID))
	if err != nil {
		return err
	}
	p.OrganizationSSO = found && d.ConnectionID != ""
	return nil
}

// postOrganizationSSO is the single sign-on button of a request that
// names its organization: to that organization's active connection, or,
// when it has none any more, back to the sign-in form.
func (w *Web) postOrganizationSSO(rw http.ResponseWriter, r *http.Request) {
	req, ok := w.postedRequest(rw, r)
	if !ok {
		return
	}
	if w.cfg.SSO != nil && req.RequestedOrganizationID != "" {
		d, found, err := w.cfg.Tenants.DiscoverConnectionForOrganization(r.Context(), pulid.ID(req.RequestedOrganizationID))
		if err != nil {
			w.fail(rw, r, err)
			return
		}
		if found && d.ConnectionID != "" && w.sendToIdP(rw, r, req, d, req.LoginHint) {
			return
		}
	}
	w.signInForm(rw, r, req, "")
}
