package saml

import (
	"bytes"
	"crypto/x509"
	"strings"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"
)

// Algorithms this package's own path verifies with (the main path; any
// other signature shape goes to crewjam, doc.go).
const (
	algExcC14N    = "http://www.w3.org/2001/10/xml-exc-c14n#"
	algEnveloped  = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
	samlVersion20 = "2.0"
)

// trust is what verifies a signature for one connection, made once by New:
// goxmldsig validation contexts over the connection's IdP certificates
// (SAML-05: the only trust anchors), as copies valid at all times
// (SAML-05 e). all trusts every certificate and checks a signature whose
// KeyInfo names its certificate; each[i] trusts certificate i alone, for a
// signature that names none (goxmldsig picks the only root then, as
// crewjam's validatedWithEachCert does). A ValidationContext is only read
// by Validate, so one is shared by every call.
type trust struct {
	all  *dsig.ValidationContext
	each []*dsig.ValidationContext
	raw  [][]byte
}

func newTrust(certs []*x509.Certificate) *trust {
	t := &trust{}
	anytime := make([]*x509.Certificate, len(certs))
	for i, cert := range certs {
		c := *cert
		c.NotBefore = time.Time{}
		c.NotAfter = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
		anytime[i] = &c
		t.raw = append(t.raw, cert.Raw)
	}
	t.all = validationContext(anytime)
	for _, c := range anytime {
		t.each = append(t.each, validationContext([]*x509.Certificate{c}))
	}
	return t
}

func validationContext(roots []*x509.Certificate) *dsig.ValidationContext {
	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: roots})
	vc.IdAttribute = "ID"
	return vc
}

// known reports whether der is one of the connection's certificates.
func (t *trust) known(der []byte) bool {
	for _, r := range t.raw {
		if bytes.Equal(r, der) {
			return true
		}
	}
	return false
}

// ownShape reports whether this package's own path verifies a Response
// of this shape: a plaintext Assertion signed by itself, in an unsigned
// Response, with no encrypted part. Every other shape (a signed Response,
// an EncryptedAssertion, an EncryptedID or EncryptedAttribute, a
// signature with other transforms) goes through crewjam, as before.
func ownShape(sh shape) bool {
	return sh.assertionSigned && !sh.responseSigned && !sh.encrypted && !sh.encryptedParts && sh.assertion != nil
}

// verifyOwn verifies the Assertion's signature with goxmldsig and reads
// the assertion from the element goxmldsig returns: the one it parsed from
// the canonical bytes whose digest it checked (doc.go, "Reading what was
// verified"). handled is false when the signature's shape is not one this
// path takes (then nothing has been changed and crewjam decides).
func (c *Connector) verifyOwn(sh shape) (a *saml.Assertion, handled bool, rej *Rejection) {
	el, sig := sh.assertion, sh.assertionSignature
	ref, ok := signatureShape(sig)
	if !ok {
		return nil, false, nil
	}
	// crewjam's checkSignatureReference: exactly one Reference, whose one
	// URI attribute, unprefixed, names the assertion's ID — the ID
	// goxmldsig reads (the first attribute named ID, as etree selects it).
	id := el.SelectAttrValue("ID", "")
	if ref == nil {
		return nil, true, reject(CodeSignatureInvalid, "the Assertion's signature must contain exactly one Reference")
	}
	if id == "" {
		return nil, true, reject(CodeSignatureInvalid, "signed Assertion has no ID for its signature to reference")
	}
	var uris []string
	unprefixed := true
	for _, at := range ref.Attr {
		if at.Key == "URI" {
			uris = append(uris, at.Value)
			unprefixed = unprefixed && at.Space == ""
		}
	}
	if len(uris) != 1 || !unprefixed || uris[0] != "#"+id {
		return nil, true, reject(CodeSignatureInvalid, "signature Reference URI must be %q, not %q", "#"+id, uris)
	}

	// The Assertion is verified on its own (goxmldsig copies it out of the
	// Response), so the namespaces it inherits are declared on it first,
	// nearest first, as crewjam's NSDetatch does: exclusive c14n then
	// resolves every prefix as the document does.
	inheritNamespaces(el)
	vc := c.trust.all
	if sig.FindElement("./KeyInfo/X509Data/X509Certificate") == nil {
		// No certificate named: KeyInfo (an RSAKeyValue, say) adds no
		// trust and is dropped; each certificate is tried on its own.
		if ki := sig.FindElement("./KeyInfo"); ki != nil {
			sig.RemoveChild(ki)
		}
		if len(c.trust.each) == 1 {
			vc = c.trust.each[0]
		} else {
			var verified *etree.Element
			var err error
			for _, each := range c.trust.each {
				if verified, err = each.Validate(el); err == nil {
					break
				}
			}
			if err != nil {
				return nil, true, &Rejection{Code: CodeSignatureInvalid, Reason: "cannot validate signature on Assertion: " + err.Error(), Err: err}
			}
			a, rej := readAssertion(verified)
			return a, true, rej
		}
	}
	verified, err := vc.Validate(el)
	if err != nil {
		return nil, true, c.signatureRejection(sh, err)
	}
	a, rej = readAssertion(verified)
	return a, true, rej
}

