package saml

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml/xmlenc"
	dsig "github.com/russellhaering/goxmldsig"
)

// alwaysFresh lets a fuzz target accept the same valid seed many times.
type alwaysFresh struct{}

func (alwaysFresh) Remember(context.Context, string, string, time.Time) (bool, error) {
	return true, nil
}

// FuzzFinish: no response body panics, and none yields an identity unless
// a signature by the IdP's key verifies over an element whose NameID is
// the identity's subject (the acceptance invariant of SECURITY-CHECKLIST
// §1, checked here with goxmldsig directly).
func FuzzFinish(f *testing.F) {
	fx := newFixture(f, func(c *Config) { c.Replay = alwaysFresh{} })
	_, rid := fx.begin()
	for _, mode := range signingModes {
		o := fx.defaults(rid)
		o.signResponse, o.signAssertion = mode.response, mode.assertion
		f.Add(fx.bytes(o))
		for _, x := range xsw {
			doc := fx.build(o)
			x.wrap(doc)
			b, _ := doc.WriteToBytes()
			f.Add(b)
		}
	}
	o := fx.defaults(rid)
	o.encryptTo = testKey(f, "sp").Certificate
	f.Add(fx.bytes(o))
	f.Add([]byte(`<!DOCTYPE r [<!ENTITY x "y">]><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>`))
	f.Add([]byte(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"/></samlp:Response>`))
	f.Add([]byte("not xml"))
	now := fx.clock.Now()
	certs := fx.cfg.IdP.Certificates
	spKeys := []*rsa.PrivateKey{testKey(f, "sp").Key, testKey(f, "sp-next").Key}
	f.Fuzz(func(t *testing.T, data []byte) {
		id, err := fx.conn.finishXML(context.Background(), data, rid, now)
		if err != nil {
			if CodeOf(err) == "" {
				t.Fatalf("error that is not a Rejection: %v", err)
			}
			return
		}
		if !signedSubject(data, certs, spKeys, now, id.Subject) {
			t.Fatalf("accepted subject %q that no verified signature covers", id.Subject)
		}
	})
}

// signedSubject reports whether an IdP signature verifies over the
// Response or its Assertion in data and the verified element's NameID is
// subject. An encrypted assertion is decrypted with keys first.
func signedSubject(data []byte, certs []*x509.Certificate, keys []*rsa.PrivateKey, now time.Time, subject string) bool {
	doc := etree.NewDocument()
	if doc.ReadFromBytes(data) != nil || doc.Root() == nil {
		return false
	}
	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: certs})
	vc.Clock = dsig.NewFakeClockAt(now)
	candidates := []*etree.Element{doc.Root()}
	if a := child(doc.Root(), "Assertion"); a != nil {
		candidates = append(candidates, a)
	}
	if ea := child(doc.Root(), "EncryptedAssertion"); ea != nil && child(ea, "EncryptedData") != nil {
		for _, k := range keys {
			plain, err := xmlenc.Decrypt(k, child(ea, "EncryptedData"))
			if err != nil {
				continue
			}
			pd := etree.NewDocument()
			if pd.ReadFromBytes(plain) == nil && pd.Root() != nil {
				candidates = append(candidates, pd.Root())
			}
		}
	}
	for _, el := range candidates {
		verified, err := vc.Validate(el)
		if err != nil {
			continue
		}
		if n := verified.FindElement(".//NameID"); n != nil && n.Text() == subject {
			return true
		}
		// A signed Response covers the ciphertext of its assertion.
		if ed := verified.FindElement("./EncryptedAssertion/EncryptedData"); ed != nil {
			for _, k := range keys {
				if plain, err := xmlenc.Decrypt(k, ed); err == nil && strings.Contains(string(plain), ">"+subject+"<") {
					return true
				}
			}
		}
	}
	return false
}

// FuzzParseIdPMetadata: no metadata panics, and whatever parses is a
// usable IdP.
func FuzzParseIdPMetadata(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.xml")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`<!DOCTYPE md [<!ENTITY a "a">]><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"/>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		idp, err := ParseIdPMetadata(data)
		if err != nil {
			return
		}
		if idp.EntityID == "" || len(idp.Certificates) == 0 || checkAbsoluteURL(idp.SSOURL) != nil ||
			(idp.Binding != BindingRedirect && idp.Binding != BindingPOST) || strings.TrimSpace(idp.EntityID) != idp.EntityID {
			t.Fatalf("parsed an unusable IdP: %+v", idp)
		}
	})
}
