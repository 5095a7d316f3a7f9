package saml

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/xml"
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/gatehouse-id/gatehouse/federation"
)

// TestBeginRedirect: the AuthnRequest rides in the query, deflated, with
// a detached RSA-SHA256 signature by the first SP key over
// SAMLRequest&SigAlg (SAML Bindings §3.4.4.1).
func TestBeginRedirect(t *testing.T) {
	f := newFixture(t)
	step, err := f.conn.Begin(context.Background(), federation.BeginRequest{CallbackURL: acsURL, ForceAuthn: true})
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(step.RedirectURL)
	if err != nil || !strings.HasPrefix(step.RedirectURL, idpSSOURL+"?") || step.FormAction != "" {
		t.Fatalf("step %+v", step)
	}
	q := u.Query()
	if q.Has("RelayState") {
		t.Fatalf("RelayState sent: %q", q.Get("RelayState"))
	}
	signed := "SAMLRequest=" + url.QueryEscape(q.Get("SAMLRequest")) + "&SigAlg=" + url.QueryEscape(q.Get("SigAlg"))
	sum := sha256.Sum256([]byte(signed))
	if err := rsa.VerifyPKCS1v15(&testKey(t, "sp").Key.PublicKey, crypto.SHA256, sum[:], mustBase64(t, q.Get("Signature"))); err != nil {
		t.Fatalf("redirect signature: %v", err)
	}
	raw, err := io.ReadAll(flate.NewReader(bytes.NewReader(mustBase64(t, q.Get("SAMLRequest")))))
	if err != nil {
		t.Fatal(err)
	}
	checkAuthnRequest(t, f, raw, step.State, true)
}

// TestBeginPOST: the AuthnRequest is a form field carrying an enveloped
// signature by the first SP key.
func TestBeginPOST(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.IdP.Binding = BindingPOST })
	step, err := f.conn.Begin(context.Background(), federation.BeginRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if step.RedirectURL != "" || step.FormAction != idpSSOURL || len(step.FormFields) != 1 {
		t.Fatalf("step %+v", step)
	}
	raw := mustBase64(t, step.FormFields["SAMLRequest"])
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{testKey(t, "sp").Certificate}})
	vc.Clock = dsig.NewFakeClockAt(f.clock.Now())
	if _, err := vc.Validate(doc.Root()); err != nil {
		t.Fatalf("enveloped signature: %v", err)
	}
	checkAuthnRequest(t, f, raw, step.State, false)

	if _, err := f.conn.Begin(context.Background(), federation.BeginRequest{CallbackURL: "https://evil.test/acs"}); err == nil {
		t.Fatal("Begin accepted another callback URL")
	}
}

func checkAuthnRequest(t *testing.T, f *fixture, raw, state []byte, force bool) {
	t.Helper()
	var req saml.AuthnRequest
	if err := xml.Unmarshal(raw, &req); err != nil {
		t.Fatal(err)
	}
	st, err := f.conn.decodeState(state)
	if err != nil {
		t.Fatal(err)
	}
	if req.ID != st.RequestID || req.Destination != idpSSOURL || req.AssertionConsumerServiceURL != acsURL ||
		req.ProtocolBinding != saml.HTTPPostBinding || req.Issuer == nil || req.Issuer.Value != spEntityID ||
		!req.IssueInstant.Equal(f.clock.Now()) {
		t.Fatalf("AuthnRequest %+v (state %+v)", req, st)
	}
	if got := req.ForceAuthn != nil && *req.ForceAuthn; got != force {
		t.Fatalf("ForceAuthn %v, want %v", got, force)
	}
}

// TestMetadata: every SP key for signing and for encryption, the ACS by
// HTTP-POST only, both flags, no validUntil.
func TestMetadata(t *testing.T) {
	f := newFixture(t)
	b, err := f.conn.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	var ed saml.EntityDescriptor
	if err := xml.Unmarshal(b, &ed); err != nil {
		t.Fatal(err)
	}
	if ed.EntityID != spEntityID || len(ed.SPSSODescriptors) != 1 || !ed.ValidUntil.IsZero() {
		t.Fatalf("metadata %s", b)
	}
	d := ed.SPSSODescriptors[0]
	if d.AuthnRequestsSigned == nil || !*d.AuthnRequestsSigned || d.WantAssertionsSigned == nil || !*d.WantAssertionsSigned {
		t.Fatalf("flags %s", b)
	}
	if len(d.AssertionConsumerServices) != 1 || d.AssertionConsumerServices[0].Binding != saml.HTTPPostBinding ||
		d.AssertionConsumerServices[0].Location != acsURL || len(d.SingleLogoutServices) != 0 {
		t.Fatalf("endpoints %s", b)
	}
	uses := map[string]int{}
	for _, kd := range d.KeyDescriptors {
		uses[kd.Use]++
	}
	if uses["signing"] != 2 || uses["encryption"] != 2 {
		t.Fatalf("keys %v", uses)
	}
	again, _ := f.conn.Metadata()
	f.clock.Advance(48 * 3600e9)
	later, _ := f.conn.Metadata()
	if !bytes.Equal(again, later) {
		t.Fatal("metadata depends on the time")
	}
}

func TestNewRefuses(t *testing.T) {
	weak := makeKeyPair1024(t)
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no replay", func(c *Config) { c.Replay = nil }, "Replay is required"},
		{"no keys", func(c *Config) { c.Keys = nil }, "at least one SP key"},
		{"mismatched pair", func(c *Config) { c.Keys[0].Certificate = testKey(t, "idp").Certificate }, "not the key's"},
		{"weak key", func(c *Config) { c.Keys = []KeyPair{weak} }, "1024 bits"},
		{"skew over two minutes", func(c *Config) { c.MaxClockSkew = 3 * 60e9 }, "MaxClockSkew"},
		{"bad binding", func(c *Config) { c.IdP.Binding = "urn:oasis:names:tc:SAML:2.0:bindings:SOAP" }, "neither HTTP-Redirect"},
		{"no IdP certificate", func(c *Config) { c.IdP.Certificates = nil }, "signing certificate"},
		{"relative ACS", func(c *Config) { c.ACSURL = "/acs" }, "ACSURL"},
		{"no entity id", func(c *Config) { c.SPEntityID = "" }, "SPEntityID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			cfg := f.cfg
			cfg.Keys = append([]KeyPair(nil), cfg.Keys...)
			tc.edit(&cfg)
			if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v; want one saying %q", err, tc.want)
			}
		})
	}
}
