package web

import (
	"context"
	"net/http"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
)

// A request that names its organization (organization:<id> in the OIDC
// request's scope) is signed in on that organization's pages: its name,
// logo and colour (brandOf), and, when it has an ACTIVE connection, a way
// in through its identity provider beside the email field. The button is
// offered rather than taken: enforce_sso reaches only the addresses at the
// organization's verified domains (tenants.ScopeEnforceSSO), which the
// identifier step sends to the IdP itself, so a member at another address
// (a contractor) still signs in with the email field.

// organizationLook gives p the look of req's organization and, when it
// has an active connection, the single sign-on button. A request naming
// no organization, or one that does not exist, keeps the plain page.
func (w *Web) organizationLook(ctx context.Context, req *LoginRequest, p *loginPage) error {
	if req.RequestedOrganizationID == "" {
		return nil
	}
	org, err := w.cfg.Client.Organization.Get(sys(ctx), pulid.ID(req.RequestedOrganizationID))
	switch {
	case ent.IsNotFound(err):
		return nil
	case err != nil:
		return err
	}
	p.Brand = brandOf(org)
	if w.cfg.SSO == nil {
		return nil
	}
	d, found, err := w.cfg.Tenants.DiscoverConnectionForOrganization(ctx, org.ID)
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
