package saml

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	xrv "github.com/mattermost/xml-roundtrip-validator"
)

// Namespaces read by the structural checks.
const (
	nsAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	nsProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
	nsDSig      = "http://www.w3.org/2000/09/xmldsig#"
	statusOK    = "urn:oasis:names:tc:SAML:2.0:status:Success"
)

// Caps on a Response (SAML-12). A real one is a few kilobytes; the
// largest (an AD FS user in a thousand groups) stays far below these.
const (
	MaxResponseBytes = 512 << 10 // decoded XML
	maxDepth         = 32
	maxElements      = 20000
)

// allowedAlgorithms are the signature, digest and transform algorithms
// a Response may name (SAML-04 h, SAML-06): RSA and ECDSA with SHA-2,
// SHA-2 digests, the enveloped-signature transform and canonicalization
// without comments. Anything else (SHA-1, HMAC, XPath, XSLT, c14n with
// comments) is refused before verification.
var allowedAlgorithms = map[string]bool{
	"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256":     true,
	"http://www.w3.org/2001/04/xmldsig-more#rsa-sha384":     true,
	"http://www.w3.org/2001/04/xmldsig-more#rsa-sha512":     true,
	"http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256":   true,
	"http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384":   true,
	"http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512":   true,
	"http://www.w3.org/2001/04/xmlenc#sha256":               true,
	"http://www.w3.org/2001/04/xmldsig-more#sha384":         true,
	"http://www.w3.org/2001/04/xmlenc#sha512":               true,
	"http://www.w3.org/2000/09/xmldsig#enveloped-signature": true,
	"http://www.w3.org/2001/10/xml-exc-c14n#":               true,
	"http://www.w3.org/TR/2001/REC-xml-c14n-20010315":       true,
	"http://www.w3.org/2006/12/xml-c14n11":                  true,
}

// shape is what the structural pass learned about a Response, read from
// the bytes as received. It only ever refuses: what Finish accepts is read
// from what crewjam verified.
type shape struct {
	responseSigned  bool
	assertionSigned bool
	encrypted       bool
	destination     *string
	inResponseTo    string
	responseIssuer  *string
	// keyInfoCerts are the certificates the signatures carry in KeyInfo,
	// for naming an unknown signer.
	keyInfoCerts [][]byte
}

type frame struct {
	name       xml.Name
	signatures int
	// children counts the element's children in the SAML assertion
	// namespace by local name, for the at-most-one rules.
	children map[string]int
	text     strings.Builder
}

// single are the children an element may hold at most once (SAML Core
// §2.3.3, §2.4.1, §2.4.1.1), so that no reader can pick a different one
// than another: two Issuers, Subjects or NameIDs are refused, not chosen
// from. An Assertion's Issuer is required (the nil-Issuer panic of
// GO-2026-6909).
var single = map[xml.Name][]string{
	{Space: nsProtocol, Local: "Response"}:             {"Issuer"},
	{Space: nsAssertion, Local: "Assertion"}:           {"Issuer", "Subject", "Conditions"},
	{Space: nsAssertion, Local: "Subject"}:             {"NameID", "EncryptedID", "BaseID"},
	{Space: nsAssertion, Local: "SubjectConfirmation"}: {"NameID", "EncryptedID", "BaseID", "SubjectConfirmationData"},
}

// checkSingles applies single to an element that has ended.
func checkSingles(f *frame) *Rejection {
	names := single[f.name]
	for _, n := range names {
		if c := f.children[n]; c > 1 {
			return reject(CodeMalformed, "%s has %d %s elements, want at most one", f.name.Local, c, n)
		}
	}
	if f.name.Local == "Subject" && f.children["NameID"]+f.children["EncryptedID"]+f.children["BaseID"] > 1 {
		return reject(CodeMalformed, "Subject names its principal more than once (NameID, EncryptedID, BaseID)")
	}
	if f.name == (xml.Name{Space: nsAssertion, Local: "Assertion"}) && f.children["Issuer"] != 1 {
		return reject(CodeIssuerMismatch, "assertion has no Issuer")
	}
	return nil
}

