package provider

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-id/gatehouse/internal/safehttp"
)

// A private_key_jwt client registers its keys inline (jwks) or publishes
// them at a jwks_uri (OIDC Registration §2, RFC 7591 §2). Both may not be
// registered together; if an application has both anyway, the inline
// jwks wins and jwks_uri is never fetched: what the admin pinned is not
// overridden by what a URL serves, and it costs no fetch.
//
// jwks_uri is fetched through safehttp (MT-10: https, public addresses
// only, size and time caps), kept per application and URI for
// Config.ClientJWKSCacheTTL, and fetched again before that when an
// assertion names a kid the set lacks, at most once per
// jwksRefetchInterval — so a client that rotates its key is accepted
// within that time without anyone editing configuration (REL-04), and
// nobody can make Gatehouse fetch a client's URL more often than that by
// sending assertions with made-up kids.

const (
	// jwksRefetchInterval is the least time between two fetches of one
	// client's jwks_uri, successful or not.
	jwksRefetchInterval = time.Minute
	// jwksMaxStale is how long past its TTL a fetched set is still used
	// while fetching it again fails, so a blip at the client's host does
	// not stop its logins.
	jwksMaxStale = time.Hour
	// jwksMaxKeys bounds the keys taken from one fetched set.
	jwksMaxKeys = 64
	// RSA client keys must have a modulus in this range (bits).
	minRSABits, maxRSABits = 2048, 8192
)

// clientJWKS caches the key sets of clients' jwks_uri.
type clientJWKS struct {
	http *safehttp.Client
	now  func() time.Time
	ttl  time.Duration
	log  *slog.Logger

	mu      sync.Mutex
	entries map[string]*jwksEntry // by application id; one URI each
}

// jwksEntry is one application's jwks_uri. Its mutex is held across a
// fetch, so concurrent assertions of one client wait for one fetch.
type jwksEntry struct {
	uri       string
	mu        sync.Mutex
	set       *jose.JSONWebKeySet // the last set fetched, nil before the first
	fetched   time.Time           // when set was fetched
	attempted time.Time           // the last fetch, successful or not
	err       error               // the last fetch's error, nil after a success
}

func (j *clientJWKS) entry(appID, uri string) *jwksEntry {
	j.mu.Lock()
	defer j.mu.Unlock()
	e := j.entries[appID]
	if e == nil || e.uri != uri {
		// A new jwks_uri starts afresh; the old URI's keys are dropped.
		if j.entries == nil {
			j.entries = map[string]*jwksEntry{}
		}
		e = &jwksEntry{uri: uri}
		j.entries[appID] = e
	}
	return e
}

// verify calls verify with the key for kid from the set at the client's
// jwks_uri. It fetches the set when it is missing or older than the TTL,
// and again when it has no such key or verify fails with it (the client
// rotated, or reused the kid, or the new key has no kid), at most once
// per jwksRefetchInterval. The error says why for the log; the client
// only ever sees invalid_client.
func (j *clientJWKS) verify(ctx context.Context, c *client, kid string, verify func(*jose.JSONWebKey) error) error {
	e := j.entry(string(c.app.ID), c.app.JwksURI)
	e.mu.Lock()
	defer e.mu.Unlock()
	now := j.now()
	mayFetch := e.attempted.IsZero() || !now.Before(e.attempted.Add(jwksRefetchInterval))
	if e.set != nil && now.Before(e.fetched.Add(j.ttl)) {
		err := verifyWithKey(e.set, kid, verify)
		if err == nil || !mayFetch {
			return err
		}
	}
	if mayFetch {
		j.refresh(ctx, c, e, now)
	}
	switch {
	case e.set == nil:
		return e.err
	case !now.Before(e.fetched.Add(j.ttl + jwksMaxStale)):
		return fmt.Errorf("jwks_uri keys fetched at %s are too old to use: %w", e.fetched.Format(time.RFC3339), e.err)
	}
	err := verifyWithKey(e.set, kid, verify)
	if err != nil && e.err != nil {
		err = fmt.Errorf("%w (fetching jwks_uri again failed: %w)", err, e.err)
	}
	return err
}

