package tenants

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/grant"
	"github.com/gatehouse-id/gatehouse/ent/membership"
	"github.com/gatehouse-id/gatehouse/ent/organization"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/ent/session"
	"github.com/gatehouse-id/gatehouse/ent/user"
	"github.com/gatehouse-id/gatehouse/internal/password"
	"github.com/gatehouse-id/gatehouse/tenants/authz"
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
//
// An organization-scoped caller owns only the addresses in its
// organization's VERIFIED domains: only for those may it set a password or
// emailVerified: true, and create the member ACTIVE. Any other address is
// invited: a new user is created without credentials, an existing one is
// left untouched, and either gets an INVITED membership that the user
// accepts at sign-in (AcceptInvitations). Both answers look alike — the
// user stays hidden from the organization until accepted, so user is nil —
// and say nothing about whether the address exists elsewhere.
func (s *Service) CreateUser(ctx context.Context, in CreateUserInput) (*ent.User, *ent.Membership, error) {
	email, err := NormalizeEmail("email", in.Email)
	if err != nil {
		return nil, nil, err
	}
	if err := (profile{in.Name, in.GivenName, in.FamilyName, in.Locale, in.Picture, in.Metadata}).validate(); err != nil {
		return nil, nil, err
	}
	if scoped(ctx) {
		if in.OrganizationID == nil {
			return nil, nil, invalid("organizationID", "is required for a key scoped to an organization")
		}
		if err := require(ctx, *in.OrganizationID, authz.MembersManage); err != nil {
			return nil, nil, err
		}
	}
	var pw *hashedPassword
	if in.Password != nil {
		if pw, err = s.hashPassword(*in.Password, email); err != nil {
			return nil, nil, err
		}
	}
	var (
		u *ent.User
		m *ent.Membership
	)
	err = s.inTx(ctx, func(tx *ent.Tx) error {
		var org *ent.Organization
		if in.OrganizationID != nil {
			if org, err = tx.Organization.Get(ctx, *in.OrganizationID); err != nil {
				return translate(err, "organization")
			}
		}
		owned := !scoped(ctx)
		if !owned {
			if owned, err = emailDomainVerified(ctx, tx, []pulid.ID{org.ID}, email); err != nil {
				return err
			}
		}
		if !owned {
			if pw != nil {
				return &ForbiddenError{Field: "password", Reason: "an organization sets passwords only for addresses in its verified domains; invite the user instead"}
			}
			if in.EmailVerified != nil && *in.EmailVerified {
				return &ForbiddenError{Field: "emailVerified", Reason: "an organization vouches only for addresses in its verified domains"}
			}
			m, err = s.invite(ctx, tx, org.ID, email, in)
			return err
		}
		c := tx.User.Create()
		if pw != nil {
			hash, err := s.checkPassword(ctx, tx, pw, orgIDOf(org), "", email)
			if err != nil {
				return err
			}
			c.SetPasswordHash(hash)
		}
		if u, err = newUser(c, email, in).Save(ctx); err != nil {
			return translateWrite(err, "user", "email", "is already registered")
		}
		if err := s.audit(ctx, tx, event{action: "user.create", targetType: "User", targetID: u.ID,
			org: orgIDOf(org)}); err != nil {
			return err
		}
		if org == nil {
			return nil
		}
		m, err = s.addMember(ctx, tx, org.ID, u.ID, in.Roles, nil, "")
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if u != nil {
		u = u.Unwrap()
	}
	if m != nil {
		m = m.Unwrap()
	}
	return u, m, nil
}

// newUser sets a new user's fields from in.
func newUser(c *ent.UserCreate, email string, in CreateUserInput) *ent.UserCreate {
	return c.SetEmail(email).
		SetNillableEmailVerified(in.EmailVerified).
		SetNillableName(in.Name).
		SetNillableGivenName(in.GivenName).
		SetNillableFamilyName(in.FamilyName).
		SetNillableLocale(in.Locale).
		SetNillablePicture(in.Picture).
		SetMetadata(in.Metadata)
}

// invite gives the user with email — created without credentials when
// there is none, left as it is when there is — an INVITED membership in
// org. It looks the address up as System: the caller learns nothing from
// it, since both paths end in the same answer.
func (s *Service) invite(ctx context.Context, tx *ent.Tx, org pulid.ID, email string, in CreateUserInput) (*ent.Membership, error) {
	sys := viewer.SystemContext(ctx)
	u, err := tx.User.Query().Where(user.Email(email)).Only(sys)
	switch {
	case ent.IsNotFound(err):
		in.EmailVerified = nil
		if u, err = newUser(tx.User.Create(), email, in).Save(sys); err != nil {
			return nil, translateWrite(err, "user", "email", "is already registered")
		}
		// Not in the organization's trail: there, an invitation reads the
		// same whether or not the address was registered.
		if err := s.audit(ctx, tx, event{action: "user.create", targetType: "User", targetID: u.ID,
			metadata: map[string]any{"invitedBy": string(org)}}); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, translate(err, "user")
	}
	return s.addMember(ctx, tx, org, u.ID, in.Roles, new(membership.StatusINVITED), email)
}

// AcceptInvitations makes every INVITED membership of a user ACTIVE. The
// hosted sign-in calls it once the user has proven who they are; until
// then, the inviting organizations neither see the user's account nor get
// a token for it. Callable as the user itself, or as System/Instance.
func (s *Service) AcceptInvitations(ctx context.Context, usr pulid.ID) ([]*ent.Membership, error) {
	v := viewer.FromContext(ctx)
	if v == nil || !(v.Unrestricted() || (v.Kind == viewer.User && v.UserID == usr)) {
		return nil, fmt.Errorf("accept invitations: %w", ErrForbidden)
	}
	sys := viewer.SystemContext(ctx)
	var accepted []*ent.Membership
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		ms, err := tx.Membership.Query().Where(membership.UserID(usr), membership.StatusEQ(membership.StatusINVITED),
			membership.HasUserWith(ActiveUser())).All(sys)
		if err != nil {
			return translate(err, "membership")
		}
		for _, m := range ms {
			if m, err = m.Update().SetStatus(membership.StatusACTIVE).Save(sys); err != nil {
				return translate(err, "membership")
			}
			accepted = append(accepted, m.Unwrap())
			if err := s.audit(ctx, tx, event{action: "member.accept", org: m.OrganizationID,
				targetType: "Membership", targetID: m.ID, metadata: map[string]any{"userID": string(usr)}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return accepted, nil
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
// only users all of whose memberships are in its organizations. Nobody
// disables an organization's last owner (keepOwners).
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
		if scoped(ctx) {
			cur, err := tx.User.Get(ctx, in.ID)
			if err != nil {
				return translate(err, "user")
			}
			account := email != nil || (in.EmailVerified != nil && *in.EmailVerified) || in.Status != nil
			if err := s.checkUserChange(ctx, tx, cur, account, email); err != nil {
				return err
			}
		}
		if in.Status != nil && *in.Status != UserActiveStatus {
			// A disabled owner cannot act for the organization: the same
			// last-owner rule as removing or demoting the owner, for
			// every caller.
			if err := s.keepOwners(ctx, tx, "id", membership.UserID(in.ID)); err != nil {
				return err
			}
		}
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

// checkUserChange decides a change an organization-scoped caller makes to
// a (global) user u, which the caller loaded (so it is visible to it): in
// every organization the user belongs to, the caller must hold
// members:manage and every permission the user holds there (an admin
// cannot touch an owner's account); and account-level facts — the email,
// vouching for it, the password, the status — change only when the
// user's email domain, and a new email's, is VERIFIED by one of those
// organizations. It reads the memberships with their roles and, for an
// account-level change, the verified domains: the same few statements
// however many organizations the user belongs to.
func (s *Service) checkUserChange(ctx context.Context, tx *ent.Tx, u *ent.User, account bool, newEmail *string) error {
	ms, err := tx.Membership.Query().Where(membership.UserID(u.ID)).WithRoles().All(viewer.SystemContext(ctx))
	if err != nil {
		return translate(err, "membership")
	}
	orgs := make([]pulid.ID, 0, len(ms))
	for _, m := range ms {
		if err := require(ctx, m.OrganizationID, authz.MembersManage); err != nil {
			// ErrNotFound for a user who also belongs to an organization
			// out of the caller's reach: not this caller's to change.
			return err
		}
		if err := requireGrant(ctx, m.OrganizationID, "id", rolesPermissions(m.Edges.Roles)); err != nil {
			return err
		}
		orgs = append(orgs, m.OrganizationID)
	}
	if !account {
		return nil
	}
	emails := []string{u.Email}
	if newEmail != nil {
		emails = append(emails, *newEmail)
	}
	owned, err := emailDomainVerified(ctx, tx, orgs, emails...)
	if err != nil {
		return err
	}
	if !owned {
		return &ForbiddenError{Field: "id", Reason: "an organization changes the email, verification, password or status only of users in its verified domains"}
	}
	return nil
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

// SetUserPassword sets a user's password (argon2id) after CheckNewPassword,
// with the strictest password_min_length among the user's organizations'
// policies and the user's email and organizations' names as context.
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
		if scoped(ctx) {
			if err := s.checkUserChange(ctx, tx, u, true, nil); err != nil {
				return err
			}
		}
		hash, err := s.checkPassword(ctx, tx, pw, "", u.ID, u.Email)
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

// hashedPassword is a password hashed ahead of the transaction that stores
// it: argon2id takes about 200 ms, which must not be spent inside the
// transaction (on SQLite its BEGIN IMMEDIATE holds the write lock that every
// other write waits for). checkPassword applies the rules that depend on
// the organizations in the transaction.
type hashedPassword struct {
	pw   string
	hash string
}

// hashPassword checks pw against the password rules with the minimum every
// policy has (DefaultPasswordMinLength) and the context known before the
// transaction, then hashes it (argon2id). A password shorter than that is
// not hashed and not yet refused: checkPassword refuses it naming the
// minimum that applies.
func (s *Service) hashPassword(pw string, context ...string) (*hashedPassword, error) {
	h := &hashedPassword{pw: pw}
	var in *InputError
	switch err := checkNewPassword(pw, DefaultPasswordMinLength, context...); {
	case errors.As(err, &in) && in.Code == PasswordTooShort:
		return h, nil
	case err != nil:
		return nil, err
	}
	var err error
	if h.hash, err = password.Hash(pw, s.passwordParams); err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	return h, nil
}

// checkPassword checks pw against the password rules of org (when set) or
// of every organization usr belongs to — the strictest password_min_length,
// and the organizations' names and the user's email as context — and
// returns its hash.
func (s *Service) checkPassword(ctx context.Context, tx *ent.Tx, pw *hashedPassword, org, usr pulid.ID, email string) (string, error) {
	min, names, err := passwordPolicy(ctx, tx.Organization, org, usr)
	if err != nil {
		return "", err
	}
	if err := checkNewPassword(pw.pw, min, append([]string{email}, names...)...); err != nil {
		return "", err
	}
	if pw.hash == "" {
		// hashPassword skips only what checkNewPassword just refused.
		return "", errors.New("check password: not hashed")
	}
	return pw.hash, nil
}

// passwordPolicy reads the password rule of org (when set) or of every
// organization usr belongs to: the strictest password_min_length (at least
// DefaultPasswordMinLength) and the organizations' names, which a password
// may not contain.
func passwordPolicy(ctx context.Context, orgs *ent.OrganizationClient, org, usr pulid.ID) (int, []string, error) {
	min := DefaultPasswordMinLength
	if org == "" && usr == "" {
		return min, nil, nil
	}
	sys := viewer.SystemContext(ctx) // policies of the user's other organizations count too
	q := orgs.Query().WithPolicy()
	if org != "" {
		q.Where(organization.ID(org))
	} else {
		q.Where(organization.HasMembershipsWith(membership.UserID(usr)))
	}
	all, err := q.All(sys)
	if err != nil {
		return 0, nil, translate(err, "organization")
	}
	names := make([]string, 0, len(all))
	for _, o := range all {
		names = append(names, o.Name)
		if o.Edges.Policy != nil {
			min = max(min, o.Edges.Policy.PasswordMinLength)
		}
	}
	return min, names, nil
}

// PasswordMinLength is the shortest new password the rules accept for usr
// (the strictest password_min_length of its organizations), for a page
// that asks for one to say so (a reset page's minlength) before
// SetUserPassword or ResetPassword decides. "" is a new account:
// DefaultPasswordMinLength.
func (s *Service) PasswordMinLength(ctx context.Context, usr pulid.ID) (int, error) {
	min, _, err := passwordPolicy(ctx, s.client.Organization, "", usr)
	return min, err
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
