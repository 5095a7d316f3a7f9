package graph_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/ent/application"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/graph"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// TestApplicationContract runs issue 3's application and user operations.
func TestApplicationContract(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		d := e.ok(e.admin, `mutation { createUser(input: {email: "ada@example.com", password: "correct horse battery", name: "Ada Lovelace", emailVerified: true}) { user { id } } }`, nil)
		usr := str(d, "createUser.user.id")
		d = e.ok(e.admin, `mutation { createApplication(input: {name: "web", type: WEB, redirectURIs: ["https://app.example/cb"], grantTypes: [AUTHORIZATION_CODE, REFRESH_TOKEN]}) { application { id clientID tokenEndpointAuthMethod accessTokenSigningAlgorithm } clientSecret } }`, nil)
		if str(d, "createApplication.clientSecret") == "" || str(d, "createApplication.application.tokenEndpointAuthMethod") != "CLIENT_SECRET_BASIC" ||
			str(d, "createApplication.application.accessTokenSigningAlgorithm") != "RS256" {
			t.Errorf("web application: %v", d)
		}
		d = e.ok(e.admin, `mutation { createApplication(input: {name: "svc", type: MACHINE, grantTypes: [CLIENT_CREDENTIALS], accessTokenSigningAlgorithm: ES256, scopes: ["invoices:read"]}) { application { id clientID accessTokenSigningAlgorithm scopes } clientSecret } }`, nil)
		if str(d, "createApplication.application.accessTokenSigningAlgorithm") != "ES256" || str(d, "createApplication.clientSecret") == "" {
			t.Errorf("machine application: %v", d)
		}
		d = e.ok(e.admin, `mutation { createApplication(input: {name: "spa", type: SPA, redirectURIs: ["http://127.0.0.1:5173/cb"], idTokenSigningAlgorithm: EdDSA}) { application { tokenEndpointAuthMethod idTokenSigningAlgorithm } clientSecret } }`, nil)
		if get(d, "createApplication.clientSecret") != nil || str(d, "createApplication.application.tokenEndpointAuthMethod") != "NONE" {
			t.Errorf("SPA must be a public client without a secret: %v", d)
		}

		// Scopes are granted to applications of every type (gatehouse:admin
		// lets a user-facing one obtain admin tokens).
		for _, typ := range []string{"WEB", "SPA", "NATIVE"} {
			redirect := "https://" + strings.ToLower(typ) + ".example/cb"
			if typ == "NATIVE" {
				redirect = "http://127.0.0.1/cb"
			}
			d := e.ok(e.admin, `mutation($t:ApplicationType!,$r:String!){createApplication(input:{name:"console",type:$t,redirectURIs:[$r],scopes:["gatehouse:admin"]}){application{id scopes}}}`,
				map[string]any{"t": typ, "r": redirect})
			if str(d, "createApplication.application.scopes.0") != "gatehouse:admin" {
				t.Errorf("%s application granted gatehouse:admin: %v", typ, d)
			}
		}

		// Progressive profile: the fields an application needs, set and
		// cleared; anything but the three claims is refused.
		d = e.ok(e.admin, `mutation { createApplication(input: {name: "payroll", type: WEB, redirectURIs: ["https://payroll.example/cb"], profileFields: ["name", "family_name", "name"]}) { application { id profileFields } } }`, nil)
		if got := get(d, "createApplication.application.profileFields"); fmt.Sprint(got) != "[name family_name]" {
			t.Errorf("profileFields stored as %v", got)
		}
		payroll := map[string]any{"id": str(d, "createApplication.application.id")}
		if d = e.ok(e.admin, `mutation($id:ID!) { updateApplication(input: {id: $id, profileFields: []}) { application { profileFields } } }`, payroll); fmt.Sprint(get(d, "updateApplication.application.profileFields")) != "[]" {
			t.Errorf("profileFields after clearing: %v", d)
		}
		if r := e.do(e.admin, `mutation($id:ID!) { updateApplication(input: {id: $id, profileFields: ["shoe_size"]}) { application { id } } }`, payroll); r.code() != "BAD_USER_INPUT" || get(r.Errors[0].Extensions, "field") != "profileFields" {
			t.Errorf("an unknown profile field: %s, want BAD_USER_INPUT on profileFields", r.raw)
		}

		jwk := `{keys: [{kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", use: "sig"}]}`
		e.ok(e.admin, `mutation { createApplication(input: {name: "pkjwt", type: WEB, redirectURIs: ["https://app.example/cb"], tokenEndpointAuthMethod: PRIVATE_KEY_JWT, jwks: `+jwk+`}) { application { jwks } } }`, nil)
		d = e.ok(e.admin, `mutation { createApplication(input: {name: "pkjwt-uri", type: MACHINE, tokenEndpointAuthMethod: PRIVATE_KEY_JWT, jwksURI: "https://keys.example/jwks.json"}) { application { jwksURI tokenEndpointAuthMethod } } }`, nil)
		if str(d, "createApplication.application.jwksURI") != "https://keys.example/jwks.json" {
			t.Errorf("jwksURI not stored: %v", d)
		}

		// One key source at a time (OpenID Connect Registration §2): an update
		// giving jwks replaces the jwksURI, and giving jwksURI replaces jwks.
		d = e.ok(e.admin, `mutation { createApplication(input: {name: "pkjwt-switch", type: MACHINE, tokenEndpointAuthMethod: PRIVATE_KEY_JWT, jwksURI: "https://keys.example/jwks.json"}) { application { id } } }`, nil)
		switched := map[string]any{"id": str(d, "createApplication.application.id")}
		d = e.ok(e.admin, `mutation($id:ID!) { updateApplication(input: {id: $id, jwks: `+jwk+`}) { application { jwks jwksURI } } }`, switched)
		if get(d, "updateApplication.application.jwks") == nil || str(d, "updateApplication.application.jwksURI") != "" {
			t.Errorf("jwks given on update must replace jwksURI: %v", d)
		}
		d = e.ok(e.admin, `mutation($id:ID!) { updateApplication(input: {id: $id, jwksURI: "https://keys.example/v2.json"}) { application { jwks jwksURI } } }`, switched)
		if get(d, "updateApplication.application.jwks") != nil || str(d, "updateApplication.application.jwksURI") != "https://keys.example/v2.json" {
			t.Errorf("jwksURI given on update must replace jwks: %v", d)
		}
		if r := e.do(e.admin, `mutation($id:ID!) { updateApplication(input: {id: $id, jwksURI: "https://keys.example/v3.json", jwks: `+jwk+`}) { application { id } } }`, switched); r.code() != "BAD_USER_INPUT" || get(r.Errors[0].Extensions, "field") != "jwksURI" {
			t.Errorf("jwks and jwksURI in one update: %s, want BAD_USER_INPUT on jwksURI", r.raw)
		}
		if r := e.do(e.admin, `mutation($id:ID!) { updateApplication(input: {id: $id, jwksURI: ""}) { application { id } } }`, switched); r.code() != "BAD_USER_INPUT" || get(r.Errors[0].Extensions, "field") != "jwks" {
			t.Errorf("clearing the only key source of a PRIVATE_KEY_JWT client: %s, want BAD_USER_INPUT on jwks", r.raw)
		}

		for _, c := range []struct{ name, query, field string }{
			{"SPA with a secret method", `mutation { createApplication(input: {name: "x", type: SPA, redirectURIs: ["https://a.example/cb"], tokenEndpointAuthMethod: CLIENT_SECRET_BASIC}) { clientSecret } }`, "tokenEndpointAuthMethod"},
			{"WEB without authentication", `mutation { createApplication(input: {name: "x", type: WEB, redirectURIs: ["https://a.example/cb"], tokenEndpointAuthMethod: NONE}) { clientSecret } }`, "tokenEndpointAuthMethod"},
			{"private_key_jwt without keys", `mutation { createApplication(input: {name: "x", type: WEB, redirectURIs: ["https://a.example/cb"], tokenEndpointAuthMethod: PRIVATE_KEY_JWT}) { clientSecret } }`, "jwks"},
			{"private key in jwks", `mutation { createApplication(input: {name: "x", type: WEB, redirectURIs: ["https://a.example/cb"], tokenEndpointAuthMethod: PRIVATE_KEY_JWT, jwks: {keys: [{kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", d: "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}]}}) { clientSecret } }`, "jwks"},
			{"jwksURI not https", `mutation { createApplication(input: {name: "x", type: WEB, redirectURIs: ["https://a.example/cb"], tokenEndpointAuthMethod: PRIVATE_KEY_JWT, jwksURI: "http://keys.example/jwks"}) { clientSecret } }`, "jwksURI"},
			{"jwks and jwksURI", `mutation { createApplication(input: {name: "x", type: MACHINE, tokenEndpointAuthMethod: PRIVATE_KEY_JWT, jwksURI: "https://keys.example/jwks", jwks: ` + jwk + `}) { clientSecret } }`, "jwksURI"},
			{"jwksURI on a private address", `mutation { createApplication(input: {name: "x", type: MACHINE, tokenEndpointAuthMethod: PRIVATE_KEY_JWT, jwksURI: "https://169.254.169.254/keys"}) { clientSecret } }`, "jwksURI"},
			{"short password", `mutation { createUser(input: {email: "bob@example.com", password: "short"}) { user { id } } }`, "password"},
			{"blank password", `mutation { createUser(input: {email: "bob@example.com", password: "            "}) { user { id } } }`, "password"},
			{"long password", `mutation { createUser(input: {email: "bob@example.com", password: "` + strings.Repeat("x", 1025) + `"}) { user { id } } }`, "password"},
		} {
			r := e.do(e.admin, c.query, nil)
			if r.code() != "BAD_USER_INPUT" || get(r.Errors[0].Extensions, "field") != c.field {
				t.Errorf("%s: %s, want BAD_USER_INPUT on %s", c.name, r.raw, c.field)
			}
		}

		// An organization's policy raises the minimum password length.
		org := e.createOrg("Acme", "acme")
		e.ok(e.admin, `mutation($o:ID!){updateOrganizationPolicy(input:{organizationID:$o,passwordMinLength:20}){policy{id}}}`, map[string]any{"o": org})
		e.ok(e.admin, `mutation($o:ID!,$u:ID!){addMember(input:{organizationID:$o,userID:$u}){membership{id}}}`, map[string]any{"o": org, "u": usr})
		if r := e.do(e.admin, `mutation($u:ID!){setUserPassword(input:{userID:$u,password:"fifteen chars!!"}){user{id}}}`, map[string]any{"u": usr}); r.code() != "BAD_USER_INPUT" {
			t.Errorf("15-character password under a 20-character policy: %s", r.raw)
		}
		e.ok(e.admin, `mutation($u:ID!){setUserPassword(input:{userID:$u,password:"twenty characters long!"}){user{id}}}`, map[string]any{"u": usr})
	})
}

