package graph_test

import (
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/graph"
	"github.com/gatehouse-id/gatehouse/internal/dnsresolver"
	"github.com/gatehouse-id/gatehouse/internal/dnstest"
	"github.com/gatehouse-id/gatehouse/internal/password"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// withDNS makes the endpoint's service verify domains against an
// in-process DNS server (with newEnv's cheap password costs).
func withDNS(t *testing.T, srv *dnstest.Server) func(*graph.Config) {
	return func(c *graph.Config) {
		r, err := dnsresolver.New(srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		c.Service = tenants.NewService(c.Service.Client(), tenants.WithDomainChecks(tenants.DomainChecks{Resolver: r}),
			tenants.WithPasswordParams(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}))
	}
}

const verifyDomainQuery = `mutation($d:ID!){verifyDomain(input:{id:$d}){domain{id verified verificationState verifiedAt lastCheckedAt missingSince} failureReason failureCode}}`

// TestVerifyDomainContract: the contract. addDomain answers the
// token to publish; verifyDomain before it is published says why not;
// after, the claim is verified; a second organization's claim on the name
// is refused without naming the owner; another organization's key cannot
// see the claim.
func TestVerifyDomainContract(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		dns := dnstest.Start(t)
		e := newEnv(t, db, withDNS(t, dns))
		org := e.createOrg("Initech", "initech")
		key := e.orgKey(org)
		d := e.ok(key, `mutation($o:ID!){addDomain(input:{organizationID:$o,domain:"initech.example"}){domain{id verificationToken verified txtRecordName}}}`,
			map[string]any{"o": org})
		id, token := str(d, "addDomain.domain.id"), str(d, "addDomain.domain.verificationToken")
		if !strings.HasPrefix(token, "gatehouse-verification=") || get(d, "addDomain.domain.verified") != false ||
			str(d, "addDomain.domain.txtRecordName") != "_gatehouse-challenge.initech.example" {
			t.Fatalf("addDomain: %v", d)
		}

		d = e.ok(key, verifyDomainQuery, map[string]any{"d": id})
		if get(d, "verifyDomain.domain.verified") != false || str(d, "verifyDomain.domain.verificationState") != "FAILED" ||
			!strings.Contains(str(d, "verifyDomain.failureReason"), "no TXT record at _gatehouse-challenge.initech.example.") ||
			str(d, "verifyDomain.failureCode") != "NO_RECORD" || str(d, "verifyDomain.domain.lastCheckedAt") == "" {
			t.Fatalf("verifyDomain before publishing: %v", d)
		}
		// A record with another value: the code says so, for a client's own words.
		dns.SetTXT("_gatehouse-challenge.initech.example", "gatehouse-verification=typo")
		if d := e.ok(key, verifyDomainQuery, map[string]any{"d": id}); str(d, "verifyDomain.failureCode") != "WRONG_TOKEN" {
			t.Fatalf("verifyDomain with a wrong value: %v", d)
		}

		dns.SetTXT("_gatehouse-challenge.initech.example", token)
		d = e.ok(key, verifyDomainQuery, map[string]any{"d": id})
		if get(d, "verifyDomain.domain.verified") != true || get(d, "verifyDomain.failureReason") != nil || get(d, "verifyDomain.failureCode") != nil ||
			str(d, "verifyDomain.domain.verifiedAt") == "" || get(d, "verifyDomain.domain.missingSince") != nil {
			t.Fatalf("verifyDomain after publishing: %v", d)
		}

		other := e.createOrg("Hooli", "hooli")
		otherKey := e.orgKey(other)
		if r := e.do(otherKey, verifyDomainQuery, map[string]any{"d": id}); r.code() != "NOT_FOUND" {
			t.Fatalf("another organization's key: %s, want NOT_FOUND", r.raw)
		}
		d = e.ok(otherKey, `mutation($o:ID!){addDomain(input:{organizationID:$o,domain:"initech.example"}){domain{id verificationToken}}}`,
			map[string]any{"o": other})
		dns.SetTXT("_gatehouse-challenge.initech.example", token, str(d, "addDomain.domain.verificationToken"))
		r := e.do(otherKey, verifyDomainQuery, map[string]any{"d": str(d, "addDomain.domain.id")})
		if r.code() != "CONFLICT" || strings.Contains(r.raw, org) || strings.Contains(r.raw, "initech\"") || strings.Contains(r.raw, "Initech") {
			t.Fatalf("competing claim: %s, want CONFLICT naming no one", r.raw)
		}
	})
}
