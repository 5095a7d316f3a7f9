package tenants

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/domain"
	"github.com/gatehouse-id/gatehouse/ent/grant"
	"github.com/gatehouse-id/gatehouse/ent/logintransaction"
	"github.com/gatehouse-id/gatehouse/ent/membership"
	"github.com/gatehouse-id/gatehouse/ent/organizationpolicy"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/ent/session"
	"github.com/gatehouse-id/gatehouse/ent/user"
	"github.com/gatehouse-id/gatehouse/internal/secret"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// Sessions are signed-in browsers of the hosted pages. The browser holds a
// random token; only its SHA-256 is stored. The hosted pages and the
// provider act for a browser that has no viewer of its own, so these
// methods read and write as the System viewer.

// touchEvery limits last_seen_at writes to one per session per minute.
const touchEvery = time.Minute

// NewSession describes the session a completed login starts.
type NewSession struct {
	UserID pulid.ID
	// AMR lists the methods proven (RFC 8176); AuthTime is when (zero: now).
	AMR      []string
	AuthTime time.Time
	// Lifetimes bound the session (LifetimesOf the policies in question).
	Lifetimes     SessionLifetimes
	IP, UserAgent string
	// DeviceID is the browser's device cookie id, if it has one.
	DeviceID string
	// Replaces is the session token the browser presented before, if any:
	// that session is revoked, so an identifier planted before sign-in is
	// worthless after it (SECURITY-CHECKLIST ATO-07).
	Replaces string
	// Transaction is the login transaction the session completes, if any
	// (ProveFactor): it ends with the session's start.
	Transaction pulid.ID
	// Login says the session completes a sign-in that no authorization
	// request records (a direct one, to the account page): its user.login
	// event (LoginEvent) is written with it, from the origin in ctx
	// (WithOrigin).
	Login bool
}

// CreateSession starts a session and returns it with its token, which
// exists nowhere else. The session, the revocation of the one it
// replaces, the end of its login transaction and its user.login event
// are one change: on PostgreSQL one statement (createSessionSQL), else
// one transaction (a session alone is one INSERT).
func (s *Service) CreateSession(ctx context.Context, in NewSession) (*ent.Session, string, error) {
	ctx = viewer.SystemContext(ctx)
	now := s.now()
	if in.AuthTime.IsZero() {
		in.AuthTime = now
	}
	if in.Lifetimes == (SessionLifetimes{}) {
		in.Lifetimes = DefaultSessionLifetimes
	}
	token := secret.Token(32)
	ses := &ent.Session{ID: pulid.New("ses"), UserID: in.UserID, TokenHash: secret.Hash(token), AuthTime: in.AuthTime,
		Amr: in.AMR, IP: in.IP, UserAgent: truncate(in.UserAgent, 512), DeviceID: truncate(in.DeviceID, 64),
		CreatedAt: now, LastSeenAt: now, ExpiresAt: in.AuthTime.Add(in.Lifetimes.Absolute),
		IdleTimeoutSeconds: max(1, int(in.Lifetimes.Idle/time.Second))}
	var login *Event
	if in.Login {
		ev := LoginEvent(Login{UserID: in.UserID, SessionID: ses.ID, AMR: in.AMR, AuthTime: in.AuthTime, DeviceID: ses.DeviceID})
		login = &ev
	}
	insert := func(c *ent.SessionClient) error {
		return c.Create().SetID(ses.ID).SetUserID(ses.UserID).SetTokenHash(ses.TokenHash).SetAuthTime(ses.AuthTime).
			SetAmr(ses.Amr).SetIP(ses.IP).SetUserAgent(ses.UserAgent).SetDeviceID(ses.DeviceID).SetCreatedAt(now).
			SetLastSeenAt(now).SetExpiresAt(ses.ExpiresAt).SetIdleTimeoutSeconds(ses.IdleTimeoutSeconds).Exec(ctx)
	}
	var err error
	switch {
	case in.Replaces == "" && in.Transaction == "" && login == nil:
		err = insert(s.client.Session)
	case s.dialect == dialect.Postgres:
		err = s.createSessionSQL(ctx, ses, in, login)
	default:
		err = s.inTx(ctx, func(tx *ent.Tx) error {
			if in.Replaces != "" {
				if err := tx.Session.Update().Where(session.TokenHash(secret.Hash(in.Replaces)), session.RevokedAtIsNil()).
					SetRevokedAt(now).Exec(ctx); err != nil {
					return fmt.Errorf("revoke previous session: %w", err)
				}
			}
			if err := insert(tx.Session); err != nil {
				return err
			}
			if in.Transaction != "" {
				if _, err := tx.LoginTransaction.Delete().Where(logintransaction.ID(in.Transaction)).Exec(ctx); err != nil {
					return fmt.Errorf("end login transaction: %w", err)
				}
			}
			if login != nil {
				return WriteAudit(ctx, tx.AuditEvent, now, *login)
			}
			return nil
		})
	}
	if err != nil {
		return nil, "", fmt.Errorf("create session: %w", err)
	}
	return ses, token, nil
}

