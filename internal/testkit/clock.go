package testkit

import (
	"fmt"
	"os"
	"sync"
	"time"
)

// ShiftEnv names the variable that moves every NewClock away from the real
// time, as a Go duration ("8760h", "-8760h"). CI runs the suite once with a
// shift: a test whose outcome depends on today's date, or that mixes its
// own clock with a real one (a cookie jar, the database's now()), fails
// there instead of failing on some later day.
const ShiftEnv = "GATEHOUSE_TEST_CLOCK_SHIFT"

// Clock is a test's time source. It starts where NewClock says and moves
// only when the test calls Advance or Set. Safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock at the real time plus the shift of ShiftEnv,
// truncated to the second (JWT and cookie times have second precision). It
// panics on a shift that does not parse, so a typo cannot turn the guard off.
func NewClock() *Clock {
	return &Clock{now: time.Now().Add(Shift()).Truncate(time.Second)}
}

// NewRealClock returns a clock at the real time, never shifted: for tests
// where a party the test cannot give a clock to (a browser) keeps time.
func NewRealClock() *Clock {
	return &Clock{now: time.Now().Truncate(time.Second)}
}

// Shift returns the duration in ShiftEnv, zero when unset.
func Shift() time.Duration {
	v := os.Getenv(ShiftEnv)
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		panic(fmt.Sprintf("testkit: %s=%q: %v", ShiftEnv, v, err))
	}
	return d
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
