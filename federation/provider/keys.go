package provider

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/ent/signingkey"
	"github.com/gatehouse-id/gatehouse/internal/seal"
)

// Algorithms Gatehouse signs with; RS256 is the default (OIDC Core §15.1
// makes it the one every RP must accept).
var algorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA}

// algorithmNames is algorithms as strings, the allowlist for every JWT we
// verify: the accepted algorithm never comes from the token (RFC 8725 §3.1).
var algorithmNames = []string{string(jose.RS256), string(jose.ES256), string(jose.EdDSA)}

// signingKey is one parsed key. It implements op.SigningKey.
type signingKey struct {
	id          string
	alg         jose.SignatureAlgorithm
	private     crypto.Signer
	public      jose.JSONWebKey
	activatesAt time.Time
	// atHeader and idHeader are the encoded protected headers of the
	// access and ID tokens it signs (jws.go), built once.
	atOnce, idOnce     sync.Once
	atHeader, idHeader string
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return k.alg }
func (k *signingKey) Key() any                                    { return k.private }
func (k *signingKey) ID() string                                  { return k.id }

// publicKey is a JWKS entry. It implements op.Key.
type publicKey struct{ k *signingKey }

func (p publicKey) ID() string                         { return p.k.id }
func (p publicKey) Algorithm() jose.SignatureAlgorithm { return p.k.alg }
func (p publicKey) Use() string                        { return "sig" }
func (p publicKey) Key() any                           { return p.k.public.Key }

// keyStore keeps the parsed keys in memory. Other nodes may rotate keys, so
// the first request that finds the key list older than the refresh interval
// reloads it (once: concurrent requests wait for that load rather than run
// their own); only keys it has not parsed yet are unsealed.
//
// Rotation publishes before it signs (REL-03): a new key is in JWKS from
// its creation but signs only from activates_at, publishAhead later, by
// which time every relying party that honours the JWKS Cache-Control has
// fetched it. The key it replaces keeps signing until then and stays
// published until every token it signed has expired.
type keyStore struct {
	db           *ent.Client
	sealer       *seal.Sealer
	now          func() time.Time
	refresh      time.Duration
	publishAhead time.Duration
	loading      sync.Mutex // one load at a time, so a stale list is reloaded once
	mu           sync.RWMutex
	byID         map[string]*signingKey
	// byAlg lists each algorithm's keys, newest activation first.
	byAlg    map[jose.SignatureAlgorithm][]*signingKey
	jwks     []byte // the published set, marshalled once per load
	loadedAt time.Time
	log      *slog.Logger
	// warnedAt is when a failed reload was last logged (under loading).
	warnedAt time.Time
}

func newKeyStore(db *ent.Client, sealer *seal.Sealer, now func() time.Time, refresh, publishAhead time.Duration, log *slog.Logger) *keyStore {
	return &keyStore{db: db, sealer: sealer, now: now, refresh: refresh, publishAhead: publishAhead, log: log,
		byID: map[string]*signingKey{}, jwks: []byte(`{"keys":[]}`)}
}

// ensure creates a key for every algorithm that has no active one yet
// (first start). Nothing can have cached this issuer's JWKS yet, so the
// key activates at once. Two nodes starting together may both create one;
// both are published and the later one signs, which is harmless.
func (s *keyStore) ensure(ctx context.Context) error {
	if err := s.load(ctx); err != nil {
		return err
	}
	for _, alg := range algorithms {
		s.mu.RLock()
		k := s.activeLocked(alg, s.now())
		s.mu.RUnlock()
		if k != nil {
			continue
		}
		if _, err := s.create(ctx, s.db, alg, s.now()); err != nil {
			return err
		}
	}
	return s.load(ctx)
}

// load reloads the key list now (start-up, after a rotation).
func (s *keyStore) load(ctx context.Context) error {
	s.loading.Lock()
	defer s.loading.Unlock()
	return s.loadLocked(ctx)
}

// refreshIfStale reloads the key list when it is older than the refresh
// interval. Callers that waited for another's load find the list fresh.
func (s *keyStore) refreshIfStale(ctx context.Context) error {
	s.loading.Lock()
	defer s.loading.Unlock()
	s.mu.RLock()
	stale := s.now().Sub(s.loadedAt) >= s.refresh
	s.mu.RUnlock()
	if !stale {
		return nil
	}
	err := s.loadLocked(ctx)
	if err != nil && s.now().Sub(s.warnedAt) >= s.refresh {
		// Callers go on with the keys they have; say so once per interval,
		// not once per request, while the database is away.
		s.warnedAt = s.now()
		s.log.WarnContext(ctx, "provider: signing keys not reloaded; serving the cached list", "loaded_at", s.loadedAt, "error", err)
	}
	return err
}

