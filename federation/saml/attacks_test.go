package saml

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/beevik/etree"
)

const victim = "victim@tenant-a.test"

// signingModes are the three ways an IdP signs (SECURITY-CHECKLIST §1
// baseline): every attack runs in each.
var signingModes = []struct {
	name                string
	response, assertion bool
}{
	{"response signed", true, false},
	{"assertion signed", false, true},
	{"both signed", true, true},
}

func assertionOf(doc *etree.Document) *etree.Element { return child(doc.Root(), "Assertion") }

func setNameID(el *etree.Element, v string) {
	el.FindElement(".//NameID").SetText(v)
	for _, at := range el.FindElements(".//Attribute") {
		if at.SelectAttrValue("Name", "") == "email" {
			at.FindElement("./AttributeValue").SetText(v)
		}
	}
}

func stripSignature(el *etree.Element) {
	if s := child(el, "Signature"); s != nil {
		el.RemoveChild(s)
	}
}

// evil makes the attacker's copy of a signed element: unsigned, a new ID,
// the victim's NameID.
func evil(el *etree.Element) *etree.Element {
	e := el.Copy()
	stripSignature(e)
	e.CreateAttr("ID", newID())
	setNameID(e, victim)
	return e
}

func insertBefore(parent, ref, el *etree.Element) { parent.InsertChildAt(ref.Index(), el) }

// xsw are SAML Raider's eight signature-wrapping permutations
// (XSWHelpers.java, as SECURITY-CHECKLIST SAML-01 describes them),
// re-implemented on etree. Each gets a validly signed response.
var xsw = []struct {
	name string
	wrap func(doc *etree.Document)
}{
	{"XSW1", func(doc *etree.Document) {
		resp := doc.Root()
		clean := resp.Copy()
		stripSignature(clean)
		resp.CreateAttr("ID", newID())
		setNameID(resp, victim)
		if sig := child(resp, "Signature"); sig != nil {
			sig.AddChild(clean)
		} else {
			resp.AddChild(clean)
		}
	}},
	{"XSW2", func(doc *etree.Document) {
		resp := doc.Root()
		clean := resp.Copy()
		stripSignature(clean)
		resp.CreateAttr("ID", newID())
		setNameID(resp, victim)
		if sig := child(resp, "Signature"); sig != nil {
			insertBefore(resp, sig, clean)
		} else {
			resp.InsertChildAt(0, clean)
		}
	}},
	{"XSW3", func(doc *etree.Document) {
		a := assertionOf(doc)
		insertBefore(doc.Root(), a, evil(a))
	}},
	{"XSW4", func(doc *etree.Document) {
		a := assertionOf(doc)
		e := evil(a)
		doc.Root().RemoveChild(a)
		doc.Root().AddChild(e)
		e.AddChild(a)
	}},
	{"XSW5", func(doc *etree.Document) {
		a := assertionOf(doc)
		clean := a.Copy()
		stripSignature(clean)
		a.CreateAttr("ID", newID())
		setNameID(a, victim)
		doc.Root().AddChild(clean)
	}},
	{"XSW6", func(doc *etree.Document) {
		a := assertionOf(doc)
		clean := a.Copy()
		stripSignature(clean)
		a.CreateAttr("ID", newID())
		setNameID(a, victim)
		if sig := child(a, "Signature"); sig != nil {
			sig.AddChild(clean)
		} else {
			a.AddChild(clean)
		}
	}},
	{"XSW7", func(doc *etree.Document) {
		a := assertionOf(doc)
		e := a.Copy()
		stripSignature(e)
		setNameID(e, victim)
		ext := etree.NewElement("samlp:Extensions")
		ext.AddChild(e)
		insertBefore(doc.Root(), a, ext)
	}},
	{"XSW8", func(doc *etree.Document) {
		a := assertionOf(doc)
		clean := a.Copy()
		stripSignature(clean)
		setNameID(a, victim)
		obj := etree.NewElement("ds:Object")
		obj.AddChild(clean)
		if sig := child(a, "Signature"); sig != nil {
			sig.AddChild(obj)
		} else {
			a.AddChild(obj)
		}
	}},
}