// fakeTokens stands in for the provider's token verification: a token
// "tok|<user id>|<scope scope>|<org id>[|<client id>[|<grant id>]]"
// verifies to those claims; the client defaults to "admin-app".
func fakeTokens(_ context.Context, token string) (tenants.TokenClaims, error) {
	parts := strings.Split(token, "|")
	if len(parts) < 4 || len(parts) > 6 || parts[0] != "tok" {
		return tenants.TokenClaims{}, errors.New("bad token")
	}
	client := "admin-app"
	if len(parts) >= 5 && parts[4] != "" {
		client = parts[4]
	}
	var grant pulid.ID
	if len(parts) == 6 {
		grant = pulid.ID(parts[5])
	}
	return tenants.TokenClaims{Subject: pulid.ID(parts[1]), Scopes: strings.Fields(parts[2]), OrganizationID: pulid.ID(parts[3]),
		ClientID: client, GrantID: grant}, nil
}

// adminApp registers an application granted gatehouse:admin under the
// client id "admin-app", and one without it; it returns the latter's
// client id.
func (e *env) adminApp() (plain string) {
	e.t.Helper()
	if err := e.client.Application.Create().SetName("console").SetType(application.TypeSPA).SetClientID("admin-app").
		SetTokenEndpointAuthMethod(application.TokenEndpointAuthMethodNONE).SetScopes([]string{"gatehouse:admin"}).
		Exec(viewer.SystemContext(context.Background())); err != nil {
		e.t.Fatal(err)
	}
	d := e.ok(e.admin, `mutation{createApplication(input:{name:"shop",type:SPA,redirectURIs:["https://shop.example/cb"]}){application{clientID}}}`, nil)
	return str(d, "createApplication.application.clientID")
}

