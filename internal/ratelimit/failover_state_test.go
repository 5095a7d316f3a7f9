package ratelimit

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/testkit"
)

// switchable is a Primary that fails while down is set.
type switchable struct {
	Limiter
	down atomic.Bool
}

func (s *switchable) Attempt(ctx context.Context, keys ...Key) (*Reservation, time.Duration, error) {
	if s.down.Load() {
		return nil, 0, errors.New("store unreachable")
	}
	return s.Limiter.Attempt(ctx, keys...)
}

// A healthy attempt takes no lock: it goes through while another holds
// the one that guards the degraded state.
func TestFailoverHealthyAttemptTakesNoLock(t *testing.T) {
	t.Parallel()
	c := testkit.NewClock()
	f := NewFailover(FailoverConfig{Primary: NewMemory(MemoryConfig{Now: c.Now}), Fallback: NewMemory(MemoryConfig{Now: c.Now}),
		Logger: slog.New(slog.DiscardHandler), Now: c.Now})
	f.mu.Lock()
	defer f.mu.Unlock()
	r, _ := attempt(t, f, Key{"acct", slow})
	if err := r.Success(t.Context()); err != nil {
		t.Fatal(err)
	}
	if f.Degraded() {
		t.Fatal("degraded")
	}
}

// Many attempts meet the store going down, and later coming back, at the
// same moment: each change of state is logged once, and every attempt is
// counted by one limiter or the other.
func TestFailoverConcurrentStateChanges(t *testing.T) {
	t.Parallel()
	c := testkit.NewClock()
	primary := &switchable{Limiter: NewMemory(MemoryConfig{Now: c.Now})}
	var logs testkit.LogBuffer
	f := NewFailover(FailoverConfig{Primary: primary, Fallback: NewMemory(MemoryConfig{Now: c.Now}),
		Retry: 5 * time.Second, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: c.Now})
	many := Policy{Free: 1000, Base: time.Second, Max: time.Second, Forget: time.Hour}

	burst := func() {
		t.Helper()
		const n = 32
		start := make(chan struct{})
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Go(func() {
				<-start // a barrier: all attempts race for the state change
				if _, wait, err := f.Attempt(context.Background(), Key{"acct", many}); err != nil || wait != 0 {
					errs <- errors.Join(err, errors.New("attempt refused"))
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}

	primary.down.Store(true)
	burst()
	if !f.Degraded() {
		t.Fatal("not degraded although the store is down")
	}
	if n := strings.Count(logs.String(), "rate limiter degraded"); n != 1 {
		t.Fatalf("degradation logged %d times, want once:\n%s", n, logs.String())
	}

	primary.down.Store(false)
	c.Advance(5 * time.Second)
	burst()
	if f.Degraded() {
		t.Fatal("still degraded after the store came back")
	}
	if n := strings.Count(logs.String(), "rate limiter recovered"); n != 1 {
		t.Fatalf("recovery logged %d times, want once:\n%s", n, logs.String())
	}
}
