package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/graph"
	"github.com/gatehouse-id/gatehouse/internal/seal"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
	"github.com/gatehouse-id/gatehouse/tenants"
)

const portalIssuer = "http://portal.test"

// portalDo runs an operation as the browser of a portal session: with
// the session cookie, and the header and Origin unless told otherwise.
func (e *env) portalDo(session, query string, vars map[string]any, header, origin string) response {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequest(http.MethodPost, e.url, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(&http.Cookie{Name: graph.PortalCookieName(portalIssuer), Value: session})
	if header != "" {
		req.Header.Set(graph.PortalHeader, header)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	out := response{Status: res.StatusCode, raw: string(b)}
	if err := json.Unmarshal(b, &out); err != nil {
		e.t.Fatalf("response is not JSON (status %d): %s", res.StatusCode, b)
	}
	return out
}

const createLink = `mutation($o:ID!,$i:AdminPortalIntent!){createAdminPortalLink(input:{organizationID:$o,intent:$i}){url expiresAt}}`

// createAdminPortalLink needs the intent's permission in the
// organization; the portal session it starts is limited to that
// organization and to the intent's permissions, needs the portal header
// and the issuer's Origin, and ends.
func TestAdminPortalSession(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		clock := testkit.NewClock()
		sealer, err := seal.New(bytes.Repeat([]byte{7}, seal.KeySize))
		if err != nil {
			t.Fatal(err)
		}
		svc := tenants.NewService(db.Client(), tenants.WithClock(clock.Now), tenants.WithSealer(sealer))
		e := newEnv(t, db, func(c *graph.Config) { c.Issuer, c.Service = portalIssuer, svc })
		e.svc = svc
		acme, other := e.createOrg("Acme", "acme"), e.createOrg("Other", "other")

		otherKey := e.orgKey(other)
		if r := e.do(otherKey, createLink, map[string]any{"o": acme, "i": "SSO"}); r.code() != "NOT_FOUND" {
			t.Errorf("link for another organization: %s", r.raw)
		}
		d := e.ok(e.orgKey(acme), createLink, map[string]any{"o": acme, "i": "SSO"})
		link := str(d, "createAdminPortalLink.url")
		if !strings.HasPrefix(link, portalIssuer+"/portal/") {
			t.Fatalf("link %q", link)
		}
		if exp := str(d, "createAdminPortalLink.expiresAt"); exp != clock.Now().Add(5*time.Minute).UTC().Format(time.RFC3339) {
			t.Errorf("expiresAt %s", exp)
		}
		session, _, err := e.svc.RedeemAdminPortalLink(context.Background(), strings.TrimPrefix(link, portalIssuer+"/portal/"))
		if err != nil {
			t.Fatal(err)
		}
		as := func(q string, vars map[string]any) response { return e.portalDo(session, q, vars, "1", portalIssuer) }

		if r := as(`query($id:ID!){organization(id:$id){id name domains{totalCount} connections{totalCount}}}`, map[string]any{"id": acme}); r.Status != 200 || str(r.Data, "organization.id") != acme {
			t.Errorf("own organization: %s", r.raw)
		}
		if r := as(`query($id:ID!){organization(id:$id){id}}`, map[string]any{"id": other}); get(r.Data, "organization") != nil {
			t.Errorf("another organization is visible: %s", r.raw)
		}
		if r := as(`mutation($o:ID!){createSAMLConnection(input:{organizationID:$o,name:"x"}){connection{id}}}`, map[string]any{"o": other}); r.code() != "NOT_FOUND" {
			t.Errorf("connection in another organization: %s", r.raw)
		}
		if r := as(`mutation($o:ID!){createSAMLConnection(input:{organizationID:$o,name:"Okta"}){connection{id state acsURL}}}`, map[string]any{"o": acme}); len(r.Errors) > 0 || str(r.Data, "createSAMLConnection.connection.state") != "DRAFT" {
			t.Errorf("create connection in own organization: %s", r.raw)
		}
		forbidden := map[string]string{
			"createUser":            `mutation($o:ID!){createUser(input:{email:"x@acme.test",organizationID:$o}){user{id}}}`,
			"createAPIKey":          `mutation($o:String!){createAPIKey(input:{name:"k",scopes:[$o]}){secret}}`,
			"createRole":            `mutation($o:ID!){createRole(input:{organizationID:$o,key:"x",name:"x"}){role{id}}}`,
			"createAdminPortalLink": `mutation($o:ID!){createAdminPortalLink(input:{organizationID:$o,intent:SSO}){url}}`,
		}
		for name, q := range forbidden {
			o := any(acme)
			if name == "createAPIKey" {
				o = "org:" + acme
			}
			if r := as(q, map[string]any{"o": o}); r.code() != "FORBIDDEN" {
				t.Errorf("%s as a portal session: %s", name, r.raw)
			}
		}
		// SSO setup verifies the domain too: discovery needs a VERIFIED one.
		if r := as(`mutation($o:ID!){addDomain(input:{organizationID:$o,domain:"sso.acme.test"}){domain{id}}}`, map[string]any{"o": acme}); len(r.Errors) > 0 {
			t.Errorf("addDomain as an SSO session: %s", r.raw)
		}
		if r := as(`query($id:ID!){organization(id:$id){memberships{totalCount}}}`, map[string]any{"id": acme}); len(r.Errors) == 0 && get(r.Data, "organization.memberships.totalCount") != float64(0) {
			t.Errorf("members are visible: %s", r.raw)
		}

		const q = `{__typename}`
		if r := e.portalDo(session, q, nil, "", portalIssuer); r.Status != http.StatusUnauthorized {
			t.Errorf("without %s: %d %s", graph.PortalHeader, r.Status, r.raw)
		}
		if r := e.portalDo(session, q, nil, "1", "https://evil.test"); r.Status != http.StatusUnauthorized {
			t.Errorf("from another origin: %d %s", r.Status, r.raw)
		}
		if r := e.portalDo(session, q, nil, "1", ""); r.Status != http.StatusUnauthorized {
			t.Errorf("without Origin: %d %s", r.Status, r.raw)
		}
		if r := e.portalDo("forged", q, nil, "1", portalIssuer); r.Status != http.StatusUnauthorized {
			t.Errorf("forged session: %d %s", r.Status, r.raw)
		}

		// A domain verification session adds its domain with the
		// operation the portal's page sends, which shows the TXT record's
		// name as the API gives it.
		d = e.ok(e.orgKey(acme), createLink, map[string]any{"o": acme, "i": "DOMAIN_VERIFICATION"})
		domains, _, err := e.svc.RedeemAdminPortalLink(context.Background(),
			strings.TrimPrefix(str(d, "createAdminPortalLink.url"), portalIssuer+"/portal/"))
		if err != nil {
			t.Fatal(err)
		}
		r := e.portalDo(domains, `mutation($o:ID!,$d:String!){addDomain(input:{organizationID:$o,domain:$d}){domain{id txtRecordName verificationToken verified}}}`,
			map[string]any{"o": acme, "d": "acme.test"}, "1", portalIssuer)
		if len(r.Errors) > 0 || str(r.Data, "addDomain.domain.txtRecordName") != "_gatehouse-challenge.acme.test" ||
			!strings.HasPrefix(str(r.Data, "addDomain.domain.verificationToken"), "gatehouse-verification=") {
			t.Errorf("addDomain as a domain verification session: %s", r.raw)
		}

		clock.Advance(tenants.PortalSessionIdle)
		if r := e.portalDo(session, q, nil, "1", portalIssuer); r.Status != http.StatusUnauthorized {
			t.Errorf("idle session: %d %s", r.Status, r.raw)
		}
	})
}
