package tenants

import (
	"context"
	"fmt"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/ent/session"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// A caller's view of hosted-page sessions (GraphQL's viewer.sessions,
// User.sessions, revokeSession and revokeUserSessions). Sessions are
// instance-level rows that only the System viewer reads; who may see or
// end a user's sessions is decided here, from who may see or change the
// user:
//   - the user itself (a viewer acting for the signed-in user, v.UserID)
//     sees and ends its own;
//   - anyone else sees them when the authorizer lets it read the user
//     (members:read in an organization where the user has an accepted
//     membership; Instance), and ends them when it may change the user's
//     credentials (checkUserChange, as for setUserPassword);
//   - a session or user out of the caller's reach is ErrNotFound, exactly
//     like a missing one.

// Session revocation reasons (metadata.reason of session.revoke).
const (
	SessionRevokedByUser  = "user"
	SessionRevokedByAdmin = "admin"
)

// actionSessionRevoke is the audit action of an ended session.
const actionSessionRevoke = "session.revoke"

// UserSessions returns the live sessions (neither revoked nor past their
// absolute lifetime, newest first: ListSessions) of userID, when the
// viewer is that user or may read it; ErrNotFound otherwise.
func (s *Service) UserSessions(ctx context.Context, userID pulid.ID) ([]*ent.Session, error) {
	v := viewer.FromContext(ctx)
	if v == nil {
		return nil, ErrUnauthenticated
	}
	if v.UserID != userID {
		// Visible to the viewer, or not found: the authorizer's read rule.
		if _, err := s.client.User.Get(ctx, userID); err != nil {
			return nil, translate(err, "user")
		}
	}
	return s.ListSessions(ctx, userID)
}

// RevokeSessionByID ends session id and the grants issued from it
// (RevokeSession) on a caller's request: a user's own session, or one of
// a user the caller may change (checkUserChange with the credentials
// rule). A session of someone out of reach, a malformed id and a missing
// session are all ErrNotFound. Ending a session that has already ended
// succeeds and writes nothing; a session ended now writes session.revoke
// (metadata.reason user or admin) with the change, so concurrent requests
// for one session write one event.
func (s *Service) RevokeSessionByID(ctx context.Context, id pulid.ID) (*ent.Session, error) {
	if viewer.FromContext(ctx) == nil {
		return nil, ErrUnauthenticated
	}
	if !id.Valid() || id.Prefix() != "ses" {
		return nil, fmt.Errorf("session: %w", ErrNotFound)
	}
	var ses *ent.Session
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		var err error
		if ses, err = tx.Session.Get(viewer.SystemContext(ctx), id); err != nil {
			return translate(err, "session")
		}
		reason, err := s.checkSessionChange(ctx, tx, ses.UserID)
		if err != nil {
			return err
		}
		_, err = s.revokeSession(ctx, tx, id, ses.UserID, "session revoked", s.sessionRevokeEvent(ses, reason))
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.client.Session.Get(viewer.SystemContext(ctx), id)
}

// RevokeUserSessions ends every session of userID that is not revoked yet,
// with the grants issued from each, in one transaction with one
// session.revoke event per session (metadata.reason admin, or user when
// the user signs itself out everywhere). The caller must be the user or
// may change the user (as RevokeSessionByID). It returns how many sessions
// it ended.
func (s *Service) RevokeUserSessions(ctx context.Context, userID pulid.ID) (int, error) {
	if viewer.FromContext(ctx) == nil {
		return 0, ErrUnauthenticated
	}
	var n int
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		reason, err := s.checkSessionChange(ctx, tx, userID)
		if err != nil {
			return err
		}
		// In id order, one conditional UPDATE each: a session that a
		// concurrent request ends first is left to that request (and its
		// event), and concurrent callers lock rows in one order.
		ss, err := tx.Session.Query().Where(session.UserID(userID), session.RevokedAtIsNil()).
			Order(ent.Asc(session.FieldID)).All(viewer.SystemContext(ctx))
		if err != nil {
			return fmt.Errorf("list sessions: %w", err)
		}
		for _, ses := range ss {
			ended, err := s.revokeSession(ctx, tx, ses.ID, userID, "session revoked", s.sessionRevokeEvent(ses, reason))
			if err != nil {
				return err
			}
			if ended {
				n++
			}
		}
		return nil
	})
	return n, err
}

// checkSessionChange decides whether the viewer may end sessions of
// userID, and says as whom: the user itself, or an admin who may change
// the user's credentials. A user the viewer cannot see is ErrNotFound.
func (s *Service) checkSessionChange(ctx context.Context, tx *ent.Tx, userID pulid.ID) (string, error) {
	v := viewer.FromContext(ctx)
	if v.UserID != "" && v.UserID == userID {
		return SessionRevokedByUser, nil
	}
	u, err := tx.User.Get(ctx, userID)
	if err != nil {
		return "", translate(err, "user")
	}
	if scoped(ctx) {
		if err := s.checkUserChange(ctx, tx, u, true, nil); err != nil {
			return "", err
		}
	}
	return SessionRevokedByAdmin, nil
}

// sessionRevokeEvent is the session.revoke event of ending ses for reason;
// who acted and from where come from the caller's viewer.
func (s *Service) sessionRevokeEvent(ses *ent.Session, reason string) *Event {
	return &Event{Action: actionSessionRevoke, TargetType: "Session", TargetID: string(ses.ID), Reason: reason,
		Metadata: map[string]any{"user_id": string(ses.UserID), "session_id": string(ses.ID)}}
}