// precheck refuses what no legitimate Response carries before any library
// parses it: forbidden markup, round-trip-unstable XML, oversized or
// overdeep documents, and every shape that the signature wrapping,
// multiple-assertion and namespace-confusion attacks need (doc.go).
func precheck(raw []byte) (shape, *Rejection) {
	var s shape
	if len(raw) > MaxResponseBytes {
		return s, reject(CodeTooLarge, "response of %d bytes is over the %d-byte cap", len(raw), MaxResponseBytes)
	}
	if r := checkMarkup(raw); r != nil {
		return s, r
	}
	s, rej := structure(raw)
	if rej != nil {
		// What is misread is refused as such: the round trip is the
		// precise reason when it fails.
		if r := roundTrip(raw); r != nil {
			return s, r
		}
	}
	return s, rej
}

// roundTrip refuses XML that encoding/xml would not read back as it was
// (SAML-11), with mattermost/xml-roundtrip-validator. On the way to an
// acceptance it need not run: crewjam's ParseXMLResponse runs its own
// copy of the same check, stricter (depth and namespace caps), first
// thing on the very bytes precheck reads, and on a decrypted assertion
// before parsing it (TestCrewjamRoundTripCheck keeps that true), and
// precheck only ever refuses. It runs where it names a refusal's reason:
// when precheck or crewjam refuses.
func roundTrip(raw []byte) *Rejection {
	if err := xrv.Validate(bytes.NewReader(raw)); err != nil {
		return &Rejection{Code: CodeMalformed, Reason: fmt.Sprintf("XML that does not survive an encoding/xml round trip: %v", err), Err: err}
	}
	return nil
}

// structure is precheck's token pass: the shape rules, read with
// encoding/xml's namespace resolution.
func structure(raw []byte) (shape, *Rejection) {
	var s shape
	d := xml.NewDecoder(bytes.NewReader(raw))
	var stack []*frame
	elements, responses, assertions := 0, 0, 0
	ids := map[string]bool{}
	var statusCodes []string
	inKeyInfoCert := false
	inSignature := 0
	var certText strings.Builder
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return s, &Rejection{Code: CodeMalformed, Reason: fmt.Sprintf("not well-formed XML: %v", err), Err: err}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			elements++
			if elements > maxElements {
				return s, reject(CodeTooLarge, "more than %d elements", maxElements)
			}
			if len(stack) >= maxDepth {
				return s, reject(CodeTooLarge, "elements nested deeper than %d", maxDepth)
			}
			var parent *frame
			if len(stack) > 0 {
				parent = stack[len(stack)-1]
			}
			if r := checkElement(&s, t, parent, len(stack), inSignature > 0, ids); r != nil {
				return s, r
			}
			switch t.Name {
			case xml.Name{Space: nsProtocol, Local: "Response"}:
				responses++
			case xml.Name{Space: nsAssertion, Local: "Assertion"}, xml.Name{Space: nsAssertion, Local: "EncryptedAssertion"}:
				assertions++
				s.encrypted = t.Name.Local == "EncryptedAssertion"
			case xml.Name{Space: nsProtocol, Local: "StatusCode"}:
				if parent != nil && parent.name == (xml.Name{Space: nsProtocol, Local: "Status"}) {
					statusCodes = append(statusCodes, attr(t, "Value"))
				}
			case xml.Name{Space: nsDSig, Local: "Signature"}:
				inSignature++
			case xml.Name{Space: nsDSig, Local: "X509Certificate"}:
				inKeyInfoCert = true
				certText.Reset()
			}
			stack = append(stack, &frame{name: t.Name})
		case xml.EndElement:
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if top.name == (xml.Name{Space: nsDSig, Local: "Signature"}) {
				inSignature--
			}
			if r := checkSingles(top); r != nil {
				return s, r
			}
			if top.name == (xml.Name{Space: nsAssertion, Local: "Issuer"}) && len(stack) == 1 && stack[0].name.Local == "Response" {
				v := strings.TrimSpace(top.text.String())
				s.responseIssuer = &v
			}
			if inKeyInfoCert && top.name.Local == "X509Certificate" {
				inKeyInfoCert = false
				if der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(certText.String()), "")); err == nil {
					s.keyInfoCerts = append(s.keyInfoCerts, der)
				}
			}
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			}
			if inKeyInfoCert {
				certText.Write(t)
			}
		case xml.Comment:
			return s, reject(CodeForbiddenMarkup, "XML comment in a protocol message")
		case xml.ProcInst:
			if t.Target != "xml" || elements > 0 {
				return s, reject(CodeForbiddenMarkup, "processing instruction <?%s?> in a protocol message", t.Target)
			}
		case xml.Directive:
			return s, reject(CodeForbiddenMarkup, "markup declaration <!%.20s…> in a protocol message", t)
		}
	}
	if responses != 1 {
		return s, reject(CodeMalformed, "%d samlp:Response elements, want exactly one", responses)
	}
	if len(statusCodes) == 0 {
		return s, reject(CodeMalformed, "Response has no Status")
	}
	if statusCodes[0] != statusOK {
		return s, reject(CodeStatus, "the IdP answered %s", strings.Join(statusCodes, " / "))
	}
	switch {
	case assertions == 0:
		return s, reject(CodeNoAssertion, "Response carries no Assertion")
	case assertions > 1:
		return s, reject(CodeMultipleAssertions, "Response carries %d Assertion or EncryptedAssertion elements, want exactly one", assertions)
	}
	return s, nil
}