// createSessionSQL is CreateSession's change on PostgreSQL: one statement
// of data-modifying WITH queries (the session's INSERT, the previous
// session's revocation, the transaction's DELETE, the event's INSERT),
// which commit or fail together, in one round trip.
func (s *Service) createSessionSQL(ctx context.Context, ses *ent.Session, in NewSession, login *Event) error {
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	amr, err := json.Marshal(ses.Amr)
	if err != nil {
		return err
	}
	var q strings.Builder
	fmt.Fprintf(&q, `WITH ses AS (INSERT INTO "sessions" ("id", "user_id", "token_hash", "auth_time", "amr", "ip", "user_agent",
	"device_id", "created_at", "last_seen_at", "expires_at", "idle_timeout_seconds")
	VALUES (%s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s, %s, %s, %s))`,
		arg(string(ses.ID)), arg(string(ses.UserID)), arg(ses.TokenHash), arg(ses.AuthTime), arg(string(amr)), arg(ses.IP),
		arg(ses.UserAgent), arg(ses.DeviceID), arg(ses.CreatedAt), arg(ses.LastSeenAt), arg(ses.ExpiresAt), arg(ses.IdleTimeoutSeconds))
	if in.Replaces != "" {
		fmt.Fprintf(&q, `,
prev AS (UPDATE "sessions" SET "revoked_at" = %s WHERE "token_hash" = %s AND "revoked_at" IS NULL)`,
			arg(ses.CreatedAt), arg(secret.Hash(in.Replaces)))
	}
	if in.Transaction != "" {
		fmt.Fprintf(&q, `,
ended AS (DELETE FROM "login_transactions" WHERE "id" = %s)`, arg(string(in.Transaction)))
	}
	if login != nil {
		row, err := AuditRow(ctx, ses.CreatedAt, *login)
		if err != nil {
			return err
		}
		vals := make([]string, len(row))
		for i, v := range row {
			vals[i] = arg(v)
		}
		vals[AuditMetadataColumn] += "::jsonb"
		fmt.Fprintf(&q, `,
audit AS (INSERT INTO "audit_events" (%s) VALUES (%s))`, AuditColumns, strings.Join(vals, ", "))
	}
	q.WriteString(`
SELECT 1`)
	_, err = s.client.ExecContext(ctx, q.String(), args...)
	return err
}

// SignedInElsewhere reports whether userID has had a session other than
// except, live or not: a sign-in from a
// browser the account has not signed in from before is news to the
// owner only when there was a before (the first sign-in after sign-up
// is not).
func (s *Service) SignedInElsewhere(ctx context.Context, userID, except pulid.ID) (bool, error) {
	n, err := s.client.Session.Query().Where(session.UserID(userID), session.IDNEQ(except)).Limit(1).Count(viewer.SystemContext(ctx))
	if err != nil {
		return false, fmt.Errorf("find sessions: %w", err)
	}
	return n > 0, nil
}

// SessionByToken returns the session token names when it is neither
// revoked nor past its absolute lifetime (nil otherwise): what a sign-out
// would end. It does not mind idleness or a disabled user, and does not
// touch the session.
func (s *Service) SessionByToken(ctx context.Context, token string) (*ent.Session, error) {
	if token == "" {
		return nil, nil
	}
	ses, err := s.client.Session.Query().
		Where(session.TokenHash(secret.Hash(token)), session.RevokedAtIsNil(), session.ExpiresAtGT(s.now())).
		Only(viewer.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find session: %w", err)
	}
	return ses, nil
}

// LiveSession returns the session token names and its user when the
// session may be used: not revoked, within its absolute and idle
// lifetimes, its user active. Otherwise nils. Using it counts as activity
// (last_seen_at, written at most once a minute).
func (s *Service) LiveSession(ctx context.Context, token string) (*ent.Session, *ent.User, error) {
	ses, err := s.SessionByToken(ctx, token)
	if ses == nil || err != nil {
		return nil, nil, err
	}
	ctx = viewer.SystemContext(ctx)
	now := s.now()
	if !now.Before(ses.LastSeenAt.Add(time.Duration(ses.IdleTimeoutSeconds) * time.Second)) {
		return nil, nil, nil
	}
	u, err := s.client.User.Query().Where(user.ID(ses.UserID), ActiveUser()).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("find session user: %w", err)
	}
	if now.Sub(ses.LastSeenAt) >= touchEvery {
		if err := s.client.Session.UpdateOneID(ses.ID).SetLastSeenAt(now).Exec(ctx); err != nil {
			return nil, nil, fmt.Errorf("touch session: %w", err)
		}
		ses.LastSeenAt = now
	}
	return ses, u, nil
}

