package tenants

import (
	"context"
	stdsql "database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"entgo.io/ent/dialect/sql"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/passkey"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/ent/user"
	"github.com/gatehouse-id/gatehouse/ent/webauthnceremony"
	"github.com/gatehouse-id/gatehouse/internal/secret"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// Passkeys are WebAuthn credentials (W3C WebAuthn L3): the hosted pages
// run the ceremonies with go-webauthn, and this file keeps the rules the
// library leaves to its caller (SECURITY-CHECKLIST PK-02, PK-03, PK-05):
// a ceremony is bound to the browser that began it and answered at most
// once, before it expires; a credential id belongs to one user only; a
// sign counter that goes backwards flags the passkey as cloned, and a
// flagged passkey signs nobody in until it is removed. Like sessions,
// passkeys and ceremonies are read and written as the System viewer, for a
// browser that has no viewer yet; the user a change is about is the actor
// of its audit event.

// Audit actions of passkeys.
const (
	ActionPasskeyRegister      = "passkey.register"
	ActionPasskeyRename        = "passkey.rename"
	ActionPasskeyRemove        = "passkey.remove"
	ActionPasskeyCloneDetected = "passkey.clone_detected"
)

// CeremonyPurpose is what a WebAuthn ceremony is for: a registration
// (navigator.credentials.create), a first-factor sign-in with a
// discoverable credential, or a second factor after another one.
type CeremonyPurpose = webauthnceremony.Purpose

// The ceremony purposes.
const (
	CeremonyRegister     = webauthnceremony.PurposeREGISTER
	CeremonyLogin        = webauthnceremony.PurposeLOGIN
	CeremonySecondFactor = webauthnceremony.PurposeSECOND_FACTOR
)

// Errors of the passkey rules; the hosted pages tell the browser one
// sentence for all of the sign-in ones (ATO-04) and audit which it was.
var (
	// ErrCeremony: no ceremony for this browser token and purpose, or it
	// expired, or it was answered already.
	ErrCeremony = errors.New("no such WebAuthn ceremony")
	// ErrPasskeyUnknown: no passkey has this credential id.
	ErrPasskeyUnknown = errors.New("unknown passkey")
	// ErrPasskeyClone: the passkey's sign counter went backwards (now or
	// before): it is flagged and refused until removed.
	ErrPasskeyClone = errors.New("passkey sign counter regression: possibly cloned")
	// ErrPasskeyUserInactive: the passkey's user may not sign in.
	ErrPasskeyUserInactive = errors.New("passkey user is not active")
)

// MaxCredentialIDLength is the longest credential id accepted (WebAuthn
// L3 §7.1 step 21: at most 1023 bytes).
const MaxCredentialIDLength = 1023

// BeginCeremony stores a ceremony's go-webauthn SessionData (JSON) for
// purpose, for userID when the ceremony is for a known user (registration,
// second factor), until expires; and returns the token the browser keeps
// in a cookie, the only way to answer it (only its hash is stored).
func (s *Service) BeginCeremony(ctx context.Context, purpose CeremonyPurpose, userID pulid.ID, sessionData []byte, expires time.Time) (string, error) {
	if len(sessionData) == 0 {
		return "", invalid("sessionData", "is empty")
	}
	token := secret.Token(32)
	c := s.client.WebAuthnCeremony.Create().SetTokenHash(secret.Hash(token)).SetPurpose(purpose).
		SetSessionData(sessionData).SetCreatedAt(s.now()).SetExpiresAt(expires)
	if userID != "" {
		c.SetUserID(userID)
	}
	if err := c.Exec(viewer.SystemContext(ctx)); err != nil {
		return "", fmt.Errorf("store webauthn ceremony: %w", err)
	}
	return token, nil
}

// TakeCeremony takes the ceremony token names for its one answer: it is
// deleted whatever the answer turns out to be (PK-02: deleted at the
// first attempt, right or wrong), by a conditional DELETE, so of two
// parallel answers only one gets it. An unknown, already taken, expired or
// other-purpose ceremony is ErrCeremony (an expired one is deleted too).
func (s *Service) TakeCeremony(ctx context.Context, token string, purpose CeremonyPurpose) (*ent.WebAuthnCeremony, error) {
	if token == "" || len(token) > 128 {
		return nil, ErrCeremony
	}
	rows, err := s.client.QueryContext(ctx, takeCeremonySQL, secret.Hash(token))
	if err != nil {
		return nil, fmt.Errorf("take webauthn ceremony: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("take webauthn ceremony: %w", err)
		}
		return nil, ErrCeremony
	}
	var (
		c       ent.WebAuthnCeremony
		user    stdsql.NullString
		expires stdsql.NullTime
	)
	if err := rows.Scan(&c.ID, &c.Purpose, &user, &c.SessionData, &expires); err != nil {
		return nil, fmt.Errorf("read webauthn ceremony: %w", err)
	}
	c.UserID, c.ExpiresAt = pulid.ID(user.String), expires.Time
	if c.Purpose != purpose || !s.now().Before(c.ExpiresAt) {
		return nil, ErrCeremony
	}
	return &c, nil
}

// takeCeremonySQL deletes a ceremony and returns it: one statement, so of
// parallel answers exactly one gets a row (SQLite and PostgreSQL both
// take DELETE … RETURNING).
const takeCeremonySQL = `DELETE FROM "web_authn_ceremonies" WHERE "token_hash" = $1
RETURNING "id", "purpose", "user_id", "session_data", "expires_at"`

// SweepWebAuthnCeremonies deletes expired ceremonies and returns how many.
func (s *Service) SweepWebAuthnCeremonies(ctx context.Context) (int, error) {
	n, err := s.client.WebAuthnCeremony.Delete().Where(webauthnceremony.ExpiresAtLT(s.now())).Exec(viewer.SystemContext(ctx))
	if err != nil {
		return 0, fmt.Errorf("sweep webauthn ceremonies: %w", err)
	}
	return n, nil
}

// NewPasskey is a credential a registration ceremony verified (go-webauthn
// Credential), to be stored for UserID.
type NewPasskey struct {
	UserID          pulid.ID
	Name            string
	CredentialID    []byte
	PublicKey       []byte // COSE_Key
	AttestationType string
	AAGUID          []byte
	SignCount       uint32
	UserVerified    bool
	BackupEligible  bool
	BackupState     bool
	Transports      []string
	RPID            string
}

// DefaultPasskeyName is the name of a passkey registered without one.
const DefaultPasskeyName = "Passkey"

// passkeyName is name trimmed, at most 100 characters, or the default.
func passkeyName(name string) string {
	name = strings.TrimSpace(strings.ToValidUTF8(name, ""))
	if name == "" {
		return DefaultPasskeyName
	}
	if utf8.RuneCountInString(name) > 100 {
		name = string([]rune(name)[:100])
	}
	return name
}

// AddPasskey stores in, with its passkey.register event, for an active
// user. A credential id registered already, to anyone, is refused with a
// ConflictError (WebAuthn L3 §7.1 step 25: "credentialId is not yet
// registered for any user"), whatever the unique index says first.
func (s *Service) AddPasskey(ctx context.Context, in NewPasskey) (*ent.Passkey, error) {
	switch {
	case len(in.CredentialID) == 0 || len(in.CredentialID) > MaxCredentialIDLength:
		return nil, invalid("credentialId", "must be 1 to %d bytes", MaxCredentialIDLength)
	case len(in.PublicKey) == 0:
		return nil, invalid("publicKey", "is empty")
	case in.RPID == "":
		return nil, invalid("rpId", "is empty")
	}
	ctx = viewer.SystemContext(ctx)
	var out *ent.Passkey
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		ok, err := tx.User.Query().Where(user.ID(in.UserID), ActiveUser()).Exist(ctx)
		if err != nil {
			return fmt.Errorf("find user: %w", err)
		}
		if !ok {
			return fmt.Errorf("user %s: %w", in.UserID, ErrNotFound)
		}
		taken, err := tx.Passkey.Query().Where(passkey.CredentialID(in.CredentialID)).Exist(ctx)
		if err != nil {
			return fmt.Errorf("find passkey: %w", err)
		}
		if taken {
			return &ConflictError{Field: "credentialId", Reason: "this passkey is registered already"}
		}
		c := tx.Passkey.Create().SetUserID(in.UserID).SetName(passkeyName(in.Name)).
			SetCredentialID(in.CredentialID).SetPublicKey(in.PublicKey).SetSignCount(int64(in.SignCount)).
			SetUserVerified(in.UserVerified).SetBackupEligible(in.BackupEligible).SetBackupState(in.BackupState).
			SetRpID(in.RPID).SetCreatedAt(s.now())
		if in.AttestationType != "" {
			c.SetAttestationType(in.AttestationType)
		}
		if len(in.AAGUID) > 0 {
			c.SetAaguid(in.AAGUID)
		}
		if len(in.Transports) > 0 {
			c.SetTransports(in.Transports)
		}
		if out, err = c.Save(ctx); err != nil {
			return translateWrite(err, "passkey", "credentialId", "this passkey is registered already")
		}
		return s.passkeyAudit(ctx, tx, ActionPasskeyRegister, in.UserID, out.ID, map[string]any{
			"name": out.Name, "backup_eligible": in.BackupEligible, "rp_id": in.RPID,
		})
	})
	return unwrap(out, err)
}