// TestXSW runs the eight wrapping attacks in the three signing modes
// (SAML-01): every one is refused before any library reads it, and, with
// the structural checks bypassed, the signature layer alone never yields
// the victim (the acceptance invariant: the identity comes from the
// verified bytes).
func TestXSW(t *testing.T) {
	for _, mode := range signingModes {
		for _, x := range xsw {
			t.Run(mode.name+"/"+x.name, func(t *testing.T) {
				f := newFixture(t)
				state, rid := f.begin()
				o := f.defaults(rid)
				o.signResponse, o.signAssertion = mode.response, mode.assertion
				doc := f.build(o)
				x.wrap(doc)
				b, err := doc.WriteToBytes()
				if err != nil {
					t.Fatal(err)
				}
				_, err = f.finish(b, state)
				if err == nil {
					t.Fatal("accepted a wrapped response")
				}
				code := CodeOf(err)
				switch code {
				case CodeMultipleAssertions, CodeMalformed, CodeSignatureInvalid:
				default:
					t.Fatalf("rejection %q (%v); want a structural one", code, err)
				}
				t.Log(err)

				// Bypass the structural checks: crewjam and checkAssertion alone.
				a, rej := f.conn.verify(b, shape{}, rid, f.clock.Now())
				if rej == nil {
					if rej = f.conn.checkAssertion(a, rid, f.clock.Now()); rej == nil && a.Subject.NameID.Value == victim {
						t.Fatal("the signature layer alone accepted the victim")
					}
				}
			})
		}
	}
}

// TestMultipleAssertions (SAML-02): a second assertion, signed or not,
// before or after, plain or encrypted, is refused.
func TestMultipleAssertions(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(f *fixture, doc *etree.Document)
	}{
		{"unsigned before signed", func(_ *fixture, doc *etree.Document) {
			a := assertionOf(doc)
			insertBefore(doc.Root(), a, evil(a))
		}},
		{"unsigned after signed", func(_ *fixture, doc *etree.Document) { doc.Root().AddChild(evil(assertionOf(doc))) }},
		{"same ID twice", func(_ *fixture, doc *etree.Document) {
			e := assertionOf(doc).Copy()
			setNameID(e, victim)
			doc.Root().AddChild(e)
		}},
		{"two signed", func(f *fixture, doc *etree.Document) {
			other := f.build(f.defaults(""))
			doc.Root().AddChild(assertionOf(other))
		}},
		{"encrypted and plain", func(f *fixture, doc *etree.Document) {
			o := f.defaults("")
			o.encryptTo = testKey(f.t, "sp").Certificate
			doc.Root().AddChild(child(f.build(o).Root(), "EncryptedAssertion"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			state, rid := f.begin()
			doc := f.build(f.defaults(rid))
			tc.edit(f, doc)
			b, _ := doc.WriteToBytes()
			_, err := f.finish(b, state)
			code := CodeMultipleAssertions
			if tc.name == "same ID twice" {
				code = CodeMalformed // the duplicate ID is seen first
			}
			wantCode(t, err, code)
		})
	}
}

// TestNameIDTextSplitting (SAML-03): the IdP signs
// victim@tenant-a.test.attacker.test; markup inserted after signing that
// c14n ignores is refused, and a character reference (which is the same
// text) reads as the whole string.
func TestNameIDTextSplitting(t *testing.T) {
	const signed = "victim@tenant-a.test.attacker.test"
	for _, tc := range []struct {
		name, insert string
		code         string
	}{
		{"comment", "<!---->", CodeForbiddenMarkup},
		{"CDATA", "<![CDATA[]]>", CodeForbiddenMarkup},
		{"processing instruction", "<?x?>", CodeForbiddenMarkup},
		{"character reference", "&#46;", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			state, rid := f.begin()
			o := f.defaults(rid)
			o.nameID = signed
			o.attrs[0].Values[0].Value = signed
			b := f.bytes(o)
			split := strings.ReplaceAll(string(b), "victim@tenant-a.test.attacker", "victim@tenant-a"+tc.insert+"test.attacker")
			if split == string(b) {
				t.Fatal("nothing to split")
			}
			if tc.insert == "&#46;" {
				split = strings.ReplaceAll(string(b), "tenant-a.test.attacker", "tenant-a.test&#46;attacker")
			}
			id, err := f.finish([]byte(split), state)
			if tc.code != "" {
				wantCode(t, err, tc.code)
			} else if err != nil {
				t.Fatal(err)
			} else if id.Subject != signed || id.Email != signed {
				t.Fatalf("subject %q, email %q: want the whole signed string", id.Subject, id.Email)
			}
			// Past the markup check, the signature layer still reads the
			// whole string or nothing.
			if a, rej := f.conn.verify([]byte(split), shape{}, rid, f.clock.Now()); rej == nil && a.Subject.NameID.Value != signed {
				t.Fatalf("signature layer read NameID %q", a.Subject.NameID.Value)
			}
		})
	}
}