// BoundSession lowers a session's lifetimes to l, when they are stricter
// than the session's own (a session that signs into an organization takes
// on that organization's policy), and returns it updated.
func (s *Service) BoundSession(ctx context.Context, ses *ent.Session, l SessionLifetimes) (*ent.Session, error) {
	expires := ses.AuthTime.Add(l.Absolute)
	idle := max(1, int(l.Idle/time.Second))
	if !expires.Before(ses.ExpiresAt) && idle >= ses.IdleTimeoutSeconds {
		return ses, nil
	}
	upd := s.client.Session.UpdateOneID(ses.ID) // ses may be CreateSession's, not read through ent
	if expires.Before(ses.ExpiresAt) {
		upd.SetExpiresAt(expires)
	}
	if idle < ses.IdleTimeoutSeconds {
		upd.SetIdleTimeoutSeconds(idle)
	}
	out, err := upd.Save(viewer.SystemContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("bound session: %w", err)
	}
	return out, nil
}

// RevokeSession ends session id of userID (userID "" for any user) and
// revokes the grants (refresh-token families, and with them their access
// tokens) issued from it: signing out of the browser signs the
// applications it signed into out too (ATO-10). It reports whether the
// session was live until now; an unknown or already revoked session is
// left alone. audit, when set, is written in the same transaction when
// the session was live (tenants' one audit writer).
func (s *Service) RevokeSession(ctx context.Context, id, userID pulid.ID, reason string, audit *Event) (bool, error) {
	if !id.Valid() || id.Prefix() != "ses" {
		return false, nil
	}
	ctx = viewer.SystemContext(ctx)
	var ended bool
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		var err error
		ended, err = s.revokeSession(ctx, tx, id, userID, reason, audit)
		return err
	})
	return ended, err
}

// revokeSession is RevokeSession inside tx, for a change that ends a
// session among others (RevokeUserSessions). The session and its grants
// are written as System (they are instance-level rows); audit is written
// with ctx, so its actor is whoever ctx names unless audit does.
func (s *Service) revokeSession(ctx context.Context, tx *ent.Tx, id, userID pulid.ID, reason string, audit *Event) (bool, error) {
	sys := viewer.SystemContext(ctx)
	now := s.now()
	upd := tx.Session.Update().Where(session.ID(id), session.RevokedAtIsNil())
	if userID != "" {
		upd.Where(session.UserID(userID))
	}
	n, err := upd.SetRevokedAt(now).Save(sys)
	if err != nil {
		return false, fmt.Errorf("revoke session: %w", err)
	}
	if n == 0 {
		return false, nil
	}
	if err := tx.Grant.Update().Where(grant.SessionID(id), grant.RevokedAtIsNil()).
		SetRevokedAt(now).SetRevokeReason(reason).Exec(sys); err != nil {
		return false, fmt.Errorf("revoke the session's grants: %w", err)
	}
	if audit != nil {
		if err := WriteAudit(ctx, tx.AuditEvent, now, *audit); err != nil {
			return false, err
		}
	}
	return true, nil
}

