package provider

import (
	"crypto"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// TestMain makes the package's providers draw their RSA signing keys from
// a pool of distinct keys made once: every test starts its own provider,
// and RSA-2048 generation (slow, and far slower under the race detector)
// was most of the suite's time. Keys in use at once still differ (the pool
// is larger than any test's number of keys); ES256 and EdDSA keys, cheap
// to make, are made fresh.
func TestMain(m *testing.M) {
	generateKey = pooledKey
	os.Exit(m.Run())
}

const rsaPoolSize = 8

var (
	rsaPoolOnce sync.Once
	rsaPool     []crypto.Signer
	rsaPoolErr  error
	rsaNext     atomic.Uint64
)

func pooledKey(alg jose.SignatureAlgorithm) (crypto.Signer, error) {
	if alg != jose.RS256 {
		return newKey(alg)
	}
	rsaPoolOnce.Do(func() {
		var wg sync.WaitGroup
		keys := make([]crypto.Signer, rsaPoolSize)
		errs := make([]error, rsaPoolSize)
		for i := range keys {
			wg.Go(func() { keys[i], errs[i] = newKey(jose.RS256) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				rsaPoolErr = err
			}
		}
		rsaPool = keys
	})
	if rsaPoolErr != nil {
		return nil, rsaPoolErr
	}
	return rsaPool[rsaNext.Add(1)%rsaPoolSize], nil
}