// checkElement applies the per-element rules to t, a child of parent at
// depth. Algorithms are checked inside a ds:Signature only: an
// EncryptedKey's OAEP digest (SHA-1 by default) is not a signature.
func checkElement(s *shape, t xml.StartElement, parent *frame, depth int, inSignature bool, ids map[string]bool) *Rejection {
	// A name that is not a namespace-well-formed QName (":a", "x:", "a:b:c")
	// is read differently by encoding/xml and etree (SAML-11).
	if !qname(t.Name) {
		return reject(CodeMalformed, "element name %q is not a qualified name", t.Name.Local)
	}
	for _, a := range t.Attr {
		if !qname(a.Name) {
			return reject(CodeMalformed, "attribute name %q is not a qualified name", a.Name.Local)
		}
	}
	if depth == 0 && t.Name != (xml.Name{Space: nsProtocol, Local: "Response"}) {
		return reject(CodeMalformed, "root element is {%s}%s, not samlp:Response", t.Name.Space, t.Name.Local)
	}
	for _, a := range t.Attr {
		if a.Name.Space == "" && a.Name.Local == "ID" {
			if ids[a.Value] {
				return reject(CodeMalformed, "ID %q appears twice", a.Value)
			}
			ids[a.Value] = true
		}
		if a.Name.Space == "" && a.Name.Local == "Algorithm" && inSignature && isAlgorithmElement(t.Name) && !allowedAlgorithms[a.Value] {
			return reject(CodeWeakAlgorithm, "%s algorithm %s is not allowed (RSA or ECDSA with SHA-256 or stronger, exclusive or inclusive c14n without comments)", t.Name.Local, a.Value)
		}
	}
	if parent != nil && t.Name.Space == nsAssertion {
		if parent.children == nil {
			parent.children = map[string]int{}
		}
		parent.children[t.Name.Local]++
	}
	if t.Name.Local == "NameID" && t.Name.Space != nsAssertion {
		return reject(CodeForeignNameID, "NameID in namespace %q, not the SAML assertion namespace", t.Name.Space)
	}
	switch t.Name {
	case xml.Name{Space: nsAssertion, Local: "Assertion"}, xml.Name{Space: nsAssertion, Local: "EncryptedAssertion"}:
		if depth != 1 {
			return reject(CodeMultipleAssertions, "%s nested at depth %d, not a child of the Response", t.Name.Local, depth)
		}
	case xml.Name{Space: nsDSig, Local: "Signature"}:
		if parent == nil || depth != 1 && depth != 2 || parent.name != (xml.Name{Space: nsProtocol, Local: "Response"}) && parent.name != (xml.Name{Space: nsAssertion, Local: "Assertion"}) {
			where := "the root"
			if parent != nil {
				where = "{" + parent.name.Space + "}" + parent.name.Local
			}
			return reject(CodeSignatureInvalid, "ds:Signature inside %s at depth %d: only the Response and its Assertion may be signed, each by a direct child", where, depth)
		}
		parent.signatures++
		if parent.signatures > 1 {
			return reject(CodeSignatureInvalid, "%s carries %d ds:Signature elements", parent.name.Local, parent.signatures)
		}
		if depth == 1 {
			s.responseSigned = true
		} else {
			s.assertionSigned = true
		}
	}
	if depth == 0 {
		for _, a := range t.Attr {
			if a.Name.Space != "" {
				continue
			}
			switch a.Name.Local {
			case "Destination":
				v := a.Value
				s.destination = &v
			case "InResponseTo":
				s.inResponseTo = a.Value
			}
		}
	}
	return nil
}

