package saml

import (
	"bytes"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/crewjam/saml/xmlenc"
)

// TestCrewjamRoundTripCheck: on the way to an acceptance, the round-trip
// check (SAML-11) is crewjam's, which ParseXMLResponse runs on the raw
// Response and on a decrypted assertion before it parses either
// (precheck.go, roundTrip). Called past precheck, crewjam must still refuse
// every round-trip payload, or an upgrade has dropped the check and
// precheck must run it on every document again.
func TestCrewjamRoundTripCheck(t *testing.T) {
	const marker = "<Marker>urn:gatehouse:roundtrip</Marker>"
	for _, encrypted := range []bool{false, true} {
		// What mattermost's validator refuses (on Go 1.26, encoding/xml
		// itself refuses these names; the QNames it reads otherwise are
		// precheck's, TestRoundTripPayloads).
		for _, payload := range []string{
			`<x::Element xmlns:x="urn:x"></x::Element>`,
			`<Element ::attr="foo"></Element>`,
			`<x:y:z xmlns:x="urn:x"/>`,
			`<Root xmlns:x="urn:x" x:a:b="v"/>`,
			`<Root xmlns:x:y="urn:x"/>`,
		} {
			name := map[bool]string{false: "plain ", true: "encrypted "}[encrypted] + payload
			t.Run(name, func(t *testing.T) {
				f := newFixture(t)
				_, rid := f.begin()
				now := f.clock.Now()
				var plain []byte
				o := f.defaults(rid)
				// The marker is signed in; the payload replaces it, which
				// breaks the signature, but the round-trip check comes first.
				o.editAssertion = func(a *etree.Element) {
					a.FindElement("./Subject").CreateElement("Marker").SetText("urn:gatehouse:roundtrip")
				}
				o.signedAssertion = func(a *etree.Element) {
					doc := etree.NewDocument()
					doc.SetRoot(a.Copy())
					plain, _ = doc.WriteToBytes()
				}
				if encrypted {
					// The payload goes into the plaintext, which etree
					// cannot hold: the Response's plain Assertion is
					// replaced by the EncryptedAssertion of the spliced
					// bytes before the Response is signed.
					o.signResponse = true
					encryptAs := func(payload string) func(r *etree.Element) {
						return func(r *etree.Element) {
							r.RemoveChild(r.FindElement("./Assertion"))
							wrap := r.CreateElement("saml:EncryptedAssertion")
							enc := xmlenc.OAEP()
							enc.BlockCipher = xmlenc.AES256GCM
							el, err := enc.Encrypt(testKey(t, "sp").Certificate, bytes.Replace(plain, []byte(marker), []byte(payload), 1), nil)
							if err != nil {
								t.Fatal(err)
							}
							el.CreateAttr("Type", "http://www.w3.org/2001/04/xmlenc#Element")
							wrap.AddChild(el)
						}
					}
					o.editResponse = encryptAs(marker)
					if _, rej := f.conn.verify(f.bytes(o), shape{}, rid, now); rej != nil {
						t.Fatalf("the response without the payload is refused: %v", rej)
					}
					o.editResponse = encryptAs(payload)
					bad := f.bytes(o)
					refused(t, f, bad, rid, true)
					return
				}
				good := f.bytes(o)
				if _, rej := f.conn.verify(good, shape{}, rid, now); rej != nil {
					t.Fatalf("the response without the payload is refused: %v", rej)
				}
				refused(t, f, bytes.Replace(good, []byte(marker), []byte(payload), 1), rid, false)
			})
		}
	}
}

func refused(t *testing.T, f *fixture, raw []byte, rid string, encrypted bool) {
	t.Helper()
	if !encrypted && roundTrip(raw) == nil {
		t.Fatal("mattermost's validator accepts the payload: the test proves nothing")
	}
	_, rej := f.conn.verify(raw, shape{}, rid, f.clock.Now())
	switch {
	case rej == nil:
		t.Fatal("crewjam accepted a round-trip-unstable response: precheck must run the round-trip check itself")
	case !encrypted && !strings.Contains(rej.Reason, "invalid xml"):
		t.Fatalf("refused, but not by crewjam's round-trip check: %v", rej)
	case encrypted && rej.Code != CodeDecryptionFailed && !strings.Contains(rej.Reason, "invalid xml"):
		// crewjam parses the plaintext as it decrypts it.
		t.Fatalf("refused, but not before the decrypted assertion was read: %v", rej)
	}
	t.Log(rej)
}
