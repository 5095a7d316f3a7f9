package saml

import (
	"context"
	"crypto/x509"
	"testing"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// BenchmarkFinish: whole validated sign-ins (the etree parse and
// structure checks, this package's goxmldsig RSA-2048 SHA-256
// verification and reader, the identity rules, mapping) of an
// assertion-signed response, as Finish runs them minus the form parsing.
func BenchmarkFinish(b *testing.B) {
	fx := newFixture(b, func(c *Config) { c.Replay = alwaysFresh{} })
	_, rid := fx.begin()
	data := fx.bytes(fx.defaults(rid))
	now := fx.clock.Now()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := fx.conn.finishXML(context.Background(), data, rid, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawVerify: the floor under BenchmarkFinish — parse with etree,
// canonicalize and verify the assertion's signature with goxmldsig, and
// nothing else.
func BenchmarkRawVerify(b *testing.B) {
	fx := newFixture(b)
	_, rid := fx.begin()
	data := fx.bytes(fx.defaults(rid))
	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{testKey(b, "idp").Certificate}})
	vc.Clock = dsig.NewFakeClockAt(fx.clock.Now())
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(data); err != nil {
			b.Fatal(err)
		}
		if _, err := vc.Validate(child(doc.Root(), "Assertion")); err != nil {
			b.Fatal(err)
		}
	}
}
