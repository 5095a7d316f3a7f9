package ratelimit

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// FailoverConfig configures NewFailover.
type FailoverConfig struct {
	// Primary is the shared limiter (Redis). Required.
	Primary Limiter
	// Fallback keeps this node's own counters while Primary is
	// unreachable. Required.
	Fallback Limiter
	// Retry is how often, while degraded, one attempt tries Primary again.
	// Defaults to 5s.
	Retry time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
}

// Failover is a Limiter that uses Primary and, when Primary fails, this
// node's Fallback: sign-ins stay throttled (never open) and keep working
// (never a total outage). While degraded, one attempt every Retry tries
// Primary again; the first that succeeds ends the degradation. Each change
// is logged once.
type Failover struct {
	cfg FailoverConfig

	// degraded says which limiter is live. A healthy attempt reads only
	// this (no lock); it changes only under mu, so each change is logged
	// once.
	degraded atomic.Bool

	mu      sync.Mutex
	since   time.Time // guarded by mu
	nextTry time.Time // guarded by mu
}

var _ Limiter = (*Failover)(nil)

// NewFailover returns a Failover that starts on Primary.
func NewFailover(c FailoverConfig) *Failover {
	if c.Retry <= 0 {
		c.Retry = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return &Failover{cfg: c}
}

// Attempt implements Limiter.
func (f *Failover) Attempt(ctx context.Context, keys ...Key) (*Reservation, time.Duration, error) {
	if f.usePrimary() {
		r, wait, err := f.cfg.Primary.Attempt(ctx, keys...)
		if err == nil {
			f.recovered(ctx)
			if r != nil {
				r.s = quiet{r.s, f}
			}
			return r, wait, nil
		}
		if ctx.Err() != nil {
			return nil, 0, err
		}
		f.failed(ctx, err)
	}
	return f.cfg.Fallback.Attempt(ctx, keys...)
}

// Degraded reports whether the node is on its own counters.
func (f *Failover) Degraded() bool {
	return f.degraded.Load()
}

// Status is "" when healthy, otherwise a sentence for /readyz.
func (f *Failover) Status() string {
	if f.Degraded() {
		return "rate limiter: shared store unreachable, this node counts attempts on its own"
	}
	return ""
}

// usePrimary says whether this attempt goes to Primary: always when
// healthy (without taking the lock), once a Retry while degraded.
func (f *Failover) usePrimary() bool {
	if !f.degraded.Load() {
		return true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.degraded.Load() {
		return true // recovered meanwhile
	}
	now := f.cfg.Now()
	if now.Before(f.nextTry) {
		return false
	}
	f.nextTry = now.Add(f.cfg.Retry)
	return true
}

func (f *Failover) failed(ctx context.Context, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.cfg.Now()
	f.nextTry = now.Add(f.cfg.Retry)
	if f.degraded.Load() {
		return
	}
	f.since = now
	f.degraded.Store(true)
	f.cfg.Logger.ErrorContext(ctx, "rate limiter degraded: shared store unreachable, counting attempts on this node only",
		"err", err, "retry_every", f.cfg.Retry.String())
}

// recovered ends a degradation. On the hot path (healthy, after every
// successful attempt) it takes no lock.
func (f *Failover) recovered(ctx context.Context) {
	if !f.degraded.Load() {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.degraded.Load() {
		return // another attempt ended it and logged it
	}
	f.degraded.Store(false)
	f.cfg.Logger.InfoContext(ctx, "rate limiter recovered: shared store reachable again",
		"degraded_for", f.cfg.Now().Sub(f.since).String())
}

// quiet settles on the limiter that counted the attempt; an error there
// is logged, not returned: the attempt's outcome stands either way.
type quiet struct {
	s settler
	f *Failover
}

func (q quiet) settle(ctx context.Context, keys []Key, success bool) error {
	if err := q.s.settle(ctx, keys, success); err != nil {
		q.f.cfg.Logger.WarnContext(ctx, "settle attempt", "err", err)
	}
	return nil
}

// settle gives attempts back (GiveBack) on the counters in use: Primary's
// unless degraded. An attempt counted by the other set of counters before
// a switch stays counted there until forgotten, as any of its attempts do.
func (f *Failover) settle(ctx context.Context, keys []Key, success bool) error {
	l := f.cfg.Fallback
	if !f.Degraded() {
		l = f.cfg.Primary
	}
	s, ok := l.(settler)
	if !ok {
		return fmt.Errorf("ratelimit: %T cannot settle", l)
	}
	return quiet{s, f}.settle(ctx, keys, success)
}

// Pinger is a Primary that can say whether it answers (Redis does).
type Pinger interface {
	Ping(ctx context.Context) error
}

// Probe pings Primary, when it is a Pinger, and moves to it or away from
// it accordingly: at start, so a node whose Redis is down says so before
// its first sign-in, and from Watch.
func (f *Failover) Probe(ctx context.Context) {
	p, ok := f.cfg.Primary.(Pinger)
	if !ok {
		return
	}
	if err := p.Ping(ctx); err != nil {
		if ctx.Err() == nil {
			f.failed(ctx, err)
		}
		return
	}
	f.recovered(ctx)
}

// Watch probes Primary every Retry while degraded, until ctx ends, so a
// node with no sign-ins still notices that Redis is back.
func (f *Failover) Watch(ctx context.Context) {
	t := time.NewTicker(f.cfg.Retry)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if f.Degraded() {
				f.Probe(ctx)
			}
		}
	}
}
