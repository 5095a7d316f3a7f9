package tenants

import (
	"context"
	"slices"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/organization"
	"github.com/gatehouse-id/gatehouse/ent/organizationpolicy"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/tenants/authz"
)

// CreateOrganizationInput creates an organization.
type CreateOrganizationInput struct {
	Name         string
	Slug         string
	LogoURL      *string
	PrimaryColor *string
	Metadata     map[string]any
}

func (in CreateOrganizationInput) validate() error {
	return checkOrganizationFields(&in.Name, &in.Slug, in.LogoURL, in.PrimaryColor, in.Metadata)
}

// checkOrganizationFields validates the fields that are set (non-nil).
func checkOrganizationFields(name, slug, logoURL, primaryColor *string, metadata map[string]any) error {
	if name != nil {
		if err := checkName("name", *name, 200); err != nil {
			return err
		}
	}
	if slug != nil {
		if err := checkSlug("slug", *slug); err != nil {
			return err
		}
	}
	if err := checkHTTPSURL("logoURL", logoURL); err != nil {
		return err
	}
	if err := checkColor("primaryColor", primaryColor); err != nil {
		return err
	}
	return checkMetadata("metadata", metadata)
}

// CreateOrganization creates an organization with its built-in roles and a
// default policy.
func (s *Service) CreateOrganization(ctx context.Context, in CreateOrganizationInput) (*ent.Organization, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	var org *ent.Organization
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		var err error
		org, err = tx.Organization.Create().
			SetName(in.Name).
			SetSlug(in.Slug).
			SetNillableLogoURL(in.LogoURL).
			SetNillablePrimaryColor(in.PrimaryColor).
			SetMetadata(in.Metadata).
			Save(ctx)
		if err != nil {
			return translateWrite(err, "organization", "slug", "is already taken")
		}
		roles := make([]*ent.RoleCreate, len(authz.BuiltinRoles))
		for i, r := range authz.BuiltinRoles {
			roles[i] = tx.Role.Create().SetOrganizationID(org.ID).SetKey(r.Key).
				SetName(r.Name).SetPermissions(r.Permissions).SetBuiltin(true)
		}
		if err := tx.Role.CreateBulk(roles...).Exec(ctx); err != nil {
			return translate(err, "role")
		}
		if err := tx.OrganizationPolicy.Create().SetOrganizationID(org.ID).Exec(ctx); err != nil {
			return translate(err, "policy")
		}
		return s.audit(ctx, tx, event{action: "organization.create", org: org.ID,
			targetType: "Organization", targetID: org.ID, metadata: map[string]any{"slug": org.Slug}})
	})
	return unwrap(org, err)
}

// UpdateOrganizationInput changes the fields that are set.
type UpdateOrganizationInput struct {
	ID           pulid.ID
	Name         *string
	Slug         *string
	LogoURL      *string
	PrimaryColor *string
	Metadata     map[string]any
}

func (in UpdateOrganizationInput) validate() error {
	return checkOrganizationFields(in.Name, in.Slug, in.LogoURL, in.PrimaryColor, in.Metadata)
}

// UpdateOrganization changes an organization. An empty logoURL or
// primaryColor clears it.
func (s *Service) UpdateOrganization(ctx context.Context, in UpdateOrganizationInput) (*ent.Organization, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	if err := require(ctx, in.ID, authz.OrganizationUpdate); err != nil {
		return nil, err
	}
	var org *ent.Organization
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		u := tx.Organization.UpdateOneID(in.ID).SetNillableName(in.Name).SetNillableSlug(in.Slug)
		changed := changedFields(map[string]bool{"name": in.Name != nil, "slug": in.Slug != nil,
			"logoURL": in.LogoURL != nil, "primaryColor": in.PrimaryColor != nil, "metadata": in.Metadata != nil})
		switch {
		case in.LogoURL == nil:
		case *in.LogoURL == "":
			u.ClearLogoURL()
		default:
			u.SetLogoURL(*in.LogoURL)
		}
		switch {
		case in.PrimaryColor == nil:
		case *in.PrimaryColor == "":
			u.ClearPrimaryColor()
		default:
			u.SetPrimaryColor(*in.PrimaryColor)
		}
		if in.Metadata != nil {
			u.SetMetadata(in.Metadata)
		}
		var err error
		org, err = u.Save(ctx)
		if err != nil {
			return translateWrite(err, "organization", "slug", "is already taken")
		}
		return s.audit(ctx, tx, event{action: "organization.update", org: org.ID,
			targetType: "Organization", targetID: org.ID, metadata: map[string]any{"fields": changed}})
	})
	return unwrap(org, err)
}

