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
	"maps"
	"strings"

	"github.com/beevik/etree"
	xrv "github.com/mattermost/xml-roundtrip-validator"
)

// Namespaces read by the structural checks.
const (
	nsAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	nsProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
	nsDSig      = "http://www.w3.org/2000/09/xmldsig#"
	nsXSI       = "http://www.w3.org/2001/XMLSchema-instance"
	statusOK    = "urn:oasis:names:tc:SAML:2.0:status:Success"
)

// Caps on a Response (SAML-12). A real one is a few kilobytes; the
// largest (an AD FS user in a thousand groups) stays far below these.
const (
	MaxResponseBytes = 512 << 10 // decoded XML
	maxDepth         = 32
	maxElements      = 20000
	// maxNamespaces caps the namespace declarations in scope at any
	// element, as crewjam's round-trip check does: canonicalization and
	// namespace resolution cost elements × declarations in scope.
	maxNamespaces = 64
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
// from what a signature verified.
type shape struct {
	responseSigned  bool
	assertionSigned bool
	encrypted       bool
	// encryptedParts: the assertion holds an EncryptedID or an
	// EncryptedAttribute, which only crewjam decrypts.
	encryptedParts bool
	destination    *string
	inResponseTo   string
	responseIssuer *string
	// keyInfoCerts are the certificates the signatures carry in KeyInfo,
	// for naming an unknown signer.
	keyInfoCerts [][]byte
	// response is the root element; assertion the plaintext Assertion and
	// assertionSignature its ds:Signature, in the tree as received.
	response, assertion, assertionSignature *etree.Element
}

// frame is what the structural pass keeps of an element while it reads
// the element's children.
type frame struct {
	name       xml.Name
	signatures int
	// counts are the element's children named in single[name], by their
	// index there.
	counts []int
}

// single are the children an element may hold at most once (SAML Core
// §2.3.3, §2.4.1, §2.4.1.1, §3.2.2, §3.2.2.1), so that no reader can pick
// a different one than another: two Issuers, Subjects, NameIDs or Status
// elements are refused, not chosen from. An Assertion's Issuer and a
// Response's Status are required (the nil-Issuer panic of GO-2026-6909;
// encoding/xml would read a missing Status as an empty one).
var single = map[xml.Name][]xml.Name{
	{Space: nsProtocol, Local: "Response"}:             {{Space: nsAssertion, Local: "Issuer"}, {Space: nsProtocol, Local: "Status"}},
	{Space: nsProtocol, Local: "Status"}:               {{Space: nsProtocol, Local: "StatusCode"}},
	{Space: nsAssertion, Local: "Assertion"}:           {{Space: nsAssertion, Local: "Issuer"}, {Space: nsAssertion, Local: "Subject"}, {Space: nsAssertion, Local: "Conditions"}},
	{Space: nsAssertion, Local: "Subject"}:             {{Space: nsAssertion, Local: "NameID"}, {Space: nsAssertion, Local: "EncryptedID"}, {Space: nsAssertion, Local: "BaseID"}},
	{Space: nsAssertion, Local: "SubjectConfirmation"}: {{Space: nsAssertion, Local: "NameID"}, {Space: nsAssertion, Local: "EncryptedID"}, {Space: nsAssertion, Local: "BaseID"}, {Space: nsAssertion, Local: "SubjectConfirmationData"}},
}

// checkSingles applies single to an element that has ended.
func checkSingles(f *frame) *Rejection {
	names := single[f.name]
	for i, n := range names {
		if c := f.counts[i]; c > 1 {
			return reject(CodeMalformed, "%s has %d %s elements, want at most one", f.name.Local, c, n.Local)
		}
	}
	switch f.name {
	case xml.Name{Space: nsAssertion, Local: "Subject"}:
		if f.counts[0]+f.counts[1]+f.counts[2] > 1 {
			return reject(CodeMalformed, "Subject names its principal more than once (NameID, EncryptedID, BaseID)")
		}
	case xml.Name{Space: nsAssertion, Local: "Assertion"}:
		if f.counts[0] != 1 {
			return reject(CodeIssuerMismatch, "assertion has no Issuer")
		}
	case xml.Name{Space: nsProtocol, Local: "Response"}:
		if f.counts[1] != 1 {
			return reject(CodeMalformed, "Response has no Status")
		}
	case xml.Name{Space: nsProtocol, Local: "Status"}:
		if f.counts[0] != 1 {
			return reject(CodeMalformed, "Status has no StatusCode")
		}
	}
	return nil
}

// readSettings is how a Response is parsed (etree, over encoding/xml's
// tokenizer): a repeated attribute is kept, so that it is refused rather
// than silently merged (XML 1.0 "Unique Att Spec"); an encoding other than
// UTF-8 is refused, as encoding/xml refuses it without a CharsetReader
// (etree would read the bytes as UTF-8 whatever they are); nesting stops
// at maxDepth.
var readSettings = etree.ReadSettings{
	CharsetReader: func(charset string, _ io.Reader) (io.Reader, error) {
		return nil, fmt.Errorf("encoding %q declared: only UTF-8 is read", charset)
	},
	PreserveDuplicateAttrs: true,
	MaxDepth:               maxDepth,
}

// precheck refuses what no legitimate Response carries before any library
// reads it: forbidden markup, oversized or overdeep documents, and every
// shape that the signature wrapping, multiple-assertion and
// namespace-confusion attacks need (doc.go). It parses raw once, with
// etree; the shape it returns points into that tree.
func precheck(raw []byte) (shape, *Rejection) {
	var s shape
	if len(raw) > MaxResponseBytes {
		return s, reject(CodeTooLarge, "response of %d bytes is over the %d-byte cap", len(raw), MaxResponseBytes)
	}
	if r := checkMarkup(raw); r != nil {
		return s, r
	}
	doc := etree.NewDocument()
	doc.ReadSettings = readSettings
	err := doc.ReadFromBytes(raw)
	switch {
	case errors.Is(err, etree.ErrMaxDepth):
		return s, reject(CodeTooLarge, "elements nested deeper than %d", maxDepth)
	case err != nil:
		return s, &Rejection{Code: CodeMalformed, Reason: fmt.Sprintf("not well-formed XML: %v", err), Err: err}
	}
	return structure(doc)
}

// roundTrip refuses XML that encoding/xml would not read back as it was
// (SAML-11), with mattermost/xml-roundtrip-validator. On the way to an
// acceptance it need not run: this package's own path reads every value
// from the element goxmldsig parsed from the bytes it verified, with no
// second parser and no re-encoding (doc.go), and crewjam's
// ParseXMLResponse, which re-encodes, runs its own copy of the same check,
// stricter, first thing on the very bytes precheck reads and on a
// decrypted assertion before parsing it (TestCrewjamRoundTripCheck keeps
// that true); precheck only ever refuses. It is not run on a refused
// Response either: on Go 1.26 every document it refuses is one etree
// cannot parse or that precheck's name rules refuse (TestRoundTripPayloads),
// so it would name nothing new, and it costs about a second for half a
// megabyte, which a POST anyone can send to the ACS must not buy. It
// checks every IdP metadata document.
func roundTrip(raw []byte) *Rejection {
	if err := xrv.Validate(bytes.NewReader(raw)); err != nil {
		return &Rejection{Code: CodeMalformed, Reason: fmt.Sprintf("XML that does not survive an encoding/xml round trip: %v", err), Err: err}
	}
	return nil
}

// scope is the namespace bindings in force at an element. Names are
// resolved in it exactly as encoding/xml's Decoder.Token resolves them
// (its translate), so that the rules read the names crewjam's
// encoding/xml reader reads; n counts the declarations in scope.
type scope struct {
	m map[string]string
	n int
}

const xmlURL = "http://www.w3.org/XML/1998/namespace"

// enter is the scope inside el. The map is copied only when el declares
// something, which few elements do.
func (sc scope) enter(el *etree.Element) scope {
	declares := false
	for _, a := range el.Attr {
		if a.Space == "xmlns" || a.Space == "" && a.Key == "xmlns" {
			declares = true
			break
		}
	}
	if !declares {
		return sc
	}
	m := make(map[string]string, len(sc.m)+4)
	maps.Copy(m, sc.m)
	out := scope{m: m, n: sc.n}
	for _, a := range el.Attr {
		switch {
		case a.Space == "xmlns":
			m[a.Key] = a.Value
			out.n++
		case a.Space == "" && a.Key == "xmlns":
			m[""] = a.Value
			out.n++
		}
	}
	return out
}

// name resolves a prefixed name: an element's when element, else an
// attribute's (which the default namespace does not reach). An undeclared
// prefix stays as it is, as encoding/xml leaves it; the rules then see a
// name in no SAML namespace.
func (sc scope) name(prefix, local string, element bool) xml.Name {
	switch {
	case prefix == "xmlns":
		return xml.Name{Space: prefix, Local: local}
	case prefix == "" && !element:
		return xml.Name{Local: local}
	case prefix == "xml":
		return xml.Name{Space: xmlURL, Local: local}
	case prefix == "" && local == "xmlns":
		return xml.Name{Local: local}
	}
	if v, ok := sc.m[prefix]; ok {
		return xml.Name{Space: v, Local: local}
	}
	return xml.Name{Space: prefix, Local: local}
}

// text is the character data directly inside el, as encoding/xml's
// ",chardata" reads it: every text child, none of its children's.
func text(el *etree.Element) string {
	var b strings.Builder
	for _, c := range el.Child {
		if cd, ok := c.(*etree.CharData); ok {
			b.WriteString(cd.Data)
		}
	}
	return b.String()
}

// walker is the structural pass over a parsed Response, in document
// order.
type walker struct {
	s                              shape
	elements, responses, assertion int
	ids                            map[string]bool
	statusCodes                    []string
	inSignature                    int
}

// structure is precheck's pass over the tree: the shape rules, on names
// resolved as encoding/xml resolves them.
func structure(doc *etree.Document) (shape, *Rejection) {
	w := walker{ids: map[string]bool{}}
	for _, c := range doc.Child {
		switch t := c.(type) {
		case *etree.Element:
			if r := w.walk(t, nil, 0, scope{}); r != nil {
				return w.s, r
			}
		case *etree.ProcInst:
			if t.Target != "xml" || w.elements > 0 {
				return w.s, reject(CodeForbiddenMarkup, "processing instruction <?%s?> in a protocol message", t.Target)
			}
		case *etree.Comment, *etree.Directive:
			return w.s, reject(CodeForbiddenMarkup, "comment or markup declaration in a protocol message")
		}
	}
	s := w.s
	if w.responses != 1 {
		return s, reject(CodeMalformed, "%d samlp:Response elements, want exactly one", w.responses)
	}
	if len(w.statusCodes) == 0 {
		return s, reject(CodeMalformed, "Response has no Status")
	}
	for _, code := range w.statusCodes {
		if code != statusOK {
			return s, reject(CodeStatus, "the IdP answered %s", strings.Join(w.statusCodes, " / "))
		}
	}
	switch {
	case w.assertion == 0:
		return s, reject(CodeNoAssertion, "Response carries no Assertion")
	case w.assertion > 1:
		return s, reject(CodeMultipleAssertions, "Response carries %d Assertion or EncryptedAssertion elements, want exactly one", w.assertion)
	}
	return s, nil
}

// walk checks el, a child of parent at depth, and its subtree.
func (w *walker) walk(el *etree.Element, parent *frame, depth int, sc scope) *Rejection {
	w.elements++
	if w.elements > maxElements {
		return reject(CodeTooLarge, "more than %d elements", maxElements)
	}
	if depth >= maxDepth {
		return reject(CodeTooLarge, "elements nested deeper than %d", maxDepth)
	}
	sc = sc.enter(el)
	if sc.n > maxNamespaces {
		return reject(CodeTooLarge, "more than %d namespace declarations in scope", maxNamespaces)
	}
	name := sc.name(el.Space, el.Tag, true)
	if r := w.checkElement(el, name, sc, parent, depth); r != nil {
		return r
	}
	switch name {
	case xml.Name{Space: nsProtocol, Local: "Response"}:
		w.responses++
	case xml.Name{Space: nsAssertion, Local: "Assertion"}, xml.Name{Space: nsAssertion, Local: "EncryptedAssertion"}:
		w.assertion++
		w.s.encrypted = name.Local == "EncryptedAssertion"
		if !w.s.encrypted {
			w.s.assertion = el
		}
	case xml.Name{Space: nsAssertion, Local: "EncryptedID"}, xml.Name{Space: nsAssertion, Local: "EncryptedAttribute"}:
		w.s.encryptedParts = true
	case xml.Name{Space: nsProtocol, Local: "StatusCode"}:
		if parent != nil && parent.name == (xml.Name{Space: nsProtocol, Local: "Status"}) {
			w.statusCodes = append(w.statusCodes, attr(el, "Value"))
		}
	case xml.Name{Space: nsDSig, Local: "Signature"}:
		w.inSignature++
	}
	f := &frame{name: name}
	if n := len(single[name]); n > 0 {
		f.counts = make([]int, n)
	}
	for _, c := range el.Child {
		switch t := c.(type) {
		case *etree.Element:
			if r := w.walk(t, f, depth+1, sc); r != nil {
				return r
			}
		case *etree.ProcInst:
			return reject(CodeForbiddenMarkup, "processing instruction <?%s?> in a protocol message", t.Target)
		case *etree.Comment:
			return reject(CodeForbiddenMarkup, "XML comment in a protocol message")
		case *etree.Directive:
			return reject(CodeForbiddenMarkup, "markup declaration in a protocol message")
		}
	}
	if name == (xml.Name{Space: nsDSig, Local: "Signature"}) {
		w.inSignature--
	}
	if r := checkSingles(f); r != nil {
		return r
	}
	switch {
	case name == (xml.Name{Space: nsAssertion, Local: "Issuer"}) && depth == 1:
		// As crewjam compares it: untrimmed.
		v := text(el)
		w.s.responseIssuer = &v
	case name == (xml.Name{Space: nsDSig, Local: "X509Certificate"}):
		if der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(text(el)), "")); err == nil {
			w.s.keyInfoCerts = append(w.s.keyInfoCerts, der)
		}
	}
	return nil
}

