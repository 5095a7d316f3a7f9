package tenants

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/grant"
	"github.com/gatehouse-id/gatehouse/ent/membership"
	"github.com/gatehouse-id/gatehouse/ent/organization"
	"github.com/gatehouse-id/gatehouse/ent/organizationpolicy"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/ent/session"
	"github.com/gatehouse-id/gatehouse/ent/user"
	"github.com/gatehouse-id/gatehouse/internal/password"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// CreateUserInput creates a user. A viewer scoped to organizations must name
// one of them in OrganizationID: the user joins it in the same transaction,
// with Roles (default: member).
type CreateUserInput struct {
	Email          string
	EmailVerified  *bool
	Name           *string
	GivenName      *string
	FamilyName     *string
	Locale         *string
	Picture        *string
	Metadata       map[string]any
	OrganizationID *pulid.ID
	Roles          []string
	// Password, when set, lets the user sign in with email and password.
	Password *string
}

type profile struct {
	name, givenName, familyName, locale, picture *string
	metadata                                     map[string]any
}

func (p profile) validate() error {
	for _, c := range []struct {
		field string
		v     *string
		max   int
	}{{"name", p.name, 200}, {"givenName", p.givenName, 100}, {"familyName", p.familyName, 100}} {
		if err := checkOptionalText(c.field, c.v, c.max); err != nil {
			return err
		}
	}
	if err := checkLocale("locale", p.locale); err != nil {
		return err
	}
	if err := checkHTTPSURL("picture", p.picture); err != nil {
		return err
	}
	return checkMetadata("metadata", p.metadata)
}

// CreateUser creates a user, and its membership when OrganizationID is set.
func (s *Service) CreateUser(ctx context.Context, in CreateUserInput) (*ent.User, error) {
	email, err := NormalizeEmail("email", in.Email)
	if err != nil {
		return nil, err
	}
	if err := (profile{in.Name, in.GivenName, in.FamilyName, in.Locale, in.Picture, in.Metadata}).validate(); err != nil {
		return nil, err
	}
	if v := viewer.FromContext(ctx); v != nil && !v.Unrestricted() && in.OrganizationID == nil {
		return nil, invalid("organizationID", "is required for a key scoped to an organization")
	}
	var pw *hashedPassword
	if in.Password != nil {
		if pw, err = s.hashPassword(*in.Password); err != nil {
			return nil, err
		}
	}
	var u *ent.User
	err = s.inTx(ctx, func(tx *ent.Tx) error {
		var org *ent.Organization
		if in.OrganizationID != nil {
			if org, err = tx.Organization.Get(ctx, *in.OrganizationID); err != nil {
				return translate(err, "organization")
			}
		}
		c := tx.User.Create()
		if pw != nil {
			hash, err := s.checkPassword(ctx, tx, pw, orgIDOf(org), "")
			if err != nil {
				return err
			}
			c.SetPasswordHash(hash)
		}
		u, err = c.
			SetEmail(email).
			SetNillableEmailVerified(in.EmailVerified).
			SetNillableName(in.Name).
			SetNillableGivenName(in.GivenName).
			SetNillableFamilyName(in.FamilyName).
			SetNillableLocale(in.Locale).
			SetNillablePicture(in.Picture).
			SetMetadata(in.Metadata).
			Save(ctx)
		if err != nil {
			return translateWrite(err, "user", "email", "is already registered")
		}
		if err := s.audit(ctx, tx, event{action: "user.create", targetType: "User", targetID: u.ID,
			org: orgIDOf(org)}); err != nil {
			return err
		}
		if org == nil {
			return nil
		}
		_, err = s.addMember(ctx, tx, org.ID, u.ID, in.Roles, nil)
		return err
	})
	return unwrap(u, err)
}

func orgIDOf(o *ent.Organization) pulid.ID {
	if o == nil {
		return ""
	}
	return o.ID
}

