package web

// The organization step: the picker, for requests that want an
// organization of the user's choice.

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/organization"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/tenants"
)

func (w *Web) postOrganization(rw http.ResponseWriter, r *http.Request) {
	req, s, u, ok := w.postedChoice(rw, r)
	if !ok {
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

func (w *Web) pickOrganization(rw http.ResponseWriter, r *http.Request, req *LoginRequest, s *ent.Session, orgs []*ent.Organization, status int, msg string) {
	p := organizationPage{
		AuthRequest: req.ID, CSRF: csrfField(w.csrfToken(rw, r), req.ID), Ticket: ticket(s, req.ID),
		ClientName: clientName(req), Error: say(msg),
	}
	for _, o := range orgs {
		c := organizationChoice{ID: string(o.ID), Name: o.Name, Slug: o.Slug}
		if safeLogoURL(o.LogoURL) {
			c.LogoURL = o.LogoURL
		}
		p.Organizations = append(p.Organizations, c)
	}
	w.renderOrganization(rw, r, status, p)
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
		Where(tenants.OrganizationsOfActiveMember(userID)).
		Order(ent.Asc(organization.FieldName), ent.Asc(organization.FieldID)).
		Limit(500).
		All(sys(ctx))
	if err != nil {
		return nil, fmt.Errorf("list organizations: %w", err)
	}
	return orgs, nil
}

// memberOrganization is organization orgID when userID is an active member
// of it, otherwise nil.
func (w *Web) memberOrganization(ctx context.Context, userID, orgID pulid.ID) (*ent.Organization, error) {
	org, err := w.cfg.Client.Organization.Query().
		Where(organization.ID(orgID), tenants.OrganizationsOfActiveMember(userID)).
		Only(sys(ctx))
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find organization: %w", err)
	}
	return org, nil
}