// PasskeyOwner returns the passkey with credential id id and its user,
// the user only while active (IsActiveUser): nil, nil when no passkey has
// that id. Read as the System viewer, before the assertion is verified;
// UsePasskey decides after. One statement reads the passkey, its user and
// whether the user has a second factor enrolled (SecondFactorEnrolled),
// which it leaves in the request's memo (WithLoginPolicyMemo) for the
// login policy to decide on without another read. The user is read
// without its password hash, which a passkey sign-in has no use for.
func (s *Service) PasskeyOwner(ctx context.Context, id []byte) (*ent.Passkey, *ent.User, error) {
	if len(id) == 0 || len(id) > MaxCredentialIDLength {
		return nil, nil, nil
	}
	var rows []passkeyOwnerRow
	err := s.client.Passkey.Query().Where(passkey.CredentialID(id), withOwner).
		Limit(2).Select(passkey.Columns...).Scan(viewer.SystemContext(ctx), &rows)
	switch {
	case err != nil:
		return nil, nil, fmt.Errorf("find passkey: %w", err)
	case len(rows) == 0:
		return nil, nil, nil
	case len(rows) > 1: // the unique index says otherwise
		return nil, nil, fmt.Errorf("find passkey: %d passkeys with one credential id", len(rows))
	}
	pk, u := rows[0].split()
	if !IsActiveUser(u) {
		return pk, nil, nil
	}
	policyMemoFrom(ctx).putEnrolled(u.ID, rows[0].OwnerSecondFactor)
	return pk, u, nil
}

