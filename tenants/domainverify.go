package tenants

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/domain"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/tenants/authz"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// Resolver looks up the TXT records of a DNS name (a fully qualified name,
// with its final dot). A *net.Resolver is one (internal/dnsresolver makes
// the configured one). VerifyDomain and RecheckDomains call it outside any
// transaction, once per domain, bounded by DomainChecks.LookupTimeout. A
// *net.DNSError with IsNotFound means the name has no TXT record; any
// other error is a failure to find out.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// DomainChecks configures DNS verification of domains.
type DomainChecks struct {
	// Resolver answers the TXT questions. Defaults to the system resolver.
	Resolver Resolver
	// RecheckAfter is how old the last check of a VERIFIED domain must be
	// before RecheckDomains looks again. Defaults to 24h.
	RecheckAfter time.Duration
	// Grace is how long a VERIFIED domain may miss its record before it is
	// unverified. Defaults to 72h.
	Grace time.Duration
	// LookupTimeout bounds one lookup. Defaults to 5s.
	LookupTimeout time.Duration
	// Batch is how many domains one RecheckDomains call checks at most.
	// Defaults to 500.
	Batch int
}

// Defaults of DomainChecks.
const (
	DefaultDomainRecheckAfter = 24 * time.Hour
	DefaultDomainGrace        = 72 * time.Hour
	defaultLookupTimeout      = 5 * time.Second
	defaultRecheckBatch       = 500
)

func (c DomainChecks) withDefaults() DomainChecks {
	if c.Resolver == nil {
		c.Resolver = net.DefaultResolver
	}
	if c.RecheckAfter <= 0 {
		c.RecheckAfter = DefaultDomainRecheckAfter
	}
	if c.Grace <= 0 {
		c.Grace = DefaultDomainGrace
	}
	if c.LookupTimeout <= 0 {
		c.LookupTimeout = defaultLookupTimeout
	}
	if c.Batch <= 0 {
		c.Batch = defaultRecheckBatch
	}
	return c
}

// WithDomainChecks sets how domains are verified and re-checked.
func WithDomainChecks(c DomainChecks) Option {
	return func(s *Service) { s.domains = c.withDefaults() }
}

// Events of the domain outbox (DomainEvent.type), for webhooks.
const (
	DomainEventVerified   = "domain.verified"
	DomainEventUnverified = "domain.unverified"
)

// VerificationError says why a domain's DNS record did not prove control,
// in words for the organization's admin (it names only their own DNS
// name). The check was recorded: VerifyDomain returns the domain with it.
type VerificationError struct {
	// Code is the failure's kind, one of the DomainFailure constants, for
	// a page to say in its own language.
	Code   string
	Reason string
}

// Kinds of failed domain checks (VerificationError.Code).
const (
	// DomainFailureNoRecord: DNS has no TXT record at the challenge name.
	DomainFailureNoRecord = "NO_RECORD"
	// DomainFailureWrongToken: TXT records are there, none is the token.
	DomainFailureWrongToken = "WRONG_TOKEN"
	// DomainFailureLookupFailed: the lookup itself failed (timeout,
	// SERVFAIL); whether the record exists is not known.
	DomainFailureLookupFailed = "LOOKUP_FAILED"
)

func (e *VerificationError) Error() string { return "domain not verified: " + e.Reason }

// errDomainTaken is the one answer to a claim on a name another
// organization has verified: it does not say which.
func errDomainTaken() error {
	return &ConflictError{Field: "domain", Reason: "is already verified by another organization"}
}

// challengeName is the only DNS name verification reads:
// _gatehouse-challenge.<domain>. A record of its own cannot be confused
// with the apex's SPF and vendor records, is looked up without a search
// list (the final dot), and may be a CNAME delegated to whoever manages
// the token.
func challengeName(d *ent.Domain) string { return DomainTXTPrefix + d.Domain + "." }

// txtCheck is what one lookup found.
type txtCheck struct {
	found bool
	// code and reason say why not, when !found.
	code, reason string
	// unknown is set when the lookup failed (timeout, SERVFAIL): whether
	// the record exists is not known.
	unknown bool
}

// lookupToken asks the resolver for the TXT records at d's challenge name
// and looks for d's token among them (the whole value of one record).
func (s *Service) lookupToken(ctx context.Context, d *ent.Domain) txtCheck {
	name := challengeName(d)
	ctx, cancel := context.WithTimeout(ctx, s.domains.LookupTimeout)
	defer cancel()
	values, err := s.domains.Resolver.LookupTXT(ctx, name)
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return txtCheck{code: DomainFailureNoRecord, reason: "no TXT record at " + name}
	case dnsErr != nil:
		// Its Error names the server the system configuration lists, which
		// may not be the one asked, and is the operator's business.
		return txtCheck{code: DomainFailureLookupFailed, reason: fmt.Sprintf("DNS lookup of %s failed: %s", name, dnsErr.Err), unknown: true}
	case err != nil:
		return txtCheck{code: DomainFailureLookupFailed, reason: fmt.Sprintf("DNS lookup of %s failed: %v", name, err), unknown: true}
	case slices.Contains(values, d.TxtToken):
		return txtCheck{found: true}
	case len(values) == 0:
		return txtCheck{code: DomainFailureNoRecord, reason: "no TXT record at " + name}
	}
	return txtCheck{code: DomainFailureWrongToken, reason: fmt.Sprintf("none of the %d TXT records at %s is this domain's token %q", len(values), name, d.TxtToken)}
}

