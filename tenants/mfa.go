package tenants

// Second factors: authenticator apps (RFC 6238 TOTP) and recovery codes,
// the one home of their rules. A TOTP secret is sealed with the master key
// (WithSealer), bound to its credential and user; a time step is accepted
// once per credential, by one conditional UPDATE; a recovery code is a
// look-up secret (NIST SP 800-63B), stored as an argon2id hash and spent
// once by one conditional UPDATE. Every change writes its audit event in its own
// transaction. Rows are read and written as the System viewer, for the
// user the caller names: the hosted pages call these for the user of a
// login transaction or a session, never for one a form names.

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"entgo.io/ent/dialect/sql"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/passkey"
	"github.com/gatehouse-id/gatehouse/ent/recoverycode"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/ent/totpcredential"
	"github.com/gatehouse-id/gatehouse/ent/user"
	"github.com/gatehouse-id/gatehouse/internal/password"
	"github.com/gatehouse-id/gatehouse/internal/seal"
	"github.com/gatehouse-id/gatehouse/internal/totp"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// Audit actions of second factors.
const (
	ActionTOTPEnroll            = "mfa.totp.enroll"
	ActionTOTPRemove            = "mfa.totp.remove"
	ActionTOTPRename            = "mfa.totp.rename"
	ActionRecoveryCodesGenerate = "mfa.recovery_codes.generate"
	ActionRecoveryCodeUse       = "mfa.recovery_code.use"
)

const (
	defaultTOTPIssuer = "Gatehouse"
	// totpEnrollmentLifetime is how long an enrollment may wait for its
	// first code.
	totpEnrollmentLifetime    = LoginTransactionLifetime
	maxTOTPCredentialsPerUser = 10
	maxTOTPNameLength         = 100
	totpSealPurpose           = "gatehouse/totp-secret"
	recoveryCodeCount         = 10
	recoveryCodeLength        = 10 // characters of recoveryAlphabet: 50 bits
	// recoveryAlphabet is Crockford's base32 in lower case: no i, l, o, u.
	recoveryAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

	msgLastSecondFactor       = "an organization of this user requires multi-factor authentication, and this is the user's last second factor"
	msgTOTPEnrollmentNotFound = "the enrollment has expired or was confirmed already; start again"
)

// Errors of second factors (compare with errors.Is).
var (
	// ErrOTPReplayed: the code is right but its time step was accepted
	// before (RFC 6238 §5.2: a code is accepted once).
	ErrOTPReplayed = errors.New("one-time code already used")
	// ErrNoSealer: the Service was built without WithSealer.
	ErrNoSealer = errors.New("totp: no sealer configured (tenants.WithSealer)")
)

// WithSealer sets what seals TOTP secrets at rest (the master key, as
// signing keys are sealed). Without one, enrolling and verifying TOTP
// fail with ErrNoSealer.
func WithSealer(sl *seal.Sealer) Option { return func(s *Service) { s.sealer = sl } }

// WithTOTPIssuer sets the issuer an authenticator app shows beside a
// TOTP enrollment (the key URI's issuer). Defaults to "Gatehouse".
func WithTOTPIssuer(name string) Option { return func(s *Service) { s.totpIssuer = name } }

// TOTPEnrollment is a TOTP credential not yet confirmed, and what the
// user's app needs: the secret (base32) and the otpauth:// key URI.
type TOTPEnrollment struct {
	Credential *ent.TOTPCredential
	Secret     string
	URI        string
}

// totpAD is the associated data a TOTP secret is sealed with: the secret
// opens only as the secret of this credential of this user.
func totpAD(credID, userID pulid.ID) []byte {
	return []byte(totpSealPurpose + "\x00" + string(credID) + "\x00" + string(userID))
}