// ownerColumns are the user columns PasskeyOwner reads with the passkey,
// as "owner_<column>": all but the password hash.
var ownerColumns = func() []string {
	var cs []string
	for _, c := range user.Columns {
		if c != user.FieldPasswordHash {
			cs = append(cs, c)
		}
	}
	return cs
}()

// withOwner joins a passkey query to the passkey's user (ownerColumns)
// and whether the user has a second factor enrolled (enrolledSecondFactor).
func withOwner(sel *sql.Selector) {
	u := sql.Table(user.Table)
	sel.Join(u).On(sel.C(passkey.FieldUserID), u.C(user.FieldID))
	for _, c := range ownerColumns {
		sel.AppendSelectAs(u.C(c), "owner_"+c)
	}
	sel.AppendSelectExprAs(enrolledSecondFactor(sel, u.C(user.FieldID)), "owner_second_factor")
}

// passkeyOwnerRow is a row of withOwner: every passkey column, and every
// user column of ownerColumns (a user column without its field here fails
// the scan, so a new one cannot be forgotten).
type passkeyOwnerRow struct {
	ent.Passkey
	OwnerID            pulid.ID               `sql:"owner_id"`
	OwnerCreatedAt     time.Time              `sql:"owner_created_at"`
	OwnerUpdatedAt     time.Time              `sql:"owner_updated_at"`
	OwnerEmail         string                 `sql:"owner_email"`
	OwnerEmailVerified bool                   `sql:"owner_email_verified"`
	OwnerName          string                 `sql:"owner_name"`
	OwnerGivenName     string                 `sql:"owner_given_name"`
	OwnerFamilyName    string                 `sql:"owner_family_name"`
	OwnerLocale        string                 `sql:"owner_locale"`
	OwnerPicture       string                 `sql:"owner_picture"`
	OwnerStatus        user.Status            `sql:"owner_status"`
	OwnerLastLoginAt   *time.Time             `sql:"owner_last_login_at"`
	OwnerMetadata      map[string]interface{} `sql:"owner_metadata"`
	OwnerSecondFactor  bool                   `sql:"owner_second_factor"`
}

