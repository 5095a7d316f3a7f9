package tenants

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/domain"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/internal/secret"
	"github.com/gatehouse-id/gatehouse/tenants/authz"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// DomainTXTPrefix is the DNS name below a domain where its organization
// publishes the verification token: _gatehouse-challenge.example.com.
const DomainTXTPrefix = "_gatehouse-challenge."

// AddDomainInput claims an email domain for an organization.
type AddDomainInput struct {
	OrganizationID pulid.ID
	Domain         string
}

// AddDomain claims a domain for an organization, pending DNS verification.
// Several organizations may claim the same name, and the answer says
// nothing about other claims: ownership is decided by verification, and at
// most one claim per name is ever VERIFIED (a unique index).
func (s *Service) AddDomain(ctx context.Context, in AddDomainInput) (*ent.Domain, error) {
	name, err := normalizeDomain(in.Domain)
	if err != nil {
		return nil, err
	}
	if err := require(ctx, in.OrganizationID, authz.DomainsManage); err != nil {
		return nil, err
	}
	var d *ent.Domain
	err = s.inTx(ctx, func(tx *ent.Tx) error {
		if _, err := tx.Organization.Get(ctx, in.OrganizationID); err != nil {
			return translate(err, "organization")
		}
		d, err = tx.Domain.Create().
			SetOrganizationID(in.OrganizationID).
			SetDomain(name).
			SetTxtToken("gatehouse-verification=" + secret.Token(20)).
			Save(ctx)
		if err != nil {
			return translateWrite(err, "domain", "domain", "is already claimed by this organization")
		}
		return s.audit(ctx, tx, event{action: "domain.add", org: d.OrganizationID,
			targetType: "Domain", targetID: d.ID, metadata: map[string]any{"domain": d.Domain}})
	})
	return unwrap(d, err)
}

// RemoveDomain releases a domain claim. Removing a VERIFIED claim ends
// the organization's ownership: a domain.unverified outbox row says so.
func (s *Service) RemoveDomain(ctx context.Context, id pulid.ID) error {
	return s.inTx(ctx, func(tx *ent.Tx) error {
		d, err := tx.Domain.Get(ctx, id)
		if err != nil {
			return translate(err, "domain")
		}
		if err := require(ctx, d.OrganizationID, authz.DomainsManage); err != nil {
			return err
		}
		if err := tx.Domain.DeleteOne(d).Exec(ctx); err != nil {
			return translate(err, "domain")
		}
		if d.VerificationState == domain.VerificationStateVERIFIED {
			if err := s.domainEvent(ctx, tx, d, DomainEventUnverified, s.now(), map[string]any{
				"state": "REMOVED", "reason": "the organization removed its claim"}); err != nil {
				return err
			}
		}
		return s.audit(ctx, tx, event{action: "domain.remove", org: d.OrganizationID,
			targetType: "Domain", targetID: d.ID, metadata: map[string]any{"domain": d.Domain}})
	})
}

// emailDomainVerified reports whether the domain of every one of emails
// is VERIFIED by one of orgs (one statement): the organizations that own
// an address, and so may vouch for it, set its password or change it (the
// domain-ownership model of enterprise identity providers). Read as
// System: a claim decides what a caller may do, and only this
// organization's claims count.
func emailDomainVerified(ctx context.Context, tx *ent.Tx, orgs []pulid.ID, emails ...string) (bool, error) {
	if len(orgs) == 0 || len(emails) == 0 {
		return false, nil
	}
	var names []string
	for _, e := range emails {
		at := strings.LastIndexByte(e, '@')
		if at < 0 {
			return false, nil
		}
		if d := e[at+1:]; !slices.Contains(names, d) {
			names = append(names, d)
		}
	}
	verified, err := tx.Domain.Query().Where(domain.OrganizationIDIn(orgs...), domain.DomainIn(names...),
		domain.VerificationStateEQ(domain.VerificationStateVERIFIED)).
		Unique(true).Select(domain.FieldDomain).Strings(viewer.SystemContext(ctx))
	if err != nil {
		return false, fmt.Errorf("look up verified domains: %w", err)
	}
	for _, d := range names {
		if !slices.Contains(verified, d) {
			return false, nil
		}
	}
	return true, nil
}