// loadLocked reads every unexpired key, published or pending, and
// precomputes the JWKS document. s.loading must be held.
func (s *keyStore) loadLocked(ctx context.Context) error {
	now := s.now()
	rows, err := s.db.SigningKey.Query().
		Where(signingkey.Or(signingkey.ExpiresAtIsNil(), signingkey.ExpiresAtGT(now))).
		All(ctx)
	if err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	s.mu.RLock()
	old := s.byID
	s.mu.RUnlock()
	byID := make(map[string]*signingKey, len(rows))
	byAlg := map[jose.SignatureAlgorithm][]*signingKey{}
	for _, row := range rows {
		k := old[string(row.ID)]
		if k == nil {
			if k, err = s.parse(row); err != nil {
				return err
			}
		}
		byID[k.id] = k
		byAlg[k.alg] = append(byAlg[k.alg], k)
	}
	for _, keys := range byAlg {
		// Newest activation first; on equal times the larger (later ULID)
		// id wins, so every node picks the same key.
		sort.Slice(keys, func(i, j int) bool {
			if !keys[i].activatesAt.Equal(keys[j].activatesAt) {
				return keys[i].activatesAt.After(keys[j].activatesAt)
			}
			return keys[i].id > keys[j].id
		})
	}
	jwks, err := marshalJWKS(byID)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.byID, s.byAlg, s.jwks, s.loadedAt = byID, byAlg, jwks, now
	s.mu.Unlock()
	return nil
}

// marshalJWKS renders the published keys (RFC 7517 §5), sorted by kid.
func marshalJWKS(byID map[string]*signingKey) ([]byte, error) {
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(byID))}
	for _, k := range byID {
		set.Keys = append(set.Keys, k.public)
	}
	sort.Slice(set.Keys, func(i, j int) bool { return set.Keys[i].KeyID < set.Keys[j].KeyID })
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("marshal jwks: %w", err)
	}
	return b, nil
}

// activeID is the kid that signs for alg now, for tests and tooling.
func (s *keyStore) activeID(alg jose.SignatureAlgorithm) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if k := s.activeLocked(alg, s.now()); k != nil {
		return k.id
	}
	return ""
}

// activeLocked is the newest key of alg whose activation has passed.
// s.mu must be held.
func (s *keyStore) activeLocked(alg jose.SignatureAlgorithm, now time.Time) *signingKey {
	for _, k := range s.byAlg[alg] {
		if !k.activatesAt.After(now) {
			return k
		}
	}
	return nil
}

