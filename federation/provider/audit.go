package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/grant"
	"github.com/gatehouse-id/gatehouse/ent/predicate"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/internal/httpserver"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// Audit events of the provider, written through tenants' one writer. An
// event that records a change is written in the transaction that makes
// it; a refused request that changes nothing is written rate-limited
// (tenants.Audit.Rejected). The client credentials grant writes no event
// per token: it is the hot path (>10k tokens/s, no database access at
// all), and a row per token would add a write to every request; refused
// client-credentials requests are audited like every other refusal.
const (
	// actionTokenIssue: a code was redeemed for a grant and its tokens.
	actionTokenIssue = "token.issue"
	// actionTokenRevoke: a client revoked a token (RFC 7009).
	actionTokenRevoke = "token.revoke"
	// actionTokenRefresh: a refresh token was rotated; written only with
	// Config.AuditRefresh (refresh.go).
	actionTokenRefresh = "token.refresh"
	// actionRefreshReused: a rotated refresh token was presented again;
	// its grant (the family) is revoked (RFC 9700 §4.14.2).
	actionRefreshReused = "token.refresh.reused"
	// actionCodeReplayed: a redeemed code was presented again; the grants
	// issued from it are revoked (RFC 6749 §4.1.2, OIDC-05).
	actionCodeReplayed = "token.code.replayed"
	// actionGrantRevoke: a grant revoked for any other reason (end_session,
	// user disabled, membership ended, a code replayed while its grant
	// was being made).
	actionGrantRevoke = "grant.revoke"
	// actionSessionRevoke: end_session ended the hosted pages' session
	// named by the id_token_hint's sid.
	actionSessionRevoke = "session.revoke"
	// actionUserLogin: a sign-in completed an authorization request (the
	// request bound to the user, the code minted), written by CompleteLogin
	// in that change's transaction with the page's origin
	// (tenants.LoginEvent).
	actionUserLogin = tenants.ActionLogin
	// actionRejected: a token, introspection or revocation request refused
	// with invalid_client or invalid_grant (metadata.reason is the error
	// code, metadata.detail why). Rate-limited.
	actionRejected = "oauth.rejected"
)

// origin is the origin of the request ctx belongs to (library endpoints
// record it in their request state); zero elsewhere.
func origin(ctx context.Context) tenants.Origin {
	if st := stateFrom(ctx); st != nil {
		return tenants.Origin(httpserver.OriginOf(st.req))
	}
	return tenants.Origin{}
}

// clientActor fills who acted: the client when one did, else the provider.
func clientActor(e *tenants.Event, clientID string) {
	if clientID != "" {
		e.Actor, e.ActorType = clientID, "client"
	} else {
		e.Actor, e.ActorType = "system", "system"
	}
}

// grantEvent is the event of action on grant g.
func grantEvent(ctx context.Context, action, clientID string, g *ent.Grant, reason string) tenants.Event {
	e := tenants.Event{Action: action, Organization: g.OrganizationID, TargetType: "Grant", TargetID: string(g.ID),
		Reason: reason, Origin: origin(ctx),
		Metadata: map[string]any{"client_id": g.ClientID, "user_id": string(g.UserID)}}
	clientActor(&e, clientID)
	return e
}

// inTx runs fn in a transaction and commits when it returns nil.
func (p *Provider) inTx(ctx context.Context, fn func(tx *ent.Tx) error) error {
	tx, err := p.db.Tx(ctx)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	return nil
}

// revocation is a revocation of grants and the audit events that record
// it: one per grant revoked, in the same transaction.
type revocation struct {
	action string
	// reason is the grants' revoke_reason and the events' metadata.reason.
	reason string
	// clientID is the client whose request caused it, if any.
	clientID string
	// event, when set, is written even when no grant was left to revoke
	// (a replay or reuse is worth recording either way); the revoked
	// grants' ids are added to its metadata instead of one event each.
	event *tenants.Event
}