// UpdateUserInput changes the fields that are set; an empty string clears
// an optional field.
type UpdateUserInput struct {
	ID            pulid.ID
	Email         *string
	EmailVerified *bool
	Name          *string
	GivenName     *string
	FamilyName    *string
	Locale        *string
	Picture       *string
	Status        *user.Status
	Metadata      map[string]any
}

// UpdateUser changes a user. A viewer scoped to organizations may change
// only users all of whose memberships are in its organizations.
func (s *Service) UpdateUser(ctx context.Context, in UpdateUserInput) (*ent.User, error) {
	if err := (profile{in.Name, in.GivenName, in.FamilyName, in.Locale, in.Picture, in.Metadata}).validate(); err != nil {
		return nil, err
	}
	var email *string
	if in.Email != nil {
		e, err := NormalizeEmail("email", *in.Email)
		if err != nil {
			return nil, err
		}
		email = &e
	}
	if in.Status != nil {
		if err := user.StatusValidator(*in.Status); err != nil {
			return nil, invalid("status", "must be ACTIVE or DISABLED")
		}
	}
	var u *ent.User
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		up := tx.User.UpdateOneID(in.ID).
			SetNillableEmail(email).
			SetNillableEmailVerified(in.EmailVerified).
			SetNillableStatus(in.Status)
		if email != nil && in.EmailVerified == nil {
			up.SetEmailVerified(false) // a new address is unverified until proven
		}
		setOrClear(in.Name, up.SetName, up.ClearName)
		setOrClear(in.GivenName, up.SetGivenName, up.ClearGivenName)
		setOrClear(in.FamilyName, up.SetFamilyName, up.ClearFamilyName)
		setOrClear(in.Locale, up.SetLocale, up.ClearLocale)
		setOrClear(in.Picture, up.SetPicture, up.ClearPicture)
		if in.Metadata != nil {
			up.SetMetadata(in.Metadata)
		}
		var err error
		if u, err = up.Save(ctx); err != nil {
			return translateWrite(err, "user", "email", "is already registered")
		}
		if in.Status != nil && *in.Status == user.StatusDISABLED {
			if err := s.signOutEverywhere(ctx, tx, u.ID, "user disabled"); err != nil {
				return err
			}
		}
		changed := changedFields(map[string]bool{"email": in.Email != nil, "emailVerified": in.EmailVerified != nil,
			"name": in.Name != nil, "givenName": in.GivenName != nil, "familyName": in.FamilyName != nil,
			"locale": in.Locale != nil, "picture": in.Picture != nil, "status": in.Status != nil, "metadata": in.Metadata != nil})
		return s.audit(ctx, tx, event{action: "user.update", targetType: "User", targetID: u.ID,
			metadata: map[string]any{"fields": changed}})
	})
	return unwrap(u, err)
}

// UserByEmail returns the user with email, if the viewer may see it.
func (s *Service) UserByEmail(ctx context.Context, email string) (*ent.User, error) {
	e, err := NormalizeEmail("email", email)
	if err != nil {
		return nil, err
	}
	u, err := s.client.User.Query().Where(user.Email(e)).Only(ctx)
	return u, translate(err, "user")
}

func setOrClear[B any](v *string, set func(string) B, clear func() B) {
	switch {
	case v == nil:
	case *v == "":
		clear()
	default:
		set(*v)
	}
}

// SetUserPasswordInput sets or replaces a user's password.
type SetUserPasswordInput struct {
	UserID   pulid.ID
	Password string
}

