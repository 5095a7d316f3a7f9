package tenants

import (
	"context"
	"fmt"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/emailchallenge"
	"github.com/gatehouse-id/gatehouse/ent/user"
	"github.com/gatehouse-id/gatehouse/internal/secret"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// Account recovery (SECURITY-CHECKLIST ATO-06): a reset link sent to the
// account's address, single-use, RecoveryLinkLifetime long, newest only,
// stored hashed, built by the caller from the configured origin. Setting
// the new password signs the account out everywhere. The link proves the
// address — the "email" factor — and nothing more: the sign-in that
// follows still asks the login policy, so a second factor the account
// needs is still asked (recovery never bypasses MFA). An account whose
// organization enforces SSO has no local password to reset and is sent
// nothing.

// StartRecovery stores a reset challenge for the account with email, if
// there is one that may reset a password, and returns it with the
// account (both nil otherwise; the same work is done either way, and the
// caller answers alike). audit is the event user.recovery.start as the
// caller sees it (where from); for an account it is written, by that
// account, in the challenge's own transaction.
func (s *Service) StartRecovery(ctx context.Context, email, authRequestID string, audit Event) (IssuedChallenge, *ent.User, error) {
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
	req := EmailChallengeRequest{Purpose: EmailRecovery, Email: email, AuthRequestID: authRequestID, Lifetime: RecoveryLinkLifetime}
	if u != nil {
		ok, err := s.mayResetPassword(ctx, u)
		if err != nil {
			return IssuedChallenge{}, nil, err
		}
		if ok {
			req.UserID = u.ID
			audit.Action, audit.Actor, audit.ActorType = "user.recovery.start", string(u.ID), "user"
			audit.TargetType, audit.TargetID = ent.TypeUser, string(u.ID)
			req.Audit = &audit
		} else {
			u = nil
		}
	}
	ch, err := s.IssueEmailChallenge(ctx, req)
	if err != nil {
		return IssuedChallenge{}, nil, err
	}
	if u == nil {
		return IssuedChallenge{}, nil, nil
	}
	return ch, u, nil
}

// mayResetPassword reports whether u may set a password through recovery:
// an active account none of whose organizations enforces SSO on it
// (LoginPolicies applies ScopeEnforceSSO: a contractor whose address is
// at none of the organization's verified domains keeps a password).
func (s *Service) mayResetPassword(ctx context.Context, u *ent.User) (bool, error) {
	if !IsActiveUser(u) {
		return false, nil
	}
	policies, err := s.LoginPolicies(ctx, u.ID, "")
	if err != nil {
		return false, err
	}
	for _, p := range policies {
		if p.EnforceSSO {
			return false, nil
		}
	}
	return true, nil
}

// RecoveryLink is the account a live reset link names, without spending
// it (the page that asks for the new password), or a Reason*.
func (s *Service) RecoveryLink(ctx context.Context, token string) (*ent.EmailChallenge, string, error) {
	ctx = viewer.SystemContext(ctx)
	if token == "" || len(token) > 128 {
		return nil, ReasonChallengeUnknown, nil
	}
	ch, err := s.client.EmailChallenge.Query().Where(emailchallenge.LinkHash(secret.Hash(token))).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, ReasonChallengeUnknown, nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("find email challenge: %w", err)
	}
	if why := s.unusable(ch, EmailRecovery); why != "" {
		return nil, why, nil
	}
	if ch.UserID == "" {
		return nil, ReasonNoAccount, nil
	}
	return ch, "", nil
}

// ResetPassword spends the reset link token and sets the account's new
// password, in one transaction: the link spent (exactly one of concurrent
// resets wins), the password checked by the rules of the account's
// organizations and set, every session and refresh-token family revoked,
// and user.password.reset written. A password the rules refuse is an
// InputError and leaves the link unspent, so the person can try another.
// It returns the account, or a Reason* when the link cannot be used.
func (s *Service) ResetPassword(ctx context.Context, token, newPassword string) (*ent.User, *ent.EmailChallenge, string, error) {
	ctx = viewer.SystemContext(ctx)
	ch, why, err := s.RecoveryLink(ctx, token)
	if ch == nil || err != nil {
		return nil, nil, why, err
	}
	pw, err := s.hashPassword(newPassword)
	if err != nil {
		return nil, nil, "", err
	}
	var u *ent.User
	why = ""
	err = s.inTx(ctx, func(tx *ent.Tx) error {
		var err error
		if u, err = tx.User.Get(ctx, ch.UserID); err != nil {
			return translate(err, "user")
		}
		if ok, err := s.mayResetPassword(ctx, u); err != nil || !ok {
			why = ReasonDisabled
			return err
		}
		hash, err := s.checkPassword(ctx, tx, pw, "", u.ID, u.Email)
		if err != nil {
			return err
		}
		now := s.now()
		n, err := tx.EmailChallenge.Update().
			Where(emailchallenge.ID(ch.ID), emailchallenge.UsedAtIsNil(), emailchallenge.ExpiresAtGT(now)).
			SetUsedAt(now).Save(ctx)
		if err != nil {
			return fmt.Errorf("spend reset link: %w", err)
		}
		if n == 0 {
			why = ReasonChallengeUsed
			return nil
		}
		if u, err = u.Update().SetPasswordHash(hash).SetEmailVerified(true).Save(ctx); err != nil {
			return translate(err, "user")
		}
		if err := s.signOutEverywhere(ctx, tx, u.ID, "password reset"); err != nil {
			return err
		}
		ch.UsedAt = &now
		return WriteAudit(ctx, tx.AuditEvent, now, Event{Action: "user.password.reset", Actor: string(u.ID), ActorType: "user",
			TargetType: "User", TargetID: string(u.ID)})
	})
	if err != nil {
		return nil, nil, "", err
	}
	if why != "" {
		return nil, nil, why, nil
	}
	return u.Unwrap(), ch, "", nil
}