// TestForeignNameID (SAML-09, GO-2026-6909): a NameID outside the SAML
// assertion namespace, alone or after the real one, validly signed.
func TestForeignNameID(t *testing.T) {
	for _, alone := range []bool{true, false} {
		t.Run(fmt.Sprintf("alone=%v", alone), func(t *testing.T) {
			f := newFixture(t)
			state, rid := f.begin()
			o := f.defaults(rid)
			o.editAssertion = func(a *etree.Element) {
				sub := a.FindElement("./Subject")
				foreign := etree.NewElement("x:NameID")
				foreign.CreateAttr("xmlns:x", "urn:evil")
				foreign.SetText(victim)
				if alone {
					sub.RemoveChild(sub.FindElement("./NameID"))
					sub.InsertChildAt(0, foreign)
				} else {
					sub.InsertChildAt(1, foreign)
				}
			}
			_, err := f.finish(f.bytes(o), state)
			wantCode(t, err, CodeForeignNameID)
		})
	}
}

// TestEncryptedPayloads (SAML-13 d): what is refused in a plain assertion
// is refused inside an encrypted one (changed after signing, as in the
// plain attacks), encrypted to our key, the Response validly signed.
func TestEncryptedPayloads(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(a *etree.Element)
		code string
	}{
		{"foreign NameID", func(a *etree.Element) {
			sub := a.FindElement("./Subject")
			sub.RemoveChild(sub.FindElement("./NameID"))
			foreign := sub.CreateElement("x:NameID")
			foreign.CreateAttr("xmlns:x", "urn:evil")
			foreign.SetText(victim)
		}, CodeForeignNameID},
		{"comment in NameID", func(a *etree.Element) {
			a.FindElement(".//NameID").CreateComment("")
		}, CodeForbiddenMarkup},
		{"round-trip unstable name", func(a *etree.Element) {
			a.FindElement(".//NameID").CreateAttr("x:", "y")
		}, CodeMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			state, rid := f.begin()
			o := f.defaults(rid)
			o.encryptTo = testKey(t, "sp").Certificate
			o.signResponse = true
			o.signedAssertion = tc.edit
			_, err := f.finish(f.bytes(o), state)
			wantCode(t, err, tc.code)
		})
	}
}