func qname(n xml.Name) bool {
	return n.Local != "" && !strings.Contains(n.Local, ":")
}

func isAlgorithmElement(n xml.Name) bool {
	if n.Space != nsDSig {
		return false
	}
	switch n.Local {
	case "SignatureMethod", "DigestMethod", "Transform", "CanonicalizationMethod":
		return true
	}
	return false
}

func attr(t xml.StartElement, local string) string {
	for _, a := range t.Attr {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// checkMarkup refuses, by a byte scan before any parser runs, the markup
// a SAML protocol message never needs: a DOCTYPE (entities, XXE, SAML-10),
// comments and CDATA sections (text-node splitting, SAML-03), and
// processing instructions other than the XML declaration. "<!" and "<?"
// cannot occur in well-formed text or attribute values, so the scan has
// no false matches.
func checkMarkup(raw []byte) *Rejection {
	if i := bytes.Index(raw, []byte("<!")); i >= 0 {
		rest := raw[i:]
		switch {
		case bytes.HasPrefix(rest, []byte("<!DOCTYPE")):
			return reject(CodeForbiddenMarkup, "DOCTYPE in a protocol message")
		case bytes.HasPrefix(rest, []byte("<!--")):
			return reject(CodeForbiddenMarkup, "XML comment in a protocol message")
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			return reject(CodeForbiddenMarkup, "CDATA section in a protocol message")
		default:
			return reject(CodeForbiddenMarkup, "markup declaration in a protocol message")
		}
	}
	body := bytes.TrimLeft(raw, "\ufeff \t\r\n")
	if bytes.HasPrefix(body, []byte("<?xml")) && len(body) > 5 && (body[5] == ' ' || body[5] == '?' || body[5] == '\t' || body[5] == '\r' || body[5] == '\n') {
		end := bytes.Index(body, []byte("?>"))
		if end < 0 {
			return reject(CodeMalformed, "unterminated XML declaration")
		}
		body = body[end+2:]
	}
	if bytes.Contains(body, []byte("<?")) {
		return reject(CodeForbiddenMarkup, "processing instruction in a protocol message")
	}
	return nil
}

// fingerprint is a certificate's SHA-256 fingerprint as admins see it
// in their IdP's console (hex, colon-separated).
func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

// unknownSigners names the KeyInfo certificates that are not among certs.
func (s shape) unknownSigners(certs []*x509.Certificate) []string {
	var out []string
	for _, der := range s.keyInfoCerts {
		known := false
		for _, c := range certs {
			if bytes.Equal(c.Raw, der) {
				known = true
			}
		}
		if !known {
			out = append(out, fingerprint(der))
		}
	}
	return out
}
