package ratelimit

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/testkit"
)

// backend opens a fresh, empty limiter on clock now.
type backend struct {
	name string
	open func(t *testing.T, now func() time.Time) Limiter
}

// backends is Memory always and Redis when GATEHOUSE_TEST_REDIS_URL is set
// (skip-or-fail like internal/testdb).
func backends(t *testing.T) []backend {
	t.Helper()
	bs := []backend{{"memory", func(_ *testing.T, now func() time.Time) Limiter { return NewMemory(MemoryConfig{Now: now}) }}}
	if url := testkit.RedisURL(t); url != "" {
		bs = append(bs, backend{"redis", func(t *testing.T, now func() time.Time) Limiter { return openTestRedis(t, url, now) }})
	}
	return bs
}

var (
	slow  = Policy{Free: 3, Base: time.Second, Max: 10 * time.Second, Forget: time.Hour}
	share = Policy{Free: 3, Base: time.Second, Max: 10 * time.Second, Forget: time.Hour, KeepOnSuccess: true}
)

func attempt(t *testing.T, l Limiter, keys ...Key) (*Reservation, time.Duration) {
	t.Helper()
	r, wait, err := l.Attempt(t.Context(), keys...)
	if err != nil {
		t.Fatalf("attempt: %v", err)
	}
	if (r == nil) == (wait == 0) {
		t.Fatalf("attempt: reservation %v with wait %v", r, wait)
	}
	return r, wait
}

// TestLimiter is the contract every Limiter meets, run on each backend.
func TestLimiter(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		run  func(t *testing.T, l Limiter, c *testkit.Clock)
	}{
		{"Free attempts go through, then the wait doubles up to Max", func(t *testing.T, l Limiter, c *testkit.Clock) {
			k := Key{"k", slow}
			for i := range 3 {
				if _, wait := attempt(t, l, k); wait != 0 {
					t.Fatalf("free attempt %d waits %v", i+1, wait)
				}
			}
			var got []time.Duration
			for range 6 {
				_, wait := attempt(t, l, k)
				if _, again := attempt(t, l, k); again != wait {
					t.Fatalf("a refused attempt changed the wait from %v to %v", wait, again)
				}
				got = append(got, wait)
				c.Advance(wait)
				if _, wait := attempt(t, l, k); wait != 0 {
					t.Fatalf("attempt after the wait refused for %v", wait)
				}
			}
			want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
			if !slices.Equal(got, want) {
				t.Fatalf("waits %v, want %v", got, want)
			}
		}},
		{"keys are separate", func(t *testing.T, l Limiter, _ *testkit.Clock) {
			for range 3 {
				attempt(t, l, Key{"a", slow})
			}
			if _, wait := attempt(t, l, Key{"a", slow}); wait == 0 {
				t.Fatal("a not throttled")
			}
			if _, wait := attempt(t, l, Key{"b", slow}); wait != 0 {
				t.Fatal("b throttled by a's attempts")
			}
		}},
		{"success forgets the key", func(t *testing.T, l Limiter, _ *testkit.Clock) {
			attempt(t, l, Key{"k", slow})
			attempt(t, l, Key{"k", slow})
			r, _ := attempt(t, l, Key{"k", slow})
			if err := r.Success(t.Context()); err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				if _, wait := attempt(t, l, Key{"k", slow}); wait != 0 {
					t.Fatalf("attempt %d after success waits %v", i+1, wait)
				}
			}
		}},
		{"success gives back a KeepOnSuccess key's attempt, no more", func(t *testing.T, l Limiter, _ *testkit.Clock) {
			attempt(t, l, Key{"ip", share})
			attempt(t, l, Key{"ip", share})
			r, _ := attempt(t, l, Key{"ip", share})
			if err := r.Success(t.Context()); err != nil {
				t.Fatal(err)
			}
			if _, wait := attempt(t, l, Key{"ip", share}); wait != 0 {
				t.Fatal("the successful attempt still counts")
			}
			if _, wait := attempt(t, l, Key{"ip", share}); wait == 0 {
				t.Fatal("success forgot the earlier failures")
			}
		}},
		{"cancel gives the attempt back", func(t *testing.T, l Limiter, _ *testkit.Clock) {
			for range 10 {
				r, wait := attempt(t, l, Key{"k", slow})
				if wait != 0 {
					t.Fatal("cancelled attempts were counted")
				}
				if err := r.Cancel(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"a key is forgotten after Forget", func(t *testing.T, l Limiter, c *testkit.Clock) {
			for range 4 {
				attempt(t, l, Key{"k", slow})
				c.Advance(10 * time.Second)
			}
			c.Advance(time.Hour + time.Second)
			for i := range 3 {
				if _, wait := attempt(t, l, Key{"k", slow}); wait != 0 {
					t.Fatalf("attempt %d after Forget waits %v", i+1, wait)
				}
			}
		}},
		{"a refused attempt counts on no key", func(t *testing.T, l Limiter, _ *testkit.Clock) {
			for range 3 {
				attempt(t, l, Key{"acct", slow})
			}
			for range 10 {
				if _, wait := attempt(t, l, Key{"acct", slow}, Key{"ip", slow}); wait != time.Second {
					t.Fatalf("wait %v, want the account's 1s", wait)
				}
			}
			if _, wait := attempt(t, l, Key{"ip", slow}); wait != 0 {
				t.Fatal("refused attempts were counted on the address")
			}
		}},
		{"60 parallel attempts: exactly Free go through", func(t *testing.T, l Limiter, _ *testkit.Clock) {
			var allowed, refused atomic.Int64
			var start, done sync.WaitGroup
			start.Add(1)
			for range 60 {
				done.Add(1)
				go func() {
					defer done.Done()
					start.Wait()
					r, wait, err := l.Attempt(context.Background(), Key{"victim", Policy{Free: 5, Base: time.Minute}})
					switch {
					case err != nil:
						t.Error(err)
					case r != nil:
						allowed.Add(1)
					case wait > 0:
						refused.Add(1)
					}
				}()
			}
			start.Done()
			done.Wait()
			if allowed.Load() != 5 || refused.Load() != 55 {
				t.Fatalf("%d allowed, %d refused; want 5 and 55", allowed.Load(), refused.Load())
			}
		}},
		{"GiveBack returns an attempt whose reservation is gone", func(t *testing.T, l Limiter, c *testkit.Clock) {
			k := Key{"k", slow}
			for range 3 {
				attempt(t, l, k)
			}
			if _, wait := attempt(t, l, k); wait == 0 {
				t.Fatal("a 4th attempt went through")
			}
			if err := GiveBack(t.Context(), l, k); err != nil {
				t.Fatal(err)
			}
			if _, wait := attempt(t, l, k); wait != 0 {
				t.Fatalf("after a give-back the attempt waits %v", wait)
			}
			// Nothing counted: nothing to give back, and no credit either.
			other := Key{"other", slow}
			if err := GiveBack(t.Context(), l, other); err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				if _, wait := attempt(t, l, other); wait != 0 {
					t.Fatalf("free attempt %d waits %v", i+1, wait)
				}
			}
			if _, wait := attempt(t, l, other); wait == 0 {
				t.Fatal("a give-back of nothing left a credit")
			}
		}},
	}
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					c := testkit.NewClock()
					tc.run(t, b.open(t, c.Now), c)
				})
			}
		})
	}
}
