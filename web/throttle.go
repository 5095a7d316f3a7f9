package web

import (
	"context"
	"sync"
	"time"
)

// Limiter counts failed sign-in attempts per key ("account:<email>",
// "ip:<address>") and says when the next attempt may be made. It throttles
// with growing delays instead of locking accounts, so an attacker cannot
// lock the owner out (SECURITY-CHECKLIST ATO-02, NIST SP 800-63B-4 §3.2.2).
// The login handler calls Wait before verifying a password, Failure after
// a wrong one and Success after a right one. Implementations must be safe
// for concurrent use; the in-memory one serves a single node, a shared one
// (Redis) several.
type Limiter interface {
	// Wait returns how long the caller must wait before an attempt for key
	// is allowed; zero means now.
	Wait(ctx context.Context, key string) (time.Duration, error)
	// Failure records a failed attempt for key.
	Failure(ctx context.Context, key string) error
	// Success forgets key's failures.
	Success(ctx context.Context, key string) error
}

// MemoryLimiterConfig tunes NewMemoryLimiter.
type MemoryLimiterConfig struct {
	// Free is how many consecutive failures cost nothing. Defaults to 5.
	Free int
	// Base is the delay after the first failure past Free; each further
	// failure doubles it. Defaults to 1s.
	Base time.Duration
	// Max caps the delay. Defaults to 1h.
	Max time.Duration
	// Forget drops a key this long after its last failure. Defaults to 24h.
	Forget time.Duration
	// MaxKeys bounds memory; when exceeded, forgotten keys are swept and,
	// if still over, the oldest key is dropped. Defaults to 100000.
	MaxKeys int
	// Now defaults to time.Now.
	Now func() time.Time
}

// NewMemoryLimiter returns a Limiter that keeps its counters in this
// process: failure n (counting from 1) beyond Free blocks the key for
// Base·2^(n-Free-1), at most Max.
func NewMemoryLimiter(c MemoryLimiterConfig) *MemoryLimiter {
	if c.Free <= 0 {
		c.Free = 5
	}
	if c.Base <= 0 {
		c.Base = time.Second
	}
	if c.Max <= 0 {
		c.Max = time.Hour
	}
	if c.Forget <= 0 {
		c.Forget = 24 * time.Hour
	}
	if c.MaxKeys <= 0 {
		c.MaxKeys = 100000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return &MemoryLimiter{cfg: c, keys: map[string]*attempts{}}
}

// MemoryLimiter is the in-process Limiter.
type MemoryLimiter struct {
	cfg  MemoryLimiterConfig
	mu   sync.Mutex
	keys map[string]*attempts
}

type attempts struct {
	failures    int
	lastFailure time.Time
	until       time.Time
}

var _ Limiter = (*MemoryLimiter)(nil)

// Wait implements Limiter.
func (l *MemoryLimiter) Wait(_ context.Context, key string) (time.Duration, error) {
	now := l.cfg.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	a, ok := l.keys[key]
	if !ok {
		return 0, nil
	}
	if now.Sub(a.lastFailure) > l.cfg.Forget {
		delete(l.keys, key)
		return 0, nil
	}
	if d := a.until.Sub(now); d > 0 {
		return d, nil
	}
	return 0, nil
}

// Failure implements Limiter.
func (l *MemoryLimiter) Failure(_ context.Context, key string) error {
	now := l.cfg.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	a, ok := l.keys[key]
	if !ok || now.Sub(a.lastFailure) > l.cfg.Forget {
		if len(l.keys) >= l.cfg.MaxKeys {
			l.sweep(now)
		}
		a = &attempts{}
		l.keys[key] = a
	}
	a.failures++
	a.lastFailure = now
	if over := a.failures - l.cfg.Free; over > 0 {
		d := l.cfg.Max
		if over <= 40 { // beyond that the shift overflows; Max applies anyway
			if b := l.cfg.Base << (over - 1); b > 0 && b < l.cfg.Max {
				d = b
			}
		}
		a.until = now.Add(d)
	}
	return nil
}

// Success implements Limiter.
func (l *MemoryLimiter) Success(_ context.Context, key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.keys, key)
	return nil
}

// sweep drops forgotten keys and, if that frees nothing, the key whose last
// failure is oldest. Called with mu held.
func (l *MemoryLimiter) sweep(now time.Time) {
	var oldest string
	var oldestAt time.Time
	for k, a := range l.keys {
		if now.Sub(a.lastFailure) > l.cfg.Forget {
			delete(l.keys, k)
			continue
		}
		if oldest == "" || a.lastFailure.Before(oldestAt) {
			oldest, oldestAt = k, a.lastFailure
		}
	}
	if len(l.keys) >= l.cfg.MaxKeys && oldest != "" {
		delete(l.keys, oldest)
	}
}
