package saml

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	"github.com/crewjam/saml/xmlenc"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/federation"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
)

// Test keys are RSA-2048 pairs made once for the tests and kept in
// testdata/keys (certificates valid 2000–9999, so they never age):
// generating them per run is slow on a shared machine and very slow in
// a fuzz worker, whose crypto is instrumented.
var (
	keysMu sync.Mutex
	keys   = map[string]KeyPair{}
)

func testKey(t testing.TB, name string) KeyPair {
	t.Helper()
	keysMu.Lock()
	defer keysMu.Unlock()
	if k, ok := keys[name]; ok {
		return k
	}
	data, err := os.ReadFile("testdata/keys/" + name + ".pem")
	if err != nil {
		t.Fatalf("no test key %q: %v", name, err)
	}
	var k KeyPair
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		switch block.Type {
		case "RSA PRIVATE KEY":
			k.Key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "CERTIFICATE":
			k.Certificate, err = x509.ParseCertificate(block.Bytes)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	keys[name] = k
	return k
}

// memReplay is a ReplayCache in memory, as one node would keep it.
type memReplay struct {
	mu   sync.Mutex
	seen map[string]time.Time
	err  error
}

func (m *memReplay) Remember(_ context.Context, conn, id string, until time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return false, m.err
	}
	if m.seen == nil {
		m.seen = map[string]time.Time{}
	}
	k := conn + "\x00" + id
	if _, ok := m.seen[k]; ok {
		return false, nil
	}
	m.seen[k] = until
	return true, nil
}

const (
	idpEntityID = "https://idp.tenant-a.test/saml"
	idpSSOURL   = "https://idp.tenant-a.test/sso"
	spEntityID  = "https://auth.gatehouse.test/sso/saml/conn_A/metadata"
	acsURL      = "https://auth.gatehouse.test/sso/saml/conn_A/acs"
)

// fixture is one connection (tenant A) with its IdP, clock and replay
// record; each test makes its own.
type fixture struct {
	t      testing.TB
	clock  *testkit.Clock
	replay *memReplay
	cfg    Config
	conn   *Connector
}

