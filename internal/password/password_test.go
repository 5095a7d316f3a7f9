package password

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var fast = Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

func TestHashAndVerify(t *testing.T) {
	h, err := Hash("correct horse battery staple", fast)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("hash = %q, want a PHC argon2id string", h)
	}
	if _, err := Verify("correct horse battery staple", h, fast); err != nil {
		t.Errorf("right password: %v", err)
	}
	for _, wrong := range []string{"", "correct horse battery stapl", "Correct horse battery staple", strings.Repeat("x", MaxLength+1)} {
		if _, err := Verify(wrong, h, fast); !errors.Is(err, ErrMismatch) {
			t.Errorf("Verify(%.20q) = %v, want ErrMismatch", wrong, err)
		}
	}
	if rehash, _ := Verify("correct horse battery staple", h, Default); !rehash {
		t.Error("a hash weaker than Default should ask for a rehash")
	}
	h2, _ := Hash("correct horse battery staple", fast)
	if h == h2 {
		t.Error("two hashes of one password are equal: salt is not random")
	}
}

func TestMalformedHashes(t *testing.T) {
	for _, h := range []string{"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=18$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=1,p=1$!!$a2V5a2V5a2V5a2V5a2V5a2V5"} {
		if _, err := Verify("x", h, fast); !errors.Is(err, ErrMalformedHash) {
			t.Errorf("Verify against %q = %v, want ErrMalformedHash", h, err)
		}
	}
}

func FuzzVerify(f *testing.F) {
	h, _ := Hash("pw", fast)
	f.Add("pw", h)
	f.Add("x", "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5")
	f.Add("pw", "$2a$04$wcrH1hc4CbI7ZlvAHEzI9uFY2IcRQ2ZdwNl43B2r7KuP8.wdqZSo2") // bcrypt, cost 4
	f.Add("x", "$2y$04$")
	f.Fuzz(func(t *testing.T, pw, hash string) {
		if strings.Contains(hash, "m=") && !strings.Contains(hash, "m=64,") {
			return // keep the fuzzer away from expensive parameters
		}
		if isBcrypt(hash) && !strings.HasPrefix(hash[3:], "$04$") {
			return // and from expensive bcrypt costs
		}
		_, _ = Verify(pw, hash, fast)
	})
}

// TestValidateAgreesWithVerify: whatever Validate accepts, Verify accepts
// the hash of; what it refuses, Hash refuses.
func TestValidateAgreesWithVerify(t *testing.T) {
	for _, p := range []Params{fast, {Memory: maxMemory, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 64}} {
		h, err := Hash("pw", p)
		if err != nil {
			t.Fatalf("Hash(%+v): %v", p, err)
		}
		if _, err := Verify("pw", h, p); err != nil {
			t.Errorf("Verify of a hash under %+v: %v", p, err)
		}
	}
	for _, p := range []Params{
		{Memory: maxMemory + 8, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Iterations: maxIterations + 1, Parallelism: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Iterations: 1, Parallelism: 0, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 8, KeyLen: 32},
		{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 65},
	} {
		if _, err := Hash("pw", p); err == nil {
			t.Errorf("Hash accepted %+v", p)
		}
	}
}

func TestDummy(t *testing.T) {
	d, err := NewDummy(fast)
	if err != nil {
		t.Fatal(err)
	}
	d.Verify("anything") // must not panic; it reports nothing by design
	if _, err := NewDummy(Params{}); err == nil {
		t.Error("NewDummy accepted zero params")
	}
}

// However many goroutines hash at once, no more than the bound run
// argon2id together; those that find no slot in time get ErrBusy. Not
// parallel: it sets the process's gate.
func TestConcurrencyBound(t *testing.T) {
	defer SetConcurrency(0, 0)
	p := Params{Memory: 8 * 1024, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32}
	h, err := Hash("correct horse battery", p)
	if err != nil {
		t.Fatal(err)
	}
	SetConcurrency(2, time.Millisecond)
	var start, done sync.WaitGroup
	var busy atomic.Int64
	start.Add(1)
	for i := range 40 {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			var err error
			if i%2 == 0 {
				_, err = Hash("correct horse battery", p)
			} else {
				_, err = Verify("wrong horse battery", h, p)
			}
			if errors.Is(err, ErrBusy) {
				busy.Add(1)
			}
		}()
	}
	start.Done()
	done.Wait()
	s := GateStats()
	if s.Peak > 2 || s.Peak < 1 {
		t.Fatalf("peak %d hashes at once, bound 2", s.Peak)
	}
	if busy.Load() == 0 || s.Busy != busy.Load() {
		t.Fatalf("%d callers got ErrBusy (gate counted %d); 40 at once on 2 slots with a 1ms wait should turn some away", busy.Load(), s.Busy)
	}
	if s.Hashes+s.Busy != 40 {
		t.Fatalf("%d hashes + %d busy, want 40", s.Hashes, s.Busy)
	}
	d, err := NewDummy(p)
	if err != nil {
		t.Fatal(err)
	}
	SetConcurrency(1, time.Millisecond)
	release := Occupy(1) // every slot taken
	defer release()
	if err := d.Verify("x"); !errors.Is(err, ErrBusy) {
		t.Fatalf("dummy verification at capacity: %v, want ErrBusy", err)
	}
	if _, err := Verify("x", h, p); !errors.Is(err, ErrBusy) {
		t.Fatalf("verification at capacity: %v, want ErrBusy", err)
	}
}
