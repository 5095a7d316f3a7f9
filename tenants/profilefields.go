package tenants

import (
	"context"
	"slices"
	"strings"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// Progressive profile: sign-up asks for an email address (and a password,
// if the person wants one) and nothing else. An application that needs
// more names it in its profile fields, and a user who lacks one is asked
// for it at their next sign-in to that application, after authentication
// and before the application gets its tokens.

// Profile fields an application may require (Application.profile_fields),
// named as the OIDC Core §5.1 claims they fill.
const (
	ProfileName       = "name"
	ProfileGivenName  = "given_name"
	ProfileFamilyName = "family_name"
)

// ProfileFields lists every profile field, in the order a form asks them.
var ProfileFields = []string{ProfileName, ProfileGivenName, ProfileFamilyName}

// checkProfileFields refuses a field that is not one of ProfileFields.
func checkProfileFields(field string, fields []string) error {
	for _, f := range fields {
		if !slices.Contains(ProfileFields, f) {
			return invalid(field, "%q is not a profile field (one of %s)", f, strings.Join(ProfileFields, ", "))
		}
	}
	return nil
}

// MissingProfile lists the fields of wanted that u has not filled, in
// ProfileFields order: the one rule for whether a sign-in must ask for
// its user's profile before the application gets its tokens.
func MissingProfile(u *ent.User, wanted []string) []string {
	var missing []string
	for _, f := range ProfileFields {
		if !slices.Contains(wanted, f) {
			continue
		}
		var v string
		switch f {
		case ProfileName:
			v = u.Name
		case ProfileGivenName:
			v = u.GivenName
		case ProfileFamilyName:
			v = u.FamilyName
		}
		if strings.TrimSpace(v) == "" {
			missing = append(missing, f)
		}
	}
	return missing
}

// ProfileUpdate is what a user fills in about themselves; nil fields stay.
type ProfileUpdate struct {
	Name, GivenName, FamilyName *string
}

// UpdateOwnProfile sets the fields of in that are not nil on the user's
// own profile, with a user.update event: the account page and the
// sign-in's profile step (MissingProfile). A field an application
// requires may not be set to blank: required names the fields that must
// be non-blank after the update.
func (s *Service) UpdateOwnProfile(ctx context.Context, userID pulid.ID, in ProfileUpdate, required []string) (*ent.User, error) {
	ctx = viewer.SystemContext(ctx)
	trim := func(p *string) *string {
		if p == nil {
			return nil
		}
		t := strings.TrimSpace(*p)
		return &t
	}
	in = ProfileUpdate{Name: trim(in.Name), GivenName: trim(in.GivenName), FamilyName: trim(in.FamilyName)}
	if err := (profile{name: in.Name, givenName: in.GivenName, familyName: in.FamilyName}).validate(); err != nil {
		return nil, err
	}
	// The fields given, each as the claim it fills (the audit event names
	// them so) and the input it came from (errors name that).
	var changed []string
	for _, f := range []struct {
		claim, input string
		v            *string
	}{{ProfileName, "name", in.Name}, {ProfileGivenName, "givenName", in.GivenName}, {ProfileFamilyName, "familyName", in.FamilyName}} {
		if slices.Contains(required, f.claim) && (f.v == nil || *f.v == "") {
			return nil, invalid(f.input, "is required")
		}
		if f.v != nil {
			changed = append(changed, f.claim)
		}
	}
	var u *ent.User
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		upd := tx.User.UpdateOneID(userID).SetNillableName(in.Name).
			SetNillableGivenName(in.GivenName).SetNillableFamilyName(in.FamilyName)
		var err error
		if u, err = upd.Save(ctx); err != nil {
			return translate(err, "user")
		}
		return WriteAudit(ctx, tx.AuditEvent, s.now(), Event{Action: "user.update", Actor: string(userID), ActorType: "user",
			TargetType: ent.TypeUser, TargetID: string(userID), Metadata: map[string]any{"fields": changed}})
	})
	return unwrap(u, err)
}