func (r *passkeyOwnerRow) split() (*ent.Passkey, *ent.User) {
	pk := r.Passkey
	return &pk, &ent.User{ID: r.OwnerID, CreatedAt: r.OwnerCreatedAt, UpdatedAt: r.OwnerUpdatedAt, Email: r.OwnerEmail,
		EmailVerified: r.OwnerEmailVerified, Name: r.OwnerName, GivenName: r.OwnerGivenName, FamilyName: r.OwnerFamilyName,
		Locale: r.OwnerLocale, Picture: r.OwnerPicture, Status: r.OwnerStatus, LastLoginAt: r.OwnerLastLoginAt,
		Metadata: r.OwnerMetadata}
}

// PasskeyUse is a verified assertion (go-webauthn checked its signature,
// challenge, origin, RP ID and flags) made with a passkey.
type PasskeyUse struct {
	// SignCount is the authenticator data's signature counter.
	SignCount    uint32
	UserVerified bool
	BackupState  bool
}

// UsePasskey applies the sign-in rules to a verified assertion made with
// pk, held by owner (as PasskeyOwner or ListPasskeys read them for the
// ceremony; owner nil when the user is not active), records the use and
// returns the passkey as updated. The rules: a passkey flagged as cloned
// is refused until removed (ErrPasskeyClone); a disabled user's passkey
// signs nobody in (ErrPasskeyUserInactive); and the sign counter (WebAuthn
// L3 §6.1.1, SECURITY-CHECKLIST PK-03) must exceed the stored one, unless
// both are 0 (authenticators without a counter). The update is conditional
// on the stored counter still being below the new one and the passkey
// unflagged, so two parallel uses of one counter value cannot both pass:
// the loser is a regression, which sets clone_warning, writes
// passkey.clone_detected and refuses. A passkey removed meanwhile is
// ErrPasskeyUnknown.
func (s *Service) UsePasskey(ctx context.Context, pk *ent.Passkey, owner *ent.User, use PasskeyUse) (*ent.Passkey, error) {
	ctx = viewer.SystemContext(ctx)
	switch {
	case pk == nil:
		return nil, ErrPasskeyUnknown
	case pk.CloneWarning:
		return pk, ErrPasskeyClone
	case owner == nil || owner.ID != pk.UserID || !IsActiveUser(owner):
		return pk, ErrPasskeyUserInactive
	}
	count := int64(use.SignCount)
	// Both 0: an authenticator without a counter, which stays 0.
	advance := passkey.SignCountLT(count)
	if count == 0 {
		advance = passkey.SignCount(0)
	}
	now := s.now()
	verified := pk.UserVerified || use.UserVerified
	n, err := s.client.Passkey.Update().
		Where(passkey.ID(pk.ID), passkey.CloneWarning(false), advance).
		SetSignCount(count).SetBackupState(use.BackupState).SetLastUsedAt(now).SetUserVerified(verified).
		Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("record passkey use: %w", err)
	}
	if n == 1 {
		out := *pk
		out.SignCount, out.BackupState, out.LastUsedAt, out.UserVerified = count, use.BackupState, &now, verified
		return &out, nil
	}
	// The counter did not advance: flag the passkey (once) and say so.
	gone := false
	err = s.inTx(ctx, func(tx *ent.Tx) error {
		flagged, err := tx.Passkey.Update().Where(passkey.ID(pk.ID), passkey.CloneWarning(false)).
			SetCloneWarning(true).Save(ctx)
		if err != nil {
			return fmt.Errorf("flag passkey: %w", err)
		}
		if flagged == 0 {
			// Flagged by a parallel use, which wrote the event, or removed.
			exists, err := tx.Passkey.Query().Where(passkey.ID(pk.ID)).Exist(ctx)
			gone = err == nil && !exists
			return err
		}
		return s.passkeyAudit(ctx, tx, ActionPasskeyCloneDetected, pk.UserID, pk.ID, map[string]any{
			"reason": "sign_count_regression", "stored_sign_count": pk.SignCount, "sign_count": count,
		})
	})
	switch {
	case err != nil:
		return nil, err
	case gone:
		return nil, ErrPasskeyUnknown
	}
	return pk, ErrPasskeyClone
}

