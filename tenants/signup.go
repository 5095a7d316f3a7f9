package tenants

import (
	"context"
	"fmt"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/ent/user"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// Self-service sign-up and sign-in by email. Both answer alike for an
// address that has an account and one that has none (SECURITY-CHECKLIST
// ATO-04): each does the same work — one lookup, one password hash when a
// password is given, one challenge stored — and says only "check your
// email"; which mail goes out (if any) is for the caller to send, after
// the answer, through an asynchronous outbox.

// challengeDataPasswordHash carries a signup's password hash (never the
// password) from the form to the account's creation.
const challengeDataPasswordHash = "password_hash"

// SignupInput is a sign-up form.
type SignupInput struct {
	Email string
	// Password is optional: without one the account signs in with email
	// codes, links or passkeys.
	Password      string
	BrowserToken  string
	AuthRequestID string
}

// SignupStarted is what StartSignup did.
type SignupStarted struct {
	// Email is the address, normalized.
	Email     string
	Challenge IssuedChallenge
	// Existing is the account the address already has, or nil. Its
	// challenge's link signs that account in (the owner asked to sign up
	// again); its code is never sent.
	Existing *ent.User
}

// StartSignup checks a sign-up form and stores the challenge that will
// prove the address. Invalid input (an address that is not one, a
// password the rules refuse) is a validation error; the rules are the same
// whether or not the address has an account.
func (s *Service) StartSignup(ctx context.Context, in SignupInput) (SignupStarted, error) {
	ctx = viewer.SystemContext(ctx)
	email, err := NormalizeEmail("email", in.Email)
	if err != nil {
		return SignupStarted{}, err
	}
	data := map[string]string{}
	if in.Password != "" {
		// A new account belongs to no organization: the instance's minimum,
		// with the address as context. hashPassword applies every rule but
		// an organization's minimum, which it leaves to checkPassword and
		// which for a new account is the instance's: a password too short
		// for it comes back unhashed.
		pw, err := s.hashPassword(in.Password, email)
		if err != nil {
			return SignupStarted{}, err
		}
		if pw.hash == "" {
			return SignupStarted{}, checkNewPassword(in.Password, DefaultPasswordMinLength, email)
		}
		data[challengeDataPasswordHash] = pw.hash
	}
	existing, err := s.client.User.Query().Where(user.Email(email)).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		existing = nil
	case err != nil:
		return SignupStarted{}, fmt.Errorf("find user: %w", err)
	default:
		data = nil // nothing of the form reaches an existing account
	}
	req := EmailChallengeRequest{Purpose: EmailSignup, Email: email, BrowserToken: in.BrowserToken,
		AuthRequestID: in.AuthRequestID, Data: data}
	if existing != nil {
		req.UserID = existing.ID
	}
	ch, err := s.IssueEmailChallenge(ctx, req)
	if err != nil {
		return SignupStarted{}, err
	}
	return SignupStarted{Email: email, Challenge: ch, Existing: existing}, nil
}

// CompleteSignup creates the account a redeemed signup challenge proved
// the address for, with its email verified and the password given at
// sign-up, in one transaction with user.signup. When the address has an
// account meanwhile (or had one all along), that account is returned
// instead, untouched: proving the address signs it in, as an emailed link
// would. A disabled account is refused (ReasonDisabled).
func (s *Service) CompleteSignup(ctx context.Context, ch *ent.EmailChallenge) (*ent.User, string, error) {
	ctx = viewer.SystemContext(ctx)
	if ch.Purpose != EmailSignup || ch.UsedAt == nil {
		return nil, ReasonChallengePurpose, nil
	}
	if ch.UserID != "" {
		return s.challengeUser(ctx, ch.UserID)
	}
	var u *ent.User
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		c := tx.User.Create().SetEmail(ch.Email).SetEmailVerified(true).SetLastLoginAt(s.now())
		if h := ch.Data[challengeDataPasswordHash]; h != "" {
			c.SetPasswordHash(h)
		}
		var err error
		if u, err = c.Save(ctx); err != nil {
			return err
		}
		return WriteAudit(ctx, tx.AuditEvent, s.now(), Event{Action: "user.signup", Actor: string(u.ID), ActorType: "user",
			TargetType: "User", TargetID: string(u.ID),
			Metadata: map[string]any{"password": ch.Data[challengeDataPasswordHash] != ""}})
	})
	if ent.IsConstraintError(err) {
		// Signed up twice, in parallel: the address has its account now.
		existing, qerr := s.client.User.Query().Where(user.Email(ch.Email)).Only(ctx)
		if qerr != nil {
			return nil, "", fmt.Errorf("find user after concurrent signup: %w", qerr)
		}
		return s.challengeUser(ctx, existing.ID)
	}
	if err != nil {
		return nil, "", fmt.Errorf("create user: %w", err)
	}
	return u.Unwrap(), "", nil
}

// StartEmailLogin stores a sign-in challenge for the address, bound to the
// account it has (nil when none: the challenge is stored all the same and
// can sign nobody in; the caller sends no mail).
func (s *Service) StartEmailLogin(ctx context.Context, email, browserToken, authRequestID string) (IssuedChallenge, *ent.User, error) {
	ctx = viewer.SystemContext(ctx)
	email, err := NormalizeEmail("email", email)
	if err != nil {
		return IssuedChallenge{}, nil, err
	}
	u, err := s.client.User.Query().Where(user.Email(email)).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		u = nil
	case err != nil:
		return IssuedChallenge{}, nil, fmt.Errorf("find user: %w", err)
	}
	req := EmailChallengeRequest{Purpose: EmailLogin, Email: email, BrowserToken: browserToken, AuthRequestID: authRequestID}
	if u != nil && IsActiveUser(u) {
		req.UserID = u.ID
	} else {
		u = nil
	}
	ch, err := s.IssueEmailChallenge(ctx, req)
	if err != nil {
		return IssuedChallenge{}, nil, err
	}
	return ch, u, nil
}

// EmailLoginUser is the account a redeemed sign-in challenge proved, or a
// Reason* when it proves none (no account had the address, or it is
// disabled now). Proving the address also verifies it.
func (s *Service) EmailLoginUser(ctx context.Context, ch *ent.EmailChallenge) (*ent.User, string, error) {
	ctx = viewer.SystemContext(ctx)
	if ch.UsedAt == nil || (ch.Purpose != EmailLogin && ch.Purpose != EmailSignup) {
		return nil, ReasonChallengePurpose, nil
	}
	if ch.UserID == "" {
		return nil, ReasonNoAccount, nil
	}
	return s.challengeUser(ctx, ch.UserID)
}

// challengeUser is the active account id, marked as signed in now and
// its address verified, or ReasonDisabled.
func (s *Service) challengeUser(ctx context.Context, id pulid.ID) (*ent.User, string, error) {
	u, err := s.client.User.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, ReasonNoAccount, nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("find user: %w", err)
	}
	if !IsActiveUser(u) {
		return nil, ReasonDisabled, nil
	}
	if u, err = s.client.User.UpdateOne(u).SetLastLoginAt(s.now()).SetEmailVerified(true).Save(ctx); err != nil {
		return nil, "", fmt.Errorf("record login: %w", err)
	}
	return u, "", nil
}