// TestSignatureExclusion (SAML-04): stripped, emptied, misplaced,
// duplicated or crippled signatures.
func TestSignatureExclusion(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(doc *etree.Document)
		code string
	}{
		{"every signature stripped", func(doc *etree.Document) { stripSignature(assertionOf(doc)) }, CodeUnsigned},
		{"empty SignatureValue", func(doc *etree.Document) { assertionOf(doc).FindElement(".//SignatureValue").SetText("") }, CodeSignatureInvalid},
		{"Reference URI empty", func(doc *etree.Document) {
			assertionOf(doc).FindElement(".//Reference").CreateAttr("URI", "")
		}, CodeSignatureInvalid},
		{"Reference to a missing ID", func(doc *etree.Document) {
			assertionOf(doc).FindElement(".//Reference").CreateAttr("URI", "#nowhere")
		}, CodeSignatureInvalid},
		{"no SignedInfo", func(doc *etree.Document) {
			sig := child(assertionOf(doc), "Signature")
			sig.RemoveChild(child(sig, "SignedInfo"))
		}, CodeSignatureInvalid},
		{"two signatures", func(doc *etree.Document) {
			a := assertionOf(doc)
			a.AddChild(child(a, "Signature").Copy())
		}, CodeSignatureInvalid},
		{"signature not a direct child", func(doc *etree.Document) {
			a := assertionOf(doc)
			sig := child(a, "Signature")
			a.RemoveChild(sig)
			a.FindElement("./Subject").AddChild(sig)
		}, CodeSignatureInvalid},
		{"XPath transform", func(doc *etree.Document) {
			tr := assertionOf(doc).FindElement(".//Transform")
			tr.CreateAttr("Algorithm", "http://www.w3.org/TR/1999/REC-xpath-19991116")
		}, CodeWeakAlgorithm},
		{"unknown SignatureMethod", func(doc *etree.Document) {
			assertionOf(doc).FindElement(".//SignatureMethod").CreateAttr("Algorithm", "urn:unknown")
		}, CodeWeakAlgorithm},
		{"HMAC SignatureMethod", func(doc *etree.Document) {
			assertionOf(doc).FindElement(".//SignatureMethod").CreateAttr("Algorithm", "http://www.w3.org/2000/09/xmldsig#hmac-sha1")
		}, CodeWeakAlgorithm},
		{"signed assertion without Issuer", func(doc *etree.Document) {
			a := assertionOf(doc)
			a.RemoveChild(child(a, "Issuer"))
		}, CodeIssuerMismatch},
		{"edited after signing", func(doc *etree.Document) { setNameID(assertionOf(doc), victim) }, CodeSignatureInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			state, rid := f.begin()
			doc := f.build(f.defaults(rid))
			tc.edit(doc)
			b, _ := doc.WriteToBytes()
			_, err := f.finish(b, state)
			wantCode(t, err, tc.code)
		})
	}
}

// TestCertificateFaking (SAML-05): an attacker's key behind a copy of the
// IdP certificate's names, or a bare RSAKeyValue, adds no trust.
func TestCertificateFaking(t *testing.T) {
	idp := testKey(t, "idp").Certificate
	attacker := testKey(t, "attacker")
	tmpl := &x509.Certificate{
		SerialNumber: new(big.Int).Set(idp.SerialNumber), Subject: idp.Subject,
		NotBefore: idp.NotBefore, NotAfter: idp.NotAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &attacker.Key.PublicKey, attacker.Key)
	if err != nil {
		t.Fatal(err)
	}
	clone, _ := x509.ParseCertificate(der)
	fake := KeyPair{Key: attacker.Key, Certificate: clone}

	t.Run("cloned certificate", func(t *testing.T) {
		f := newFixture(t)
		state, rid := f.begin()
		o := f.defaults(rid)
		o.key = fake
		_, err := f.finish(f.bytes(o), state)
		wantCode(t, err, CodeUnknownCertificate)
	})
	t.Run("RSAKeyValue", func(t *testing.T) {
		f := newFixture(t)
		state, rid := f.begin()
		o := f.defaults(rid)
		o.key = fake
		doc := f.build(o)
		ki := assertionOf(doc).FindElement(".//KeyInfo")
		for _, c := range ki.ChildElements() {
			ki.RemoveChild(c)
		}
		kv := ki.CreateElement("ds:KeyValue").CreateElement("ds:RSAKeyValue")
		kv.CreateElement("ds:Modulus").SetText(bigB64(attacker.Key.N))
		kv.CreateElement("ds:Exponent").SetText(bigB64(big.NewInt(int64(attacker.Key.E))))
		b, _ := doc.WriteToBytes()
		_, err := f.finish(b, state)
		wantCode(t, err, CodeSignatureInvalid)
	})
}

func bigB64(n *big.Int) string { return b64(n.Bytes()) }

