package tenants

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/organization"
	"github.com/gatehouse-id/gatehouse/ent/role"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/ent/user"
	"github.com/gatehouse-id/gatehouse/internal/password"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// ImportUser is one account brought over from another system (a
// homegrown sign-in being retired), with its password hash as that system
// stored it.
type ImportUser struct {
	Email         string
	EmailVerified bool
	Name          *string
	GivenName     *string
	FamilyName    *string
	// PasswordHash is an argon2id PHC string or a bcrypt hash ($2a$, $2b$,
	// $2y$, cost 10 to 14), or "" for an account without a password. A
	// bcrypt hash becomes argon2id at the user's first sign-in
	// (VerifyPassword).
	PasswordHash string
	// OrganizationID, when set, makes the user an ACTIVE member of that
	// organization, with the role RoleKey (default: member).
	OrganizationID *pulid.ID
	RoleKey        string
}

// ImportError is why one row of an import was not imported.
type ImportError struct {
	// Index is the row's position in the input, from 0.
	Index int
	// Email is the row's address as given.
	Email string
	// Err is an *InputError (a field is wrong) or a *ConflictError (the
	// email is registered already, or earlier in the same import); both
	// name the field.
	Err error
}

func (e ImportError) Error() string { return fmt.Sprintf("row %d (%s): %v", e.Index, e.Email, e.Err) }

// Field is the input field the error is about.
func (e ImportError) Field() string {
	var in *InputError
	var c *ConflictError
	switch {
	case errors.As(e.Err, &in):
		return in.Field
	case errors.As(e.Err, &c):
		return c.Field
	}
	return ""
}

// ImportResult is what an import did: how many users it created and why
// each other row was left out.
type ImportResult struct {
	Imported int
	Errors   []ImportError
}

// ImportUsers creates users from another system. Each row is checked on
// its own: rows in error are reported (ImportResult.Errors, with index and
// field) and the valid ones imported; an email registered already, or
// twice in the input, is a conflict, not a failure of the whole import.
// Users are inserted in chunks of BulkChunk, each chunk in one transaction
// with its memberships and one user.import audit event per user.
//
// Only an unrestricted caller (an instance API key, the CLI as System)
// may import: the accounts are global, and an organization-scoped key
// may not create credentials outside its verified domains (CreateUser) —
// here it gets a ForbiddenError, whatever the rows hold.
func (s *Service) ImportUsers(ctx context.Context, users []ImportUser) (ImportResult, error) {
	if scoped(ctx) {
		return ImportResult{}, &ForbiddenError{Field: "users",
			Reason: "only an instance API key can import users; a key scoped to an organization cannot (invite them or create them with createUser)"}
	}
	var res ImportResult
	rows := make([]importRow, 0, len(users))
	seen := make(map[string]int, len(users))
	for i, in := range users {
		email, err := checkImportUser(in)
		if err == nil {
			if first, dup := seen[email]; dup {
				err = &ConflictError{Field: "email", Reason: fmt.Sprintf("appears already in row %d of this import", first)}
			}
		}
		if err != nil {
			res.Errors = append(res.Errors, ImportError{Index: i, Email: in.Email, Err: err})
			continue
		}
		seen[email] = i
		rows = append(rows, importRow{index: i, email: email, in: in})
	}
	for chunk := range slices.Chunk(rows, BulkChunk) {
		n, errs, err := s.importChunk(ctx, chunk)
		if err != nil {
			return res, err
		}
		res.Imported += n
		res.Errors = append(res.Errors, errs...)
	}
	slices.SortFunc(res.Errors, func(a, b ImportError) int { return a.Index - b.Index })
	return res, nil
}

// importRow is a row that passed checkImportUser.
type importRow struct {
	index int
	email string // normalized
	in    ImportUser
}

// checkImportUser checks what one row can be checked for without the
// database, and returns its normalized email.
func checkImportUser(in ImportUser) (string, error) {
	email, err := NormalizeEmail("email", in.Email)
	if err != nil {
		return "", err
	}
	if err := (profile{name: in.Name, givenName: in.GivenName, familyName: in.FamilyName}).validate(); err != nil {
		return "", err
	}
	if in.PasswordHash != "" {
		switch err := password.ImportableHash(in.PasswordHash); {
		case errors.Is(err, password.ErrWeakHash):
			return "", invalid("passwordHash", "is a bcrypt hash of cost below %d, too cheap to store; import the user without a password and let them reset it", password.MinBcryptCost)
		case err != nil:
			return "", invalid("passwordHash", "must be an argon2id PHC string ($argon2id$v=19$…) or a bcrypt hash ($2a$, $2b$ or $2y$, cost %d to 14)", password.MinBcryptCost)
		}
	}
	if in.RoleKey != "" && in.OrganizationID == nil {
		return "", invalid("roleKey", "needs an organizationID")
	}
	if in.RoleKey != "" && !permissionPattern.MatchString(in.RoleKey) {
		return "", invalid("roleKey", "must be a role key such as member or admin")
	}
	return email, nil
}

