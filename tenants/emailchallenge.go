package tenants

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"math/big"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/emailchallenge"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/internal/secret"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// An email challenge proves control of an address: a 6-digit code typed
// into the browser that asked for it, or a link opened anywhere. Both are
// single-use and short-lived; only their hashes are stored. A newer
// challenge for the same address and purpose replaces the older one
// (SECURITY-CHECKLIST ATO-06: newest only). The code's space is small, so
// each challenge takes at most EmailCodeAttempts guesses whatever the
// throttle allows, and the code counts only in the browser that asked.

// EmailPurpose is what an email challenge proves control of the address for.
type EmailPurpose = emailchallenge.Purpose

// The purposes of email challenges.
const (
	EmailSignup      = emailchallenge.PurposeSIGNUP
	EmailLogin       = emailchallenge.PurposeLOGIN
	EmailRecovery    = emailchallenge.PurposeRECOVERY
	EmailChangeEmail = emailchallenge.PurposeEMAIL_CHANGE
)

// Lifetimes and limits of email challenges.
const (
	// EmailCodeLifetime bounds a signup, sign-in or email-change code and link.
	EmailCodeLifetime = 15 * time.Minute
	// RecoveryLinkLifetime bounds a password-reset link (ATO-06: ≤ 30 minutes).
	RecoveryLinkLifetime = 30 * time.Minute
	// EmailCodeAttempts is how many wrong codes end a challenge.
	EmailCodeAttempts = 5
)

// Reasons an email challenge is not redeemed, for the audit trail; the
// browser is told one sentence for all of them.
const (
	ReasonChallengeUnknown = "challenge_unknown"
	ReasonChallengeExpired = "challenge_expired"
	ReasonChallengeUsed    = "challenge_used"
	ReasonWrongCode        = "wrong_code"
	ReasonTooManyAttempts  = "too_many_attempts"
	ReasonOtherBrowser     = "other_browser"
	ReasonChallengePurpose = "challenge_purpose"
	ReasonNoAccount        = "no_account"
)

// EmailChallengeRequest asks for a new email challenge.
type EmailChallengeRequest struct {
	Purpose EmailPurpose
	// Email is where the code and link go, normalized (NormalizeEmail).
	Email string
	// UserID is the account the challenge proves control of; "" for a
	// signup, or when no account has the address (the challenge is still
	// stored, so both cases do the same work; it can never sign anyone in).
	UserID pulid.ID
	// BrowserToken binds the code to the browser that asked (a cookie
	// value); the link is bound to nothing but itself.
	BrowserToken  string
	AuthRequestID string
	// Lifetime defaults to EmailCodeLifetime.
	Lifetime time.Duration
	// Data is what the purpose carries to its end.
	Data map[string]string
	// Audit, when set, is written in the challenge's transaction.
	Audit *Event
}

// IssuedChallenge is a stored challenge with the secrets to send: the
// code and the link token, which exist nowhere else.
type IssuedChallenge struct {
	Challenge *ent.EmailChallenge
	Code      string
	LinkToken string
}

// IssueEmailChallenge stores a new challenge for req, ending any earlier
// unused one for the same address and purpose, and returns its secrets.
func (s *Service) IssueEmailChallenge(ctx context.Context, req EmailChallengeRequest) (IssuedChallenge, error) {
	ctx = viewer.SystemContext(ctx) // the browser has no viewer yet
	if req.Lifetime <= 0 {
		req.Lifetime = EmailCodeLifetime
	}
	code, err := sixDigits()
	if err != nil {
		return IssuedChallenge{}, err
	}
	id := pulid.New("ech")
	link := secret.Token(32)
	now := s.now()
	var ch *ent.EmailChallenge
	err = s.inTx(ctx, func(tx *ent.Tx) error {
		if err := tx.EmailChallenge.Update().
			Where(emailchallenge.Email(req.Email), emailchallenge.PurposeEQ(req.Purpose), emailchallenge.UsedAtIsNil()).
			SetUsedAt(now).Exec(ctx); err != nil {
			return fmt.Errorf("end earlier email challenges: %w", err)
		}
		c := tx.EmailChallenge.Create().SetID(id).SetPurpose(req.Purpose).SetEmail(req.Email).
			SetCodeHash(codeHash(id, code)).SetLinkHash(secret.Hash(link)).
			SetCreatedAt(now).SetExpiresAt(now.Add(req.Lifetime))
		if req.UserID != "" {
			c.SetUserID(req.UserID)
		}
		if req.BrowserToken != "" {
			c.SetBrowserHash(secret.Hash(req.BrowserToken))
		}
		if req.AuthRequestID != "" {
			c.SetAuthRequestID(pulid.ID(req.AuthRequestID))
		}
		if req.Data != nil {
			c.SetData(req.Data)
		}
		var err error
		if ch, err = c.Save(ctx); err != nil {
			return fmt.Errorf("store email challenge: %w", err)
		}
		if req.Audit != nil {
			return WriteAudit(ctx, tx.AuditEvent, now, *req.Audit)
		}
		return nil
	})
	if err != nil {
		return IssuedChallenge{}, err
	}
	return IssuedChallenge{Challenge: ch.Unwrap(), Code: code, LinkToken: link}, nil
}