// checkElement applies the per-element rules to el, named name in sc, a
// child of parent at depth. Algorithms are checked inside a ds:Signature
// only: an EncryptedKey's OAEP digest (SHA-1 by default) is not a
// signature.
func (w *walker) checkElement(el *etree.Element, name xml.Name, sc scope, parent *frame, depth int) *Rejection {
	s := &w.s
	// A name that is not a namespace-well-formed QName (":a", "x:", "a:b:c")
	// is read differently by encoding/xml and etree (SAML-11).
	if !qname(el.Tag) {
		return reject(CodeMalformed, "element name %q is not a qualified name", el.Tag)
	}
	for i, a := range el.Attr {
		if !qname(a.Key) {
			return reject(CodeMalformed, "attribute name %q is not a qualified name", a.Key)
		}
		an := sc.name(a.Space, a.Key, false)
		for _, b := range el.Attr[:i] {
			if b.Space == a.Space && b.Key == a.Key || sc.name(b.Space, b.Key, false) == an {
				return reject(CodeMalformed, "attribute %s appears twice on %s", a.FullKey(), el.FullTag())
			}
		}
		if (an.Space == xmlURL || an.Space == nsXSI) && !reservedAttrs[an] {
			// encoding/xml would read it for the attribute of the same
			// local name (crewjam keeps the xml and xsi namespaces).
			return reject(CodeMalformed, "attribute %s is not one XML or XML Schema define", a.FullKey())
		}
	}
	if depth == 0 && name != (xml.Name{Space: nsProtocol, Local: "Response"}) {
		return reject(CodeMalformed, "root element is {%s}%s, not samlp:Response", name.Space, name.Local)
	}
	for _, a := range el.Attr {
		an := sc.name(a.Space, a.Key, false)
		if an == (xml.Name{Local: "ID"}) {
			if w.ids[a.Value] {
				return reject(CodeMalformed, "ID %q appears twice", a.Value)
			}
			w.ids[a.Value] = true
		}
		if an == (xml.Name{Local: "Algorithm"}) && w.inSignature > 0 && isAlgorithmElement(name) && !allowedAlgorithms[a.Value] {
			return reject(CodeWeakAlgorithm, "%s algorithm %s is not allowed (RSA or ECDSA with SHA-256 or stronger, exclusive or inclusive c14n without comments)", name.Local, a.Value)
		}
	}
	if parent != nil {
		for i, n := range single[parent.name] {
			if n == name {
				parent.counts[i]++
			}
		}
	}
	if name.Local == "NameID" && name.Space != nsAssertion {
		return reject(CodeForeignNameID, "NameID in namespace %q, not the SAML assertion namespace", name.Space)
	}
	switch name {
	case xml.Name{Space: nsAssertion, Local: "Assertion"}, xml.Name{Space: nsAssertion, Local: "EncryptedAssertion"}:
		if depth != 1 {
			return reject(CodeMultipleAssertions, "%s nested at depth %d, not a child of the Response", name.Local, depth)
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
			s.assertionSignature = el
		}
	}
	if depth == 0 {
		s.response = el
		for _, a := range el.Attr {
			if a.Space != "" {
				continue
			}
			switch a.Key {
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

// reservedAttrs are the attributes the XML and XML Schema instance
// namespaces define; any other name in them is refused.
var reservedAttrs = map[xml.Name]bool{
	{Space: xmlURL, Local: "lang"}: true, {Space: xmlURL, Local: "space"}: true,
	{Space: xmlURL, Local: "base"}: true, {Space: xmlURL, Local: "id"}: true,
	{Space: nsXSI, Local: "type"}: true, {Space: nsXSI, Local: "nil"}: true,
	{Space: nsXSI, Local: "schemaLocation"}: true, {Space: nsXSI, Local: "noNamespaceSchemaLocation"}: true,
}

func qname(local string) bool {
	return local != "" && !strings.Contains(local, ":")
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
