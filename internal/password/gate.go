package password

import (
	"errors"
	"runtime"
	"sync/atomic"
	"time"
)

// ErrBusy means too many hashes are being computed: the caller should
// answer "try again in a moment" (HTTP 503 with Retry-After, GraphQL
// RATE_LIMITED), never treat it as a wrong password.
var ErrBusy = errors.New("password hashing at capacity, try again shortly")

// BusyRetryAfter is what to tell a caller turned away with ErrBusy.
const BusyRetryAfter = time.Second

// Every Hash and Verify (Dummy's included) holds a slot of one gate for
// this process while argon2id runs, so that memory stays bounded at
// slots × Params.Memory (64 MiB each by Default) however many sign-ins,
// sign-ups or GraphQL setUserPassword mutations arrive at once, and
// through whichever package. A caller that finds every slot taken waits
// up to the gate's wait, then gets ErrBusy.
type gate struct {
	slots  chan struct{}
	wait   time.Duration
	inUse  atomic.Int64
	peak   atomic.Int64
	busy   atomic.Int64
	hashes atomic.Int64
}

var current atomic.Pointer[gate]

// DefaultWait is how long a hash waits for a slot by default.
const DefaultWait = 2 * time.Second

// SetConcurrency sets how many argon2id computations may run at once in
// this process (n <= 0: twice the CPU count) and how long one waits for a
// slot (wait <= 0: DefaultWait). Call it at start, before any hashing;
// hashes already waiting keep the old gate.
func SetConcurrency(n int, wait time.Duration) {
	current.Store(newGate(n, wait))
}

func newGate(n int, wait time.Duration) *gate {
	if n <= 0 {
		n = 2 * runtime.NumCPU()
	}
	if wait <= 0 {
		wait = DefaultWait
	}
	return &gate{slots: make(chan struct{}, n), wait: wait}
}

// load is the current gate, the default one until SetConcurrency.
func load() *gate {
	if g := current.Load(); g != nil {
		return g
	}
	current.CompareAndSwap(nil, newGate(0, 0))
	return current.Load()
}

// Concurrency is the current bound.
func Concurrency() int { return cap(load().slots) }

// Stats is what the gate has seen since the last SetConcurrency.
type Stats struct {
	Peak   int64 // most computations at once
	Busy   int64 // callers turned away with ErrBusy
	Hashes int64 // computations run
}

// GateStats reports the current gate's counters (for tests, metrics and
// benchmarks).
func GateStats() Stats {
	g := load()
	return Stats{Peak: g.peak.Load(), Busy: g.busy.Load(), Hashes: g.hashes.Load()}
}

// run computes f in a slot.
func run(f func()) error {
	g := load()
	select {
	case g.slots <- struct{}{}:
	default:
		t := time.NewTimer(g.wait)
		select {
		case g.slots <- struct{}{}:
			t.Stop()
		case <-t.C:
			g.busy.Add(1)
			return ErrBusy
		}
	}
	n := g.inUse.Add(1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			break
		}
	}
	defer func() {
		g.inUse.Add(-1)
		<-g.slots
	}()
	g.hashes.Add(1)
	f()
	return nil
}

// Occupy takes n slots of the current gate as if n hashes were running,
// until release is called: for tests of callers at capacity.
func Occupy(n int) (release func()) {
	g := load()
	for range n {
		g.slots <- struct{}{}
	}
	return func() {
		for range n {
			<-g.slots
		}
	}
}
