package provider

import (
	"context"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/text/language"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
)

// setUserinfo loads the user and maps it to claims (userinfoFromUser).
func (p *Provider) setUserinfo(ctx context.Context, ui *oidc.UserInfo, userID string, scopes []string) error {
	u, err := p.db.User.Get(systemCtx(ctx), pulid.ID(userID))
	if ent.IsNotFound(err) {
		return oidc.ErrInvalidRequest().WithDescription("unknown subject")
	}
	if err != nil {
		return p.serverError(ctx, "load user", err)
	}
	userinfoFromUser(ui, u, scopes)
	return nil
}

// userinfoFromUser maps the user to standard claims by scope (OIDC Core
// §5.4): profile → name, given_name, family_name, locale, picture,
// updated_at; email → email, email_verified. sub is always set.
func userinfoFromUser(ui *oidc.UserInfo, u *ent.User, scopes []string) {
	ui.Subject = string(u.ID)
	for _, s := range scopes {
		switch s {
		case oidc.ScopeProfile:
			ui.Name, ui.GivenName, ui.FamilyName, ui.Picture = u.Name, u.GivenName, u.FamilyName, u.Picture
			if u.Locale != "" {
				if tag, err := language.Parse(u.Locale); err == nil {
					ui.Locale = oidc.NewLocale(tag)
				}
			}
			ui.UpdatedAt = oidc.FromTime(u.UpdatedAt)
		case oidc.ScopeEmail:
			ui.Email, ui.EmailVerified = u.Email, oidc.Bool(u.EmailVerified)
		}
	}
}

// wantsOrgClaims: organization claims go only to requests that asked for
// them with an organization scope.
func wantsOrgClaims(scopes []string) bool {
	_, wants := requestedOrganization(scopes)
	return wants
}

// appendRequestClaims puts sid, acr and the organization claims into an
// ID token or userinfo answer.
func appendRequestClaims(ui *oidc.UserInfo, sid pulid.ID, acr string, org *organizationClaims) {
	if sid != "" {
		ui.AppendClaims("sid", string(sid))
	}
	if acr != "" {
		ui.AppendClaims("acr", acr)
	}
	if org != nil {
		ui.AppendClaims("org_id", org.OrgID)
		ui.AppendClaims("org_slug", org.OrgSlug)
		ui.AppendClaims("org_roles", org.OrgRoles)
		ui.AppendClaims("permissions", org.Permissions)
	}
}
