package tenants

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"net/url"
	"slices"
	"testing"
	"time"
)

// FuzzSAMLIdP: whatever an administrator or a metadata document gives,
// checkSAMLIdP answers nil or an *InputError, never panics, accepts only
// https SSO URLs (or loopback http) and known bindings, keeps
// certificates as one PEM block each, and normalizes idempotently.
func FuzzSAMLIdP(f *testing.F) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idp"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(253402300799, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		f.Fatal(err)
	}
	cert := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	for _, seed := range []struct{ entity, sso, binding, cert string }{
		{"http://www.okta.com/exk1", "https://acme.okta.example/sso", "", cert},
		{"e", "http://127.0.0.1:8080/sso", SAMLBindingPOST, base64.StdEncoding.EncodeToString(der)},
		{"", "", "", ""},
		{"x\x00", "http://idp.example/", "urn:x", "-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----"},
		{"e", "https://u:p@idp.example/", SAMLBindingRedirect, cert + cert},
	} {
		f.Add(seed.entity, seed.sso, seed.binding, seed.cert)
	}
	s := &Service{}
	f.Fuzz(func(t *testing.T, entity, sso, binding, cert string) {
		var certs []string
		if cert != "" {
			certs = []string{cert}
		}
		idp, err := s.checkSAMLIdP(SAMLIdP{EntityID: entity, SSOURL: sso, SSOBinding: binding, Certificates: certs})
		if err != nil {
			var in *InputError
			if !errors.As(err, &in) {
				t.Fatalf("non-input error %T: %v", err, err)
			}
			return
		}
		if idp.SSOURL != "" {
			u, err := url.Parse(idp.SSOURL)
			if err != nil || u.User != nil || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname()))) {
				t.Fatalf("accepted SSO URL %q", idp.SSOURL)
			}
		}
		if idp.SSOURL != "" && idp.SSOBinding != SAMLBindingRedirect && idp.SSOBinding != SAMLBindingPOST {
			t.Fatalf("accepted binding %q", idp.SSOBinding)
		}
		for _, c := range idp.Certificates {
			block, rest := pem.Decode([]byte(c))
			if block == nil || block.Type != "CERTIFICATE" || len(rest) != 0 {
				t.Fatalf("stored certificate is not one PEM block: %q", c)
			}
		}
		again, err := s.checkSAMLIdP(idp)
		if err != nil || again.EntityID != idp.EntityID || again.SSOURL != idp.SSOURL || again.SSOBinding != idp.SSOBinding ||
			!slices.Equal(again.Certificates, idp.Certificates) {
			t.Fatalf("not idempotent: %+v -> %+v, %v", idp, again, err)
		}
	})
}
