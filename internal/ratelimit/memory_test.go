package ratelimit

import (
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/testkit"
)

// An attacker who makes up keys until the memory is full cannot make the
// limiter forget a key it is delaying: new keys are refused instead.
func TestMemoryFloodDoesNotForgetVictim(t *testing.T) {
	t.Parallel()
	c := testkit.NewClock()
	m := NewMemory(MemoryConfig{MaxKeys: 16, Shards: 1, Now: c.Now})
	victim := Key{"victim", slow}
	for range 3 {
		attempt(t, m, victim)
	}
	if _, wait := attempt(t, m, victim); wait != time.Second {
		t.Fatalf("victim waits %v, want 1s", wait)
	}
	refused := 0
	for i := range 1000 {
		// Each made-up key used up to its free allowance, so none of them
		// may be dropped either.
		k := Key{"flood" + strconv.Itoa(i), slow}
		for range 3 {
			if _, wait := attempt(t, m, k); wait > 0 {
				refused++
				break
			}
		}
	}
	if refused == 0 {
		t.Fatal("a full memory accepted every new key")
	}
	if m.Len() > 16 {
		t.Fatalf("%d keys kept, max 16", m.Len())
	}
	if _, wait := attempt(t, m, victim); wait != time.Second {
		t.Fatalf("after the flood the victim waits %v, want 1s (its counter was forgotten)", wait)
	}
}

// Keys that have not used their free allowance, or are forgotten anyway,
// make room for new ones, the oldest first.
func TestMemoryEvictsOnlyHarmlessKeys(t *testing.T) {
	t.Parallel()
	c := testkit.NewClock()
	m := NewMemory(MemoryConfig{MaxKeys: 4, Shards: 1, Now: c.Now})
	for i := range 4 {
		attempt(t, m, Key{"once" + strconv.Itoa(i), slow})
		c.Advance(time.Millisecond)
	}
	for i := range 100 {
		if _, wait := attempt(t, m, Key{"new" + strconv.Itoa(i), slow}); wait != 0 {
			t.Fatalf("new key %d refused although older keys had attempts to spare", i)
		}
	}
	if m.Len() != 4 {
		t.Fatalf("%d keys kept, want 4", m.Len())
	}
}

// Delayed keys at the front of a full shard do not keep new keys out for
// long: a scan moves them out of the way and the next finds room.
func TestMemoryDelayedKeysDoNotBlockTheShard(t *testing.T) {
	t.Parallel()
	c := testkit.NewClock()
	m := NewMemory(MemoryConfig{MaxKeys: 16, Shards: 1, Now: c.Now})
	for i := range 8 { // the oldest: delayed, never dropped
		k := Key{"delayed" + strconv.Itoa(i), slow}
		for range 3 {
			attempt(t, m, k)
		}
	}
	for i := range 8 { // then keys with attempts to spare
		attempt(t, m, Key{"once" + strconv.Itoa(i), slow})
	}
	admitted := false
	for range 2 {
		if _, wait := attempt(t, m, Key{"new", slow}); wait == 0 {
			admitted = true
			break
		}
	}
	if !admitted {
		t.Fatal("a new key was refused twice while the shard held keys it may drop")
	}
	for i := range 8 {
		if _, wait := attempt(t, m, Key{"delayed" + strconv.Itoa(i), slow}); wait == 0 {
			t.Fatalf("delayed key %d was forgotten to make room", i)
		}
	}
}
