package ratelimit

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/testkit"
)

// Redis stops mid-run: the node goes on throttling with its own counters,
// says so, and goes back to Redis once it answers again.
func TestFailoverWhenRedisStops(t *testing.T) {
	t.Parallel()
	srv := startPrivateRedis(t)
	c := testkit.NewClock()
	primary, err := OpenRedis(RedisConfig{URL: srv.url(), Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = primary.Close() })
	var logs testkit.LogBuffer
	f := NewFailover(FailoverConfig{Primary: primary, Fallback: NewMemory(MemoryConfig{Now: c.Now}),
		Retry: 5 * time.Second, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: c.Now})

	k := Key{"acct", slow}
	attempt(t, f, k)
	attempt(t, f, k)
	if f.Degraded() || f.Status() != "" {
		t.Fatal("degraded while Redis answers")
	}

	srv.stop()
	for i := range 3 {
		if _, wait := attempt(t, f, k); wait != 0 {
			t.Fatalf("free attempt %d on the fallback waits %v", i+1, wait)
		}
	}
	if !f.Degraded() || f.Status() == "" {
		t.Fatal("not degraded although Redis is down")
	}
	if _, wait := attempt(t, f, k); wait == 0 {
		t.Fatal("the fallback does not throttle: open while Redis is down")
	}
	if n := strings.Count(logs.String(), "rate limiter degraded"); n != 1 {
		t.Fatalf("degradation logged %d times, want once:\n%s", n, logs.String())
	}

	srv.start()
	// A probe (at start, and from Watch while degraded) finds it too.
	f.Probe(t.Context())
	if f.Degraded() {
		t.Fatal("a successful probe did not end the degradation")
	}
	srv.stop()
	f.Probe(t.Context())
	if !f.Degraded() {
		t.Fatal("a failed probe did not start a degradation")
	}
	srv.start()
	if _, wait := attempt(t, f, Key{"other", slow}); wait != 0 || !f.Degraded() {
		t.Fatal("Redis tried again before Retry")
	}
	c.Advance(5 * time.Second)
	// The restarted server kept nothing (no persistence): counting starts
	// over there, and it throttles again.
	if _, wait := attempt(t, f, k); wait != 0 {
		t.Fatalf("back on Redis, first attempt waits %v", wait)
	}
	if f.Degraded() {
		t.Fatal("still degraded after Redis came back")
	}
	attempt(t, f, k)
	attempt(t, f, k)
	if _, wait := attempt(t, f, k); wait != time.Second {
		t.Fatalf("back on Redis the fourth attempt waits %v, want 1s", wait)
	}
	if !strings.Contains(logs.String(), "rate limiter recovered") {
		t.Fatalf("recovery not logged:\n%s", logs.String())
	}
}
