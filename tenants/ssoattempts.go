package tenants

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/ent/ssoattempt"
	"github.com/gatehouse-id/gatehouse/internal/secret"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// SSO attempts: a sign-in sent to an organization's identity provider,
// kept server-side until the answer (ent/schema/ssoattempt.go). Each is
// bound to the browser that began it by a cookie value (browser token)
// and found by the answer through a relay token (SAML RelayState), and
// taken once.

// SSOAttemptTTL is how long a person may take at their identity provider.
const SSOAttemptTTL = 15 * time.Minute

// ssoIdentityTTL is how long a verified SAML identity waits for the
// browser's next request (an immediate redirect).
const ssoIdentityTTL = 2 * time.Minute

// ErrSSOAttempt: no such attempt for this browser and connection, or it
// expired or was answered already.
var ErrSSOAttempt = errors.New("unknown, expired or answered sso attempt")

// NewSSOAttempt is a sign-in about to be sent to a connection's IdP.
type NewSSOAttempt struct {
	ConnectionID pulid.ID
	// AuthRequestID is the application's pending request; "" for a
	// direct sign-in.
	AuthRequestID string
	// TestFor, when set, makes the attempt a test sign-in begun from this
	// admin portal session: its answer is verified and recorded, and
	// signs no one in.
	TestFor pulid.ID
	// Begin asks the connector for the way to the IdP, given the relay
	// token its answer must carry, and returns the connector's state
	// (federation.Step.State) to keep.
	Begin func(relay string) (state []byte, err error)
}

// StartSSOAttempt makes an attempt's tokens, lets in.Begin use the relay
// token, stores the attempt with the state Begin returned, and returns the
// browser token for the browser's cookie.
func (s *Service) StartSSOAttempt(ctx context.Context, in NewSSOAttempt) (browser string, err error) {
	if !in.ConnectionID.Valid() || in.Begin == nil {
		return "", invalid("attempt", "needs a connection and a way to begin")
	}
	relay, browser := secret.Token(24), secret.Token(32)
	state, err := in.Begin(relay)
	if err != nil {
		return "", err
	}
	if len(state) == 0 {
		return "", invalid("attempt", "the connector returned no state")
	}
	now := s.now()
	c := s.client.SSOAttempt.Create().SetRelayHash(secret.Hash(relay)).SetBrowserHash(secret.Hash(browser)).
		SetConnectionID(in.ConnectionID).SetAuthRequestID(in.AuthRequestID).SetState(state).
		SetCreatedAt(now).SetExpiresAt(now.Add(SSOAttemptTTL))
	if in.TestFor != "" {
		c.SetPurpose(ssoattempt.PurposeTEST).SetPortalSessionID(in.TestFor)
	}
	err = c.Exec(viewer.SystemContext(ctx))
	if err != nil {
		return "", fmt.Errorf("store sso attempt: %w", err)
	}
	return browser, nil
}

// SSOAttempt is a taken attempt.
type SSOAttempt struct {
	ConnectionID  pulid.ID
	AuthRequestID string
	State         []byte
	// Identity is the verified identity a SAML ACS kept (KeepSSOIdentity).
	Identity []byte
	// TestFor is the admin portal session that began a test sign-in;
	// empty for a sign-in.
	TestFor pulid.ID
	// relayHash and browserHash bind a kept identity to the same browser.
	relayHash, browserHash string
}

// takeSSOAttemptSQL deletes one attempt and returns it: of parallel
// answers exactly one gets the row (SQLite and PostgreSQL both take
// DELETE … RETURNING).
const takeSSOAttemptSQL = `DELETE FROM "sso_attempts" WHERE "id" = (
  SELECT "id" FROM "sso_attempts" WHERE %s AND "connection_id" = $2 ORDER BY "id" DESC LIMIT 1)
RETURNING "connection_id", "auth_request_id", "state", "identity", "relay_hash", "browser_hash", "expires_at", "portal_session_id"`

