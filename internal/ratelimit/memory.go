package ratelimit

import (
	"container/list"
	"context"
	"hash/maphash"
	"slices"
	"sync"
	"time"
)

// MemoryConfig tunes NewMemory.
type MemoryConfig struct {
	// MaxKeys bounds how many keys are kept. Defaults to 1 000 000 (about
	// 150 MB at worst).
	MaxKeys int
	// Shards splits the keys between this many locks. Defaults to 64.
	Shards int
	// Now defaults to time.Now.
	Now func() time.Time
}

// scanLimit bounds the work one Attempt may do to make room in a shard:
// no sweep is ever longer, whatever the number of keys.
const scanLimit = 8

// Memory is a Limiter that keeps its counters in this process. Keys are
// spread over shards, each with its own lock and its keys in the order of
// their last attempt. A full shard makes room only by dropping keys that
// are forgotten anyway or have not yet used their free attempts (the
// oldest first, looking at no more than a few); when there is none, a new
// key is refused for its policy's Base — the throttle tightens rather than
// forgets a key that is being delayed, however many keys an attacker
// makes up.
type Memory struct {
	now      func() time.Time
	seed     maphash.Seed
	shards   []shard
	perShard int
}

type shard struct {
	mu    sync.Mutex
	keys  map[string]*entry
	order list.List // of *entry, least recent attempt first
}

type entry struct {
	name  string
	count int
	last  time.Time
	until time.Time
	p     Policy
	elem  *list.Element
}

var _ Limiter = (*Memory)(nil)

// NewMemory returns an empty Memory.
func NewMemory(c MemoryConfig) *Memory {
	if c.MaxKeys <= 0 {
		c.MaxKeys = 1_000_000
	}
	if c.Shards <= 0 {
		c.Shards = 64
	}
	c.Shards = min(c.Shards, c.MaxKeys)
	if c.Now == nil {
		c.Now = time.Now
	}
	m := &Memory{now: c.Now, seed: maphash.MakeSeed(), shards: make([]shard, c.Shards),
		perShard: (c.MaxKeys + c.Shards - 1) / c.Shards}
	for i := range m.shards {
		m.shards[i].keys = map[string]*entry{}
	}
	return m
}

func (m *Memory) shardOf(name string) int {
	return int(maphash.String(m.seed, name) % uint64(len(m.shards)))
}

// lock locks the shards of keys, each once, in ascending order (so that
// two multi-key attempts never deadlock); idx[i] is the shard of keys[i].
// m.unlock(idx) unlocks them. An attempt has a few keys: scanning idx
// again beats sorting a copy of it.
func (m *Memory) lock(keys []Key) (idx []int) {
	idx = make([]int, len(keys))
	for i, k := range keys {
		idx[i] = m.shardOf(k.Name)
	}
	for last := -1; ; {
		next := -1
		for _, i := range idx {
			if i > last && (next < 0 || i < next) {
				next = i
			}
		}
		if next < 0 {
			return idx
		}
		m.shards[next].mu.Lock()
		last = next
	}
}

func (m *Memory) unlock(idx []int) {
	for j, i := range idx {
		if !slices.Contains(idx[:j], i) {
			m.shards[i].mu.Unlock()
		}
	}
}

// live is the entry of name unless it is forgotten.
func (s *shard) live(name string, now time.Time) *entry {
	e := s.keys[name]
	if e == nil || now.Sub(e.last) > e.p.Forget {
		return nil
	}
	return e
}

// Attempt implements Limiter.
func (m *Memory) Attempt(_ context.Context, keys ...Key) (*Reservation, time.Duration, error) {
	keys = normalize(keys)
	now := m.now()
	idx := m.lock(keys)
	defer m.unlock(idx)
	var wait time.Duration
	for i, k := range keys {
		if e := m.shards[idx[i]].live(k.Name, now); e != nil {
			wait = max(wait, e.until.Sub(now))
		}
	}
	if wait > 0 {
		return nil, wait, nil
	}
	for i, k := range keys {
		if n := m.newKeys(keys, idx, idx[i]); n > 0 && !m.shards[idx[i]].makeRoom(n, m.perShard, now, keys) {
			wait = max(wait, k.Policy.Base)
		}
	}
	if wait > 0 {
		return nil, wait, nil
	}
	for i, k := range keys {
		s := &m.shards[idx[i]]
		e := s.keys[k.Name]
		if e == nil {
			e = &entry{name: k.Name}
			e.elem = s.order.PushBack(e)
			s.keys[k.Name] = e
		} else {
			if now.Sub(e.last) > e.p.Forget {
				e.count, e.until = 0, time.Time{}
			}
			s.order.MoveToBack(e.elem)
		}
		e.p = k.Policy
		e.count++
		e.last = now
		if d := e.p.delay(e.count); d > 0 {
			e.until = now.Add(d)
		}
	}
	return &Reservation{keys: keys, s: m}, 0, nil
}

// newKeys is how many of keys fall in shard and have no entry there yet
// (makeRoom never drops a key of the attempt, so the answer holds until
// the attempt counts them). Called with the shard locked.
func (m *Memory) newKeys(keys []Key, idx []int, shard int) int {
	n := 0
	for j, k := range keys {
		if idx[j] == shard && m.shards[shard].keys[k.Name] == nil {
			n++
		}
	}
	return n
}

// makeRoom makes space for n new keys, looking at no more than scanLimit
// keys from the front of the order (least recently attempted, or passed
// over by an earlier scan). The keys of the attempt itself are never
// dropped: that would reset a count the attempt is about to raise, and
// make room nobody counted. Called with s.mu held.
func (s *shard) makeRoom(n, capacity int, now time.Time, attempt []Key) bool {
	scanned := 0
	for el := s.order.Front(); el != nil && len(s.keys)+n > capacity && scanned < scanLimit; scanned++ {
		next := el.Next()
		e := el.Value.(*entry)
		ours := slices.ContainsFunc(attempt, func(k Key) bool { return k.Name == e.name })
		if !ours && (now.Sub(e.last) > e.p.Forget || e.count < e.p.Free && !now.Before(e.until)) {
			s.order.Remove(el)
			delete(s.keys, e.name)
		} else {
			// Kept, and moved out of the way: the next scan looks at
			// other keys, so a few long-delayed keys at the front cannot
			// shut a shard to new keys until they are forgotten.
			s.order.MoveToBack(el)
		}
		el = next
	}
	return len(s.keys)+n <= capacity
}

func (m *Memory) settle(_ context.Context, keys []Key, success bool) error {
	now := m.now()
	idx := m.lock(keys)
	defer m.unlock(idx)
	for i, k := range keys {
		s := &m.shards[idx[i]]
		e := s.live(k.Name, now)
		if e == nil {
			continue
		}
		if success && !k.Policy.KeepOnSuccess {
			s.order.Remove(e.elem)
			delete(s.keys, k.Name)
			continue
		}
		e.count--
		if e.count < e.p.Free {
			e.until = time.Time{}
		}
		if e.count <= 0 {
			s.order.Remove(e.elem)
			delete(s.keys, k.Name)
		}
	}
	return nil
}

// Len is the number of keys kept (for tests and metrics).
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.keys)
		s.mu.Unlock()
	}
	return n
}
