package provider

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-id/gatehouse/ent/authrequest"
	"github.com/gatehouse-id/gatehouse/ent/grant"
	"github.com/gatehouse-id/gatehouse/ent/refreshtoken"
	"github.com/gatehouse-id/gatehouse/ent/revokedtoken"
)

// authRequestGrace keeps an expired authorization request this long
// before Sweep deletes it: a code replayed shortly after it expired is
// still recognised as a replay (and revokes its grants) rather than as an
// unknown code. Grants outlive it anyway; this only sharpens the log.
const authRequestGrace = 24 * time.Hour

// sweepBatch bounds one DELETE, so a large backlog never holds a long lock.
const sweepBatch = 1000

// Sweep deletes state nothing can use any more: authorization requests
// expired more than a day ago, RevokedToken rows (revoked access tokens,
// used client-assertion ids) past their expires_at, since the token they
// name fails its own exp check by then, and grants past their absolute
// end, with their refresh tokens, once the last access token issued under
// them has expired too (expires_at + the longest access-token lifetime).
// Login transactions and WebAuthn ceremonies go once expired (tenants).
// Safe to run on every node at once.
func (p *Provider) Sweep(ctx context.Context) error {
	ctx = systemCtx(ctx)
	now := p.now()
	var errs []error
	if n, err := p.db.AuthRequest.Delete().Where(authrequest.ExpiresAtLT(now.Add(-authRequestGrace))).Exec(ctx); err != nil {
		errs = append(errs, fmt.Errorf("sweep auth requests: %w", err))
	} else if n > 0 {
		p.log.DebugContext(ctx, "provider: swept auth requests", "count", n)
	}
	if n, err := p.db.RevokedToken.Delete().Where(revokedtoken.ExpiresAtLT(now)).Exec(ctx); err != nil {
		errs = append(errs, fmt.Errorf("sweep revoked tokens: %w", err))
	} else if n > 0 {
		p.log.DebugContext(ctx, "provider: swept revoked tokens", "count", n)
	}
	if n, err := p.tenants.SweepLoginTransactions(ctx); err != nil {
		errs = append(errs, err)
	} else if n > 0 {
		p.log.DebugContext(ctx, "provider: swept login transactions", "count", n)
	}
	if n, err := p.tenants.SweepWebAuthnCeremonies(ctx); err != nil {
		errs = append(errs, err)
	} else if n > 0 {
		p.log.DebugContext(ctx, "provider: swept webauthn ceremonies", "count", n)
	}
	if n, err := p.tenants.SweepSSOAttempts(ctx); err != nil {
		errs = append(errs, err)
	} else if n > 0 {
		p.log.DebugContext(ctx, "provider: swept sso attempts", "count", n)
	}
	if n, err := p.tenants.SweepAdminPortal(ctx); err != nil {
		errs = append(errs, err)
	} else if n > 0 {
		p.log.DebugContext(ctx, "provider: swept admin portal links and sessions", "count", n)
	}
	if lifetime, err := p.maxTokenLifetime(ctx); err != nil {
		errs = append(errs, fmt.Errorf("sweep grants: %w", err))
	} else if err := p.sweepGrants(ctx, now.Add(-lifetime-clockSkew)); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// sweepGrants deletes expired grants in batches, refresh tokens first
// (the foreign key cascades on PostgreSQL, but SQLite enforces it only
// with foreign_keys on, so do not rely on it). Access tokens under a
// deleted grant would fail verification (grant not found) like revoked
// ones, which is why the caller waits out their lifetime.
func (p *Provider) sweepGrants(ctx context.Context, before time.Time) error {
	for {
		ids, err := p.db.Grant.Query().Where(grant.ExpiresAtLT(before)).Limit(sweepBatch).IDs(ctx)
		if err != nil {
			return fmt.Errorf("sweep grants: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		tx, err := p.db.Tx(ctx)
		if err != nil {
			return fmt.Errorf("sweep grants: %w", err)
		}
		if _, err := tx.RefreshToken.Delete().Where(refreshtoken.GrantIDIn(ids...)).Exec(ctx); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("sweep refresh tokens: %w", err)
		}
		n, err := tx.Grant.Delete().Where(grant.IDIn(ids...)).Exec(ctx)
		if err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("sweep grants: %w", err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("sweep grants: %w", err)
		}
		p.log.DebugContext(ctx, "provider: swept grants", "count", n)
		if len(ids) < sweepBatch {
			return nil
		}
	}
}

// RunSweeper calls Sweep every interval until ctx is done (start it once
// per node from `gatehouse serve`; several nodes sweeping is harmless).
// Errors are logged and the next round tries again. An interval ≤ 0
// means one hour.
func (p *Provider) RunSweeper(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = time.Hour
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := p.Sweep(ctx); err != nil && ctx.Err() == nil {
			p.log.WarnContext(ctx, "provider: sweep failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