// importChunk imports rows in one transaction: those whose email is taken,
// organization missing or role unknown come back as errors. A unique
// violation from a concurrent sign-up between the check and the insert
// rolls the chunk back and it is tried once more, when the check sees it.
func (s *Service) importChunk(ctx context.Context, rows []importRow) (int, []ImportError, error) {
	for attempt := 0; ; attempt++ {
		n, errs, err := s.tryImportChunk(ctx, rows)
		var c *ConflictError
		if errors.As(err, &c) && attempt == 0 {
			continue
		}
		return n, errs, err
	}
}

func (s *Service) tryImportChunk(ctx context.Context, rows []importRow) (int, []ImportError, error) {
	var (
		errs     []ImportError
		imported int
	)
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		errs, imported = nil, 0
		sys := viewer.SystemContext(ctx) // existing accounts are not the caller's to see: only to collide with
		emails := make([]string, len(rows))
		var orgIDs []pulid.ID
		for i, r := range rows {
			emails[i] = r.email
			if r.in.OrganizationID != nil {
				orgIDs = append(orgIDs, *r.in.OrganizationID)
			}
		}
		registered, err := tx.User.Query().Where(user.EmailIn(emails...)).Select(user.FieldEmail).Strings(sys)
		if err != nil {
			return fmt.Errorf("find registered emails: %w", err)
		}
		taken := make(map[string]bool, len(registered))
		for _, e := range registered {
			taken[e] = true
		}
		orgs := map[pulid.ID]bool{}
		roles := map[pulid.ID]map[string]*ent.Role{}
		if len(orgIDs) > 0 {
			orgIDs = slices.Compact(slices.Sorted(slices.Values(orgIDs)))
			ids, err := tx.Organization.Query().Where(organization.IDIn(orgIDs...)).IDs(ctx)
			if err != nil {
				return translate(err, "organization")
			}
			for _, id := range ids {
				orgs[id] = true
			}
			rs, err := tx.Role.Query().Where(role.OrganizationIDIn(ids...)).All(ctx)
			if err != nil {
				return translate(err, "role")
			}
			for _, r := range rs {
				if roles[r.OrganizationID] == nil {
					roles[r.OrganizationID] = map[string]*ent.Role{}
				}
				roles[r.OrganizationID][r.Key] = r
			}
		}
		var ok []importRow
		for _, r := range rows {
			var err error
			switch org := r.in.OrganizationID; {
			case taken[r.email]:
				err = &ConflictError{Field: "email", Reason: "is already registered"}
			case org != nil && !orgs[*org]:
				err = invalid("organizationID", "names no organization")
			case org != nil && roles[*org][roleKeyOrMember(r.in.RoleKey)] == nil:
				err = invalid("roleKey", "role %q does not exist in this organization", roleKeyOrMember(r.in.RoleKey))
			}
			if err != nil {
				errs = append(errs, ImportError{Index: r.index, Email: r.in.Email, Err: err})
				continue
			}
			ok = append(ok, r)
		}
		if len(ok) == 0 {
			return nil
		}
		creates := make([]*ent.UserCreate, len(ok))
		for i, r := range ok {
			creates[i] = tx.User.Create().SetEmail(r.email).SetEmailVerified(r.in.EmailVerified).
				SetNillableName(r.in.Name).SetNillableGivenName(r.in.GivenName).SetNillableFamilyName(r.in.FamilyName)
			if r.in.PasswordHash != "" {
				creates[i].SetPasswordHash(r.in.PasswordHash)
			}
		}
		us, err := tx.User.CreateBulk(creates...).Save(ctx)
		if err != nil {
			return translateWrite(err, "user", "email", "is already registered")
		}
		var members []*ent.MembershipCreate
		events := make([]Event, len(ok))
		for i, r := range ok {
			md := map[string]any{"emailVerified": r.in.EmailVerified, "password": hashKind(r.in.PasswordHash)}
			events[i] = Event{Action: "user.import", TargetType: "User", TargetID: string(us[i].ID), Metadata: md}
			if org := r.in.OrganizationID; org != nil {
				key := roleKeyOrMember(r.in.RoleKey)
				members = append(members, tx.Membership.Create().SetOrganizationID(*org).SetUserID(us[i].ID).AddRoles(roles[*org][key]))
				md["organizationID"], md["role"] = string(*org), key
				events[i].Organization = *org
			}
		}
		if len(members) > 0 {
			if err := tx.Membership.CreateBulk(members...).Exec(ctx); err != nil {
				return translate(err, "membership")
			}
		}
		imported = len(ok)
		return WriteAuditBulk(ctx, tx.AuditEvent, s.now(), events)
	})
	return imported, errs, err
}

func roleKeyOrMember(k string) string {
	if k == "" {
		return RoleMember
	}
	return k
}

// hashKind names a stored hash's algorithm for the audit trail (never the
// hash itself).
func hashKind(h string) string {
	switch {
	case h == "":
		return "none"
	case strings.HasPrefix(h, "$argon2id$"):
		return "argon2id"
	}
	return "bcrypt"
}
