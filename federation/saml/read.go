package saml

import (
	"encoding/xml"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
)

// readAssertion reads a verified Assertion — the root element goxmldsig
// parsed from the canonical bytes it digested, and nothing else — into
// crewjam's Assertion type, which validate.go and identity.go read. It
// reads what crewjam's encoding/xml decoding of the same element reads
// (its struct tags), and nothing more:
//
//   - an element is matched by its namespace URI, resolved as encoding/xml
//     resolves it, and its local name; unknown elements are skipped;
//   - attributes are the unprefixed ones (crewjam drops prefixed ones
//     before decoding; precheck refuses the xml: and xsi: names that
//     encoding/xml would confuse with them), xsi:type and xsi:nil on an
//     AttributeValue excepted;
//   - a text value is the character data directly inside the element;
//   - times are read by crewjam's RelaxedTime, so an unreadable one
//     refuses the assertion as crewjam's decoding does;
//   - an element the schema allows once that is sent again (which precheck
//     refuses for Issuer, Subject, Conditions, NameID and
//     SubjectConfirmationData) is merged into the first, as encoding/xml
//     merges it: attributes present overwrite, text is replaced.
func readAssertion(el *etree.Element) (a *saml.Assertion, rej *Rejection) {
	r := reader{}
	sc := scope{}.enter(el)
	if n := sc.name(el.Space, el.Tag, true); n != (xml.Name{Space: nsAssertion, Local: "Assertion"}) {
		return nil, reject(CodeMalformed, "the verified element is {%s}%s, not saml:Assertion", n.Space, n.Local)
	}
	a = &saml.Assertion{
		ID:           attr(el, "ID"),
		Version:      attr(el, "Version"),
		IssueInstant: r.time(el, "IssueInstant"),
	}
	r.children(el, sc, func(c *etree.Element, sc scope, local string) {
		switch local {
		case "Issuer":
			a.Issuer = saml.Issuer{
				NameQualifier: attr(c, "NameQualifier"), SPNameQualifier: attr(c, "SPNameQualifier"),
				Format: attr(c, "Format"), SPProvidedID: attr(c, "SPProvidedID"), Value: text(c),
			}
		case "Subject":
			if a.Subject == nil {
				a.Subject = &saml.Subject{}
			}
			r.subject(c, sc, a.Subject)
		case "Conditions":
			if a.Conditions == nil {
				a.Conditions = &saml.Conditions{}
			}
			r.conditions(c, sc, a.Conditions)
		case "AuthnStatement":
			a.AuthnStatements = append(a.AuthnStatements, r.authnStatement(c, sc))
		case "AttributeStatement":
			a.AttributeStatements = append(a.AttributeStatements, r.attributeStatement(c, sc))
		}
	})
	if r.rej != nil {
		return nil, r.rej
	}
	return a, nil
}

// reader keeps the first reason the element cannot be read.
type reader struct{ rej *Rejection }

// children calls f with each child element of el in the SAML assertion
// namespace, in document order, with its scope and local name.
func (r *reader) children(el *etree.Element, sc scope, f func(c *etree.Element, sc scope, local string)) {
	for _, c := range el.ChildElements() {
		csc := sc.enter(c)
		if n := csc.name(c.Space, c.Tag, true); n.Space == nsAssertion {
			f(c, csc, n.Local)
		}
	}
}

func (r *reader) time(el *etree.Element, local string) time.Time {
	t, rej := timeAttr(el, local)
	if rej != nil && r.rej == nil {
		r.rej = rej
	}
	return t
}

func (r *reader) subject(el *etree.Element, sc scope, s *saml.Subject) {
	r.children(el, sc, func(c *etree.Element, sc scope, local string) {
		switch local {
		case "BaseID":
			s.BaseID = c
		case "NameID":
			s.NameID = nameID(c, s.NameID)
		case "EncryptedID":
			// Only crewjam decrypts (ownShape sends these there); as
			// received, it identifies no one here.
			s.EncryptedID = c
		case "SubjectConfirmation":
			s.SubjectConfirmations = append(s.SubjectConfirmations, r.subjectConfirmation(c, sc))
		}
	})
}

func (r *reader) subjectConfirmation(el *etree.Element, sc scope) saml.SubjectConfirmation {
	out := saml.SubjectConfirmation{Method: attr(el, "Method")}
	r.children(el, sc, func(c *etree.Element, _ scope, local string) {
		switch local {
		case "NameID":
			out.NameID = nameID(c, out.NameID)
		case "EncryptedID":
			out.EncryptedID = c
		case "SubjectConfirmationData":
			out.SubjectConfirmationData = &saml.SubjectConfirmationData{
				NotBefore:    r.time(c, "NotBefore"),
				NotOnOrAfter: r.time(c, "NotOnOrAfter"),
				Recipient:    attr(c, "Recipient"),
				InResponseTo: attr(c, "InResponseTo"),
				Address:      attr(c, "Address"),
			}
		}
	})
	return out
}

