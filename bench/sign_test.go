package bench

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"
)

// BenchmarkSign is the raw signing rate the provider benchmarks are held
// against (docs/BENCHMARKS.md, "Side by side"): one JWS-sized signature
// (SHA-256 of a 300-byte signing input, then the signature) per iteration,
// with the key parsed once. Run it on one core, as bench/oidc.sh does:
//
//	taskset -c 1 go test ./bench -run '^$' -bench Sign -cpu 1 -benchtime 3s
//
// sigs/s is b.N over the elapsed time. With GOEXPERIMENT=boringcrypto the
// same code signs through BoringSSL (crypto/internal/boring).
func BenchmarkSign(b *testing.B) {
	msg := make([]byte, 300)
	_, _ = rand.Read(msg)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name string
		sign func() error
	}{
		{"ES256", func() error {
			d := sha256.Sum256(msg)
			_, err := ecdsa.SignASN1(rand.Reader, ec, d[:])
			return err
		}},
		{"EdDSA", func() error {
			_ = ed25519.Sign(ed, msg)
			return nil
		}},
		{"RS256", func() error {
			d := sha256.Sum256(msg)
			_, err := rsa.SignPKCS1v15(nil, rk, crypto.SHA256, d[:])
			return err
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := c.sign(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sigs/s")
		})
	}
}
