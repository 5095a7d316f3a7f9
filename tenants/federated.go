package tenants

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/connection"
	"github.com/gatehouse-id/gatehouse/ent/connectionloginattempt"
	"github.com/gatehouse-id/gatehouse/ent/federatedidentity"
	"github.com/gatehouse-id/gatehouse/ent/membership"
	"github.com/gatehouse-id/gatehouse/ent/role"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/ent/user"
	"github.com/gatehouse-id/gatehouse/tenants/authz"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// Sign-ins through a connection: the SAML replay cache, the recent
// attempts an administrator reads, and just-in-time provisioning. Every
// function here is called by the sign-in surfaces for a browser that has
// no viewer yet, so each reads and writes as the System viewer.

// ReplayRetention is how long past an assertion's NotOnOrAfter its id is
// kept: longer than any clock skew a connector allows, so an assertion
// still accepted is still remembered.
const ReplayRetention = 5 * time.Minute

// replayPurgeEvery is how often RememberAssertion sweeps expired ids.
const replayPurgeEvery = time.Minute

// rememberAssertionSQL records one use; the unique index on
// (connection_id, assertion_id) makes it insert nothing for an id seen
// before, atomically on SQLite and PostgreSQL alike.
const rememberAssertionSQL = `INSERT INTO "saml_assertion_uses" ("id", "connection_id", "assertion_id", "expires_at")
VALUES ($1, $2, $3, $4)
ON CONFLICT ("connection_id", "assertion_id") DO NOTHING`

const purgeAssertionsSQL = `DELETE FROM "saml_assertion_uses" WHERE "expires_at" < $1`