// nameID reads a NameID into prev (a repeat of it) or a new one.
func nameID(el *etree.Element, prev *saml.NameID) *saml.NameID {
	n := prev
	if n == nil {
		n = &saml.NameID{}
	}
	set(el, "NameQualifier", &n.NameQualifier)
	set(el, "SPNameQualifier", &n.SPNameQualifier)
	set(el, "Format", &n.Format)
	set(el, "SPProvidedID", &n.SPProvidedID)
	n.Value = text(el)
	return n
}

func (r *reader) conditions(el *etree.Element, sc scope, c *saml.Conditions) {
	c.NotBefore = r.time(el, "NotBefore")
	c.NotOnOrAfter = r.time(el, "NotOnOrAfter")
	r.children(el, sc, func(ch *etree.Element, sc scope, local string) {
		switch local {
		case "AudienceRestriction":
			var auds []saml.Audience
			r.children(ch, sc, func(au *etree.Element, _ scope, local string) {
				if local == "Audience" {
					auds = append(auds, saml.Audience{Value: text(au)})
				}
			})
			ar := saml.AudienceRestriction{}
			if len(auds) > 0 {
				ar.Audience, ar.AdditionalAudiences = auds[0], auds[1:]
			}
			c.AudienceRestrictions = append(c.AudienceRestrictions, ar)
		case "OneTimeUse":
			c.OneTimeUse = &saml.OneTimeUse{}
		case "ProxyRestriction":
			if c.ProxyRestriction == nil {
				c.ProxyRestriction = &saml.ProxyRestriction{}
			}
			if v, ok := attrValue(ch, "Count"); ok {
				n, err := strconv.ParseInt(strings.TrimSpace(v), 10, strconv.IntSize)
				if err != nil {
					r.fail(reject(CodeMalformed, "unreadable ProxyRestriction Count %q", v))
				}
				count := int(n)
				c.ProxyRestriction.Count = &count
			}
		}
	})
}

func (r *reader) authnStatement(el *etree.Element, sc scope) saml.AuthnStatement {
	st := saml.AuthnStatement{
		AuthnInstant: r.time(el, "AuthnInstant"),
		SessionIndex: attr(el, "SessionIndex"),
	}
	if _, ok := attrValue(el, "SessionNotOnOrAfter"); ok {
		t := r.time(el, "SessionNotOnOrAfter")
		st.SessionNotOnOrAfter = &t
	}
	r.children(el, sc, func(c *etree.Element, sc scope, local string) {
		switch local {
		case "SubjectLocality":
			if st.SubjectLocality == nil {
				st.SubjectLocality = &saml.SubjectLocality{}
			}
			set(c, "Address", &st.SubjectLocality.Address)
			set(c, "DNSName", &st.SubjectLocality.DNSName)
		case "AuthnContext":
			r.children(c, sc, func(cc *etree.Element, _ scope, local string) {
				switch local {
				case "AuthnContextClassRef":
					if st.AuthnContext.AuthnContextClassRef == nil {
						st.AuthnContext.AuthnContextClassRef = &saml.AuthnContextClassRef{}
					}
					st.AuthnContext.AuthnContextClassRef.Value = text(cc)
				case "AuthenticatingAuthority":
					st.AuthnContext.AuthenticatingAuthorities = append(st.AuthnContext.AuthenticatingAuthorities, saml.AuthenticatingAuthority{Value: text(cc)})
				}
			})
		}
	})
	return st
}

func (r *reader) attributeStatement(el *etree.Element, sc scope) saml.AttributeStatement {
	var st saml.AttributeStatement
	r.children(el, sc, func(c *etree.Element, sc scope, local string) {
		if local != "Attribute" {
			return
		}
		at := saml.Attribute{FriendlyName: attr(c, "FriendlyName"), Name: attr(c, "Name"), NameFormat: attr(c, "NameFormat")}
		r.children(c, sc, func(v *etree.Element, sc scope, local string) {
			if local != "AttributeValue" {
				return
			}
			av := saml.AttributeValue{Value: text(v)}
			for _, a := range v.Attr {
				if sc.name(a.Space, a.Key, false).Space != nsXSI {
					continue
				}
				switch a.Key {
				case "type":
					av.Type = a.Value
				case "nil":
					b, err := strconv.ParseBool(strings.TrimSpace(a.Value))
					if err != nil {
						r.fail(reject(CodeMalformed, "unreadable xsi:nil %q", a.Value))
					}
					av.Nil = b
				}
			}
			r.children(v, sc, func(n *etree.Element, _ scope, local string) {
				if local == "NameID" {
					av.NameID = nameID(n, av.NameID)
				}
			})
			at.Values = append(at.Values, av)
		})
		st.Attributes = append(st.Attributes, at)
	})
	return st
}

func (r *reader) fail(rej *Rejection) {
	if r.rej == nil {
		r.rej = rej
	}
}

// attr is el's unprefixed attribute local, or "".
func attr(el *etree.Element, local string) string {
	v, _ := attrValue(el, local)
	return v
}

// set sets *dst to el's unprefixed attribute local when el has it.
func set(el *etree.Element, local string, dst *string) {
	if v, ok := attrValue(el, local); ok {
		*dst = v
	}
}