// TestAccessTokensAtGraphQL: /graphql accepts a user's token only with
// gatehouse:admin and only from an application granted it; the token acts
// with the permissions of the user's roles in each organization, read on
// every request.
func TestAccessTokensAtGraphQL(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db, func(c *graph.Config) { c.VerifyToken = fakeTokens })
		plainApp := e.adminApp()
		x, y := e.createOrg("X", "x"), e.createOrg("Y", "y")
		owner, _ := e.createMember(x, "owner@x.example", "owner")
		member, _ := e.createMember(x, "member@x.example", "member")
		e.createMember(y, "someone@y.example", "owner")
		adminTok := "tok|" + owner + "|openid gatehouse:admin|"

		d := e.ok(adminTok, `{ viewer { email } organizations { totalCount edges { node { id } } } users { totalCount } }`, nil)
		if str(d, "viewer.email") != "owner@x.example" || get(d, "organizations.totalCount") != float64(1) ||
			str(d, "organizations.edges.0.node.id") != x || get(d, "users.totalCount") != float64(2) {
			t.Errorf("admin token of X's owner sees %v", d)
		}
		e.ok(adminTok, `mutation($o:ID!){addDomain(input:{organizationID:$o,domain:"x.example"}){domain{id}}}`, map[string]any{"o": x})
		if r := e.do(adminTok, `mutation($o:ID!){addDomain(input:{organizationID:$o,domain:"y.example"}){domain{id}}}`, map[string]any{"o": y}); r.code() != "NOT_FOUND" {
			t.Errorf("admin of X changing Y: %s", r.raw)
		}
		// Naming an organization the user does not administer gives no admin rights at all.
		namingY := "tok|" + owner + "|gatehouse:admin|" + y
		if r := e.do(namingY, `mutation($o:ID!){updateOrganization(input:{id:$o,name:"renamed"}){organization{id}}}`, map[string]any{"o": x}); r.code() != "FORBIDDEN" {
			t.Errorf("admin token naming Y changing X: %s", r.raw)
		}
		if r := e.do(namingY, `query($o:ID!){organization(id:$o){id}}`, map[string]any{"o": y}); get(r.Data, "organization") != nil {
			t.Errorf("admin token naming Y reads Y: %s", r.raw)
		}

		// A member's admin token holds the member role's permissions:
		// it reads the members, and changes nothing.
		memberTok := "tok|" + member + "|gatehouse:admin|"
		d = e.ok(memberTok, `{ viewer { id } users { totalCount } auditEvents { totalCount } }`, nil)
		if get(d, "users.totalCount") != float64(2) || get(d, "auditEvents.totalCount") != float64(0) {
			t.Errorf("member's admin token reads %v, want the members and no audit events", d)
		}
		if r := e.do(memberTok, `mutation($o:ID!){updateOrganization(input:{id:$o,name:"pwned"}){organization{id}}}`, map[string]any{"o": x}); r.code() != "FORBIDDEN" {
			t.Errorf("member changing the organization: %s", r.raw)
		}

		// Without the scope, or from an application not granted it: 403.
		for name, tok := range map[string]string{
			"owner without admin scope":         "tok|" + owner + "|openid profile|",
			"admin scope from an ungranted app": "tok|" + owner + "|openid gatehouse:admin||" + plainApp,
		} {
			if r := e.do(tok, `{ viewer { id } }`, nil); r.Status != http.StatusForbidden || r.code() != "FORBIDDEN" {
				t.Errorf("%s: %d %s, want 403 FORBIDDEN", name, r.Status, r.raw)
			}
		}

		// Demotion and disabling take effect on the next request. (X's
		// last owner is not disabled: another owner comes first.)
		e.createMember(x, "second-owner@x.example", "owner")
		e.ok(e.admin, `mutation($u:ID!){updateUser(input:{id:$u,status:DISABLED}){user{id}}}`, map[string]any{"u": owner})
		if r := e.do(adminTok, `{ organizations { totalCount } }`, nil); r.Status != http.StatusUnauthorized {
			t.Errorf("disabled user's token: %d %s", r.Status, r.raw)
		}
		for _, bad := range []string{"tok|nobody|gatehouse:admin|", "garbage", "tok|" + owner, "tok|" + member + "|gatehouse:admin||unknown-app"} {
			if r := e.do(bad, `{ organizations { totalCount } }`, nil); r.Status != http.StatusUnauthorized {
				t.Errorf("token %q: %d %s", bad, r.Status, r.raw)
			}
		}
	})
}