// signatureRejection names why a signature did not verify: an unknown
// signer when no certificate the signatures carry is the connection's.
func (c *Connector) signatureRejection(sh shape, err error) *Rejection {
	if len(sh.keyInfoCerts) > 0 {
		known := false
		for _, der := range sh.keyInfoCerts {
			known = known || c.trust.known(der)
		}
		if !known {
			return &Rejection{Code: CodeUnknownCertificate, Err: err,
				Reason: "signature by an unknown certificate (sha256 fingerprint " + strings.Join(sh.unknownSigners(c.cfg.IdP.Certificates), ", ") + ")"}
		}
	}
	return &Rejection{Code: CodeSignatureInvalid, Reason: "cannot validate signature on Assertion: " + err.Error(), Err: err}
}

// signatureShape returns the Reference of sig if its SignedInfo is
// canonicalized with exclusive c14n and has one Reference whose transforms
// are exactly enveloped-signature then exclusive c14n, the profile IdPs
// sign with; ok is false for any other shape (crewjam's then). A
// SignedInfo with several References is this path's to refuse (ref nil).
// Names are read by local name within the ds namespace as etree resolves
// it; precheck has checked every algorithm against the allowed list.
func signatureShape(sig *etree.Element) (ref *etree.Element, ok bool) {
	var signedInfo *etree.Element
	for _, ch := range sig.ChildElements() {
		if ch.Tag == "SignedInfo" {
			if signedInfo != nil {
				return nil, false
			}
			signedInfo = ch
		}
	}
	if signedInfo == nil || signedInfo.NamespaceURI() != nsDSig {
		return nil, false
	}
	c14n := 0
	refs := 0
	for _, ch := range signedInfo.ChildElements() {
		switch ch.Tag {
		case "CanonicalizationMethod":
			if ch.SelectAttrValue("Algorithm", "") != algExcC14N {
				return nil, false
			}
			c14n++
		case "Reference":
			refs++
			ref = ch
		}
	}
	if c14n != 1 || refs == 0 {
		return nil, false
	}
	if refs > 1 {
		return nil, true
	}
	var transforms []string
	for _, ch := range ref.ChildElements() {
		if ch.Tag != "Transforms" {
			continue
		}
		for _, tr := range ch.ChildElements() {
			transforms = append(transforms, tr.SelectAttrValue("Algorithm", ""))
		}
	}
	if len(transforms) != 2 || transforms[0] != algEnveloped || transforms[1] != algExcC14N {
		return nil, false
	}
	return ref, true
}

// inheritNamespaces declares on el every namespace it inherits from its
// ancestors and does not declare itself, the nearest declaration of each
// prefix winning. The reserved xml and xmlns prefixes are never declared.
// This changes no name in el's subtree.
func inheritNamespaces(el *etree.Element) {
	declared := map[string]bool{"xml": true, "xmlns": true}
	for _, at := range el.Attr {
		if p, ok := declaredPrefix(at); ok {
			declared[p] = true
		}
	}
	for p := el.Parent(); p != nil; p = p.Parent() {
		for _, at := range p.Attr {
			if prefix, ok := declaredPrefix(at); ok && !declared[prefix] {
				declared[prefix] = true
				el.Attr = append(el.Attr, at)
			}
		}
	}
}

func declaredPrefix(at etree.Attr) (string, bool) {
	switch {
	case at.Space == "xmlns":
		return at.Key, true
	case at.Space == "" && at.Key == "xmlns":
		return "", true
	}
	return "", false
}

// checkResponseAsCrewjam applies, on this package's own path, the rules
// crewjam's parseResponse makes of the Response that the others here do
// not: Version 2.0, and an IssueInstant no more than saml.MaxIssueDelay
// old and saml.MaxClockSkew ahead (crewjam's checkIssueInstant, its
// package defaults). The Response is unsigned on this path, so these only
// ever refuse.
func checkResponseAsCrewjam(sh shape, now time.Time) *Rejection {
	r := sh.response
	if v := attr(r, "Version"); v != samlVersion20 {
		return reject(CodeMalformed, "response Version %q is not %s", v, samlVersion20)
	}
	issued, rej := timeAttr(r, "IssueInstant")
	if rej != nil {
		return rej
	}
	if deadline := issued.Add(saml.MaxIssueDelay); deadline.Before(now) {
		return reject(CodeExpired, "response IssueInstant expired at %s", deadline.UTC().Format(time.RFC3339))
	}
	if issued.Add(-saml.MaxClockSkew).After(now) {
		return reject(CodeNotYetValid, "response IssueInstant %s is in the future", issued.UTC().Format(time.RFC3339))
	}
	return nil
}

// timeAttr reads the unprefixed time attribute local of el as crewjam's
// RelaxedTime does (absent or empty: the zero time).
func timeAttr(el *etree.Element, local string) (time.Time, *Rejection) {
	v, ok := attrValue(el, local)
	if !ok {
		return time.Time{}, nil
	}
	var t saml.RelaxedTime
	if err := t.UnmarshalText([]byte(v)); err != nil {
		return time.Time{}, &Rejection{Code: CodeMalformed, Reason: "unreadable " + el.Tag + " " + local + ": " + err.Error(), Err: err}
	}
	return time.Time(t), nil
}

func attrValue(el *etree.Element, local string) (string, bool) {
	for _, a := range el.Attr {
		if a.Space == "" && a.Key == local {
			return a.Value, true
		}
	}
	return "", false
}
