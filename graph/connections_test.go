package graph_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/graph"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

const testIssuer = "https://id.gatehouse.example"

func testCertPEM(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idp"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(253402300799, 0)} // 9999-12-31: never ages
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// fakeMetadata stands in for federation/connectors.ParseSAMLMetadata: it
// reads url when given, else xml; Okta's metadata URL, or a document that
// says <EntityDescriptor>, is Okta's, with cert; anything else is refused
// as a parser would.
func fakeMetadata(cert string) graph.ParseSAMLMetadataFunc {
	return func(_ context.Context, xml []byte, url string) (tenants.SAMLIdP, error) {
		switch {
		case url == "https://okta.example/metadata", url == "" && strings.Contains(string(xml), "<EntityDescriptor"):
			return tenants.SAMLIdP{EntityID: "http://www.okta.com/exk1", SSOURL: "https://acme.okta.example/sso/saml",
				SSOBinding: tenants.SAMLBindingPOST, Certificates: []string{cert}}, nil
		}
		return tenants.SAMLIdP{}, errors.New("metadata: no EntityDescriptor element")
	}
}

const connFields = `id state preset protocol name acsURL spEntityID spMetadataURL spMetadataXML redirectURI hasClientSecret
	idpEntityID idpSSOURL idpSSOBinding idpCertificates spKeys{id certificate createdAt}
	attributeMapping{email groups custom{key attribute}} groupRoleMappings{group roleID}
	lastLoginAttempts{succeeded errorCode errorReason subject email attributes{name values}}`

// TestConnectionMutations: a SAML connection from metadata, with what the
// IdP administrator pastes (ACS URL, entity id, metadata URL and
// document) and its SP key; activation, rotation, retirement and the
// recent attempts; an OIDC connection whose secret is never readable;
// and deletion.
func TestConnectionMutations(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		cert := testCertPEM(t)
		e := newEnv(t, db, func(c *graph.Config) {
			c.Issuer = testIssuer
			c.ParseSAMLMetadata = fakeMetadata(cert)
			c.SAMLSPMetadata = func(_ context.Context, c *ent.Connection) ([]byte, error) {
				return []byte("<EntityDescriptor entityID=\"" + testIssuer + "/sso/saml/" + string(c.ID) + "/metadata\"/>"), nil
			}
		})
		org := e.createOrg("Acme", "acme")
		d := e.ok(e.admin, `mutation($o:ID!,$x:String!){createSAMLConnection(input:{organizationID:$o,name:"Okta",preset:OKTA,metadataXML:$x,
			attributeMapping:{email:"mail",groups:"memberOf",custom:[{key:"dept",attribute:"department"}]}}){connection{`+connFields+`}}}`,
			map[string]any{"o": org, "x": `<EntityDescriptor entityID="http://www.okta.com/exk1"/>`})
		c := get(d, "createSAMLConnection.connection").(map[string]any)
		id := str(c, "id")
		for path, want := range map[string]string{
			"state": "DRAFT", "preset": "OKTA", "protocol": "SAML",
			"acsURL":        testIssuer + "/sso/saml/" + id + "/acs",
			"spEntityID":    testIssuer + "/sso/saml/" + id + "/metadata",
			"spMetadataURL": testIssuer + "/sso/saml/" + id + "/metadata",
			"spMetadataXML": `<EntityDescriptor entityID="` + testIssuer + "/sso/saml/" + id + `/metadata"/>`,
			"idpEntityID":   "http://www.okta.com/exk1", "idpSSOURL": "https://acme.okta.example/sso/saml",
			"idpSSOBinding": tenants.SAMLBindingPOST, "idpCertificates.0": cert,
			"attributeMapping.email": "mail", "attributeMapping.custom.0.key": "dept", "attributeMapping.custom.0.attribute": "department",
		} {
			if got := str(c, path); got != want {
				t.Errorf("%s = %q, want %q", path, got, want)
			}
		}
		if get(c, "redirectURI") != nil || get(c, "hasClientSecret") != false {
			t.Errorf("OIDC fields of a SAML connection: %v %v", get(c, "redirectURI"), get(c, "hasClientSecret"))
		}
		spCert := str(c, "spKeys.0.certificate")
		if block, _ := pem.Decode([]byte(spCert)); block == nil || block.Type != "CERTIFICATE" {
			t.Fatalf("SP certificate %q is not PEM", spCert)
		}

		// Fields override the metadata; activation; key rotation.
		d = e.ok(e.admin, `mutation($id:ID!){activateConnection(input:{id:$id}){connection{state}}}`, map[string]any{"id": id})
		if str(d, "activateConnection.connection.state") != "ACTIVE" {
			t.Errorf("activate: %v", d)
		}
		d = e.ok(e.admin, `mutation($id:ID!){rotateConnectionKey(input:{id:$id}){connection{spKeys{id certificate}}}}`, map[string]any{"id": id})
		if str(d, "rotateConnectionKey.connection.spKeys.1.certificate") != spCert {
			t.Fatalf("after rotation the old key is not second: %v", d)
		}
		old := str(d, "rotateConnectionKey.connection.spKeys.1.id")
		d = e.ok(e.admin, `mutation($id:ID!,$k:String!){retireConnectionKey(input:{id:$id,keyID:$k}){connection{spKeys{id}}}}`, map[string]any{"id": id, "k": old})
		if keys := get(d, "retireConnectionKey.connection.spKeys").([]any); len(keys) != 1 {
			t.Errorf("after retiring: %v", keys)
		}

		// The attempts the connector records, newest first.
		sys := viewer.SystemContext(context.Background())
		if err := e.svc.RecordLoginAttempt(sys, pulid.ID(id), tenants.LoginAttempt{Succeeded: true, Subject: "00u1", Email: "ada@acme.example",
			Attributes: map[string][]string{"memberOf": {"eng"}}}); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.RecordLoginAttempt(sys, pulid.ID(id), tenants.LoginAttempt{ErrorCode: "audience_mismatch",
			ErrorReason: "audience mismatch: got https://other.example, want " + testIssuer}); err != nil {
			t.Fatal(err)
		}
		d = e.ok(e.admin, `query($id:ID!){node(id:$id){...on Connection{`+connFields+`}}}`, map[string]any{"id": id})
		if str(d, "node.lastLoginAttempts.0.errorCode") != "audience_mismatch" || get(d, "node.lastLoginAttempts.0.succeeded") != false ||
			str(d, "node.lastLoginAttempts.1.attributes.0.name") != "memberOf" || str(d, "node.lastLoginAttempts.1.attributes.0.values.0") != "eng" {
			t.Errorf("lastLoginAttempts: %v", get(d, "node.lastLoginAttempts"))
		}

		// OIDC: the redirect URI; the secret is set, never shown.
		d = e.ok(e.admin, `mutation($o:ID!){createOIDCConnection(input:{organizationID:$o,name:"Entra",preset:ENTRA_ID,
			issuer:"https://login.entra.example/t/v2.0",clientID:"cid",clientSecret:"very secret"}){connection{`+connFields+` oidcIssuer oidcClientID oidcScopes}}}`,
			map[string]any{"o": org})
		oc := get(d, "createOIDCConnection.connection")
		oid := str(oc, "id")
		if str(oc, "redirectURI") != testIssuer+"/sso/oidc/"+oid+"/callback" || get(oc, "hasClientSecret") != true ||
			get(oc, "acsURL") != nil || get(oc, "spMetadataXML") != nil || str(oc, "oidcScopes.0") != "openid" {
			t.Errorf("OIDC connection: %v", oc)
		}
		for _, field := range []string{"oidcClientSecretSealed", "oidcClientSecret", "clientSecret", "spKeys{sealedKey}"} {
			if r := e.do(e.admin, `query($id:ID!){node(id:$id){...on Connection{`+field+`}}}`, map[string]any{"id": oid}); r.code() != "GRAPHQL_VALIDATION_FAILED" {
				t.Errorf("%s is a field: %s", field, r.raw)
			}
		}
		d = e.ok(e.admin, `mutation($id:ID!){updateConnection(input:{id:$id,name:"Entra ID",groupRoleMappings:[]}){connection{name groupRoleMappings{group}}}}`, map[string]any{"id": oid})
		if str(d, "updateConnection.connection.name") != "Entra ID" {
			t.Errorf("update: %v", d)
		}
		d = e.ok(e.admin, `mutation($id:ID!){deleteConnection(input:{id:$id}){deletedConnectionID}}`, map[string]any{"id": oid})
		if str(d, "deleteConnection.deletedConnectionID") != oid {
			t.Errorf("delete: %v", d)
		}
		if r := e.do(e.admin, `query($id:ID!){node(id:$id){id}}`, map[string]any{"id": oid}); get(r.Data, "node") != nil {
			t.Errorf("deleted connection still found: %s", r.raw)
		}
	})
}