// BeginTOTP starts an enrollment for userID: a new unconfirmed credential
// with a new secret, replacing the user's earlier unconfirmed ones. It
// counts as a second factor only once ConfirmTOTP has seen a code from it,
// within totpEnrollmentLifetime.
func (s *Service) BeginTOTP(ctx context.Context, userID pulid.ID) (TOTPEnrollment, error) {
	ctx = viewer.SystemContext(ctx)
	if s.sealer == nil {
		return TOTPEnrollment{}, ErrNoSealer
	}
	u, err := s.client.User.Query().Where(user.ID(userID)).Only(ctx)
	if err != nil {
		return TOTPEnrollment{}, translate(err, "user")
	}
	n, err := s.client.TOTPCredential.Query().Where(totpcredential.UserID(userID), totpcredential.ConfirmedAtNotNil()).Count(ctx)
	if err != nil {
		return TOTPEnrollment{}, fmt.Errorf("count TOTP credentials: %w", err)
	}
	if n >= maxTOTPCredentialsPerUser {
		return TOTPEnrollment{}, invalid("totp", "at most %d authenticator apps per user", maxTOTPCredentialsPerUser)
	}
	sec := totp.NewSecret()
	key, _ := totp.DecodeSecret(sec)
	id := pulid.New("totp")
	sealed, err := s.sealer.Seal(key, totpAD(id, userID))
	if err != nil {
		return TOTPEnrollment{}, fmt.Errorf("seal TOTP secret: %w", err)
	}
	var c *ent.TOTPCredential
	err = s.inTx(ctx, func(tx *ent.Tx) error {
		if _, err := tx.TOTPCredential.Delete().Where(totpcredential.UserID(userID), totpcredential.ConfirmedAtIsNil()).Exec(ctx); err != nil {
			return fmt.Errorf("drop unconfirmed TOTP credentials: %w", err)
		}
		c, err = tx.TOTPCredential.Create().SetID(id).SetUserID(userID).SetSecretSealed(sealed).SetCreatedAt(s.now()).Save(ctx)
		if err != nil {
			return fmt.Errorf("store TOTP credential: %w", err)
		}
		return nil
	})
	if err != nil {
		return TOTPEnrollment{}, err
	}
	return TOTPEnrollment{Credential: c.Unwrap(), Secret: sec, URI: totp.KeyURI(s.totpIssuer, u.Email, sec)}, nil
}

// PendingTOTP is userID's enrollment credID again, while it waits for
// its first code (a page shown anew after a wrong code). An enrollment
// that is not the user's, confirmed already or expired is an InputError.
func (s *Service) PendingTOTP(ctx context.Context, userID, credID pulid.ID) (TOTPEnrollment, error) {
	ctx = viewer.SystemContext(ctx)
	c, key, err := s.totpKey(ctx, userID, credID)
	if err != nil {
		return TOTPEnrollment{}, err
	}
	if c == nil || c.ConfirmedAt != nil || s.now().Sub(c.CreatedAt) > totpEnrollmentLifetime {
		return TOTPEnrollment{}, invalid("totp", msgTOTPEnrollmentNotFound)
	}
	u, err := s.client.User.Query().Where(user.ID(userID)).Only(ctx)
	if err != nil {
		return TOTPEnrollment{}, translate(err, "user")
	}
	sec := totp.EncodeSecret(key)
	return TOTPEnrollment{Credential: c, Secret: sec, URI: totp.KeyURI(s.totpIssuer, u.Email, sec)}, nil
}