func (s *keyStore) parse(row *ent.SigningKey) (*signingKey, error) {
	der, err := s.sealer.Open(row.SealedPrivateKey, []byte(row.ID))
	if err != nil {
		return nil, fmt.Errorf("open signing key %s: %w", row.ID, err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse signing key %s: %w", row.ID, err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("signing key %s: not a signer", row.ID)
	}
	alg := jose.SignatureAlgorithm(row.Algorithm)
	return &signingKey{
		id:          string(row.ID),
		alg:         alg,
		private:     signer,
		public:      jose.JSONWebKey{Key: signer.Public(), KeyID: string(row.ID), Algorithm: string(alg), Use: "sig"},
		activatesAt: row.ActivatesAt,
	}, nil
}

// resealKeySQL stores a re-sealed key if the row still holds what was
// read, in SQL both databases accept. sealed_private_key is immutable to
// ent's builders (nothing else may change it), hence plain SQL.
const resealKeySQL = `UPDATE "signing_keys" SET "sealed_private_key" = $1 WHERE "id" = $2 AND "sealed_private_key" = $3`

// reseal re-seals under the current master key every stored key another
// key sealed.
func (s *keyStore) reseal(ctx context.Context, tx *ent.Tx) (int, error) {
	rows, err := tx.SigningKey.Query().All(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, row := range rows {
		out, resealed, err := s.sealer.Reseal(row.SealedPrivateKey, []byte(row.ID))
		if err != nil {
			return 0, fmt.Errorf("open signing key %s (is the master key that sealed it still configured?): %w", row.ID, err)
		}
		if !resealed {
			continue
		}
		res, err := tx.ExecContext(ctx, resealKeySQL, out, row.ID, row.SealedPrivateKey)
		if err != nil {
			return 0, fmt.Errorf("store signing key %s: %w", row.ID, err)
		}
		changed, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("store signing key %s: %w", row.ID, err)
		}
		n += int(changed) // 0 when another node re-sealed it first
	}
	return n, nil
}

// create generates, seals (associated data: the key id, so a sealed key
// cannot be moved to another row) and stores a new key.
func (s *keyStore) create(ctx context.Context, db *ent.Client, alg jose.SignatureAlgorithm, activatesAt time.Time) (string, error) {
	priv, err := generateKey(alg)
	if err != nil {
		return "", err
	}
	id := pulid.New("sk")
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", fmt.Errorf("marshal %s key: %w", alg, err)
	}
	sealed, err := s.sealer.Seal(der, []byte(id))
	if err != nil {
		return "", err
	}
	jwk := jose.JSONWebKey{Key: priv.Public(), KeyID: string(id), Algorithm: string(alg), Use: "sig"}
	raw, err := jwk.MarshalJSON()
	if err != nil {
		return "", fmt.Errorf("marshal public jwk: %w", err)
	}
	var public map[string]any
	if err := json.Unmarshal(raw, &public); err != nil {
		return "", fmt.Errorf("marshal public jwk: %w", err)
	}
	err = db.SigningKey.Create().SetID(id).SetAlgorithm(signingkey.Algorithm(alg)).
		SetSealedPrivateKey(sealed).SetPublicJwk(public).SetActivatesAt(activatesAt).Exec(ctx)
	if err != nil {
		return "", fmt.Errorf("store signing key: %w", err)
	}
	return string(id), nil
}

// generateKey makes a private key for alg (newKey). It is a variable
// only so that this package's tests, which start hundreds of providers,
// can draw RSA keys from a pool instead of generating each (main_test.go).
var generateKey = newKey

// newKey makes a private key for alg: RSA-2048, P-256 or Ed25519.
func newKey(alg jose.SignatureAlgorithm) (crypto.Signer, error) {
	var (
		priv crypto.Signer
		err  error
	)
	switch alg {
	case jose.RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case jose.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("create signing key: unsupported algorithm %s", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", alg, err)
	}
	return priv, nil
}

// signer returns the signing key for alg: the newest whose activates_at
// has passed. The key list is reloaded when it is older than the refresh
// interval (another node may have rotated).
func (s *keyStore) signer(ctx context.Context, alg jose.SignatureAlgorithm) (*signingKey, error) {
	now := s.now()
	s.mu.RLock()
	k, fresh := s.activeLocked(alg, now), now.Sub(s.loadedAt) < s.refresh
	s.mu.RUnlock()
	if k != nil && fresh {
		return k, nil
	}
	if err := s.refreshIfStale(ctx); err != nil {
		if k != nil {
			return k, nil // keep signing with the key we have; the database may be briefly away
		}
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if k = s.activeLocked(alg, now); k == nil {
		return nil, fmt.Errorf("no active %s signing key", alg)
	}
	return k, nil
}

// byKeyID returns a published key. The list is reloaded when it is stale,
// whether or not kid is in it, so that a key expired or revoked by another
// node stops verifying here within one refresh interval; a forged kid
// cannot make more than one request per interval hit the database.
func (s *keyStore) byKeyID(ctx context.Context, kid string) *signingKey {
	s.mu.RLock()
	k, stale := s.byID[kid], s.now().Sub(s.loadedAt) >= s.refresh
	s.mu.RUnlock()
	if !stale {
		return k
	}
	if err := s.refreshIfStale(ctx); err != nil {
		return k // the cached list, while the database is away
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.byID[kid]
}

// published returns every key in JWKS, pending ones included, sorted by kid.
func (s *keyStore) published(ctx context.Context) []*signingKey {
	s.reloadIfStale(ctx)
	s.mu.RLock()
	defer s.mu.RUnlock()
	keys := make([]*signingKey, 0, len(s.byID))
	for _, k := range s.byID {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].id < keys[j].id })
	return keys
}

// jwksDocument returns the precomputed JWKS.
func (s *keyStore) jwksDocument(ctx context.Context) []byte {
	s.reloadIfStale(ctx)
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.jwks
}

func (s *keyStore) reloadIfStale(ctx context.Context) {
	s.mu.RLock()
	stale := s.now().Sub(s.loadedAt) >= s.refresh
	s.mu.RUnlock()
	if stale {
		_ = s.refreshIfStale(systemCtx(ctx)) // serve the cached set if the database is away
	}
}

// rotate adds a new key per algorithm, published now and signing from
// now+publishAhead (the activation). Every key it replaces, including a
// pending one from an earlier rotation, keeps signing until the
// activation (nodes that have not reloaded yet go on for up to one
// refresh interval more) and stays published until every token it signed
// has expired: activation + refresh + maxLifetime. It returns the new ids
// and their activation.
func (s *keyStore) rotate(ctx context.Context, maxLifetime time.Duration) ([]string, time.Time, error) {
	now := s.now()
	activation := now.Add(s.publishAhead)
	tx, err := s.db.Tx(ctx)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("rotate keys: %w", err)
	}
	var ids []string
	for _, alg := range algorithms {
		err := tx.SigningKey.Update().
			Where(signingkey.AlgorithmEQ(signingkey.Algorithm(alg)), signingkey.RetiredAtIsNil()).
			SetRetiredAt(activation).SetExpiresAt(activation.Add(s.refresh + maxLifetime)).Exec(ctx)
		if err != nil {
			_ = tx.Rollback()
			return nil, time.Time{}, fmt.Errorf("retire %s keys: %w", alg, err)
		}
		id, err := s.create(ctx, tx.Client(), alg, activation)
		if err != nil {
			_ = tx.Rollback()
			return nil, time.Time{}, err
		}
		ids = append(ids, id)
	}
	if err := tx.Commit(); err != nil {
		return nil, time.Time{}, fmt.Errorf("rotate keys: %w", err)
	}
	return ids, activation, s.load(ctx)
}