// TestEntityAttacks (SAML-10): any DOCTYPE is refused before parsing, and
// an external entity pointing at a listener fetches nothing.
func TestEntityAttacks(t *testing.T) {
	var hits atomic.Int32
	listener := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer listener.Close()
	laughs := `<!DOCTYPE r [<!ENTITY l0 "ha">` + func() string {
		var b strings.Builder
		for i := 1; i <= 10; i++ {
			fmt.Fprintf(&b, `<!ENTITY l%d "%s">`, i, strings.Repeat(fmt.Sprintf("&l%d;", i-1), 10))
		}
		return b.String()
	}() + `]>`
	for _, tc := range []struct{ name, doctype, nameID string }{
		{"external entity", `<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>`, "&x;"},
		{"parameter entity to a listener", `<!DOCTYPE r [<!ENTITY % p SYSTEM "` + listener.URL + `/p"> %p;]>`, victim},
		{"billion laughs", laughs, "&l10;"},
		{"internal subset only", `<!DOCTYPE r [<!ELEMENT r ANY>]>`, victim},
		{"quadratic blow-up", `<!DOCTYPE r [<!ENTITY a "` + strings.Repeat("a", 100<<10) + `">]>`, strings.Repeat("&a;", 1000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			state, rid := f.begin()
			b := f.bytes(f.defaults(rid))
			b = bytes.Replace(b, []byte("alice@tenant-a.test</saml:NameID>"), []byte(tc.nameID+"</saml:NameID>"), 1)
			doc := append([]byte(tc.doctype), b...)
			_, err := f.finish(doc, state)
			if len(doc) > MaxResponseBytes {
				wantCode(t, err, CodeTooLarge)
			} else {
				wantCode(t, err, CodeForbiddenMarkup)
			}
		})
	}
	if hits.Load() != 0 {
		t.Fatalf("the listener was fetched %d times", hits.Load())
	}
}

// TestRoundTripPayloads (SAML-11): markup encoding/xml would change on a
// round trip, inside a signed response, is refused before crewjam.
func TestRoundTripPayloads(t *testing.T) {
	for _, payload := range []string{
		`<x::Element xmlns:x="urn:x"></x::Element>`,
		`<Element ::attr="foo"></Element>`,
		`<Root :="value"/>`,
		`<Root x:="value"/>`,
		`<Root xmlns="x" xmlns:="y"/>`,
	} {
		t.Run(payload, func(t *testing.T) {
			f := newFixture(t)
			state, rid := f.begin()
			b := f.bytes(f.defaults(rid))
			b = bytes.Replace(b, []byte("</saml:Subject>"), []byte(payload+"</saml:Subject>"), 1)
			_, err := f.finish(b, state)
			wantCode(t, err, CodeMalformed)
		})
	}
}

// TestResourceCaps (SAML-12): oversize, deep and wide documents are
// refused by the caps, and a long (legitimate) group list still signs in.
func TestResourceCaps(t *testing.T) {
	f := newFixture(t)
	state, rid := f.begin()
	deep := strings.Repeat("<a>", 20000) + strings.Repeat("</a>", 20000)
	b := f.bytes(f.defaults(rid))
	_, err := f.finish(bytes.Replace(b, []byte("</saml:Subject>"), []byte(deep+"</saml:Subject>"), 1), state)
	wantCode(t, err, CodeTooLarge)
	_, err = f.finish(bytes.Repeat([]byte(" "), MaxResponseBytes+1), state)
	wantCode(t, err, CodeTooLarge)
	wide := strings.Repeat("<x/>", maxElements)
	_, err = f.finish(bytes.Replace(b, []byte("</saml:Subject>"), []byte(wide+"</saml:Subject>"), 1), state)
	wantCode(t, err, CodeTooLarge)

	t.Run("1500 groups", func(t *testing.T) {
		f := newFixture(t)
		state, rid := f.begin()
		o := f.defaults(rid)
		for i := range 1500 {
			o.attrs[3].Values = append(o.attrs[3].Values, o.attrs[3].Values[0])
			o.attrs[3].Values[len(o.attrs[3].Values)-1].Value = fmt.Sprintf("group-%04d", i)
		}
		id, err := f.finish(f.bytes(o), state)
		if err != nil {
			t.Fatal(err)
		}
		if len(id.Groups) != 1502 {
			t.Fatalf("%d groups", len(id.Groups))
		}
	})
}