// ConfirmTOTP confirms userID's enrollment credID with a code from the
// app: the credential becomes a second factor and the code's step is
// used. A wrong code returns false; an enrollment that is not the
// user's, confirmed already or older than totpEnrollmentLifetime is an
// InputError.
func (s *Service) ConfirmTOTP(ctx context.Context, userID, credID pulid.ID, code string) (bool, error) {
	defer policyMemoFrom(ctx).forgetEnrolled(userID)
	sys := viewer.SystemContext(ctx)
	c, key, err := s.totpKey(sys, userID, credID)
	if err != nil {
		return false, err
	}
	if c == nil || c.ConfirmedAt != nil || s.now().Sub(c.CreatedAt) > totpEnrollmentLifetime {
		return false, invalid("totp", msgTOTPEnrollmentNotFound)
	}
	step, ok := totp.Verify(key, normalizeOTP(code), s.now())
	if !ok {
		return false, nil
	}
	err = s.inTx(sys, func(tx *ent.Tx) error {
		now := s.now()
		n, err := tx.TOTPCredential.Update().
			Where(totpcredential.ID(credID), totpcredential.UserID(userID), totpcredential.ConfirmedAtIsNil(), totpcredential.LastUsedStepLT(step)).
			SetConfirmedAt(now).SetLastUsedStep(step).SetLastUsedAt(now).Save(sys)
		if err != nil {
			return fmt.Errorf("confirm TOTP credential: %w", err)
		}
		if n != 1 {
			return invalid("totp", msgTOTPEnrollmentNotFound)
		}
		return s.mfaAudit(ctx, tx, userID, ActionTOTPEnroll, ent.TypeTOTPCredential, credID, map[string]any{"name": c.Name})
	})
	if err != nil {
		return false, err
	}
	return true, nil
}

// VerifyTOTP reports whether code is a current code (±1 step) of one of
// userID's confirmed authenticator apps. The step it matches is accepted
// only if it is later than the last step accepted for that app, by one
// conditional UPDATE (last_used_step < step), so the same code, even sent
// twice at once, succeeds once: the other attempts get ErrOTPReplayed
// (false). A wrong code is false with no error.
func (s *Service) VerifyTOTP(ctx context.Context, userID pulid.ID, code string) (bool, error) {
	ctx = viewer.SystemContext(ctx)
	if s.sealer == nil {
		return false, ErrNoSealer
	}
	code = normalizeOTP(code)
	cs, err := s.client.TOTPCredential.Query().
		Where(totpcredential.UserID(userID), totpcredential.ConfirmedAtNotNil()).
		Limit(maxTOTPCredentialsPerUser).All(ctx)
	if err != nil {
		return false, fmt.Errorf("list TOTP credentials: %w", err)
	}
	now := s.now()
	for _, c := range cs {
		key, err := s.sealer.Open(c.SecretSealed, totpAD(c.ID, userID))
		if err != nil {
			return false, fmt.Errorf("open TOTP secret %s: %w", c.ID, err)
		}
		step, ok := totp.Verify(key, code, now)
		if !ok {
			continue
		}
		if s.beforeSpend != nil {
			s.beforeSpend()
		}
		n, err := s.client.TOTPCredential.Update().
			Where(totpcredential.ID(c.ID), totpcredential.LastUsedStepLT(step)).
			SetLastUsedStep(step).SetLastUsedAt(now).Save(ctx)
		if err != nil {
			return false, fmt.Errorf("use TOTP step: %w", err)
		}
		if n == 1 {
			return true, nil
		}
		return false, ErrOTPReplayed
	}
	return false, nil
}

// totpKey is userID's credential credID and its opened secret, or nil
// when the user has no such credential.
func (s *Service) totpKey(ctx context.Context, userID, credID pulid.ID) (*ent.TOTPCredential, []byte, error) {
	if s.sealer == nil {
		return nil, nil, ErrNoSealer
	}
	c, err := s.client.TOTPCredential.Query().Where(totpcredential.ID(credID), totpcredential.UserID(userID)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("find TOTP credential: %w", err)
	}
	key, err := s.sealer.Open(c.SecretSealed, totpAD(c.ID, userID))
	if err != nil {
		return nil, nil, fmt.Errorf("open TOTP secret %s: %w", c.ID, err)
	}
	return c, key, nil
}

// normalizeOTP drops the spaces and hyphens people type into codes.
func normalizeOTP(code string) string {
	if len(code) > 32 {
		return ""
	}
	return strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(code))
}

// ListTOTP lists userID's confirmed authenticator apps, oldest first.
func (s *Service) ListTOTP(ctx context.Context, userID pulid.ID) ([]*ent.TOTPCredential, error) {
	cs, err := s.client.TOTPCredential.Query().
		Where(totpcredential.UserID(userID), totpcredential.ConfirmedAtNotNil()).
		Order(ent.Asc(totpcredential.FieldCreatedAt), ent.Asc(totpcredential.FieldID)).
		All(viewer.SystemContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("list TOTP credentials: %w", err)
	}
	return cs, nil
}

