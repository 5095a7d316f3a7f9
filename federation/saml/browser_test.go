package saml

import (
	"bytes"
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/gatehouse-id/gatehouse/federation"
	"github.com/gatehouse-id/gatehouse/internal/htmlform"
)

// testIdP is crewjam's own IdentityProvider served in-process: a real,
// independently written IdP that verifies our signed AuthnRequest, reads
// our SP metadata and answers with a signed, encrypted assertion.
type testIdP struct {
	srv *httptest.Server
	idp *saml.IdentityProvider
	sp  *saml.EntityDescriptor
}

type spProvider struct{ t *testIdP }

func (p spProvider) GetServiceProvider(_ *http.Request, id string) (*saml.EntityDescriptor, error) {
	if p.t.sp == nil || id != p.t.sp.EntityID {
		return nil, io.EOF
	}
	return p.t.sp, nil
}

type aliceSession struct{}

func (aliceSession) GetSession(http.ResponseWriter, *http.Request, *saml.IdpAuthnRequest) *saml.Session {
	return &saml.Session{
		ID: "sess-1", NameID: "alice@tenant-a.test", NameIDFormat: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
		UserName: "alice", UserEmail: "alice@tenant-a.test", UserGivenName: "Alice", UserSurname: "Liddell",
		UserCommonName: "Alice P. Liddell", Groups: []string{"engineering", "admins"},
	}
}

func newTestIdP(t *testing.T, f *fixture) *testIdP {
	t.Helper()
	ti := &testIdP{}
	mux := http.NewServeMux()
	ti.srv = httptest.NewServer(mux)
	t.Cleanup(ti.srv.Close)
	base, _ := url.Parse(ti.srv.URL)
	kp := testKey(t, "idp")
	ti.idp = &saml.IdentityProvider{
		Key: kp.Key, Certificate: kp.Certificate,
		MetadataURL:             *base.JoinPath("metadata"),
		SSOURL:                  *base.JoinPath("sso"),
		ServiceProviderProvider: spProvider{ti},
		SessionProvider:         aliceSession{},
		SignatureMethod:         dsig.RSASHA256SignatureMethod,
		WantAuthnRequestsSigned: true,
		Clock:                   dsig.NewFakeClockAt(f.clock.Now()),
	}
	mux.HandleFunc("/sso", ti.idp.ServeSSO)
	mux.HandleFunc("/metadata", ti.idp.ServeMetadata)
	return ti
}

// TestBrowserFlow signs in through crewjam's IdP with each request
// binding: Begin, the browser at the IdP, the auto-posted form to the ACS,
// Finish, and the mapped identity.
func TestBrowserFlow(t *testing.T) {
	for _, binding := range []string{BindingRedirect, BindingPOST} {
		t.Run(binding[strings.LastIndex(binding, ":")+1:], func(t *testing.T) {
			f := newFixture(t)
			ti := newTestIdP(t, f)
			idp, err := FetchIdPMetadata(context.Background(), ti.srv.Client(), ti.srv.URL+"/metadata")
			if err != nil {
				t.Fatal(err)
			}
			if idp.EntityID != ti.srv.URL+"/metadata" || len(idp.Certificates) != 1 {
				t.Fatalf("IdP from metadata: %+v", idp)
			}
			for _, b := range []string{BindingRedirect, BindingPOST} {
				if b == binding {
					idp.Binding = b
				}
			}
			f = newFixture(t, func(c *Config) {
				c.IdP = idp
				c.Mapping = AttributeMapping{
					Email: "urn:oid:0.9.2342.19200300.100.1.3", FirstName: "urn:oid:2.5.4.42", LastName: "urn:oid:2.5.4.4",
					Name: "urn:oid:2.5.4.3", Groups: "urn:oid:1.3.6.1.4.1.5923.1.1.1.1",
					Custom: map[string]string{"uid": "urn:oid:0.9.2342.19200300.100.1.1"},
				}
			})
			ti.idp.Clock = dsig.NewFakeClockAt(f.clock.Now())
			md, err := f.conn.Metadata()
			if err != nil {
				t.Fatal(err)
			}
			ti.sp = &saml.EntityDescriptor{}
			if err := xml.Unmarshal(md, ti.sp); err != nil {
				t.Fatal(err)
			}

			step, err := f.conn.Begin(context.Background(), federation.BeginRequest{CallbackURL: acsURL})
			if err != nil {
				t.Fatal(err)
			}
			var res *http.Response
			if binding == BindingRedirect {
				if step.RedirectURL == "" || step.FormAction != "" {
					t.Fatalf("step %+v", step)
				}
				u, _ := url.Parse(step.RedirectURL)
				if u.Query().Get("SigAlg") != dsig.RSASHA256SignatureMethod || u.Query().Get("Signature") == "" {
					t.Fatalf("redirect not signed: %s", step.RedirectURL)
				}
				res, err = ti.srv.Client().Get(step.RedirectURL)
			} else {
				if step.FormAction != idp.SSOURL || step.FormFields["SAMLRequest"] == "" {
					t.Fatalf("step %+v", step)
				}
				form := url.Values{}
				for k, v := range step.FormFields {
					form.Set(k, v)
				}
				res, err = ti.srv.Client().PostForm(step.FormAction, form)
			}
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("IdP answered %s: %s", res.Status, page)
			}
			forms := htmlform.Parse(string(page))
			if len(forms) != 1 {
				t.Fatalf("IdP page has %d forms: %s", len(forms), page)
			}
			if forms[0].Action != acsURL {
				t.Fatalf("IdP posts to %q", forms[0].Action)
			}
			samlResponse, _ := forms[0].Value("SAMLResponse")
			decoded := mustBase64(t, samlResponse)
			if !bytes.Contains(decoded, []byte("EncryptedAssertion")) {
				t.Fatalf("expected the IdP to encrypt to our published key: %s", decoded)
			}

			id, err := f.conn.Finish(context.Background(), acsRequest(samlResponse), step.State)
			if err != nil {
				t.Fatal(err)
			}
			want := federation.Identity{ConnectionID: f.cfg.ConnectionID, Subject: "alice@tenant-a.test", Email: "alice@tenant-a.test",
				Name: "Alice P. Liddell", GivenName: "Alice", FamilyName: "Liddell"}
			if id.ConnectionID != want.ConnectionID || id.Subject != want.Subject || id.Email != want.Email || id.Name != want.Name ||
				id.GivenName != want.GivenName || id.FamilyName != want.FamilyName || !slices.Equal(id.Groups, []string{"engineering", "admins"}) {
				t.Fatalf("identity %+v", id)
			}
			if got := f.cfg.Mapping.CustomValues(id.Attributes); !slices.Equal(got["uid"], []string{"alice"}) {
				t.Fatalf("custom %v of %v", got, id.Attributes)
			}

			// The same form posted again is a replay.
			_, err = f.conn.Finish(context.Background(), acsRequest(samlResponse), step.State)
			wantCode(t, err, CodeReplayed)
		})
	}
}