// RememberAssertion is the SAML replay cache (SAML 2.0 Profiles
// §4.1.4.5): it records that connection connID accepted assertion
// assertionID, valid until notOnOrAfter, and reports whether this is the
// first time (fresh). Of any number of concurrent calls with one id,
// exactly one is fresh. The id is kept ReplayRetention past
// notOnOrAfter; expired ids are swept at most once a minute, by the call
// that finds the sweep due.
func (s *Service) RememberAssertion(ctx context.Context, connID, assertionID string, notOnOrAfter time.Time) (bool, error) {
	if assertionID == "" || len(assertionID) > 1024 {
		return false, invalid("assertionID", "must be 1 to 1024 characters")
	}
	if !pulid.ID(connID).Valid() {
		return false, invalid("connectionID", "is not an id")
	}
	now := s.now().UTC()
	res, err := s.client.ExecContext(ctx, rememberAssertionSQL,
		string(pulid.New("sau")), connID, assertionID, notOnOrAfter.UTC().Add(ReplayRetention))
	if err != nil {
		return false, fmt.Errorf("remember assertion: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("remember assertion: %w", err)
	}
	if last := s.replayPurge.Load(); now.UnixNano()-last >= int64(replayPurgeEvery) && s.replayPurge.CompareAndSwap(last, now.UnixNano()) {
		if _, err := s.client.ExecContext(ctx, purgeAssertionsSQL, now); err != nil {
			s.logger().Warn("purge expired SAML assertion ids", "err", err)
		}
	}
	return n == 1, nil
}

// maxLoginAttempts is how many recent attempts a connection keeps.
const maxLoginAttempts = 20

// LoginAttempt is one sign-in through a connection, as the connector saw
// it: what the IdP asserted, or the precise reason for refusing it.
type LoginAttempt struct {
	Succeeded bool
	// ErrorCode is a word a program branches on (audience_mismatch);
	// ErrorReason the sentence for the administrator.
	ErrorCode, ErrorReason string
	Subject, Email         string
	Attributes             map[string][]string
}

// RecordLoginAttempt keeps attempt among connID's newest 20, dropping
// older ones in the same transaction.
func (s *Service) RecordLoginAttempt(ctx context.Context, connID pulid.ID, a LoginAttempt) error {
	sys := viewer.SystemContext(ctx)
	return s.inTx(sys, func(tx *ent.Tx) error {
		_, err := tx.ConnectionLoginAttempt.Create().
			SetConnectionID(connID).
			SetCreatedAt(s.now()).
			SetSucceeded(a.Succeeded).
			SetErrorCode(truncate(a.ErrorCode, 100)).
			SetErrorReason(truncate(a.ErrorReason, 1000)).
			SetSubject(truncate(a.Subject, 1024)).
			SetEmail(truncate(a.Email, 320)).
			SetAttributes(boundAttributes(a.Attributes)).
			Save(sys)
		if err != nil {
			return translate(err, "connection")
		}
		keep, err := tx.ConnectionLoginAttempt.Query().Where(connectionloginattempt.ConnectionID(connID)).
			Order(ent.Desc(connectionloginattempt.FieldID)).Limit(maxLoginAttempts).IDs(sys)
		if err != nil {
			return fmt.Errorf("list login attempts: %w", err)
		}
		if len(keep) < maxLoginAttempts {
			return nil
		}
		_, err = tx.ConnectionLoginAttempt.Delete().Where(connectionloginattempt.ConnectionID(connID),
			connectionloginattempt.IDLT(keep[len(keep)-1])).Exec(sys)
		if err != nil {
			return fmt.Errorf("drop old login attempts: %w", err)
		}
		return nil
	})
}

// boundAttributes keeps at most 100 attributes of at most 50 values, each
// at most 1024 bytes: what an IdP sends is shown to administrators, not
// stored without limit.
func boundAttributes(in map[string][]string) map[string][]string {
	out := make(map[string][]string, min(len(in), 100))
	for k, vs := range in {
		if len(out) == 100 {
			break
		}
		vs = vs[:min(len(vs), 50)]
		cp := make([]string, len(vs))
		for i, v := range vs {
			cp[i] = truncate(v, 1024)
		}
		out[truncate(k, 256)] = cp
	}
	return out
}

// LoginAttempts returns connection id's recent attempts, newest first,
// to a viewer who may manage the connection.
func (s *Service) LoginAttempts(ctx context.Context, c *ent.Connection) ([]*ent.ConnectionLoginAttempt, error) {
	if err := require(ctx, c.OrganizationID, authz.ConnectionsManage); err != nil {
		return nil, err
	}
	out, err := s.client.ConnectionLoginAttempt.Query().Where(connectionloginattempt.ConnectionID(c.ID)).
		Order(ent.Desc(connectionloginattempt.FieldID)).Limit(maxLoginAttempts).All(viewer.SystemContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("list login attempts: %w", err)
	}
	return out, nil
}

// FederatedIdentityInput is what a connection's IdP asserted about the
// user signing in (federation.Identity, mapped): Subject is the SAML
// NameID or the OIDC sub; EmailVerified says the IdP vouches that the
// address is the user's (an OIDC email_verified claim, or a SAML
// connection's own assertion).
type FederatedIdentityInput struct {
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
	GivenName     string
	FamilyName    string
	Groups        []string
	// Metadata is what the attribute mapping's custom entries took from
	// the assertion; it becomes a new user's metadata.
	Metadata map[string]any
}

// SSORejectedError is a federated sign-in refused: Reason is a word for
// the audit trail and programs (connection_inactive, user_disabled,
// membership_suspended, email_taken), Detail the sentence for the
// administrator. It is an ErrForbidden.
type SSORejectedError struct {
	Reason string
	Detail string
}

func (e *SSORejectedError) Error() string { return "sso sign-in refused: " + e.Detail }

// Unwrap makes an SSORejectedError match ErrForbidden.
func (e *SSORejectedError) Unwrap() error { return ErrForbidden }

// signInRetries bounds how often SignInFederated starts over after a
// concurrent first sign-in of the same subject (or email) won the insert.
const signInRetries = 3

// SignInFederated finds or makes the user a connection's IdP vouches
// for, with an ACTIVE membership in the connection's organization, in one
// transaction with its audit events:
//
//   - a subject linked before (FederatedIdentity) is that user;
//   - else an existing user with the asserted email is linked only when
//     the IdP vouches for the address (EmailVerified) and its domain is a
//     VERIFIED domain of the connection's organization (the organization
//     owns the address); any other existing address is refused
//     (email_taken), since linking it would let an IdP claim someone
//     else's account;
//   - else a user is created, its email verified under the same rule.
//
// The membership gets the connection's default role (nil: member), or
// the roles its group mappings give the asserted groups, re-applied at
// every sign-in when the connection has mappings. It refuses (an
// SSORejectedError, audited as sso.rejected, nothing else changed) a
// connection that is not ACTIVE, a disabled user and a suspended
// membership. Events: sso.user_provisioned or sso.user_linked the first
// time, sso.sign_in every time. Concurrent first sign-ins of one subject
// make one user: the losers of the insert start over and find the link.
func (s *Service) SignInFederated(ctx context.Context, conn *ent.Connection, id FederatedIdentityInput) (*ent.User, *ent.Membership, error) {
	sys := viewer.SystemContext(ctx)
	id.Subject = strings.TrimSpace(id.Subject)
	if id.Subject == "" || len(id.Subject) > 1024 {
		return nil, nil, invalid("subject", "must be 1 to 1024 characters")
	}
	email, err := NormalizeEmail("email", id.Email)
	if err != nil {
		return nil, nil, err
	}
	id.Email = email
	for attempt := 0; ; attempt++ {
		u, m, err := s.signInFederatedOnce(sys, conn, id)
		if ent.IsConstraintError(err) && attempt < signInRetries {
			continue
		}
		return u, m, err
	}
}

func (s *Service) signInFederatedOnce(sys context.Context, connIn *ent.Connection, id FederatedIdentityInput) (*ent.User, *ent.Membership, error) {
	var (
		u        *ent.User
		m        *ent.Membership
		rejected *SSORejectedError
	)
	err := s.inTx(sys, func(tx *ent.Tx) error {
		now := s.now()
		conn, err := tx.Connection.Get(sys, connIn.ID)
		if err != nil {
			return translate(err, "connection")
		}
		org := conn.OrganizationID
		reject := func(reason, detail string, target *ent.User) error {
			rejected = &SSORejectedError{Reason: reason, Detail: detail}
			e := Event{Action: "sso.rejected", Organization: org, Actor: "anonymous", ActorType: "anonymous",
				TargetType: "Connection", TargetID: string(conn.ID), Reason: reason,
				Metadata: map[string]any{"connection_id": string(conn.ID), "detail": detail}}
			if target != nil {
				e.Metadata["user_id"] = string(target.ID)
			}
			return WriteAudit(sys, tx.AuditEvent, now, e)
		}
		if conn.State != connection.StateACTIVE {
			return reject("connection_inactive", fmt.Sprintf("the connection is %s, not ACTIVE", conn.State), nil)
		}
		var first string // "provisioned" or "linked" on a first sign-in
		link, err := tx.FederatedIdentity.Query().
			Where(federatedidentity.ConnectionID(conn.ID), federatedidentity.Subject(id.Subject)).Only(sys)
		switch {
		case err == nil:
			if u, err = tx.User.Get(sys, link.UserID); err != nil {
				return translate(err, "user")
			}
		case ent.IsNotFound(err):
			owned, err := emailDomainVerified(sys, tx, []pulid.ID{org}, id.Email)
			if err != nil {
				return err
			}
			vouched := owned && id.EmailVerified
			u, err = tx.User.Query().Where(user.Email(id.Email)).Only(sys)
			switch {
			case err == nil && !vouched:
				return reject("email_taken", "an account with this email exists, and the connection may link it only for a verified email at a verified domain of the organization", nil)
			case err == nil:
				first = "linked"
			case ent.IsNotFound(err):
				first = "provisioned"
				create := tx.User.Create().SetEmail(id.Email).SetEmailVerified(vouched).
					SetName(truncate(id.Name, 200)).SetGivenName(truncate(id.GivenName, 100)).
					SetFamilyName(truncate(id.FamilyName, 100))
				if len(id.Metadata) > 0 {
					create.SetMetadata(id.Metadata)
				}
				if u, err = create.Save(sys); err != nil {
					return err
				}
				if err := WriteAudit(sys, tx.AuditEvent, now, Event{Action: "user.create", Organization: org,
					Actor: string(conn.ID), ActorType: "connection", TargetType: "User", TargetID: string(u.ID),
					Metadata: map[string]any{"connection_id": string(conn.ID)}}); err != nil {
					return err
				}
			default:
				return fmt.Errorf("look up user: %w", err)
			}
			if _, err := tx.FederatedIdentity.Create().SetConnectionID(conn.ID).SetSubject(id.Subject).
				SetUserID(u.ID).SetCreatedAt(now).Save(sys); err != nil {
				return err
			}
		default:
			return fmt.Errorf("look up federated identity: %w", err)
		}
		if !IsActiveUser(u) {
			return reject("user_disabled", "the user is disabled", u)
		}
		roles, err := connectionRoles(sys, tx, conn, id.Groups)
		if err != nil {
			return err
		}
		m, err = tx.Membership.Query().Where(membership.UserID(u.ID), membership.OrganizationID(org)).WithRoles().Only(sys)
		var roleChange []string
		switch {
		case ent.IsNotFound(err):
			if m, err = tx.Membership.Create().SetOrganizationID(org).SetUserID(u.ID).
				SetStatus(membership.StatusACTIVE).AddRoles(roles...).Save(sys); err != nil {
				return err
			}
			roleChange = roleKeys(roles)
			if err := WriteAudit(sys, tx.AuditEvent, now, Event{Action: "member.add", Organization: org,
				Actor: string(conn.ID), ActorType: "connection", TargetType: "Membership", TargetID: string(m.ID),
				Metadata: map[string]any{"userID": string(u.ID), "roles": roleChange}}); err != nil {
				return err
			}
		case err != nil:
			return fmt.Errorf("look up membership: %w", err)
		case m.Status == membership.StatusSUSPENDED:
			return reject("membership_suspended", "the user's membership in the organization is suspended", u)
		default:
			upd := tx.Membership.UpdateOne(m)
			if m.Status == membership.StatusINVITED {
				upd.SetStatus(membership.StatusACTIVE)
			}
			if len(conn.GroupRoleMappings) > 0 && !sameRoles(m.Edges.Roles, roles) {
				// The mapping never takes the organization's last owner
				// away: the roles stay as they are then.
				var keep *ConflictError
				err := error(nil)
				if !slices.ContainsFunc(roles, func(r *ent.Role) bool { return r.Builtin && r.Key == RoleOwner }) {
					err = s.keepOwners(sys, tx, "roles", membership.ID(m.ID))
				}
				switch {
				case errors.As(err, &keep):
				case err != nil:
					return err
				default:
					upd.ClearRoles().AddRoles(roles...)
					roleChange = roleKeys(roles)
				}
			}
			if m, err = upd.Save(sys); err != nil {
				return translate(err, "membership")
			}
		}
		if err := tx.FederatedIdentity.Update().
			Where(federatedidentity.ConnectionID(conn.ID), federatedidentity.Subject(id.Subject)).
			SetLastSignInAt(now).Exec(sys); err != nil {
			return fmt.Errorf("mark federated identity used: %w", err)
		}
		if err := tx.User.UpdateOne(u).SetLastLoginAt(now).Exec(sys); err != nil {
			return translate(err, "user")
		}
		signedIn := func(action string, extra map[string]any) error {
			md := map[string]any{"connection_id": string(conn.ID), "membership_id": string(m.ID)}
			maps.Copy(md, extra)
			return WriteAudit(sys, tx.AuditEvent, now, Event{Action: action, Organization: org,
				Actor: string(u.ID), ActorType: "user", TargetType: "User", TargetID: string(u.ID), Metadata: md})
		}
		if first != "" {
			if err := signedIn("sso.user_"+first, nil); err != nil {
				return err
			}
		}
		if roleChange != nil {
			return signedIn("sso.sign_in", map[string]any{"roles": roleChange})
		}
		return signedIn("sso.sign_in", nil)
	})
	if err != nil {
		return nil, nil, err
	}
	if rejected != nil {
		return nil, nil, rejected
	}
	return u.Unwrap(), m.Unwrap(), nil
}

// connectionRoles are the roles a sign-in through conn gives: those its
// group mappings give groups, else its default role, else member. A
// mapped or default role that no longer exists is skipped.
func connectionRoles(ctx context.Context, tx *ent.Tx, conn *ent.Connection, groups []string) ([]*ent.Role, error) {
	var ids []pulid.ID
	for _, g := range conn.GroupRoleMappings {
		if slices.Contains(groups, g.Group) && !slices.Contains(ids, g.RoleID) {
			ids = append(ids, g.RoleID)
		}
	}
	if len(ids) == 0 && conn.DefaultRoleID != nil {
		ids = []pulid.ID{*conn.DefaultRoleID}
	}
	if len(ids) > 0 {
		roles, err := tx.Role.Query().Where(role.IDIn(ids...), role.OrganizationID(conn.OrganizationID)).
			Order(ent.Asc(role.FieldID)).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("look up roles: %w", err)
		}
		if len(roles) > 0 {
			return roles, nil
		}
	}
	return rolesByKey(ctx, tx, conn.OrganizationID, []string{RoleMember})
}

func roleKeys(roles []*ent.Role) []string {
	out := make([]string, len(roles))
	for i, r := range roles {
		out[i] = r.Key
	}
	return out
}

func sameRoles(a, b []*ent.Role) bool {
	if len(a) != len(b) {
		return false
	}
	for _, r := range a {
		if !slices.ContainsFunc(b, func(o *ent.Role) bool { return o.ID == r.ID }) {
			return false
		}
	}
	return true
}

// SAMLReplayCache is RememberAssertion with the method federation/saml's
// ReplayCache names, for cmd to hand to each SAML connector.
type SAMLReplayCache struct{ s *Service }

// ReplayCache returns the service's SAML replay cache.
func (s *Service) ReplayCache() SAMLReplayCache { return SAMLReplayCache{s} }

// Remember records assertionID for connectionID until notOnOrAfter and
// reports whether it was fresh (RememberAssertion).
func (c SAMLReplayCache) Remember(ctx context.Context, connectionID, assertionID string, notOnOrAfter time.Time) (bool, error) {
	return c.s.RememberAssertion(ctx, connectionID, assertionID, notOnOrAfter)
}