// VerifyDomain looks up the domain's TXT record and records the answer.
// Found: the claim becomes VERIFIED, unless another organization verified
// the name first (a ConflictError that does not say which; the unique
// index decides races). Not found: the claim becomes FAILED and the
// domain comes back with a *VerificationError saying why; a VERIFIED
// claim is re-checked instead (RecheckDomains' rules: flagged, and
// unverified only after the grace period). Audited as domain.verify or
// domain.verify_failed (metadata.reason).
func (s *Service) VerifyDomain(ctx context.Context, id pulid.ID) (*ent.Domain, error) {
	d, err := s.client.Domain.Get(ctx, id)
	if err != nil {
		return nil, translate(err, "domain")
	}
	if err := require(ctx, d.OrganizationID, authz.DomainsManage); err != nil {
		return nil, err
	}
	if d.VerificationState == domain.VerificationStateVERIFIED {
		check := s.lookupToken(ctx, d)
		d, _, err := s.recheck(ctx, d.ID, check, s.now())
		if err == nil && !check.found {
			err = &VerificationError{Code: check.code, Reason: check.reason}
		}
		return d, err
	}
	check := s.lookupToken(ctx, d)
	now := s.now()
	if !check.found {
		d, err := s.recordFailure(ctx, d.ID, check.reason, now)
		if err != nil {
			return nil, err
		}
		return d, &VerificationError{Code: check.code, Reason: check.reason}
	}
	var out *ent.Domain
	taken := false
	err = s.inTx(ctx, func(tx *ent.Tx) error {
		d, err := tx.Domain.Get(ctx, id)
		if err != nil {
			return translate(err, "domain")
		}
		if d.VerificationState == domain.VerificationStateVERIFIED {
			out = d // a concurrent call verified it
			return nil
		}
		held, err := tx.Domain.Query().Where(domain.DomainEQ(d.Domain), domain.IDNEQ(d.ID),
			domain.VerificationStateEQ(domain.VerificationStateVERIFIED)).Exist(viewer.SystemContext(ctx))
		if err != nil {
			return fmt.Errorf("look up verified claims: %w", err)
		}
		if held {
			taken = true
			return errDomainTaken()
		}
		// Only a claim that is still not VERIFIED: of concurrent calls for
		// one claim, one changes it (PostgreSQL re-reads the row after the
		// first commits) and the others find it done.
		out, err = tx.Domain.UpdateOne(d).Where(domain.VerificationStateNEQ(domain.VerificationStateVERIFIED)).
			SetVerificationState(domain.VerificationStateVERIFIED).
			SetVerifiedAt(now).SetLastCheckedAt(now).ClearMissingSince().Save(ctx)
		if ent.IsNotFound(err) {
			// A concurrent call verified it.
			out, err = tx.Domain.Get(ctx, d.ID)
			return translate(err, "domain")
		}
		if err != nil {
			// The unique index on VERIFIED names: another claim won the race.
			taken = ent.IsConstraintError(err)
			return translateWrite(err, "domain", "domain", "is already verified by another organization")
		}
		if err := s.domainEvent(ctx, tx, out, DomainEventVerified, now, nil); err != nil {
			return err
		}
		return s.audit(ctx, tx, event{action: "domain.verify", org: out.OrganizationID,
			targetType: "Domain", targetID: out.ID, metadata: map[string]any{"domain": out.Domain}})
	})
	if taken {
		// The refused claim's transaction rolled back (PostgreSQL aborts it
		// at the violation): record the refusal in one of its own.
		if _, ferr := s.recordFailure(ctx, id, "the domain is already verified by another organization", now); ferr != nil {
			return nil, ferr
		}
		return nil, errDomainTaken()
	}
	return unwrap(out, err)
}

// recordFailure marks a claim that is not VERIFIED as FAILED, checked at
// now, and audits domain.verify_failed with reason.
func (s *Service) recordFailure(ctx context.Context, id pulid.ID, reason string, now time.Time) (*ent.Domain, error) {
	var out *ent.Domain
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		d, err := tx.Domain.Get(ctx, id)
		if err != nil {
			return translate(err, "domain")
		}
		out = d
		if d.VerificationState != domain.VerificationStateVERIFIED {
			// A concurrent call may have verified it: that answer stands.
			out, err = tx.Domain.UpdateOne(d).SetVerificationState(domain.VerificationStateFAILED).
				SetLastCheckedAt(now).Save(ctx)
			if err != nil {
				return translate(err, "domain")
			}
		}
		return s.audit(ctx, tx, event{action: "domain.verify_failed", org: d.OrganizationID,
			targetType: "Domain", targetID: d.ID, metadata: map[string]any{"domain": d.Domain, "reason": reason}})
	})
	return unwrap(out, err)
}

// domainEvent appends a row to the domain outbox in tx, for a webhook
// sender to deliver.
func (s *Service) domainEvent(ctx context.Context, tx *ent.Tx, d *ent.Domain, typ string, now time.Time, extra map[string]any) error {
	payload := map[string]any{"domain_id": string(d.ID), "organization_id": string(d.OrganizationID),
		"domain": d.Domain, "state": string(d.VerificationState)}
	for k, v := range extra {
		payload[k] = v
	}
	err := tx.DomainEvent.Create().SetType(typ).SetDomainID(d.ID).SetOrganizationID(d.OrganizationID).
		SetPayload(payload).SetCreatedAt(now).Exec(viewer.SystemContext(ctx))
	if err != nil {
		return fmt.Errorf("write %s event: %w", typ, err)
	}
	return nil
}