func newFixture(t testing.TB, edit ...func(*Config)) *fixture {
	t.Helper()
	f := &fixture{t: t, clock: testkit.NewClock(), replay: &memReplay{}}
	f.cfg = Config{
		ConnectionID: pulid.ID("conn_01TENANTA"),
		SPEntityID:   spEntityID,
		ACSURL:       acsURL,
		MetadataURL:  spEntityID,
		Keys:         []KeyPair{testKey(t, "sp"), testKey(t, "sp-next")},
		IdP: IdP{
			EntityID:     idpEntityID,
			SSOURL:       idpSSOURL,
			Binding:      BindingRedirect,
			Certificates: []*x509.Certificate{testKey(t, "idp").Certificate, testKey(t, "idp-next").Certificate},
		},
		Mapping: AttributeMapping{Email: "email", FirstName: "firstName", LastName: "lastName", Groups: "groups",
			Custom: map[string]string{"department": "department"}},
		Replay: f.replay,
		Now:    f.clock.Now,
	}
	for _, e := range edit {
		e(&f.cfg)
	}
	conn, err := New(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.conn = conn
	return f
}

// begin starts a sign-in and returns the state and the request id.
func (f *fixture) begin() ([]byte, string) {
	f.t.Helper()
	step, err := f.conn.Begin(context.Background(), federationBegin())
	if err != nil {
		f.t.Fatal(err)
	}
	st, err := f.conn.decodeState(step.State)
	if err != nil {
		f.t.Fatal(err)
	}
	return step.State, st.RequestID
}

// finish posts a Response (XML) to the connector's ACS.
func (f *fixture) finish(xml []byte, state []byte) (federation.Identity, error) {
	f.t.Helper()
	id, err := f.conn.Finish(context.Background(), acsRequest(base64.StdEncoding.EncodeToString(xml)), state)
	return id, err
}

func acsRequest(samlResponse string) *http.Request {
	form := url.Values{"SAMLResponse": {samlResponse}, "RelayState": {""}}
	r := httptest.NewRequest(http.MethodPost, acsURL, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// resp describes the Response the test IdP makes: by default, a valid
// answer to requestID for tenant A's user, with the assertion signed by
// the IdP's key.
type resp struct {
	key           KeyPair
	issuer        string
	nameID        string
	nameIDFormat  string
	audience      []string // nil: SPEntityID; empty: no AudienceRestriction
	noAudience    bool
	recipient     string
	destination   *string
	inResponseTo  string
	scdInResponse *string // SubjectConfirmationData InResponseTo, default inResponseTo
	issued        time.Time
	notBefore     time.Time
	notOnOrAfter  time.Time
	attrs         []saml.Attribute
	signResponse  bool
	signAssertion bool
	sha1          bool
	encryptTo     *x509.Certificate
	// editAssertion and editResponse run before signing.
	editAssertion func(*etree.Element)
	editResponse  func(*etree.Element)
	// signedAssertion runs after the assertion is signed, before it is
	// encrypted or put in the Response.
	signedAssertion func(*etree.Element)
	assertionID     string
}

func (f *fixture) defaults(requestID string) *resp {
	now := f.clock.Now()
	dest := acsURL
	return &resp{
		key:           testKey(f.t, "idp"),
		issuer:        idpEntityID,
		nameID:        "alice@tenant-a.test",
		nameIDFormat:  "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
		recipient:     acsURL,
		destination:   &dest,
		inResponseTo:  requestID,
		issued:        now,
		notBefore:     now.Add(-30 * time.Second),
		notOnOrAfter:  now.Add(5 * time.Minute),
		signAssertion: true,
		attrs: []saml.Attribute{
			{Name: "email", Values: []saml.AttributeValue{{Value: "alice@tenant-a.test"}}},
			{Name: "firstName", Values: []saml.AttributeValue{{Value: "Alice"}}},
			{Name: "lastName", Values: []saml.AttributeValue{{Value: "Liddell"}}},
			{Name: "groups", Values: []saml.AttributeValue{{Value: "engineering"}, {Value: "admins"}}},
			{Name: "department", Values: []saml.AttributeValue{{Value: "R&D"}}},
		},
	}
}

var idCounter struct {
	sync.Mutex
	n int
}

func newID() string {
	idCounter.Lock()
	defer idCounter.Unlock()
	idCounter.n++
	return fmt.Sprintf("_id%d%x", idCounter.n, time.Now().UnixNano())
}

// build makes the Response document.
func (f *fixture) build(o *resp) *etree.Document {
	f.t.Helper()
	aid := o.assertionID
	if aid == "" {
		aid = newID()
	}
	scdIRT := o.inResponseTo
	if o.scdInResponse != nil {
		scdIRT = *o.scdInResponse
	}
	a := &saml.Assertion{
		ID:           aid,
		IssueInstant: o.issued,
		Version:      "2.0",
		Issuer:       saml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: o.issuer},
		Subject: &saml.Subject{
			NameID: &saml.NameID{Format: o.nameIDFormat, Value: o.nameID},
			SubjectConfirmations: []saml.SubjectConfirmation{{
				Method: bearer,
				SubjectConfirmationData: &saml.SubjectConfirmationData{
					InResponseTo: scdIRT, NotOnOrAfter: o.notOnOrAfter, Recipient: o.recipient,
				},
			}},
		},
		Conditions: &saml.Conditions{NotBefore: o.notBefore, NotOnOrAfter: o.notOnOrAfter},
		AuthnStatements: []saml.AuthnStatement{{
			AuthnInstant: o.issued.Add(-time.Second), SessionIndex: aid,
			AuthnContext: saml.AuthnContext{AuthnContextClassRef: &saml.AuthnContextClassRef{
				Value: "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"}},
		}},
		AttributeStatements: []saml.AttributeStatement{{Attributes: o.attrs}},
	}
	if !o.noAudience {
		aud := o.audience
		if aud == nil {
			aud = []string{spEntityID}
		}
		ar := saml.AudienceRestriction{Audience: saml.Audience{Value: aud[0]}}
		for _, v := range aud[1:] {
			ar.AdditionalAudiences = append(ar.AdditionalAudiences, saml.Audience{Value: v})
		}
		a.Conditions.AudienceRestrictions = []saml.AudienceRestriction{ar}
	}
	ael := a.Element()
	if o.editAssertion != nil {
		o.editAssertion(ael)
	}
	if o.signAssertion {
		ael = f.sign(ael, o.key, o.sha1)
	}
	if o.signedAssertion != nil {
		o.signedAssertion(ael)
	}
	r := &saml.Response{
		ID: newID(), InResponseTo: o.inResponseTo, Version: "2.0", IssueInstant: o.issued,
		Issuer: &saml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: o.issuer},
		Status: saml.Status{StatusCode: saml.StatusCode{Value: saml.StatusSuccess}},
	}
	if o.destination != nil {
		r.Destination = *o.destination
	}
	rel := r.Element()
	if o.encryptTo != nil {
		doc := etree.NewDocument()
		doc.SetRoot(ael)
		plain, err := doc.WriteToBytes()
		if err != nil {
			f.t.Fatal(err)
		}
		enc := xmlenc.OAEP()
		enc.BlockCipher = xmlenc.AES256GCM
		encEl, err := enc.Encrypt(o.encryptTo, plain, nil)
		if err != nil {
			f.t.Fatal(err)
		}
		encEl.CreateAttr("Type", "http://www.w3.org/2001/04/xmlenc#Element")
		wrap := rel.CreateElement("saml:EncryptedAssertion")
		wrap.AddChild(encEl)
	} else {
		rel.AddChild(ael)
	}
	if o.editResponse != nil {
		o.editResponse(rel)
	}
	if o.signResponse {
		rel = f.sign(rel, o.key, o.sha1)
	}
	doc := etree.NewDocument()
	doc.SetRoot(rel)
	return doc
}

func (f *fixture) bytes(o *resp) []byte {
	f.t.Helper()
	b, err := f.build(o).WriteToBytes()
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

// sign signs el enveloped (exclusive c14n, RSA-SHA256 unless sha1) and
// puts the Signature right after the Issuer, where SAML's schema wants it.
func (f *fixture) sign(el *etree.Element, kp KeyPair, sha1 bool) *etree.Element {
	f.t.Helper()
	ctx, err := dsig.NewSigningContext(kp.Key, [][]byte{kp.Certificate.Raw})
	if err != nil {
		f.t.Fatal(err)
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	method := dsig.RSASHA256SignatureMethod
	if sha1 {
		method = dsig.RSASHA1SignatureMethod
		ctx.Hash = 3 // crypto.SHA1
	}
	if err := ctx.SetSignatureMethod(method); err != nil {
		f.t.Fatal(err)
	}
	signed, err := ctx.SignEnveloped(el)
	if err != nil {
		f.t.Fatal(err)
	}
	// SignEnveloped appends the Signature without adopting it.
	sig := signed.Child[len(signed.Child)-1].(*etree.Element)
	signed.Child = signed.Child[:len(signed.Child)-1]
	at := 0
	for i, c := range signed.Child {
		if e, ok := c.(*etree.Element); ok && e.Tag == "Issuer" {
			at = i + 1
		}
	}
	signed.InsertChildAt(at, sig)
	return signed
}

func federationBegin() federation.BeginRequest { return federation.BeginRequest{CallbackURL: acsURL} }

// wantCode fails unless err is a Rejection with code.
func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want rejection %q", code)
	}
	t.Log(err)
	if got := CodeOf(err); got != code {
		t.Fatalf("rejection %q (%v); want %q", got, err, code)
	}
}

func mustBase64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func makeKeyPair1024(t testing.TB) KeyPair {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "weak.test"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return KeyPair{Key: key, Certificate: cert}
}