// TestDuplicateAttributes (SAML-09): an identity attribute sent twice, or
// a single-valued one with two values, is refused rather than guessed.
func TestDuplicateAttributes(t *testing.T) {
	f := newFixture(t)
	state, rid := f.begin()
	o := f.defaults(rid)
	o.attrs = append(o.attrs, o.attrs[0])
	o.attrs[len(o.attrs)-1].Values = append(o.attrs[0].Values[:0:0], o.attrs[0].Values[0])
	o.attrs[len(o.attrs)-1].Values[0].Value = victim
	_, err := f.finish(f.bytes(o), state)
	wantCode(t, err, CodeDuplicateAttribute)

	state, rid = f.begin()
	o = f.defaults(rid)
	o.attrs[0].Values = append(o.attrs[0].Values, o.attrs[0].Values[0])
	_, err = f.finish(f.bytes(o), state)
	wantCode(t, err, CodeDuplicateAttribute)
}

// TestAnotherConnection (SAML-15): a response minted for tenant B's
// connection — B's IdP key, or A's IdP but B's audience — is no good at A.
func TestAnotherConnection(t *testing.T) {
	f := newFixture(t)
	state, rid := f.begin()
	o := f.defaults(rid)
	o.key = testKey(t, "other-idp")
	_, err := f.finish(f.bytes(o), state)
	wantCode(t, err, CodeUnknownCertificate)

	state, rid = f.begin()
	o = f.defaults(rid)
	o.audience = []string{"https://auth.gatehouse.test/sso/saml/conn_B/metadata"}
	o.recipient = "https://auth.gatehouse.test/sso/saml/conn_B/acs"
	_, err = f.finish(f.bytes(o), state)
	wantCode(t, err, CodeAudienceMismatch)

	// A state Begin made for another connection cannot finish here.
	other := newFixture(t, func(c *Config) { c.ConnectionID = "conn_01TENANTB" })
	otherState, _ := other.begin()
	_, err = f.finish(f.bytes(f.defaults(rid)), otherState)
	wantCode(t, err, CodeState)
}

// TestBindings: only HTTP-POST is accepted at the ACS.
func TestBindings(t *testing.T) {
	f := newFixture(t)
	state, _ := f.begin()
	r := httptest.NewRequest(http.MethodGet, acsURL+"?SAMLResponse=x", nil)
	_, err := f.conn.Finish(context.Background(), r, state)
	wantCode(t, err, CodeUnsupportedBinding)
	r = acsRequest("x")
	r.URL.RawQuery = "SAMLart=AAQAAA"
	_, err = f.conn.Finish(context.Background(), r, state)
	wantCode(t, err, CodeUnsupportedBinding)
	_, err = f.conn.Finish(context.Background(), acsRequest("!!not base64"), state)
	wantCode(t, err, CodeMalformed)
	big := strings.Repeat("A", maxFormBytes+1)
	_, err = f.conn.Finish(context.Background(), acsRequest(big), state)
	wantCode(t, err, CodeTooLarge)
}

// TestSingleElements (SAML-09): elements a reader could choose between
// are refused when doubled, even validly signed.
func TestSingleElements(t *testing.T) {
	double := func(path string) func(*etree.Element) {
		return func(a *etree.Element) {
			el := a.FindElement(path)
			c := el.Copy()
			if n := c.FindElement(".//NameID"); n != nil && path != "./Subject/NameID" {
				n.SetText(victim)
			} else if path == "./Subject/NameID" {
				c.SetText(victim)
			}
			el.Parent().InsertChildAt(el.Index()+1, c)
		}
	}
	for _, tc := range []struct {
		name string
		edit func(o *resp)
		code string
	}{
		{"two NameIDs", func(o *resp) { o.editAssertion = double("./Subject/NameID") }, CodeMalformed},
		{"two Subjects", func(o *resp) { o.editAssertion = double("./Subject") }, CodeMalformed},
		{"two Conditions", func(o *resp) { o.editAssertion = double("./Conditions") }, CodeMalformed},
		{"two assertion Issuers", func(o *resp) { o.editAssertion = double("./Issuer") }, CodeMalformed},
		{"two Response Issuers", func(o *resp) { o.signResponse, o.editResponse = true, double("./Issuer") }, CodeMalformed},
		{"two SubjectConfirmationData", func(o *resp) { o.editAssertion = double(".//SubjectConfirmationData") }, CodeMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			state, rid := f.begin()
			o := f.defaults(rid)
			tc.edit(o)
			_, err := f.finish(f.bytes(o), state)
			wantCode(t, err, tc.code)
		})
	}
}