// TakeSSOAttemptByBrowser takes the newest unanswered attempt at
// connection connID that the browser holding browser began (an OIDC
// callback, which carries the browser's cookie).
func (s *Service) TakeSSOAttemptByBrowser(ctx context.Context, connID pulid.ID, browser string) (*SSOAttempt, error) {
	return s.takeSSOAttempt(ctx, `"browser_hash" = $1 AND "identity" IS NULL`, browser, connID)
}

// TakeSSOAttemptByRelay takes the unanswered attempt at connection connID
// whose relay token is relay (a SAML ACS: a cross-site POST, without the
// browser's cookie). The browser proves itself afterwards
// (TakeSSOIdentity).
func (s *Service) TakeSSOAttemptByRelay(ctx context.Context, connID pulid.ID, relay string) (*SSOAttempt, error) {
	return s.takeSSOAttempt(ctx, `"relay_hash" = $1 AND "identity" IS NULL`, relay, connID)
}

// KeepSSOIdentity keeps the identity the ACS verified for a taken
// attempt, under the same relay and browser tokens, for ssoIdentityTTL.
func (s *Service) KeepSSOIdentity(ctx context.Context, a *SSOAttempt, identity []byte) error {
	now := s.now()
	c := s.client.SSOAttempt.Create().SetRelayHash(a.relayHash).SetBrowserHash(a.browserHash).
		SetConnectionID(a.ConnectionID).SetAuthRequestID(a.AuthRequestID).SetState(a.State).SetIdentity(identity).
		SetCreatedAt(now).SetExpiresAt(now.Add(ssoIdentityTTL))
	if a.TestFor != "" {
		c.SetPurpose(ssoattempt.PurposeTEST).SetPortalSessionID(a.TestFor)
	}
	err := c.Exec(viewer.SystemContext(ctx))
	if err != nil {
		return fmt.Errorf("keep sso identity: %w", err)
	}
	return nil
}

// TakeSSOIdentity takes the identity kept for relay at connection connID,
// when browser is the token of the browser that began the attempt.
func (s *Service) TakeSSOIdentity(ctx context.Context, connID pulid.ID, relay, browser string) (*SSOAttempt, error) {
	a, err := s.takeSSOAttempt(ctx, `"relay_hash" = $1 AND "identity" IS NOT NULL`, relay, connID)
	if err != nil {
		return nil, err
	}
	if browser == "" || a.browserHash != secret.Hash(browser) {
		return nil, ErrSSOAttempt
	}
	return a, nil
}

func (s *Service) takeSSOAttempt(ctx context.Context, where, token string, connID pulid.ID) (*SSOAttempt, error) {
	if token == "" || len(token) > 128 || !connID.Valid() {
		return nil, ErrSSOAttempt
	}
	rows, err := s.client.QueryContext(ctx, fmt.Sprintf(takeSSOAttemptSQL, where), secret.Hash(token), string(connID))
	if err != nil {
		return nil, fmt.Errorf("take sso attempt: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("take sso attempt: %w", err)
		}
		return nil, ErrSSOAttempt
	}
	var (
		a        SSOAttempt
		conn     string
		authReq  sql.NullString
		identity []byte
		expires  sql.NullTime
		portal   sql.NullString
	)
	if err := rows.Scan(&conn, &authReq, &a.State, &identity, &a.relayHash, &a.browserHash, &expires, &portal); err != nil {
		return nil, fmt.Errorf("read sso attempt: %w", err)
	}
	a.ConnectionID, a.AuthRequestID, a.Identity, a.TestFor = pulid.ID(conn), authReq.String, identity, pulid.ID(portal.String)
	if !s.now().Before(expires.Time) {
		return nil, ErrSSOAttempt
	}
	return &a, nil
}

// SweepSSOAttempts deletes expired attempts and returns how many.
func (s *Service) SweepSSOAttempts(ctx context.Context) (int, error) {
	n, err := s.client.SSOAttempt.Delete().Where(ssoattempt.ExpiresAtLT(s.now())).Exec(viewer.SystemContext(ctx))
	if err != nil {
		return 0, fmt.Errorf("sweep sso attempts: %w", err)
	}
	return n, nil
}
