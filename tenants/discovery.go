package tenants

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/domain"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/ent/user"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// Discovery is where home-realm discovery sends a sign-in: the
// organization that owns the address's domain, its active connection,
// and whether its policy enforces SSO.
type Discovery struct {
	OrganizationID pulid.ID
	// ConnectionID is the organization's ACTIVE connection, the oldest
	// (lowest id: ids sort by creation) when it has several; empty when it
	// has none, which an EnforceSSO organization must treat as "no way
	// in" (fail closed), never as "use a password".
	ConnectionID pulid.ID
	// EnforceSSO is the organization policy's enforce_sso (false when the
	// organization has no policy row yet).
	EnforceSSO bool
}

// The rest of a discovery row, after the organization: its oldest ACTIVE
// connection (the index on connections (organization_id, id) walks that
// organization's connections in id order) and its policy's enforce_sso
// (a unique index on organization_policies.organization_id).
const discoveryColumns = `
  (SELECT c."id" FROM "connections" c
    WHERE c."organization_id" = %[1]s AND c."state" = 'ACTIVE' ORDER BY c."id" LIMIT 1),
  COALESCE((SELECT p."enforce_sso" FROM "organization_policies" p WHERE p."organization_id" = %[1]s), false)`

// discoverByDomainSQL finds the VERIFIED claim on a name through the
// partial unique index domains(domain) WHERE verification_state =
// 'VERIFIED' (the literal lets SQLite and PostgreSQL both use it).
var discoverByDomainSQL = `SELECT d."organization_id",` + fmt.Sprintf(discoveryColumns, `d."organization_id"`) + `
FROM "domains" d WHERE d."domain" = $1 AND d."verification_state" = 'VERIFIED'`

var discoverByOrganizationSQL = `SELECT o."id",` + fmt.Sprintf(discoveryColumns, `o."id"`) + `
FROM "organizations" o WHERE o."id" = $1`

// emailDomain is the normalized domain of an address, or "" when it has
// none anyone can verify.
func emailDomain(email string) string {
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return ""
	}
	name, err := normalizeDomain(email[at+1:])
	if err != nil {
		return ""
	}
	return name
}

// scopeEnforceSSO is policies as they apply to user userID
// (ScopeEnforceSSO). Only when one of them enforces SSO does it read the
// user's address and the organization that VERIFIED its domain (one
// indexed statement each); a user it cannot read keeps every enforce_sso
// (fail closed).
func (s *Service) scopeEnforceSSO(ctx context.Context, userID pulid.ID, policies []*ent.OrganizationPolicy) ([]*ent.OrganizationPolicy, error) {
	if !slices.ContainsFunc(policies, func(p *ent.OrganizationPolicy) bool { return p.EnforceSSO }) {
		return policies, nil
	}
	ctx = viewer.SystemContext(ctx)
	u, err := s.client.User.Query().Where(user.ID(userID)).Select(user.FieldEmail).Only(ctx)
	if ent.IsNotFound(err) {
		return policies, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read user for enforce_sso: %w", err)
	}
	name := emailDomain(u.Email)
	if name == "" {
		return ScopeEnforceSSO(policies, ""), nil
	}
	d, err := s.client.Domain.Query().
		Where(domain.Domain(name), domain.VerificationStateEQ(domain.VerificationStateVERIFIED)).
		Select(domain.FieldOrganizationID).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		return ScopeEnforceSSO(policies, ""), nil
	case err != nil:
		return nil, fmt.Errorf("find verified domain: %w", err)
	}
	return ScopeEnforceSSO(policies, d.OrganizationID), nil
}

// DiscoverConnection is home-realm discovery for the identifier step:
// the address's domain → its VERIFIED claim → that organization's active
// connection and enforce_sso. found is false when no organization has
// verified the domain (or the address has none): the sign-in goes on
// locally. One statement over indexes (discoverByDomainSQL), read as the
// system: it runs before anyone is signed in, and answers only what a
// verified domain makes public by design (where its users sign in).
func (s *Service) DiscoverConnection(ctx context.Context, email string) (Discovery, bool, error) {
	name := emailDomain(email)
	if name == "" {
		return Discovery{}, false, nil // not a domain anyone can verify
	}
	return s.discover(ctx, discoverByDomainSQL, name)
}

// DiscoverConnectionForOrganization is discovery for a request that names
// its organization (organization:<id> in an OIDC request's scope): its
// active connection and enforce_sso. found is false when there is no such
// organization. The sign-in page offers that connection as a way in; it
// does not send everyone there, since enforce_sso reaches only the
// addresses at the organization's verified domains (ScopeEnforceSSO),
// which the identifier step sends to it.
func (s *Service) DiscoverConnectionForOrganization(ctx context.Context, orgID pulid.ID) (Discovery, bool, error) {
	if !orgID.Valid() || orgID.Prefix() != "org" {
		return Discovery{}, false, nil
	}
	return s.discover(ctx, discoverByOrganizationSQL, string(orgID))
}

func (s *Service) discover(ctx context.Context, query, arg string) (Discovery, bool, error) {
	rows, err := s.client.QueryContext(ctx, query, arg)
	if err != nil {
		return Discovery{}, false, fmt.Errorf("discover connection: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return Discovery{}, false, rows.Err()
	}
	var d Discovery
	var conn sql.NullString
	if err := rows.Scan(&d.OrganizationID, &conn, &d.EnforceSSO); err != nil {
		return Discovery{}, false, fmt.Errorf("discover connection: %w", err)
	}
	d.ConnectionID = pulid.ID(conn.String)
	return d, true, rows.Close()
}