// refresh fetches e's set; on failure the previous set stays (see
// jwksMaxStale) and the reason is logged with the refused address, if
// any, for the operator.
func (j *clientJWKS) refresh(ctx context.Context, c *client, e *jwksEntry, now time.Time) {
	e.attempted = now
	// A client that hangs up does not cancel a fetch others wait for;
	// safehttp bounds its time.
	set, err := j.fetch(context.WithoutCancel(ctx), e.uri)
	if err == nil {
		e.set, e.fetched, e.err = set, now, nil
		return
	}
	e.err = err
	attrs := []any{"client_id", c.GetID(), "jwks_uri", e.uri, "error", err}
	var fe *safehttp.Error
	if errors.As(err, &fe) && fe.Addr.IsValid() {
		attrs = append(attrs, "refused_addr", fe.Addr.String())
	}
	j.log.WarnContext(ctx, "provider: fetch client jwks_uri failed", attrs...)
}

// verifyWithKey calls verify with the key for an assertion from a
// client's set: by kid, or the only key when the assertion names none.
// The set is from parseClientJWKS, so every key in it is a public
// signing key.
func verifyWithKey(set *jose.JSONWebKeySet, kid string, verify func(*jose.JSONWebKey) error) error {
	var key *jose.JSONWebKey
	for _, k := range set.Keys {
		if kid != "" && k.KeyID != kid {
			continue
		}
		if key != nil {
			return fmt.Errorf("no unique client key for kid %q", kid)
		}
		key = &k // a copy: the cached set stays as fetched
	}
	if key == nil {
		return fmt.Errorf("no unique client key for kid %q", kid)
	}
	return verify(key)
}

func (j *clientJWKS) fetch(ctx context.Context, uri string) (*jose.JSONWebKeySet, error) {
	body, err := j.http.Get(ctx, uri)
	if err != nil {
		return nil, fmt.Errorf("fetch jwks_uri: %w", err)
	}
	set, err := parseClientJWKS(body)
	if err != nil {
		return nil, fmt.Errorf("jwks_uri %s: %w", uri, err)
	}
	return set, nil
}

// privateJWKMembers are the JWK members that carry private or symmetric
// key material (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2; "priv" for ML-DSA).
var privateJWKMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"}

// parseClientJWKS parses a JWK Set a client publishes (RFC 7517 §5) and
// keeps its public signing keys. Keys of a type not understood, or
// malformed, are skipped (RFC 7517 §5 says SHOULD ignore), as are
// encryption keys, keys whose key_ops exclude verify, and RSA keys
// outside 2048–8192 bits. A set that publishes private or symmetric key
// material is refused whole: that key is compromised by being published,
// and the client's admin must hear it rather than have it half-work.
func parseClientJWKS(b []byte) (*jose.JSONWebKeySet, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("not a JWK Set: %w", err)
	}
	if len(doc.Keys) > jwksMaxKeys {
		return nil, fmt.Errorf("more than %d keys", jwksMaxKeys)
	}
	set := &jose.JSONWebKeySet{}
	for i, raw := range doc.Keys {
		var members map[string]json.RawMessage
		if err := json.Unmarshal(raw, &members); err != nil {
			continue
		}
		if slices.ContainsFunc(privateJWKMembers, func(m string) bool { _, ok := members[m]; return ok }) {
			var kid string
			_ = json.Unmarshal(members["kid"], &kid)
			return nil, fmt.Errorf("key %d (kid %q) publishes private or symmetric key material; publish only public keys and replace that key", i, kid)
		}
		if ops, ok := members["key_ops"]; ok {
			var list []string
			if json.Unmarshal(ops, &list) != nil || !slices.Contains(list, "verify") {
				continue
			}
		}
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil || !k.Valid() || !k.IsPublic() || k.Use == "enc" {
			continue
		}
		if pub, ok := k.Key.(*rsa.PublicKey); ok && (pub.N.BitLen() < minRSABits || pub.N.BitLen() > maxRSABits) {
			continue
		}
		set.Keys = append(set.Keys, k)
	}
	if len(set.Keys) == 0 {
		return nil, errors.New("no usable public signing key")
	}
	return set, nil
}