// RenameTOTP names userID's authenticator app credID (1 to 100
// characters).
func (s *Service) RenameTOTP(ctx context.Context, userID, credID pulid.ID, name string) (*ent.TOTPCredential, error) {
	sys := viewer.SystemContext(ctx)
	name = strings.TrimSpace(name)
	if name == "" || len(name) > maxTOTPNameLength || !utf8.ValidString(name) {
		return nil, invalid("name", "must be 1 to %d characters", maxTOTPNameLength)
	}
	var out *ent.TOTPCredential
	err := s.inTx(sys, func(tx *ent.Tx) error {
		c, err := tx.TOTPCredential.Query().Where(totpcredential.ID(credID), totpcredential.UserID(userID), totpcredential.ConfirmedAtNotNil()).Only(sys)
		if err != nil {
			return translate(err, "totp credential")
		}
		if out, err = c.Update().SetName(name).Save(sys); err != nil {
			return fmt.Errorf("rename TOTP credential: %w", err)
		}
		return s.mfaAudit(ctx, tx, userID, ActionTOTPRename, ent.TypeTOTPCredential, credID, map[string]any{"from": c.Name, "to": name})
	})
	return unwrap(out, err)
}

// RemoveTOTP removes userID's authenticator app credID. Removing the
// user's last second factor (authenticator app or passkey) is refused
// with a ForbiddenError while an organization where the user is an
// active member requires multi-factor authentication.
func (s *Service) RemoveTOTP(ctx context.Context, userID, credID pulid.ID) error {
	defer policyMemoFrom(ctx).forgetEnrolled(userID)
	sys := viewer.SystemContext(ctx)
	return s.inTx(sys, func(tx *ent.Tx) error {
		c, err := tx.TOTPCredential.Query().Where(totpcredential.ID(credID), totpcredential.UserID(userID)).Only(sys)
		if err != nil {
			return translate(err, "totp credential")
		}
		if c.ConfirmedAt != nil {
			if err := s.keepsSecondFactor(sys, tx, userID, credID); err != nil {
				return err
			}
		}
		if err := tx.TOTPCredential.DeleteOneID(credID).Exec(sys); err != nil {
			return fmt.Errorf("remove TOTP credential: %w", err)
		}
		if c.ConfirmedAt == nil {
			return nil // an enrollment never finished is no factor: nothing to record
		}
		return s.mfaAudit(ctx, tx, userID, ActionTOTPRemove, ent.TypeTOTPCredential, credID, map[string]any{"name": c.Name})
	})
}

// keepsSecondFactor refuses, while an organization of userID requires
// MFA, a change that would leave the user without a second factor:
// removing the authenticator app without, when it is the last one and
// the user has no passkey.
func (s *Service) keepsSecondFactor(ctx context.Context, tx *ent.Tx, userID, without pulid.ID) error {
	others, err := tx.TOTPCredential.Query().
		Where(totpcredential.UserID(userID), totpcredential.ConfirmedAtNotNil(), totpcredential.IDNEQ(without)).Count(ctx)
	if err != nil {
		return fmt.Errorf("count TOTP credentials: %w", err)
	}
	keys, err := tx.Passkey.Query().Where(passkey.UserID(userID), passkey.CloneWarning(false)).Count(ctx)
	if err != nil {
		return fmt.Errorf("count passkeys: %w", err)
	}
	if others+keys > 0 {
		return nil
	}
	required, err := s.MFARequired(ctx, userID)
	if err != nil {
		return err
	}
	if required {
		return &ForbiddenError{Field: "totp", Reason: msgLastSecondFactor}
	}
	return nil
}

// MFARequired reports whether an organization where userID is an active
// member requires multi-factor authentication (mfaRequired).
func (s *Service) MFARequired(ctx context.Context, userID pulid.ID) (bool, error) {
	ps, err := s.LoginPolicies(ctx, userID, "")
	if err != nil {
		return false, err
	}
	for _, p := range ps {
		if p.MfaRequired {
			return true, nil
		}
	}
	return false, nil
}

