package tenants

import (
	"context"
	"fmt"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/domain"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// RecheckReport is what one RecheckDomains pass did.
type RecheckReport struct {
	// Checked domains were looked up; Unknown of them could not be (the
	// lookup failed: nothing changes but the time of the check).
	Checked, Unknown int
	// Flagged domains missed their record for the first time; Restored
	// ones found it again while flagged; Unverified ones had missed it for
	// the grace period and lost their VERIFIED state.
	Flagged, Restored, Unverified int
	// More is set when the pass checked a full batch: more may be due.
	More bool
}

// RecheckDomains looks again at the TXT records of up to
// DomainChecks.Batch VERIFIED domains whose last check is older than
// DomainChecks.RecheckAfter (never-checked ones and the oldest first). A
// domain whose record is gone is flagged (missing_since,
// domain.record_missing); one that has missed it for DomainChecks.Grace
// becomes FAILED (domain.unverify, and a domain.unverified outbox row for
// webhooks); one whose record is back loses its flag
// (domain.record_restored). A lookup that fails (timeout, SERVFAIL)
// decides nothing: an outage of the resolver must not unverify every
// domain. Instance-level: System or Instance viewers only. cmd runs it on
// a ticker on every node; passes that overlap check a domain twice and
// agree.
func (s *Service) RecheckDomains(ctx context.Context, now time.Time) (RecheckReport, error) {
	var rep RecheckReport
	if v := viewer.FromContext(ctx); v == nil || !v.Unrestricted() {
		return rep, fmt.Errorf("recheck domains: %w", ErrForbidden)
	}
	cutoff := now.Add(-s.domains.RecheckAfter)
	due, err := s.client.Domain.Query().
		Where(domain.VerificationStateEQ(domain.VerificationStateVERIFIED),
			domain.Or(domain.LastCheckedAtIsNil(), domain.LastCheckedAtLTE(cutoff))).
		Order(domain.ByLastCheckedAt(sql.OrderNullsFirst()), domain.ByID()).Limit(s.domains.Batch).All(ctx)
	if err != nil {
		return rep, fmt.Errorf("find domains to re-check: %w", err)
	}
	rep.More = len(due) == s.domains.Batch
	for _, d := range due {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		check := s.lookupToken(ctx, d)
		_, outcome, err := s.recheck(ctx, d.ID, check, now)
		if err != nil {
			return rep, fmt.Errorf("re-check domain %s: %w", d.ID, err)
		}
		rep.Checked++
		switch {
		case check.unknown:
			rep.Unknown++
			s.logger().WarnContext(ctx, "domain re-check: lookup failed", "domain", d.Domain, "id", d.ID, "reason", check.reason)
		case outcome.flagged:
			rep.Flagged++
		case outcome.restored:
			rep.Restored++
		case outcome.unverified:
			rep.Unverified++
		}
	}
	return rep, nil
}

// recheckOutcome says what recheck changed besides the time of the check.
type recheckOutcome struct {
	flagged, restored, unverified bool
}

// recheck applies one lookup's answer to a VERIFIED domain (see
// RecheckDomains); a domain that is no longer VERIFIED is left alone.
// It returns the domain as it is afterwards and what changed (for
// RecheckDomains' report; VerifyDomain answers from the check itself).
func (s *Service) recheck(ctx context.Context, id pulid.ID, check txtCheck, now time.Time) (*ent.Domain, recheckOutcome, error) {
	var out *ent.Domain
	var oc recheckOutcome
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		d, err := tx.Domain.Get(ctx, id)
		if err != nil {
			return translate(err, "domain")
		}
		out = d
		if d.VerificationState != domain.VerificationStateVERIFIED {
			return nil
		}
		up := tx.Domain.UpdateOne(d).SetLastCheckedAt(now)
		ev := event{org: d.OrganizationID, targetType: "Domain", targetID: d.ID,
			metadata: map[string]any{"domain": d.Domain}}
		switch {
		case check.unknown:
		case check.found && d.MissingSince != nil:
			oc.restored = true
			up.ClearMissingSince()
			ev.action = "domain.record_restored"
			ev.metadata["missing_since"] = d.MissingSince.UTC().Format(time.RFC3339)
		case check.found:
		case d.MissingSince == nil:
			oc.flagged = true
			up.SetMissingSince(now)
			ev.action = "domain.record_missing"
			ev.metadata["reason"] = check.reason
		case now.Sub(*d.MissingSince) >= s.domains.Grace:
			oc.unverified = true
			up.SetVerificationState(domain.VerificationStateFAILED).ClearVerifiedAt().ClearMissingSince()
			ev.action = "domain.unverify"
			ev.metadata["reason"] = check.reason
			ev.metadata["missing_since"] = d.MissingSince.UTC().Format(time.RFC3339)
		}
		if out, err = up.Save(ctx); err != nil {
			return translate(err, "domain")
		}
		if oc.unverified {
			if err := s.domainEvent(ctx, tx, out, DomainEventUnverified, now, map[string]any{
				"reason": check.reason, "missing_since": ev.metadata["missing_since"]}); err != nil {
				return err
			}
		}
		if ev.action == "" {
			return nil
		}
		return s.audit(ctx, tx, ev)
	})
	if err != nil {
		return nil, oc, err
	}
	return out.Unwrap(), oc, nil
}

// RunDomainChecks re-checks due domains now and then every period
// (RecheckDomains as the system, pass after pass while a pass finds a
// full batch), until ctx is done. A failed pass is logged and retried at
// the next tick. cmd runs it on every node for the life of the server.
func (s *Service) RunDomainChecks(ctx context.Context, every time.Duration) {
	s.runPasses(ctx, every, "domain re-check", func(sys context.Context) (bool, error) {
		rep, err := s.RecheckDomains(sys, s.now())
		if err != nil {
			return false, err
		}
		if rep.Flagged+rep.Restored+rep.Unverified+rep.Unknown > 0 {
			s.logger().InfoContext(ctx, "domain re-check", "checked", rep.Checked, "unknown", rep.Unknown,
				"flagged", rep.Flagged, "restored", rep.Restored, "unverified", rep.Unverified)
		}
		return rep.More, nil
	})
}
