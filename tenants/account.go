package tenants

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/ent/user"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// Self-service changes a signed-in user makes to their own account on the
// hosted account page. The page has checked the session; these take the
// user's id, act as the System viewer, and are written by the user
// (actor and target the user) with the caller's origin in ctx
// (WithOrigin).

// RecentSignIn is how recent a session's sign-in must be for the changes
// an attacker holding only a stolen session cookie must not make: adding
// or removing a factor, regenerating recovery codes, changing the email
// address (SECURITY-CHECKLIST PK-08, ATO-05 g).
const RecentSignIn = 10 * time.Minute

// SignedInRecently reports whether s's sign-in is at most RecentSignIn
// old at now.
func SignedInRecently(s *ent.Session, now time.Time) bool {
	return s != nil && now.Sub(s.AuthTime) <= RecentSignIn
}

// UpdateOwnName sets the user's display name (UpdateOwnProfile).
func (s *Service) UpdateOwnName(ctx context.Context, userID pulid.ID, name string) (*ent.User, error) {
	return s.UpdateOwnProfile(ctx, userID, ProfileUpdate{Name: &name}, nil)
}

// StartEmailChange sends a code and link to the new address newEmail for
// userID (an EMAIL_CHANGE challenge carrying it). The address is checked
// for form only: whether another account has it is told only once the
// person has proved they hold it.
func (s *Service) StartEmailChange(ctx context.Context, userID pulid.ID, newEmail, browserToken string) (IssuedChallenge, error) {
	email, err := NormalizeEmail("email", newEmail)
	if err != nil {
		return IssuedChallenge{}, err
	}
	return s.IssueEmailChallenge(ctx, EmailChallengeRequest{Purpose: EmailChangeEmail, Email: email, UserID: userID,
		BrowserToken: browserToken, Data: map[string]string{"user_id": string(userID)}})
}

// CompleteEmailChange makes the address a redeemed EMAIL_CHANGE challenge
// proved the user's email, verified, and returns the user and the old
// address (to be told). An address another account has meanwhile is an
// InputError; the change is audited (user.email.change).
func (s *Service) CompleteEmailChange(ctx context.Context, userID pulid.ID, ch *ent.EmailChallenge) (*ent.User, string, error) {
	ctx = viewer.SystemContext(ctx)
	if ch.Purpose != EmailChangeEmail || ch.UsedAt == nil || ch.UserID != userID {
		return nil, "", invalid("code", "is not for this account")
	}
	var u *ent.User
	var old string
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		prev, err := tx.User.Get(ctx, userID)
		if err != nil {
			return translate(err, "user")
		}
		old = prev.Email
		taken, err := tx.User.Query().Where(user.Email(ch.Email), user.IDNEQ(userID)).Exist(ctx)
		if err != nil {
			return fmt.Errorf("find user: %w", err)
		}
		if taken {
			return invalid("email", "is used by another account")
		}
		if u, err = prev.Update().SetEmail(ch.Email).SetEmailVerified(true).Save(ctx); err != nil {
			return translateWrite(err, "user", "email", "is used by another account")
		}
		return WriteAudit(ctx, tx.AuditEvent, s.now(), Event{Action: "user.email.change", Actor: string(userID), ActorType: "user",
			TargetType: ent.TypeUser, TargetID: string(userID)})
	})
	if err != nil {
		return nil, "", err
	}
	return u.Unwrap(), old, nil
}
