package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"math/big"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/federation"
	fsaml "github.com/gatehouse-id/gatehouse/federation/saml"
)

// The connection under test, named as a real deployment names it.
const (
	idpEntityID = "https://idp.initech.example/saml2"
	idpSSOURL   = "https://idp.initech.example/saml2/sso"
	spEntityID  = "https://auth.gatehouse.example/sso/saml/conn_01BENCH/metadata"
	acsURL      = "https://auth.gatehouse.example/sso/saml/conn_01BENCH/acs"
)

// keyPair makes an RSA-2048 key and a self-signed certificate for it.
func keyPair(cn string, notBefore time.Time) (fsaml.KeyPair, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fsaml.KeyPair{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    notBefore.Add(-24 * time.Hour),
		NotAfter:     notBefore.Add(365 * 24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fsaml.KeyPair{}, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return fsaml.KeyPair{}, err
	}
	return fsaml.KeyPair{Key: key, Certificate: cert}, nil
}

// connection is the SP side: the Config every Finish cell builds its
// Connector from (each cell gets its own in-memory replay record).
type connection struct {
	cfg fsaml.Config
	idp fsaml.KeyPair
}

func newConnection(issued time.Time) (*connection, error) {
	sp, err := keyPair("auth.gatehouse.example", issued)
	if err != nil {
		return nil, err
	}
	idp, err := keyPair("idp.initech.example", issued)
	if err != nil {
		return nil, err
	}
	// The clock stands one second after the responses were issued: inside
	// every window Finish checks, for the whole run.
	now := issued.Add(time.Second)
	cfg := fsaml.Config{
		ConnectionID: pulid.ID("conn_01BENCH"),
		SPEntityID:   spEntityID,
		ACSURL:       acsURL,
		MetadataURL:  spEntityID,
		Keys:         []fsaml.KeyPair{sp},
		IdP: fsaml.IdP{
			EntityID:     idpEntityID,
			SSOURL:       idpSSOURL,
			Binding:      fsaml.BindingPOST,
			Certificates: []*x509.Certificate{idp.Certificate},
		},
		Mapping: fsaml.Presets["okta"],
		Replay:  &memReplay{},
		Now:     func() time.Time { return now },
	}
	return &connection{cfg: cfg, idp: idp}, nil
}

// connector is a Connector of the connection with a fresh replay record.
func (c *connection) connector() (*fsaml.Connector, error) {
	cfg := c.cfg
	cfg.Replay = &memReplay{}
	return fsaml.New(cfg)
}

// login is one SP-initiated sign-in: the state Begin returned, the
// AuthnRequest id, and the IdP's signed Response to it.
type login struct {
	state     []byte
	requestID string
	response  []byte
}

// logins runs Begin n times and answers each AuthnRequest as an IdP does:
// a Response with a signed Assertion (RSA-SHA256, exclusive c14n, the
// Signature after the Issuer) for a user with a handful of attributes.
func (c *connection) logins(n int, issued time.Time) ([]login, error) {
	conn, err := c.connector()
	if err != nil {
		return nil, err
	}
	out := make([]login, n)
	for i := range out {
		step, err := conn.Begin(context.Background(), federation.BeginRequest{CallbackURL: acsURL})
		if err != nil {
			return nil, err
		}
		rid, err := authnRequestID(step.FormFields["SAMLRequest"])
		if err != nil {
			return nil, err
		}
		resp, err := c.response(i, rid, issued)
		if err != nil {
			return nil, err
		}
		out[i] = login{state: step.State, requestID: rid, response: resp}
	}
	return out, nil
}

// authnRequestID reads the ID of a posted AuthnRequest, as the IdP does.
func authnRequestID(field string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(field)
	if err != nil {
		return "", err
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		return "", err
	}
	id := doc.Root().SelectAttrValue("ID", "")
	if id == "" {
		return "", fmt.Errorf("AuthnRequest without an ID")
	}
	return id, nil
}

// response is user i's Response to request rid. Windows are an hour wide,
// so that Node, which reads the wall clock, accepts them all run long.
func (c *connection) response(i int, rid string, issued time.Time) ([]byte, error) {
	aid := fmt.Sprintf("_a%08d%x", i, issued.UnixNano())
	user := fmt.Sprintf("user%06d@initech.example", i)
	until := issued.Add(time.Hour)
	a := &saml.Assertion{
		ID: aid, IssueInstant: issued, Version: "2.0",
		Issuer: saml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: idpEntityID},
		Subject: &saml.Subject{
			NameID: &saml.NameID{Format: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress", Value: user},
			SubjectConfirmations: []saml.SubjectConfirmation{{
				Method: "urn:oasis:names:tc:SAML:2.0:cm:bearer",
				SubjectConfirmationData: &saml.SubjectConfirmationData{
					InResponseTo: rid, NotOnOrAfter: until, Recipient: acsURL,
				},
			}},
		},
		Conditions: &saml.Conditions{
			NotBefore: issued.Add(-30 * time.Second), NotOnOrAfter: until,
			AudienceRestrictions: []saml.AudienceRestriction{{Audience: saml.Audience{Value: spEntityID}}},
		},
		AuthnStatements: []saml.AuthnStatement{{
			AuthnInstant: issued.Add(-time.Second), SessionIndex: aid,
			AuthnContext: saml.AuthnContext{AuthnContextClassRef: &saml.AuthnContextClassRef{
				Value: "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"}},
		}},
		AttributeStatements: []saml.AttributeStatement{{Attributes: []saml.Attribute{
			attribute("email", user),
			attribute("firstName", "User"),
			attribute("lastName", fmt.Sprintf("Number %d", i)),
			attribute("groups", "engineering", "everyone"),
			attribute("department", "R&D"),
			attribute("employeeNumber", fmt.Sprint(10000+i)),
		}}},
	}
	ael, err := sign(a.Element(), c.idp)
	if err != nil {
		return nil, err
	}
	r := &saml.Response{
		ID: fmt.Sprintf("_r%08d%x", i, issued.UnixNano()), InResponseTo: rid, Version: "2.0",
		IssueInstant: issued, Destination: acsURL,
		Issuer: &saml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: idpEntityID},
		Status: saml.Status{StatusCode: saml.StatusCode{Value: saml.StatusSuccess}},
	}
	rel := r.Element()
	rel.AddChild(ael)
	doc := etree.NewDocument()
	doc.SetRoot(rel)
	return doc.WriteToBytes()
}

func attribute(name string, values ...string) saml.Attribute {
	at := saml.Attribute{Name: name, NameFormat: "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"}
	for _, v := range values {
		at.Values = append(at.Values, saml.AttributeValue{Type: "xs:string", Value: v})
	}
	return at
}

// sign signs el enveloped and moves the Signature right after the
// Issuer, where SAML's schema wants it.
func sign(el *etree.Element, kp fsaml.KeyPair) (*etree.Element, error) {
	ctx, err := dsig.NewSigningContext(kp.Key, [][]byte{kp.Certificate.Raw})
	if err != nil {
		return nil, err
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := ctx.SetSignatureMethod(dsig.RSASHA256SignatureMethod); err != nil {
		return nil, err
	}
	signed, err := ctx.SignEnveloped(el)
	if err != nil {
		return nil, err
	}
	sig := signed.Child[len(signed.Child)-1].(*etree.Element)
	signed.Child = signed.Child[:len(signed.Child)-1]
	at := 0
	for i, ch := range signed.Child {
		if e, ok := ch.(*etree.Element); ok && e.Tag == "Issuer" {
			at = i + 1
		}
	}
	signed.InsertChildAt(at, sig)
	return signed, nil
}