// ErrUnknownKey is returned by RevokeKey for a kid that names no
// unexpired signing key.
var ErrUnknownKey = errors.New("no such signing key (or it has expired already)")

// revoke ends key kid now, for a key that must not be trusted any more
// (leaked, or its seal opened): it leaves JWKS and stops verifying at once
// on this node and within one refresh interval on the others, so tokens it
// signed stop working here. If it was the key signing for its algorithm, a
// new key replaces it and signs at once, without the publish-ahead of a
// rotation: a relying party that cached JWKS meets an unknown kid, which
// is what makes it fetch JWKS again. It returns the replacement's id, or
// "" when the revoked key was not signing.
func (s *keyStore) revoke(ctx context.Context, kid string) (string, error) {
	now := s.now()
	tx, err := s.db.Tx(ctx)
	if err != nil {
		return "", fmt.Errorf("revoke key: %w", err)
	}
	rollback := func(err error) (string, error) {
		_ = tx.Rollback()
		return "", err
	}
	unexpired := signingkey.Or(signingkey.ExpiresAtIsNil(), signingkey.ExpiresAtGT(now))
	k, err := tx.SigningKey.Query().Where(signingkey.ID(pulid.ID(kid)), unexpired).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		return rollback(fmt.Errorf("%w: %q", ErrUnknownKey, kid))
	case err != nil:
		return rollback(fmt.Errorf("revoke key: %w", err))
	}
	// The key signing now is the newest activated one of its algorithm.
	signing, err := tx.SigningKey.Query().
		Where(signingkey.AlgorithmEQ(k.Algorithm), unexpired, signingkey.ActivatesAtLTE(now)).
		Order(ent.Desc(signingkey.FieldActivatesAt), ent.Desc(signingkey.FieldID)).First(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return rollback(fmt.Errorf("revoke key: %w", err))
	}
	if err := tx.SigningKey.UpdateOne(k).SetRetiredAt(now).SetExpiresAt(now).Exec(ctx); err != nil {
		return rollback(fmt.Errorf("revoke key: %w", err))
	}
	var replacement string
	if signing == nil || signing.ID == k.ID {
		if replacement, err = s.create(ctx, tx.Client(), jose.SignatureAlgorithm(k.Algorithm), now); err != nil {
			return rollback(err)
		}
	}
	if err := tx.Commit(); err != nil {
		return "", fmt.Errorf("revoke key: %w", err)
	}
	return replacement, s.load(ctx)
}

var _ op.SigningKey = (*signingKey)(nil)
var _ op.Key = publicKey{}