// SetUserPassword sets a user's password (argon2id). The length rule is the
// strictest password_min_length among the user's organizations' policies.
// Changing a password signs the user out everywhere: sessions and refresh
// tokens issued before no longer work.
func (s *Service) SetUserPassword(ctx context.Context, in SetUserPasswordInput) (*ent.User, error) {
	pw, err := s.hashPassword(in.Password)
	if err != nil {
		return nil, err
	}
	var u *ent.User
	err = s.inTx(ctx, func(tx *ent.Tx) error {
		var err error
		if u, err = tx.User.Get(ctx, in.UserID); err != nil {
			return translate(err, "user")
		}
		hash, err := s.checkPassword(ctx, tx, pw, "", u.ID)
		if err != nil {
			return err
		}
		if u, err = u.Update().SetPasswordHash(hash).Save(ctx); err != nil {
			return translate(err, "user")
		}
		if err := s.signOutEverywhere(ctx, tx, u.ID, "password changed"); err != nil {
			return err
		}
		return s.audit(ctx, tx, event{action: "user.password.set", targetType: "User", targetID: u.ID})
	})
	return unwrap(u, err)
}

// defaultPasswordMinLength applies to users in no organization.
const defaultPasswordMinLength = 10

// hashedPassword is a password hashed ahead of the transaction that stores
// it: argon2id takes about 200 ms, which must not be spent inside the
// transaction (on SQLite its BEGIN IMMEDIATE holds the write lock that every
// other write waits for). checkPassword applies the length rules in the
// transaction.
type hashedPassword struct {
	pw   string
	hash string
}

// hashPassword hashes pw (argon2id) unless no length rule could accept it:
// every organization's minimum is at least defaultPasswordMinLength.
func (s *Service) hashPassword(pw string) (*hashedPassword, error) {
	h := &hashedPassword{pw: pw}
	if checkPasswordLength(pw, defaultPasswordMinLength) == nil {
		var err error
		if h.hash, err = password.Hash(pw, s.passwordParams); err != nil {
			return nil, fmt.Errorf("hash password: %w", err)
		}
	}
	return h, nil
}

// checkPassword checks pw against the length rule of org (when set) or of
// every organization usr belongs to, and returns its hash.
func (s *Service) checkPassword(ctx context.Context, tx *ent.Tx, pw *hashedPassword, org, usr pulid.ID) (string, error) {
	min := defaultPasswordMinLength
	if org != "" || usr != "" {
		sys := viewer.SystemContext(ctx) // policies of the user's other organizations count too
		q := tx.OrganizationPolicy.Query()
		if org != "" {
			q.Where(organizationpolicy.OrganizationID(org))
		} else {
			q.Where(organizationpolicy.HasOrganizationWith(organization.HasMembershipsWith(membership.UserID(usr))))
		}
		policies, err := q.All(sys)
		if err != nil {
			return "", translate(err, "policy")
		}
		for _, p := range policies {
			min = max(min, p.PasswordMinLength)
		}
	}
	if err := checkPasswordLength(pw.pw, min); err != nil {
		return "", err
	}
	return pw.hash, nil
}

// checkPasswordLength checks pw against a minimum of min characters.
func checkPasswordLength(pw string, min int) error {
	switch n := utf8.RuneCountInString(pw); {
	case n < min:
		return invalid("password", "must be at least %d characters", min)
	case len(pw) > password.MaxLength:
		return invalid("password", "must be at most %d bytes", password.MaxLength)
	case strings.TrimSpace(pw) == "":
		return invalid("password", "must not be blank")
	}
	return nil
}

// signOutEverywhere revokes every session and grant (refresh-token family)
// of a user, as part of the change that calls for it.
func (s *Service) signOutEverywhere(ctx context.Context, tx *ent.Tx, usr pulid.ID, reason string) error {
	sys := viewer.SystemContext(ctx) // an authorized change to the user reaches its credentials
	now := s.now()
	if err := tx.Session.Update().Where(session.UserID(usr), session.RevokedAtIsNil()).SetRevokedAt(now).Exec(sys); err != nil {
		return fmt.Errorf("revoke sessions: %w", err)
	}
	if err := tx.Grant.Update().Where(grant.UserID(usr), grant.RevokedAtIsNil()).
		SetRevokedAt(now).SetRevokeReason(reason).Exec(sys); err != nil {
		return fmt.Errorf("revoke grants: %w", err)
	}
	return nil
}
