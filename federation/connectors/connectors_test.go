package connectors_test

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
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ent/connection"
	_ "github.com/gatehouse-id/gatehouse/ent/runtime"
	"github.com/gatehouse-id/gatehouse/federation"
	"github.com/gatehouse-id/gatehouse/federation/connectors"
	"github.com/gatehouse-id/gatehouse/internal/seal"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func idpCert(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idp"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(253402300799, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	must(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// A stored SAML connection becomes a working connector: its SP metadata
// names the connection's endpoints and key; the connector is kept until
// the connection changes; its refusals read as federation.Rejection; and
// the identity maps to what SignInFederated takes.
func TestRegistry(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		sl, err := seal.New(make([]byte, seal.KeySize))
		must(t, err)
		svc := tenants.NewService(db.Client(), tenants.WithSealer(sl))
		admin := viewer.NewContext(context.Background(), &viewer.Viewer{Kind: viewer.Instance, Actor: "key_admin"})
		org, err := svc.CreateOrganization(admin, tenants.CreateOrganizationInput{Name: "Initech", Slug: "initech"})
		must(t, err)
		okta := connection.PresetOKTA
		c, err := svc.CreateSAMLConnection(admin, tenants.CreateSAMLConnectionInput{OrganizationID: org.ID, Name: "Okta",
			IdP: tenants.SAMLIdP{EntityID: "http://www.okta.com/exk1", SSOURL: "https://initech.okta.example/sso", Certificates: []string{idpCert(t)}},
			ConnectionSettings: tenants.ConnectionSettings{Preset: &okta,
				AttributeMapping: &tenants.AttributeMapping{Custom: map[string]string{"department": "dept"}}}})
		must(t, err)

		const issuer = "https://id.example.com"
		reg := connectors.New(connectors.Config{Tenants: svc, Issuer: issuer})
		first, err := reg.Connector(admin, c)
		must(t, err)
		again, err := reg.Connector(admin, c)
		must(t, err)
		if first != again {
			t.Error("an unchanged connection's connector was built again")
		}
		md, err := reg.Metadata(admin, c)
		must(t, err)
		ep := federation.ConnectionEndpoints(issuer, c.ID)
		if !strings.Contains(string(md), ep.SAMLACS) || !strings.Contains(string(md), `entityID="`+ep.SAMLEntityID+`"`) {
			t.Errorf("SP metadata does not name the connection's endpoints:\n%s", md)
		}
		step, err := first.Begin(admin, federation.BeginRequest{CallbackURL: ep.SAMLACS, RelayState: "relay-1"})
		must(t, err)
		if u, err := url.Parse(step.RedirectURL); err != nil || u.Query().Get("RelayState") != "relay-1" || u.Query().Get("Signature") == "" {
			t.Errorf("AuthnRequest redirect %q: want a signed request carrying the RelayState", step.RedirectURL)
		}

		// A garbage answer is a Rejection in federation's words.
		r := httptest.NewRequest(http.MethodPost, ep.SAMLACS, strings.NewReader("SAMLResponse=bm90IHhtbA%3D%3D"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		_, err = first.Finish(admin, r, step.State)
		var rej *federation.Rejection
		if !errors.As(err, &rej) || rej.Code == "" || rej.Reason == "" {
			t.Errorf("Finish(garbage) = %v, want a federation.Rejection", err)
		}

		// A changed connection gets a new connector.
		name := "Okta (prod)"
		c, err = svc.UpdateConnection(admin, tenants.UpdateConnectionInput{ID: c.ID, Name: &name})
		must(t, err)
		if next, err := reg.Connector(admin, c); err != nil || next == first {
			t.Errorf("after an update: %v (same connector: %t)", err, next == first)
		}

		in := connectors.SignInInput(c, federation.Identity{Subject: "00u1", Email: "peter@initech.com",
			Attributes: map[string][]string{"dept": {"Eng"}}})
		if !in.EmailVerified || in.Metadata["department"] != "Eng" || in.Subject != "00u1" {
			t.Errorf("SignInInput = %+v", in)
		}
	})
}
