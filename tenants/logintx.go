package tenants

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/logintransaction"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/internal/secret"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// A login transaction is a sign-in in progress (docs/ARCHITECTURE.md, "The
// login transaction"): who is signing in, into which organization, and
// the factors proven so far, stored server-side and named by a random
// token in a browser cookie. A session exists only once LoginPolicy says
// the transaction is done. Like sessions, transactions are read and
// written as the System viewer, for a browser that has no viewer yet.

// LoginTransactionLifetime is how long a sign-in may take from its first
// proven factor.
const LoginTransactionLifetime = 15 * time.Minute

// LoginStep is one proven factor of a sign-in.
type LoginStep struct {
	// Token is the browser's transaction token, "" when it has none.
	Token string
	// AuthRequestID is the request the sign-in answers.
	AuthRequestID string
	// UserID proved Factor; OrganizationID is the organization in
	// question, when known.
	UserID         pulid.ID
	OrganizationID pulid.ID
	Factor         Factor
	// More are factors proven in the same step, after Factor: what an
	// upstream sign-in's IdP vouched for (UpstreamFactors).
	More []Factor
}

// LoginTransaction returns the live transaction token names for
// authRequestID, or nil when there is none (unknown, expired, or another
// request's).
func (s *Service) LoginTransaction(ctx context.Context, token, authRequestID string) (*ent.LoginTransaction, error) {
	if token == "" || len(token) > 128 {
		return nil, nil
	}
	tx, err := s.client.LoginTransaction.Query().
		Where(logintransaction.TokenHash(secret.Hash(token)), logintransaction.ExpiresAtGT(s.now())).
		Only(viewer.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find login transaction: %w", err)
	}
	if string(tx.AuthRequestID) != authRequestID {
		return nil, nil
	}
	return tx, nil
}

// ProveFactor records step in the browser's transaction for the request
// (a new transaction when there is none, or when the one there is was
// another user's: factors never carry from one user to another), and
// returns the transaction under a new token. The token changes with every
// proven factor and the old one stops working, so an identifier planted
// before a step is worthless after it (SECURITY-CHECKLIST ATO-07).
func (s *Service) ProveFactor(ctx context.Context, step LoginStep) (*ent.LoginTransaction, string, error) {
	ctx = viewer.SystemContext(ctx)
	prev, err := s.LoginTransaction(ctx, step.Token, step.AuthRequestID)
	if err != nil {
		return nil, "", err
	}
	now := s.now()
	var factors []Factor
	expires := now.Add(LoginTransactionLifetime)
	org := step.OrganizationID
	if prev != nil && prev.UserID == step.UserID {
		factors, expires = prev.Factors, prev.ExpiresAt
		if org == "" {
			org = prev.OrganizationID
		}
	}
	factors = append(factors, step.Factor)
	factors = append(factors, step.More...)
	token := secret.Token(32)
	var out *ent.LoginTransaction
	err = s.inTx(ctx, func(tx *ent.Tx) error {
		if prev != nil {
			if err := tx.LoginTransaction.DeleteOneID(prev.ID).Exec(ctx); err != nil && !ent.IsNotFound(err) {
				return fmt.Errorf("end previous login transaction: %w", err)
			}
		}
		c := tx.LoginTransaction.Create().SetTokenHash(secret.Hash(token)).SetAuthRequestID(pulid.ID(step.AuthRequestID)).
			SetUserID(step.UserID).SetFactors(factors).SetCreatedAt(now).SetExpiresAt(expires)
		if org != "" {
			c.SetOrganizationID(org)
		}
		var err error
		if out, err = c.Save(ctx); err != nil {
			return fmt.Errorf("store login transaction: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return out.Unwrap(), token, nil
}

// ActionLogin is the audit action of a completed sign-in.
const ActionLogin = "user.login"

// Login is a completed sign-in, as its user.login event records it.
type Login struct {
	UserID pulid.ID
	// OrganizationID is the organization signed in to, if any.
	OrganizationID pulid.ID
	// ClientID is the application whose authorization request the sign-in
	// completed; "" for a direct sign-in (the account page).
	ClientID string
	// SessionID is the hosted pages' session of the sign-in.
	SessionID pulid.ID
	AMR       []string
	AuthTime  time.Time
	// DeviceID is the browser's device cookie id (the session's), if any.
	DeviceID string
}

// LoginEvent is l's user.login event, by and about its user; where the
// browser came from is the origin of the writer's context (WithOrigin).
// A sign-in completes in one of two places, and each writes this event
// with the change that completes it: the provider's CompleteLogin with
// the authorization request it binds to the user, and CreateSession with
// the session of a direct sign-in (NewSession.Login).
func LoginEvent(l Login) Event {
	md := map[string]any{"amr": l.AMR, "session_id": string(l.SessionID), "auth_time": l.AuthTime.UTC().Format(time.RFC3339)}
	if l.ClientID != "" {
		md["client_id"] = l.ClientID
	}
	if l.DeviceID != "" {
		md["device_id"] = l.DeviceID
	}
	return Event{Action: ActionLogin, Organization: l.OrganizationID, Actor: string(l.UserID), ActorType: "user",
		TargetType: ent.TypeUser, TargetID: string(l.UserID), Metadata: md}
}

// SweepLoginTransactions deletes expired transactions and returns how many.
func (s *Service) SweepLoginTransactions(ctx context.Context) (int, error) {
	n, err := s.client.LoginTransaction.Delete().Where(logintransaction.ExpiresAtLT(s.now())).Exec(viewer.SystemContext(ctx))
	if err != nil {
		return 0, fmt.Errorf("sweep login transactions: %w", err)
	}
	return n, nil
}
