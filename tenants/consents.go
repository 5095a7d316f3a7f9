package tenants

import (
	"context"
	"fmt"
	"slices"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/consent"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// Consents record the scopes a user granted a third-party application, so
// the consent screen is shown once per new scope. The hosted pages record
// them for the signed-in user, as the System viewer.

// ConsentCovers reports whether userID has already granted clientID every
// scope in scopes.
func (s *Service) ConsentCovers(ctx context.Context, userID pulid.ID, clientID string, scopes []string) (bool, error) {
	c, err := s.client.Consent.Query().Where(consent.UserID(userID), consent.ClientID(clientID)).Only(viewer.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("find consent: %w", err)
	}
	for _, sc := range scopes {
		if !slices.Contains(c.Scopes, sc) {
			return false, nil
		}
	}
	return true, nil
}

// GrantConsent adds scopes to what userID granted clientID. audit, when
// set, is written in the same transaction (tenants' one audit writer).
func (s *Service) GrantConsent(ctx context.Context, userID pulid.ID, clientID string, scopes []string, audit *Event) error {
	ctx = viewer.SystemContext(ctx)
	var err error
	for range 2 { // a concurrent first grant may win the unique index once
		err = s.inTx(ctx, func(tx *ent.Tx) error {
			c, err := tx.Consent.Query().Where(consent.UserID(userID), consent.ClientID(clientID)).Only(ctx)
			switch {
			case ent.IsNotFound(err):
				err = tx.Consent.Create().SetUserID(userID).SetClientID(clientID).
					SetScopes(union(scopes)).Exec(ctx)
			case err == nil:
				err = tx.Consent.UpdateOneID(c.ID).SetScopes(union(c.Scopes, scopes)).Exec(ctx)
			}
			if err != nil {
				return err
			}
			if audit != nil {
				return WriteAudit(ctx, tx.AuditEvent, s.now(), *audit)
			}
			return nil
		})
		if !ent.IsConstraintError(err) {
			break // done, or failed otherwise; a lost race starts again (the transaction is over on PostgreSQL)
		}
	}
	if err != nil {
		return fmt.Errorf("store consent: %w", err)
	}
	return nil
}

// union is every string of lists once, sorted.
func union(lists ...[]string) []string {
	out := uniqueStrings(slices.Concat(lists...))
	slices.Sort(out)
	return out
}