// TestConnectionInputErrors: metadata without a parser, a parser's
// refusal, an incomplete activation and a bad field each name the field.
func TestConnectionInputErrors(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		bare := newEnv(t, db)
		org := bare.createOrg("Acme", "acme")
		r := bare.do(bare.admin, `mutation($o:ID!){createSAMLConnection(input:{organizationID:$o,name:"x",metadataURL:"https://okta.example/metadata"}){connection{id acsURL}}}`, map[string]any{"o": org})
		if r.code() != "BAD_USER_INPUT" || !strings.Contains(r.Errors[0].Message, "metadata parsing is not configured") {
			t.Errorf("metadata without a parser: %s", r.raw)
		}
		d := bare.ok(bare.admin, `mutation($o:ID!){createSAMLConnection(input:{organizationID:$o,name:"x"}){connection{id acsURL}}}`, map[string]any{"o": org})
		if get(d, "createSAMLConnection.connection.acsURL") != nil {
			t.Errorf("acsURL without an issuer: %v", d)
		}
		id := str(d, "createSAMLConnection.connection.id")
		r = bare.do(bare.admin, `mutation($id:ID!){activateConnection(input:{id:$id}){connection{id}}}`, map[string]any{"id": id})
		if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "idpEntityID" || r.Errors[0].Extensions["reason"] != "CONNECTION_INCOMPLETE" {
			t.Errorf("activating an incomplete connection: %s", r.raw)
		}

		e := newEnv(t, db, func(c *graph.Config) { c.ParseSAMLMetadata = fakeMetadata(testCertPEM(t)) })
		org = e.createOrg("Acme 2", "acme2")
		for _, c := range []struct{ name, input, field string }{
			{"bad metadata", `metadataXML:"<html/>"`, "metadataXML"},
			{"bad metadata URL", `metadataURL:"https://nothing.example/md"`, "metadataURL"},
			{"bad metadata URL beside a document", `metadataXML:"<EntityDescriptor/>",metadataURL:"https://nothing.example/md"`, "metadataURL"},
			{"http SSO URL", `ssoURL:"http://idp.example/sso"`, "ssoURL"},
			{"garbage certificate", `certificates:["nope"]`, "certificates"},
		} {
			r := e.do(e.admin, `mutation($o:ID!){createSAMLConnection(input:{organizationID:$o,name:"x",`+c.input+`}){connection{id}}}`, map[string]any{"o": org})
			if r.Status != http.StatusOK || r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != c.field {
				t.Errorf("%s: %s, want BAD_USER_INPUT on %s", c.name, r.raw, c.field)
			}
		}

		// On update the document given is read, and a metadataURL beside it
		// is stored, not fetched instead.
		d = e.ok(e.admin, `mutation($o:ID!){createSAMLConnection(input:{organizationID:$o,name:"x",ssoURL:"https://idp.example/sso"}){connection{id}}}`, map[string]any{"o": org})
		d = e.ok(e.admin, `mutation($id:ID!){updateConnection(input:{id:$id,metadataXML:"<EntityDescriptor/>",metadataURL:"https://nothing.example/md"}){connection{idpEntityID idpSSOURL}}}`,
			map[string]any{"id": str(d, "createSAMLConnection.connection.id")})
		if got := str(d, "updateConnection.connection.idpEntityID"); got != "http://www.okta.com/exk1" {
			t.Errorf("update with a document and a URL: idpEntityID = %q, want the document's", got)
		}
	})
}

