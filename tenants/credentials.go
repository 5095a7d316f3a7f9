package tenants

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/ent/user"
	"github.com/gatehouse-id/gatehouse/internal/password"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// Reasons a password check fails (PasswordCheck.Reason), machine-readable
// for the audit trail. The browser sees one message for all of them
// (SECURITY-CHECKLIST ATO-04).
const (
	ReasonUnknownEmail  = "unknown_email"
	ReasonBadPassword   = "bad_password"
	ReasonNoPassword    = "no_password"
	ReasonDisabled      = "disabled"
	ReasonMalformedHash = "malformed_hash" // the stored hash is unreadable; also logged as an error
)

// PasswordCheck is the outcome of VerifyPassword.
type PasswordCheck struct {
	// User is the signed-in user, or nil.
	User *ent.User
	// Matched is the id of the user the email named, if any, also when the
	// check failed (for the audit trail).
	Matched pulid.ID
	// Reason is why the check failed (Reason*), or "".
	Reason string
}

// VerifyPassword checks pw for the account with email (as typed) and
// returns its user when the password matches and the user is active; the
// sign-in is recorded (last_login_at) and a hash weaker than the service's
// parameters is replaced: an argon2id hash with weaker parameters or of
// the password before NFKC normalization, and a bcrypt hash brought by
// ImportUsers, which becomes argon2id at this first sign-in. Every path
// verifies one argon2id hash at the service's parameters, so the time
// taken does not reveal whether the account exists — except for an
// imported account still on bcrypt, whose verification costs differently
// (cost 10: faster) until its first sign-in; see password.Verify for why
// that is accepted. password.ErrBusy means the verification could not run
// (the bound on concurrent hashing): nothing was checked.
func (s *Service) VerifyPassword(ctx context.Context, email, pw string) (PasswordCheck, error) {
	ctx = viewer.SystemContext(ctx) // the browser has no viewer yet
	email, err := NormalizeEmail("email", email)
	if err != nil {
		// not an address: no account to look up
		return PasswordCheck{Reason: ReasonUnknownEmail}, s.verifyNothing(pw)
	}
	u, err := s.client.User.Query().Where(user.Email(email)).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		return PasswordCheck{Reason: ReasonUnknownEmail}, s.verifyNothing(pw)
	case err != nil:
		_ = s.verifyNothing(pw)
		return PasswordCheck{}, fmt.Errorf("find user: %w", err)
	case u.PasswordHash == "":
		return PasswordCheck{Matched: u.ID, Reason: ReasonNoPassword}, s.verifyNothing(pw)
	}
	rehash, err := password.Verify(pw, u.PasswordHash, s.passwordParams)
	switch {
	case errors.Is(err, password.ErrBusy):
		return PasswordCheck{Matched: u.ID}, err
	case errors.Is(err, password.ErrMalformedHash):
		s.logger().ErrorContext(ctx, "malformed password hash", "user", u.ID)
		return PasswordCheck{Matched: u.ID, Reason: ReasonMalformedHash}, s.verifyNothing(pw)
	case err != nil:
		return PasswordCheck{Matched: u.ID, Reason: ReasonBadPassword}, nil
	case !IsActiveUser(u):
		return PasswordCheck{Matched: u.ID, Reason: ReasonDisabled}, nil
	}
	// Update, not UpdateOne: the caller has the user, and UpdateOne would
	// read the row back (a statement per sign-in for nothing).
	now := s.now()
	upd := s.client.User.Update().Where(user.ID(u.ID)).SetLastLoginAt(now)
	if rehash {
		// A failed rehash keeps the old hash; the sign-in stands.
		if h, err := password.Hash(pw, s.passwordParams); err != nil {
			s.logger().ErrorContext(ctx, "rehash password", "user", u.ID, "err", err)
		} else {
			upd.SetPasswordHash(h)
		}
	}
	if err := upd.Exec(ctx); err != nil {
		return PasswordCheck{}, fmt.Errorf("record login: %w", err)
	}
	u.LastLoginAt = &now
	return PasswordCheck{User: u, Matched: u.ID}, nil
}

// UserIDByEmail is the id of the user with email, or "" (for the audit
// trail of sign-ins refused before any password was checked).
func (s *Service) UserIDByEmail(ctx context.Context, email string) (pulid.ID, error) {
	if email == "" {
		return "", nil
	}
	id, err := s.client.User.Query().Where(user.Email(email)).OnlyID(viewer.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("find user: %w", err)
	}
	return id, nil
}

// verifyNothing spends the time of one password verification at the
// service's parameters, for sign-ins that have no hash to verify. Its only
// error is password.ErrBusy.
func (s *Service) verifyNothing(pw string) error {
	d, err := s.dummyHash()
	if err != nil {
		return err
	}
	s.dummyChecks.Add(1)
	return d.Verify(pw)
}

// dummyHash makes the dummy hash on first use. A failure (the hashing
// slots are all taken: password.ErrBusy) is not kept: the next sign-in
// tries again.
func (s *Service) dummyHash() (*password.Dummy, error) {
	s.dummyMu.Lock()
	defer s.dummyMu.Unlock()
	if s.dummy == nil {
		d, err := password.NewDummy(s.passwordParams)
		if err != nil {
			return nil, fmt.Errorf("dummy password hash: %w", err)
		}
		s.dummy = d
	}
	return s.dummy, nil
}

// DummyVerifications counts the verifications spent on sign-ins without a
// hash to verify (tests check that no path skips one).
func (s *Service) DummyVerifications() int64 { return s.dummyChecks.Load() }

func (s *Service) logger() *slog.Logger {
	if s.log != nil {
		return s.log
	}
	return slog.Default()
}
