package ratelimit

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Policy is the allowance of one key.
type Policy struct {
	// Free is how many attempts in a row go through without waiting.
	// Defaults to 5.
	Free int
	// Base is the wait after the Free-th attempt; each further attempt
	// doubles it. Defaults to 1s.
	Base time.Duration
	// Max caps the wait. Defaults to 1h.
	Max time.Duration
	// Forget drops a key's count this long after its last attempt.
	// Defaults to 24h.
	Forget time.Duration
	// KeepOnSuccess makes a successful attempt refund itself instead of
	// forgetting the key: for keys that many people share (a client
	// address), where one success must not wipe others' failures.
	KeepOnSuccess bool
}

func (p Policy) withDefaults() Policy {
	if p.Free <= 0 {
		p.Free = 5
	}
	if p.Base <= 0 {
		p.Base = time.Second
	}
	if p.Max <= 0 {
		p.Max = time.Hour
	}
	if p.Max < p.Base {
		p.Max = p.Base
	}
	if p.Forget <= 0 {
		p.Forget = 24 * time.Hour
	}
	return p
}

// delay is the wait after the attempt numbered count (from 1): none
// before the Free-th, then Base·2^(count-Free), at most Max.
func (p Policy) delay(count int) time.Duration {
	over := count - p.Free
	if over < 0 {
		return 0
	}
	if over >= 40 { // the shift would overflow; Max applies anyway
		return p.Max
	}
	d := p.Base << over
	if d <= 0 || d > p.Max {
		return p.Max
	}
	return d
}

// Key is one counter and its policy.
type Key struct {
	Name   string
	Policy Policy
}

// Limiter counts attempts. Implementations are safe for concurrent use.
type Limiter interface {
	// Attempt counts one attempt on every key, atomically: when any key
	// must still wait, nothing is counted and retryAfter (> 0) says how
	// long the longest wait is. Otherwise the caller holds a Reservation
	// and must settle it (Success or Cancel) or leave it as a failure,
	// which it already is. An error means the counters could not be
	// reached: the caller must not proceed as if allowed.
	Attempt(ctx context.Context, keys ...Key) (r *Reservation, retryAfter time.Duration, err error)
}

// settler is what a Reservation reports back to.
type settler interface {
	settle(ctx context.Context, keys []Key, success bool) error
}

// Reservation is one counted attempt. Doing nothing with it leaves the
// attempt counted as a failure.
type Reservation struct {
	keys []Key
	s    settler
}

// Success records that the attempt succeeded: keys are forgotten, except
// KeepOnSuccess keys, whose count gives this attempt back.
func (r *Reservation) Success(ctx context.Context) error {
	if r == nil || r.s == nil {
		return nil
	}
	return r.s.settle(ctx, r.keys, true)
}

// Cancel gives the attempt back on every key: for attempts that never ran
// the work being limited (an internal error before it, say).
func (r *Reservation) Cancel(ctx context.Context) error {
	if r == nil || r.s == nil {
		return nil
	}
	return r.s.settle(ctx, r.keys, false)
}

// GiveBack gives one attempt back on each of keys, counted by an earlier
// Attempt whose Reservation is out of reach: a step begun in one request
// and answered in another (a WebAuthn ceremony: its options, then its
// answer), which cancels what the first counted. It is Cancel without the
// Reservation; a key with nothing counted is left alone.
func GiveBack(ctx context.Context, l Limiter, keys ...Key) error {
	s, ok := l.(settler)
	if !ok {
		return fmt.Errorf("ratelimit: %T cannot give attempts back", l)
	}
	return s.settle(ctx, normalize(keys), false)
}

// normalize drops repeated keys (the first stays) and applies defaults.
// An attempt has a few keys, so a scan of out beats a set.
func normalize(keys []Key) []Key {
	out := make([]Key, 0, len(keys))
	for _, k := range keys {
		if !slices.ContainsFunc(out, func(o Key) bool { return o.Name == k.Name }) {
			out = append(out, Key{Name: k.Name, Policy: k.Policy.withDefaults()})
		}
	}
	return out
}
