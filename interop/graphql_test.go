package interop

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/gatehouse-id/gatehouse/interop/seed"
)

// gqlAnswer is one /graphql response: its status, data and error codes.
type gqlAnswer struct {
	Status int
	Data   map[string]any
	Errors []struct {
		Message    string
		Extensions map[string]any
	}
	raw []byte
}

func (a gqlAnswer) code() string {
	if len(a.Errors) == 0 {
		return ""
	}
	c, _ := a.Errors[0].Extensions["code"].(string)
	return c
}

// graphqlAs posts one operation to /graphql with bearer as the credential.
func (s *Server) graphqlAs(t *testing.T, bearer, query string, vars map[string]any) gqlAnswer {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.Issuer+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /graphql: %v", err)
	}
	defer resp.Body.Close()
	a := gqlAnswer{Status: resp.StatusCode}
	a.raw, _ = io.ReadAll(resp.Body)
	if err := json.Unmarshal(a.raw, &a); err != nil {
		t.Fatalf("POST /graphql: %d, not JSON: %.300s", resp.StatusCode, a.raw)
	}
	return a
}

// testGraphQLAccessTokens sends the provider's own access tokens to
// /graphql, through the verifier the server really uses (issue 3,
// GraphQL): Ada owns Acme and administers Beta, and an admin token for Acme
// (from the web application, granted gatehouse:admin) reads and changes
// Acme only; a token without gatehouse:admin is refused; a revoked access token, an ID token and a machine token are
// not credentials at all.
func testGraphQLAccessTokens(t *testing.T, rp *goRP) {
	s := rp.s
	operator := &seed.Client{Issuer: s.Issuer, APIKey: s.APIKey}
	betaID, err := operator.CreateOrganization(t.Context(), "Beta", "beta")
	if err != nil {
		t.Fatal(err)
	}
	var added struct {
		AddMember struct{ Membership struct{ ID string } }
	}
	err = operator.Do(t.Context(), `mutation($o: ID!, $u: ID!) { addMember(input: {organizationID: $o, userID: $u, roles: ["admin"]}) { membership { id } } }`,
		map[string]any{"o": betaID, "u": s.UserID}, &added)
	if err != nil {
		t.Fatal(err)
	}

	acme, _, rawIDToken := rp.signIn(t, nil, oidc.ScopeOpenID, "gatehouse:admin", "organization:"+s.OrgID)
	a := s.graphqlAs(t, acme.AccessToken, `{ viewer { id } organizations { edges { node { id } } } }`, nil)
	edges, _ := dig(a.Data, "organizations", "edges").([]any)
	if a.Status != http.StatusOK || a.code() != "" || dig(a.Data, "viewer", "id") != s.UserID ||
		len(edges) != 1 || dig(edges[0], "node", "id") != s.OrgID {
		t.Errorf("admin token for Acme lists organizations: %d %s, want Acme alone", a.Status, a.raw)
	}
	a = s.graphqlAs(t, acme.AccessToken, `mutation($o: ID!) { updateOrganization(input: {id: $o, name: "Acme Corp"}) { organization { name } } }`,
		map[string]any{"o": s.OrgID})
	if dig(a.Data, "updateOrganization", "organization", "name") != "Acme Corp" {
		t.Errorf("admin token for Acme renaming Acme: %d %s", a.Status, a.raw)
	}
	for name, op := range map[string]string{
		"reading Beta":  `query($o: ID!) { organization(id: $o) { id } }`,
		"renaming Beta": `mutation($o: ID!) { updateOrganization(input: {id: $o, name: "pwned"}) { organization { id } } }`,
		"Beta's domain": `mutation($o: ID!) { addDomain(input: {organizationID: $o, domain: "beta.example"}) { domain { id } } }`,
	} {
		// Refused: an error, or nothing (a null organization) in the data.
		a := s.graphqlAs(t, acme.AccessToken, op, map[string]any{"o": betaID})
		if a.Status == http.StatusOK && a.code() == "" && slices.ContainsFunc(slices.Collect(maps.Values(a.Data)), func(v any) bool { return v != nil }) {
			t.Errorf("admin token for Acme, %s (Ada administers Beta too): %d %s, want refused", name, a.Status, a.raw)
		}
	}
	var beta struct{ Organization struct{ Name string } }
	if err := operator.Do(t.Context(), `query($o: ID!) { organization(id: $o) { name } }`, map[string]any{"o": betaID}, &beta); err != nil || beta.Organization.Name != "Beta" {
		t.Errorf("Beta after the admin token for Acme tried it: %+v, %v; want it unchanged", beta, err)
	}

	// Without gatehouse:admin, a token is no credential for /graphql:
	// 403 insufficient_scope (RFC 6750 §3.1).
	plain, _, _ := rp.signIn(t, nil, oidc.ScopeOpenID)
	for _, op := range []string{`{ viewer { id } }`, `mutation($o: ID!) { updateOrganization(input: {id: $o, name: "pwned"}) { organization { id } } }`} {
		a = s.graphqlAs(t, plain.AccessToken, op, map[string]any{"o": s.OrgID})
		if a.Status != http.StatusForbidden || a.code() != "FORBIDDEN" {
			t.Errorf("token without gatehouse:admin: %d %s, want 403 FORBIDDEN", a.Status, a.raw)
		}
	}

	machine, _ := s.clientCredentialsToken(t, s.Svc, "invoices:read")
	s.revoke(t, s.Web, acme.AccessToken, "access_token")
	for name, bearer := range map[string]string{
		"revoked access token":            acme.AccessToken,
		"ID token":                        rawIDToken,
		"client credentials token":        machine,
		"access token, signature altered": tamperSignature(plain.AccessToken),
	} {
		if a := s.graphqlAs(t, bearer, `{ viewer { id } }`, nil); a.Status != http.StatusUnauthorized {
			t.Errorf("%s at /graphql: %d %s, want 401", name, a.Status, a.raw)
		}
	}
}

// dig walks nested JSON objects by key; nil when a step is missing.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// tamperSignature changes one character in the middle of a JWS's
// signature (not the last one, whose low bits base64url may ignore).
func tamperSignature(jws string) string {
	i := strings.LastIndexByte(jws, '.') + (len(jws)-strings.LastIndexByte(jws, '.'))/2
	c := byte('A')
	if jws[i] == 'A' {
		c = 'B'
	}
	return jws[:i] + string(c) + jws[i+1:]
}