// DeleteOrganization deletes an organization and, by cascade, its
// memberships, roles, domains, connections, policy and API keys. Its audit
// events remain.
func (s *Service) DeleteOrganization(ctx context.Context, id pulid.ID) error {
	return s.inTx(ctx, func(tx *ent.Tx) error {
		org, err := tx.Organization.Get(ctx, id)
		if err != nil {
			return translate(err, "organization")
		}
		if err := require(ctx, org.ID, authz.OrganizationDelete); err != nil {
			return err
		}
		if err := tx.Organization.DeleteOne(org).Exec(ctx); err != nil {
			return translate(err, "organization")
		}
		return s.audit(ctx, tx, event{action: "organization.delete", org: org.ID,
			targetType: "Organization", targetID: org.ID, metadata: map[string]any{"slug": org.Slug}})
	})
}

// LoginMethod is a way to sign in that a policy can allow.
type LoginMethod string

// Login methods.
const (
	LoginPassword  LoginMethod = "PASSWORD"
	LoginPasskey   LoginMethod = "PASSKEY"
	LoginMagicLink LoginMethod = "MAGIC_LINK"
	LoginSSO       LoginMethod = "SSO"
)

// UpdateOrganizationPolicyInput changes the fields of a policy that are set.
type UpdateOrganizationPolicyInput struct {
	OrganizationID                 pulid.ID
	MfaRequired                    *bool
	AllowedLoginMethods            []LoginMethod
	SessionAbsoluteLifetimeSeconds *int
	SessionIdleLifetimeSeconds     *int
	PasswordMinLength              *int
	EnforceSSO                     *bool
}

func (in UpdateOrganizationPolicyInput) validate() error {
	if in.AllowedLoginMethods != nil && len(in.AllowedLoginMethods) == 0 {
		return invalid("allowedLoginMethods", "must allow at least one method")
	}
	if v := in.SessionAbsoluteLifetimeSeconds; v != nil && (*v < 300 || *v > 90*24*3600) {
		return invalid("sessionAbsoluteLifetimeSeconds", "must be between 300 (5 minutes) and 7776000 (90 days)")
	}
	if v := in.SessionIdleLifetimeSeconds; v != nil && (*v < 60 || *v > 90*24*3600) {
		return invalid("sessionIdleLifetimeSeconds", "must be between 60 and 7776000 (90 days)")
	}
	if v := in.PasswordMinLength; v != nil && (*v < 8 || *v > 128) {
		return invalid("passwordMinLength", "must be between 8 and 128")
	}
	return nil
}

// UpdateOrganizationPolicy changes an organization's sign-in policy.
func (s *Service) UpdateOrganizationPolicy(ctx context.Context, in UpdateOrganizationPolicyInput) (*ent.OrganizationPolicy, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	if err := require(ctx, in.OrganizationID, authz.PolicyManage); err != nil {
		return nil, err
	}
	var p *ent.OrganizationPolicy
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		var err error
		p, err = tx.OrganizationPolicy.Query().
			Where(organizationpolicy.OrganizationID(in.OrganizationID)).Only(ctx)
		if err != nil {
			return translate(err, "organization")
		}
		abs, idle := p.SessionAbsoluteLifetimeSeconds, p.SessionIdleLifetimeSeconds
		if in.SessionAbsoluteLifetimeSeconds != nil {
			abs = *in.SessionAbsoluteLifetimeSeconds
		}
		if in.SessionIdleLifetimeSeconds != nil {
			idle = *in.SessionIdleLifetimeSeconds
		}
		if idle > abs {
			return invalid("sessionIdleLifetimeSeconds", "must not exceed sessionAbsoluteLifetimeSeconds (%d)", abs)
		}
		u := p.Update().
			SetNillableMfaRequired(in.MfaRequired).
			SetNillableEnforceSSO(in.EnforceSSO).
			SetNillablePasswordMinLength(in.PasswordMinLength).
			SetSessionAbsoluteLifetimeSeconds(abs).
			SetSessionIdleLifetimeSeconds(idle)
		if in.AllowedLoginMethods != nil {
			u.SetAllowedLoginMethods(uniqueStrings(in.AllowedLoginMethods))
		}
		if p, err = u.Save(ctx); err != nil {
			return translate(err, "policy")
		}
		return s.audit(ctx, tx, event{action: "policy.update", org: in.OrganizationID,
			targetType: "OrganizationPolicy", targetID: p.ID})
	})
	return unwrap(p, err)
}

// OrganizationBySlug returns the organization with slug, if the viewer may see it.
func (s *Service) OrganizationBySlug(ctx context.Context, slug string) (*ent.Organization, error) {
	org, err := s.client.Organization.Query().Where(organization.Slug(slug)).Only(ctx)
	return org, translate(err, "organization")
}

// changedFields lists, sorted, the input fields a change set.
func changedFields(set map[string]bool) []string {
	var out []string
	for f, ok := range set {
		if ok {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return out
}

func uniqueStrings[T ~string](in []T) []string {
	seen := make(map[T]bool, len(in))
	out := make([]string, 0, len(in))
	for _, v := range in {
		if !seen[v] {
			seen[v] = true
			out = append(out, string(v))
		}
	}
	return out
}
