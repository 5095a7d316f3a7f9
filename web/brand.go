package web

import (
	"context"
	"html/template"
	"net/url"
	"regexp"
	"strings"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/membership"
	"github.com/gatehouse-id/gatehouse/ent/organization"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
)

// brandOf returns what of o's look may go into a page. The values were
// validated when they were stored; they are checked again here because a
// page is the wrong place to trust that.
func brandOf(o *ent.Organization) *brand {
	b := &brand{Name: o.Name}
	if safeLogoURL(o.LogoURL) {
		b.LogoURL = o.LogoURL
	}
	if safeColor(o.PrimaryColor) {
		b.Color = template.CSS(o.PrimaryColor) // #rgb or #rrggbb only, see safeColor
	}
	return b
}

// safeLogoURL accepts absolute https URLs with a host and no credentials.
func safeLogoURL(s string) bool {
	if s == "" || len(s) > 2048 || strings.ContainsAny(s, " \t\r\n\"'<>\\") {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "https" && u.Host != "" && u.User == nil
}

var hexColor = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// safeColor accepts #rgb and #rrggbb.
func safeColor(s string) bool { return hexColor.MatchString(s) }

// memberBrand is the look of the organization req names, for the pages
// shown to userID once they have proven who they are (the second factor,
// its enrollment, the recovery codes, the profile step), when userID is
// an active member of it; otherwise nil. Before that, and to anyone
// else, a sign-in's pages say nothing of the organization: any
// application may name any organization (TestConsentBrandNeedsMembership).
// The look is a nicety: a failure to read it leaves the page plain.
func (w *Web) memberBrand(ctx context.Context, req *LoginRequest, userID pulid.ID) *brand {
	if req.RequestedOrganizationID == "" {
		return nil
	}
	o, err := w.cfg.Client.Organization.Query().Where(organization.ID(pulid.ID(req.RequestedOrganizationID)),
		organization.HasMembershipsWith(membership.UserID(userID), membership.StatusEQ(membership.StatusACTIVE))).
		Only(sys(ctx))
	if err != nil {
		return nil
	}
	return brandOf(o)
}