// GenerateRecoveryCodes gives userID ten new recovery codes, replacing
// any left: each is ten characters of a 32-letter alphabet (50 bits),
// shown as xxxxx-xxxxx. Under 112 bits, NIST SP 800-63B §5.1.2.2 wants a
// salted key derivation function: each is stored as an argon2id hash
// (recoveryParams), the ten under one salt of their own, so a typed code
// is hashed once and found by its hash. The codes are returned once and
// never again.
func (s *Service) GenerateRecoveryCodes(ctx context.Context, userID pulid.ID) ([]string, error) {
	sys := viewer.SystemContext(ctx)
	codes := make([]string, recoveryCodeCount)
	hashes := make([]string, recoveryCodeCount)
	for i := range codes {
		codes[i] = newRecoveryCode()
		var err error
		if i == 0 {
			hashes[i], err = password.Hash(normalizeRecoveryCode(codes[i]), s.recoveryParams())
		} else {
			hashes[i], err = password.HashLike(normalizeRecoveryCode(codes[i]), hashes[0])
		}
		if err != nil {
			return nil, fmt.Errorf("hash recovery code: %w", err)
		}
	}
	err := s.inTx(sys, func(tx *ent.Tx) error {
		if _, err := tx.RecoveryCode.Delete().Where(recoverycode.UserID(userID)).Exec(sys); err != nil {
			return fmt.Errorf("drop old recovery codes: %w", err)
		}
		now := s.now()
		bulk := make([]*ent.RecoveryCodeCreate, len(codes))
		for i := range codes {
			bulk[i] = tx.RecoveryCode.Create().SetUserID(userID).SetCodeHash(hashes[i]).SetCreatedAt(now)
		}
		if err := tx.RecoveryCode.CreateBulk(bulk...).Exec(sys); err != nil {
			return fmt.Errorf("store recovery codes: %w", err)
		}
		return s.mfaAudit(ctx, tx, userID, ActionRecoveryCodesGenerate, ent.TypeUser, userID, map[string]any{"count": len(codes)})
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// recoveryParams is the argon2id cost of a recovery code's hash: OWASP's
// minimum (19 MiB, 2 passes), which 50 random bits need far less than a
// password does, or the service's password cost when that is lower
// (tests).
func (s *Service) recoveryParams() password.Params {
	p := password.Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32}
	if s.passwordParams.Memory < p.Memory {
		return s.passwordParams
	}
	return p
}

// UseRecoveryCode spends one of userID's recovery codes: true when code
// was one not spent yet. It is hashed under the salt of the user's set
// and spent by one conditional UPDATE (used_at IS NULL), so a code sent
// twice at once succeeds once. Case, spaces, hyphens and the letters
// people confuse with digits (i, l, o) do not matter. password.ErrBusy
// means no hashing slot was free.
func (s *Service) UseRecoveryCode(ctx context.Context, userID pulid.ID, code string) (bool, error) {
	sys := viewer.SystemContext(ctx)
	norm := normalizeRecoveryCode(code)
	if len(norm) != recoveryCodeLength {
		return false, nil
	}
	stored, err := s.client.RecoveryCode.Query().Where(recoverycode.UserID(userID)).Select(recoverycode.FieldCodeHash).First(sys)
	if ent.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("find recovery codes: %w", err)
	}
	hash, err := password.HashLike(norm, stored.CodeHash)
	if err != nil {
		return false, fmt.Errorf("hash recovery code: %w", err)
	}
	if s.beforeSpend != nil {
		s.beforeSpend()
	}
	var ok bool
	err = s.inTx(sys, func(tx *ent.Tx) error {
		n, err := tx.RecoveryCode.Update().
			Where(recoverycode.UserID(userID), recoverycode.CodeHash(hash), recoverycode.UsedAtIsNil()).
			SetUsedAt(s.now()).Save(sys)
		if err != nil {
			return fmt.Errorf("use recovery code: %w", err)
		}
		if n != 1 {
			return nil
		}
		ok = true
		left, err := tx.RecoveryCode.Query().Where(recoverycode.UserID(userID), recoverycode.UsedAtIsNil()).Count(sys)
		if err != nil {
			return fmt.Errorf("count recovery codes: %w", err)
		}
		return s.mfaAudit(ctx, tx, userID, ActionRecoveryCodeUse, ent.TypeUser, userID, map[string]any{"left": left})
	})
	if err != nil {
		return false, err
	}
	return ok, nil
}

// RecoveryCodesLeft is how many of userID's recovery codes are unspent.
func (s *Service) RecoveryCodesLeft(ctx context.Context, userID pulid.ID) (int, error) {
	n, err := s.client.RecoveryCode.Query().Where(recoverycode.UserID(userID), recoverycode.UsedAtIsNil()).Count(viewer.SystemContext(ctx))
	if err != nil {
		return 0, fmt.Errorf("count recovery codes: %w", err)
	}
	return n, nil
}

// SecondFactors are the second factors a user holds.
type SecondFactors struct {
	// TOTP counts confirmed authenticator apps; RecoveryCodes the unspent
	// recovery codes; Passkeys the registered passkeys that are not
	// refused for a sign counter that went backwards (clone_warning).
	TOTP, RecoveryCodes, Passkeys int
}

// Any reports whether the user can prove a second factor at all.
func (f SecondFactors) Any() bool { return f.TOTP+f.RecoveryCodes+f.Passkeys > 0 }

// SecondFactors says which second factors userID can use.
func (s *Service) SecondFactors(ctx context.Context, userID pulid.ID) (SecondFactors, error) {
	ctx = viewer.SystemContext(ctx)
	var f SecondFactors
	var err error
	if f.TOTP, err = s.client.TOTPCredential.Query().Where(totpcredential.UserID(userID), totpcredential.ConfirmedAtNotNil()).Count(ctx); err != nil {
		return f, fmt.Errorf("count TOTP credentials: %w", err)
	}
	if f.RecoveryCodes, err = s.RecoveryCodesLeft(ctx, userID); err != nil {
		return f, err
	}
	if f.Passkeys, err = s.client.Passkey.Query().Where(passkey.UserID(userID), passkey.CloneWarning(false)).Count(ctx); err != nil {
		return f, fmt.Errorf("count passkeys: %w", err)
	}
	return f, nil
}

// SecondFactorEnrolled reports whether userID has enrolled a second
// factor that every sign-in must then ask for (LoginInput.
// SecondFactorEnrolled): a confirmed authenticator app. One indexed query.
//
// Like LoginPolicies, it answers from the request's memo
// (WithLoginPolicyMemo) when there is one.
func (s *Service) SecondFactorEnrolled(ctx context.Context, userID pulid.ID) (bool, error) {
	memo := policyMemoFrom(ctx)
	if enrolled, ok := memo.getEnrolled(userID); ok {
		return enrolled, nil
	}
	enrolled, err := s.client.User.Query().Where(user.ID(userID), func(sel *sql.Selector) {
		sel.Where(enrolledSecondFactor(sel, sel.C(user.FieldID)))
	}).Exist(viewer.SystemContext(ctx))
	if err != nil {
		return false, fmt.Errorf("find second factors: %w", err)
	}
	memo.putEnrolled(userID, enrolled)
	return enrolled, nil
}

// enrolledSecondFactor is SecondFactorEnrolled's rule as a predicate of
// sel on the user whose id is column userCol, for queries that read it
// with other rows (PasskeyOwner): the user has a confirmed authenticator
// app. Passkeys are first factors, and recovery codes only stand in for
// the app; neither makes every sign-in ask for a second factor.
func enrolledSecondFactor(sel *sql.Selector, userCol string) *sql.Predicate {
	t := sql.Dialect(sel.Dialect()).Table(totpcredential.Table)
	return sql.Exists(sql.Dialect(sel.Dialect()).Select(t.C(totpcredential.FieldID)).From(t).
		Where(sql.And(sql.ColumnsEQ(t.C(totpcredential.FieldUserID), userCol), sql.NotNull(t.C(totpcredential.FieldConfirmedAt)))))
}

// newRecoveryCode is ten random characters of recoveryAlphabet as
// xxxxx-xxxxx.
func newRecoveryCode() string {
	b := make([]byte, recoveryCodeLength)
	_, _ = rand.Read(b)
	out := make([]byte, 0, recoveryCodeLength+1)
	for i, c := range b {
		if i == recoveryCodeLength/2 {
			out = append(out, '-')
		}
		out = append(out, recoveryAlphabet[c&31]) // 256 is a multiple of 32: no bias
	}
	return string(out)
}

// normalizeRecoveryCode is code as stored: lower case, without spaces
// or hyphens, with the letters i, l and o read as 1, 1 and 0 (the
// alphabet has none of them).
func normalizeRecoveryCode(code string) string {
	if len(code) > 64 {
		return ""
	}
	return strings.NewReplacer(" ", "", "-", "", "i", "1", "l", "1", "o", "0").Replace(strings.ToLower(strings.TrimSpace(code)))
}

// mfaAudit records a change of userID's second factors in tx. The actor
// is the caller's viewer when it is a principal (an admin, the user's
// token), and otherwise the user, signed in or signing in on the hosted
// pages.
func (s *Service) mfaAudit(ctx context.Context, tx *ent.Tx, userID pulid.ID, action, targetType string, target pulid.ID, md map[string]any) error {
	e := Event{Action: action, TargetType: targetType, TargetID: string(target), Metadata: md}
	if v := viewer.FromContext(ctx); v == nil || v.Kind == viewer.System {
		e.Actor, e.ActorType = string(userID), "user"
		ctx = viewer.SystemContext(ctx)
	}
	if e.Metadata == nil {
		e.Metadata = map[string]any{}
	}
	e.Metadata["user_id"] = string(userID)
	return WriteAudit(ctx, tx.AuditEvent, s.now(), e)
}

// resealBatch is how many TOTP credentials ResealTOTPSecrets reads at once.
const resealBatch = 500

// ResealTOTPSecrets re-seals every authenticator app's secret that an
// older master key sealed under the current one (gatehouse keys
// rotate-master), so that the old key can be dropped without locking out
// anyone who signs in with a code. Each secret is written by a
// conditional UPDATE that still expects what was read, so two nodes
// running it at once, or a user re-enrolling meanwhile, re-seal each value
// once and never overwrite a newer one. It returns how many it re-sealed.
func (s *Service) ResealTOTPSecrets(ctx context.Context) (int, error) {
	if s.sealer == nil {
		return 0, fmt.Errorf("re-seal TOTP secrets: %w", ErrNoSealer)
	}
	sys := viewer.SystemContext(ctx)
	changed := 0
	after := pulid.ID("")
	for {
		cs, err := s.client.TOTPCredential.Query().
			Where(totpcredential.IDGT(after)).
			Order(ent.Asc(totpcredential.FieldID)).Limit(resealBatch).All(sys)
		if err != nil {
			return changed, fmt.Errorf("list TOTP credentials: %w", err)
		}
		for _, c := range cs {
			out, resealed, err := s.sealer.Reseal(c.SecretSealed, totpAD(c.ID, c.UserID))
			if err != nil {
				return changed, fmt.Errorf("re-seal TOTP secret %s: %w", c.ID, err)
			}
			if !resealed {
				continue
			}
			n, err := s.client.TOTPCredential.Update().
				Where(totpcredential.ID(c.ID), totpcredential.SecretSealedEQ(c.SecretSealed)).
				SetSecretSealed(out).Save(sys)
			if err != nil {
				return changed, fmt.Errorf("store re-sealed TOTP secret %s: %w", c.ID, err)
			}
			changed += n
		}
		if len(cs) < resealBatch {
			return changed, nil
		}
		after = cs[len(cs)-1].ID
	}
}