// RedeemEmailCode spends challenge id with code typed in the browser
// holding browserToken. It returns the challenge, or a Reason* saying why
// not (and a nil challenge); a wrong code uses up one attempt. Exactly one
// of any number of concurrent redemptions succeeds.
func (s *Service) RedeemEmailCode(ctx context.Context, purpose EmailPurpose, id, browserToken, code string) (*ent.EmailChallenge, string, error) {
	ctx = viewer.SystemContext(ctx)
	if !pulid.ID(id).Valid() || len(code) > 16 {
		return nil, ReasonChallengeUnknown, nil
	}
	ch, err := s.client.EmailChallenge.Get(ctx, pulid.ID(id))
	if ent.IsNotFound(err) {
		return nil, ReasonChallengeUnknown, nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("find email challenge: %w", err)
	}
	if why := s.unusable(ch, purpose); why != "" {
		return nil, why, nil
	}
	if ch.BrowserHash == "" || !secret.Matches(ch.BrowserHash, browserToken) {
		return nil, ReasonOtherBrowser, nil
	}
	if subtle.ConstantTimeCompare([]byte(ch.CodeHash), []byte(codeHash(ch.ID, code))) != 1 {
		// The attempt counts whatever else happens; the last one allowed
		// leaves the challenge unusable.
		if _, err := s.client.EmailChallenge.Update().
			Where(emailchallenge.ID(ch.ID), emailchallenge.UsedAtIsNil()).
			AddAttempts(1).Save(ctx); err != nil {
			return nil, "", fmt.Errorf("count email code attempt: %w", err)
		}
		return nil, ReasonWrongCode, nil
	}
	return s.spend(ctx, ch)
}

// RedeemEmailLink spends the challenge whose link carries token.
func (s *Service) RedeemEmailLink(ctx context.Context, purpose EmailPurpose, token string) (*ent.EmailChallenge, string, error) {
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
	if why := s.unusable(ch, purpose); why != "" {
		return nil, why, nil
	}
	return s.spend(ctx, ch)
}

// unusable says why ch cannot be redeemed for purpose, or "".
func (s *Service) unusable(ch *ent.EmailChallenge, purpose EmailPurpose) string {
	switch {
	case ch.Purpose != purpose:
		return ReasonChallengePurpose
	case ch.UsedAt != nil:
		return ReasonChallengeUsed
	case !s.now().Before(ch.ExpiresAt):
		return ReasonChallengeExpired
	case ch.Attempts >= EmailCodeAttempts:
		return ReasonTooManyAttempts
	}
	return ""
}

// spend marks ch used with one conditional update, so that of concurrent
// redemptions exactly one wins.
func (s *Service) spend(ctx context.Context, ch *ent.EmailChallenge) (*ent.EmailChallenge, string, error) {
	now := s.now()
	n, err := s.client.EmailChallenge.Update().
		Where(emailchallenge.ID(ch.ID), emailchallenge.UsedAtIsNil(),
			emailchallenge.AttemptsLT(EmailCodeAttempts), emailchallenge.ExpiresAtGT(now)).
		SetUsedAt(now).Save(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("spend email challenge: %w", err)
	}
	if n == 0 {
		return nil, ReasonChallengeUsed, nil
	}
	ch.UsedAt = &now
	return ch, "", nil
}

// SweepEmailChallenges deletes challenges past their expiry and returns how many.
func (s *Service) SweepEmailChallenges(ctx context.Context) (int, error) {
	n, err := s.client.EmailChallenge.Delete().Where(emailchallenge.ExpiresAtLT(s.now())).Exec(viewer.SystemContext(ctx))
	if err != nil {
		return 0, fmt.Errorf("sweep email challenges: %w", err)
	}
	return n, nil
}

// codeHash binds a code to its challenge, so that one stored hash cannot
// stand for the same code of another challenge.
func codeHash(id pulid.ID, code string) string { return secret.Hash(string(id) + "\x00" + code) }

// sixDigits is a uniformly random 6-digit code.
func sixDigits() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", fmt.Errorf("make code: %w", err)
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}
