// Package tenants is Gatehouse's domain: organizations, users, memberships,
// roles, domains, policies, applications, API keys and the audit trail.
//
// Every change goes through a Service method that runs in one transaction
// and writes its audit event in that same transaction. audit.go is the one
// audit writer of the whole program: the hosted pages, the OpenID Provider
// and the GraphQL handler write their events through it too. What a caller may see
// or change is decided by the authorizer (tenants/authz) on every query the
// service makes; the service adds the rules that span rows (the last owner
// of an organization cannot leave, a member's roles belong to its
// organization).
package tenants