// ListPasskeys returns userID's passkeys, oldest first.
func (s *Service) ListPasskeys(ctx context.Context, userID pulid.ID) ([]*ent.Passkey, error) {
	pks, err := s.client.Passkey.Query().Where(passkey.UserID(userID)).
		Order(passkey.ByCreatedAt(), passkey.ByID()).All(viewer.SystemContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("list passkeys: %w", err)
	}
	return pks, nil
}

// RenamePasskey renames userID's passkey id (ErrNotFound when it is not
// theirs), with its passkey.rename event.
func (s *Service) RenamePasskey(ctx context.Context, userID, id pulid.ID, name string) (*ent.Passkey, error) {
	ctx = viewer.SystemContext(ctx)
	var out *ent.Passkey
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		n, err := tx.Passkey.Update().Where(passkey.ID(id), passkey.UserID(userID)).SetName(passkeyName(name)).Save(ctx)
		if err != nil {
			return fmt.Errorf("rename passkey: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("passkey: %w", ErrNotFound)
		}
		if out, err = tx.Passkey.Get(ctx, id); err != nil {
			return err
		}
		return s.passkeyAudit(ctx, tx, ActionPasskeyRename, userID, id, map[string]any{"name": out.Name})
	})
	return unwrap(out, err)
}

// RemovePasskey deletes userID's passkey id (ErrNotFound when it is not
// theirs), with its passkey.remove event. Removing a passkey flagged as
// cloned is how its user gets past the flag: they register again.
func (s *Service) RemovePasskey(ctx context.Context, userID, id pulid.ID) error {
	ctx = viewer.SystemContext(ctx)
	return s.inTx(ctx, func(tx *ent.Tx) error {
		n, err := tx.Passkey.Delete().Where(passkey.ID(id), passkey.UserID(userID)).Exec(ctx)
		if err != nil {
			return fmt.Errorf("remove passkey: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("passkey: %w", ErrNotFound)
		}
		return s.passkeyAudit(ctx, tx, ActionPasskeyRemove, userID, id, nil)
	})
}

// passkeyAudit writes a passkey event in tx, by the passkey's user about
// the passkey, from the origin the caller put in ctx (WithOrigin).
func (s *Service) passkeyAudit(ctx context.Context, tx *ent.Tx, action string, userID, id pulid.ID, md map[string]any) error {
	return WriteAudit(ctx, tx.AuditEvent, s.now(), Event{Action: action, Actor: string(userID), ActorType: "user",
		TargetType: ent.TypePasskey, TargetID: string(id), Metadata: md})
}
