package tenants

import (
	"context"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/internal/secret"
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
// A domain can be claimed by one organization of the instance at a time.
func (s *Service) AddDomain(ctx context.Context, in AddDomainInput) (*ent.Domain, error) {
	name, err := normalizeDomain(in.Domain)
	if err != nil {
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
			return translateWrite(err, "domain", "domain", "is already claimed")
		}
		return s.audit(ctx, tx, event{action: "domain.add", org: d.OrganizationID,
			targetType: "Domain", targetID: d.ID, metadata: map[string]any{"domain": d.Domain}})
	})
	return unwrap(d, err)
}

// RemoveDomain releases a domain claim.
func (s *Service) RemoveDomain(ctx context.Context, id pulid.ID) error {
	return s.inTx(ctx, func(tx *ent.Tx) error {
		d, err := tx.Domain.Get(ctx, id)
		if err != nil {
			return translate(err, "domain")
		}
		if err := tx.Domain.DeleteOne(d).Exec(ctx); err != nil {
			return translate(err, "domain")
		}
		return s.audit(ctx, tx, event{action: "domain.remove", org: d.OrganizationID,
			targetType: "Domain", targetID: d.ID, metadata: map[string]any{"domain": d.Domain}})
	})
}