// revokeGrants revokes every unrevoked grant matching preds and records
// it, in one transaction: one SELECT, one UPDATE for the grants and one
// INSERT for their events, however many there are (up to
// tenants.BulkChunk a statement). On PostgreSQL the grants are locked first (FOR
// NO KEY UPDATE), so that two concurrent revocations record each grant
// once; SQLite's write transactions are serial already.
func (p *Provider) revokeGrants(ctx context.Context, rev revocation, preds ...predicate.Grant) error {
	ctx = systemCtx(ctx)
	return p.inTx(ctx, func(tx *ent.Tx) error {
		q := tx.Grant.Query().Where(append(preds, grant.RevokedAtIsNil())...).
			Select(grant.FieldID, grant.FieldClientID, grant.FieldUserID, grant.FieldOrganizationID)
		if p.cfg.Dialect == dialect.Postgres {
			// NO KEY UPDATE, like the UPDATE itself: a concurrent refresh's
			// INSERT (whose foreign key takes KEY SHARE) is not blocked.
			q.ForUpdate(func(o *sql.LockOptions) { o.Strength = sql.LockNoKeyUpdate })
		}
		gs, err := q.All(ctx)
		if err != nil {
			return fmt.Errorf("load grants: %w", err)
		}
		now := p.now()
		ids := make([]string, 0, len(gs))
		gids := make([]pulid.ID, 0, len(gs))
		for _, g := range gs {
			ids, gids = append(ids, string(g.ID)), append(gids, g.ID)
		}
		// One UPDATE for them all (per tenants.BulkChunk ids): the rows
		// are locked (PostgreSQL) or the transaction is the only writer
		// (SQLite), so each is still unrevoked.
		for chunk := range slices.Chunk(gids, tenants.BulkChunk) {
			if err := tx.Grant.Update().Where(grant.IDIn(chunk...)).SetRevokedAt(now).SetRevokeReason(rev.reason).Exec(ctx); err != nil {
				return fmt.Errorf("revoke grants: %w", err)
			}
		}
		if rev.event == nil {
			es := make([]tenants.Event, 0, len(gs))
			for _, g := range gs {
				es = append(es, grantEvent(ctx, rev.action, rev.clientID, g, auditReason(rev.reason)))
			}
			return tenants.WriteAuditBulk(ctx, tx.AuditEvent, now, es)
		}
		e := *rev.event
		md := map[string]any{"revoked_grants": ids}
		for k, v := range e.Metadata {
			md[k] = v
		}
		e.Metadata = md
		if e.Organization == "" && len(gs) > 0 {
			e.Organization = gs[0].OrganizationID
		}
		return tenants.WriteAudit(ctx, tx.AuditEvent, now, e)
	})
}

// auditReason is a revoke reason or an error's text as a machine-readable
// reason: "refresh token reused" → refresh_token_reused.
func auditReason(s string) string {
	s = strings.TrimPrefix(strings.TrimSpace(s), "provider: ")
	return strings.ReplaceAll(strings.ToLower(s), " ", "_")
}

// claimedClientID is the client id a token request names, authenticated
// or not: Basic credentials' user, else client_id.
func claimedClientID(r *http.Request) string {
	if id, _, ok := r.BasicAuth(); ok {
		if id, err := url.QueryUnescape(id); err == nil {
			return id
		}
	}
	return r.PostForm.Get("client_id")
}

// rejected records a refused request (invalid_client, invalid_grant; other
// refusals are the client's own mistakes and not audited), rate-limited
// per client address and error code. detail says why, machine-readable.
func (p *Provider) rejected(ctx context.Context, r *http.Request, clientID string, e *oidc.Error) {
	if e == nil || (e.ErrorType != oidc.InvalidClient && e.ErrorType != oidc.InvalidGrant) ||
		errors.Is(e.Unwrap(), errRefreshReused) || errors.Is(e.Unwrap(), errCodeReplayed) {
		return // not audited, or audited by the event of its own revocation
	}
	detail := "unknown"
	if parent := e.Unwrap(); parent != nil {
		detail = auditReason(parent.Error())
	}
	ev := tenants.Event{Action: actionRejected, Reason: string(e.ErrorType), Origin: tenants.Origin(httpserver.OriginOf(r)),
		Metadata: map[string]any{"detail": detail, "path": r.URL.Path, "grant_type": r.PostForm.Get("grant_type")}}
	if clientID != "" {
		ev.Metadata["client_id"] = clientID
	}
	ev.Actor, ev.ActorType = "anonymous", "anonymous" // an unauthenticated client proves nothing
	if e.ErrorType == oidc.InvalidGrant && clientID != "" {
		ev.Actor, ev.ActorType = clientID, "client"
	}
	p.audit.Rejected(ctx, p.db, ev)
}