// ListSessions returns userID's sessions that are neither revoked nor
// past their absolute lifetime, newest first.
func (s *Service) ListSessions(ctx context.Context, userID pulid.ID) ([]*ent.Session, error) {
	ss, err := s.client.Session.Query().
		Where(session.UserID(userID), session.RevokedAtIsNil(), session.ExpiresAtGT(s.now())).
		Order(ent.Desc(session.FieldCreatedAt), ent.Desc(session.FieldID)).
		All(viewer.SystemContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return ss, nil
}

// LoginPolicies are the policies a login of userID into orgID must meet
// (LoginInput.Policies): orgID's, or with orgID "" those of every
// organization where userID is an active member, as they apply to userID
// (ScopeEnforceSSO: enforce_sso only for an address at the organization's
// verified domains).
func (s *Service) LoginPolicies(ctx context.Context, userID, orgID pulid.ID) ([]*ent.OrganizationPolicy, error) {
	memo, key := policyMemoFrom(ctx), policyKey{userID, orgID}
	if ps, ok := memo.get(key); ok {
		return ps, nil // read already by this request (WithLoginPolicyMemo)
	}
	q := s.client.OrganizationPolicy.Query()
	if orgID != "" {
		q.Where(organizationpolicy.OrganizationID(orgID))
	} else {
		q.Where(organizationpolicy.HasOrganizationWith(OrganizationsOfActiveMember(userID)))
	}
	ps, err := q.All(viewer.SystemContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("load login policies: %w", err)
	}
	if ps, err = s.scopeEnforceSSO(ctx, userID, ps); err != nil {
		return nil, err
	}
	memo.put(key, ps)
	return ps, nil
}

// endDisallowedSignIns revokes, after a change of org's policy p, what p
// no longer allows: the sessions of the organization's members, and the
// grants into the organization, whose factors LoginPolicy would not let
// sign in now (turning on mfaRequired or enforceSSO ends password-only
// sessions and their refresh tokens). Factors are judged as proven, not
// by age. It returns how many sessions and grants it ended.
func (s *Service) endDisallowedSignIns(ctx context.Context, tx *ent.Tx, p *ent.OrganizationPolicy) (sessions, grants int, _ error) {
	ctx = viewer.SystemContext(ctx) // sessions and grants are instance-level rows
	now := s.now()
	reached, err := s.enforceSSOReaches(ctx, tx, p)
	if err != nil {
		return 0, 0, err
	}
	allowed := func(userID pulid.ID, amr []string) bool {
		var domainOrg pulid.ID
		if reached(userID) {
			domainOrg = p.OrganizationID
		}
		return LoginPolicy{}.Decide(LoginInput{
			User: &ent.User{Status: UserActiveStatus}, Policies: ScopeEnforceSSO([]*ent.OrganizationPolicy{p}, domainOrg),
			Factors: FactorsOf(amr, now), Now: now,
		}).Outcome == Done
	}
	members := func(sel *sql.Selector) {
		m := sql.Table(membership.Table)
		sel.Where(sql.In(sel.C(session.FieldUserID), sql.Select(m.C(membership.FieldUserID)).From(m).
			Where(sql.EQ(m.C(membership.FieldOrganizationID), string(p.OrganizationID)))))
	}
	ss, err := tx.Session.Query().Where(session.RevokedAtIsNil(), session.ExpiresAtGT(now), members).
		Select(session.FieldID, session.FieldUserID, session.FieldAmr).All(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("list members' sessions: %w", err)
	}
	var ended []pulid.ID
	for _, ses := range ss {
		if !allowed(ses.UserID, ses.Amr) {
			ended = append(ended, ses.ID)
		}
	}
	if len(ended) > 0 {
		if err := tx.Session.Update().Where(session.IDIn(ended...)).SetRevokedAt(now).Exec(ctx); err != nil {
			return 0, 0, fmt.Errorf("revoke sessions: %w", err)
		}
	}
	gs, err := tx.Grant.Query().Where(grant.RevokedAtIsNil(), grant.ExpiresAtGT(now),
		grant.Or(grant.OrganizationID(p.OrganizationID), grant.SessionIDIn(ended...))).
		Select(grant.FieldID, grant.FieldUserID, grant.FieldAmr, grant.FieldSessionID).All(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("list grants: %w", err)
	}
	var revoked []pulid.ID
	for _, g := range gs {
		if !allowed(g.UserID, g.Amr) || slices.Contains(ended, g.SessionID) {
			revoked = append(revoked, g.ID)
		}
	}
	if len(revoked) > 0 {
		if err := tx.Grant.Update().Where(grant.IDIn(revoked...)).
			SetRevokedAt(now).SetRevokeReason("organization policy changed").Exec(ctx); err != nil {
			return 0, 0, fmt.Errorf("revoke grants: %w", err)
		}
	}
	return len(ended), len(revoked), nil
}

// enforceSSOReaches reports, for p's organization, whether its
// enforce_sso reaches a user (ScopeEnforceSSO): whether their address is
// at one of its verified domains. When p does not enforce SSO it reads
// nothing; otherwise the organization's verified domains and its members'
// addresses, one statement each.
func (s *Service) enforceSSOReaches(ctx context.Context, tx *ent.Tx, p *ent.OrganizationPolicy) (func(pulid.ID) bool, error) {
	if !p.EnforceSSO {
		return func(pulid.ID) bool { return false }, nil
	}
	names, err := tx.Domain.Query().Where(domain.OrganizationID(p.OrganizationID),
		domain.VerificationStateEQ(domain.VerificationStateVERIFIED)).Select(domain.FieldDomain).Strings(ctx)
	if err != nil {
		return nil, fmt.Errorf("list verified domains: %w", err)
	}
	in := map[pulid.ID]bool{}
	if len(names) > 0 {
		members, err := tx.User.Query().Where(user.HasMembershipsWith(membership.OrganizationID(p.OrganizationID))).
			Select(user.FieldID, user.FieldEmail).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("list members' addresses: %w", err)
		}
		for _, u := range members {
			in[u.ID] = slices.Contains(names, emailDomain(u.Email))
		}
	}
	return func(id pulid.ID) bool { return in[id] }, nil
}
