package tenants

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/grant"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
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
		_, err = s.revokeSession(ctx, tx, id, ses.UserID, "session revoked", s.sessionRevokeEvent(ses.ID, ses.UserID, reason))
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.client.Session.Get(viewer.SystemContext(ctx), id)
}

// RevokeUserSessions ends every session of userID that is not revoked
// yet, but except ("" for none: the account page keeps the browser that
// asks), with the grants issued from each; one change of three statements
// whatever the number of sessions: the sessions' conditional UPDATE …
// RETURNING, the grants' UPDATE, and one session.revoke event per session
// ended (metadata.reason admin, or user when the user signs itself out
// everywhere) in one INSERT. An event per session, not one for the
// whole: the trail is read by target (a session's user.login, then its
// session.revoke, as RevokeSessionByID and a sign-out write them), and
// the events of one request share its request id for whoever counts mass
// sign-outs. The caller must be the user or may change the user (as
// RevokeSessionByID). It returns how many sessions it ended; a session a
// concurrent request ends first is that request's (and its event's).
func (s *Service) RevokeUserSessions(ctx context.Context, userID, except pulid.ID) (int, error) {
	if viewer.FromContext(ctx) == nil {
		return 0, ErrUnauthenticated
	}
	var n int
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		reason, err := s.checkSessionChange(ctx, tx, userID)
		if err != nil {
			return err
		}
		now := s.now()
		ids, err := revokeUserSessions(ctx, tx, userID, except, now)
		if err != nil {
			return err
		}
		n = len(ids)
		sys := viewer.SystemContext(ctx)
		evs := make([]Event, len(ids))
		for i, id := range ids {
			evs[i] = *s.sessionRevokeEvent(id, userID, reason)
		}
		for chunk := range slices.Chunk(ids, BulkChunk) {
			if err := tx.Grant.Update().Where(grant.SessionIDIn(chunk...), grant.RevokedAtIsNil()).
				SetRevokedAt(now).SetRevokeReason("session revoked").Exec(sys); err != nil {
				return fmt.Errorf("revoke the sessions' grants: %w", err)
			}
		}
		return WriteAuditBulk(ctx, tx.AuditEvent, now, evs)
	})
	return n, err
}

// revokeUserSessionsSQL ends a user's unrevoked sessions ($3: but one)
// and returns their ids, in one statement that SQLite and PostgreSQL both
// take: RETURNING names exactly the rows this statement changed, so a
// session ended meanwhile by another request is not counted (or audited)
// twice.
const revokeUserSessionsSQL = `UPDATE "sessions" SET "revoked_at" = $1
WHERE "user_id" = $2 AND "revoked_at" IS NULL AND "id" <> $3 RETURNING "id"`

func revokeUserSessions(ctx context.Context, tx *ent.Tx, userID, except pulid.ID, now time.Time) ([]pulid.ID, error) {
	rows, err := tx.QueryContext(ctx, revokeUserSessionsSQL, now, string(userID), string(except))
	if err != nil {
		return nil, fmt.Errorf("revoke sessions: %w", err)
	}
	defer rows.Close()
	var ids []pulid.ID
	for rows.Next() {
		var id pulid.ID
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("revoke sessions: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("revoke sessions: %w", err)
	}
	slices.Sort(ids) // the events in id order, whatever order the rows came in
	return ids, nil
}

// SessionUserContext is ctx acting as the user signed in with session
// ses, as the account page does when the user changes their own
// sessions: a User viewer for ses.UserID, ses its current session.
func SessionUserContext(ctx context.Context, ses *ent.Session) context.Context {
	return viewer.NewContext(ctx, &viewer.Viewer{Kind: viewer.User, Actor: string(ses.UserID), UserID: ses.UserID, SessionID: ses.ID})
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

// sessionRevokeEvent is the session.revoke event of ending session id of
// userID for reason; who acted and from where come from the caller's
// viewer and context.
func (s *Service) sessionRevokeEvent(id, userID pulid.ID, reason string) *Event {
	return &Event{Action: actionSessionRevoke, TargetType: "Session", TargetID: string(id), Reason: reason,
		Metadata: map[string]any{"user_id": string(userID), "session_id": string(id)}}
}