// TestConnectionPermissions: every connection mutation as each caller of
// an organization and as another organization's key: connections:manage
// decides (owner, admin and the organization's key); members and a custom
// role who may read the organization are FORBIDDEN; another tenant gets
// NOT_FOUND, as for a missing connection, and nothing changes.
func TestConnectionPermissions(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db, func(c *graph.Config) { c.VerifyToken = fakeTokens; c.Issuer = testIssuer })
		e.adminApp()
		f, other := e.fixture("acme"), e.fixture("beta")
		cert := testCertPEM(t)
		newConn := func() string {
			d := e.ok(e.admin, `mutation($o:ID!,$c:String!){createSAMLConnection(input:{organizationID:$o,name:"Okta",idpEntityID:"e",ssoURL:"https://idp.example/sso",certificates:[$c]}){connection{id spKeys{id}}}}`,
				map[string]any{"o": f.org, "c": cert})
			return str(d, "createSAMLConnection.connection.id")
		}
		ops := []struct{ name, query string }{
			{"createSAMLConnection", `mutation($o:ID!){createSAMLConnection(input:{organizationID:$o,name:"x"}){connection{id}}}`},
			{"createOIDCConnection", `mutation($o:ID!){createOIDCConnection(input:{organizationID:$o,name:"x"}){connection{id}}}`},
			{"updateConnection", `mutation($id:ID!){updateConnection(input:{id:$id,name:"renamed"}){connection{id}}}`},
			{"activateConnection", `mutation($id:ID!){activateConnection(input:{id:$id}){connection{id}}}`},
			{"deactivateConnection", `mutation($id:ID!){deactivateConnection(input:{id:$id}){connection{id}}}`},
			{"rotateConnectionKey", `mutation($id:ID!){rotateConnectionKey(input:{id:$id}){connection{id}}}`},
			{"deleteConnection", `mutation($id:ID!){deleteConnection(input:{id:$id}){deletedConnectionID}}`},
			{"lastLoginAttempts", `query($id:ID!){node(id:$id){...on Connection{lastLoginAttempts{succeeded}}}}`},
		}
		callers := map[string]string{"owner": "", "admin": "", "orgkey": "", "member": "FORBIDDEN", "auditor": "FORBIDDEN"}
		vars := func(query, id string) map[string]any {
			if strings.Contains(query, "$o:") {
				return map[string]any{"o": f.org}
			}
			return map[string]any{"id": id}
		}
		for _, op := range ops {
			for caller, want := range callers {
				id := newConn()
				r := e.do(f.callers[caller], op.query, vars(op.query, id))
				if r.Status != http.StatusOK || r.code() != want {
					t.Errorf("%s as %s: %s, want %q", op.name, caller, r.raw, want)
				}
			}
			// Another organization's key, owner and admin: NOT_FOUND, and
			// the connection is untouched.
			for _, caller := range []string{"orgkey", "owner", "admin"} {
				id := newConn()
				r := e.do(other.callers[caller], op.query, vars(op.query, id))
				if op.name == "lastLoginAttempts" {
					if get(r.Data, "node") != nil {
						t.Errorf("%s as beta's %s: %s, want a null node", op.name, caller, r.raw)
					}
					continue
				}
				if r.code() != "NOT_FOUND" {
					t.Errorf("%s as beta's %s: %s, want NOT_FOUND", op.name, caller, r.raw)
				}
				d := e.ok(e.admin, `query($id:ID!){node(id:$id){...on Connection{name state spKeys{id}}}}`, map[string]any{"id": id})
				if str(d, "node.name") != "Okta" || str(d, "node.state") != "DRAFT" || len(get(d, "node.spKeys").([]any)) != 1 {
					t.Errorf("%s as beta's %s changed the connection: %v", op.name, caller, d)
				}
			}
		}
	})
}
