package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/testkit"
)

// recorder is a Sender that keeps what it was asked to send and answers
// with fail (nil: success) for each attempt.
type recorder struct {
	mu       sync.Mutex
	attempts []Message
	sent     []Message
	fail     func(m Message, attempt int) error
	// started, when set, gets every message as its attempt begins;
	// release, when set, holds each attempt until it yields or ctx ends.
	started chan Message
	release chan struct{}
}

func (r *recorder) Send(ctx context.Context, m Message) error {
	r.mu.Lock()
	r.attempts = append(r.attempts, m)
	n := 0
	for _, a := range r.attempts {
		if a.To == m.To {
			n++
		}
	}
	r.mu.Unlock()
	if r.started != nil {
		r.started <- m
	}
	if r.release != nil {
		select {
		case <-r.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if r.fail != nil {
		if err := r.fail(m, n); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.sent = append(r.sent, m)
	r.mu.Unlock()
	return nil
}

func (r *recorder) sentTo() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.sent {
		out = append(out, m.To)
	}
	return out
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testkit.TestLog{T: t}, nil))
}

func (b *Outbox) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

func msg(i int) Message { return Message{To: fmt.Sprintf("user%d@example.com", i), Kind: "login_code"} }

func flush(t *testing.T, o *Outbox) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := o.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestOutboxOrder(t *testing.T) {
	r := &recorder{}
	o := NewOutbox(r, testLogger(t))
	defer o.Close(context.Background())
	var want []string
	for i := range 200 {
		o.Enqueue(msg(i))
		want = append(want, msg(i).To)
	}
	flush(t, o)
	if got := r.sentTo(); !slices.Equal(got, want) {
		t.Fatalf("sent in another order: %v", got)
	}
	if s := o.Stats(); s != (OutboxStats{Sent: 200}) {
		t.Fatalf("stats %+v", s)
	}
}

func TestOutboxRetry(t *testing.T) {
	var mu sync.Mutex
	var slept []time.Duration
	sleep := func(_ context.Context, d time.Duration) error {
		mu.Lock()
		slept = append(slept, d)
		mu.Unlock()
		return nil
	}
	temporary := errors.New("451 try again")
	r := &recorder{fail: func(m Message, attempt int) error {
		switch m.To {
		case msg(1).To: // succeeds at the third attempt
			if attempt < 3 {
				return temporary
			}
		case msg(2).To: // never succeeds
			return temporary
		case msg(3).To: // refused for good
			return permanent(errors.New("550 no such user"))
		}
		return nil
	}}
	log := &testkit.LogBuffer{}
	o := NewOutbox(r, slog.New(slog.NewTextHandler(log, nil)), WithRetry(4, time.Second), WithSleep(sleep))
	defer o.Close(context.Background())
	for i := 1; i <= 4; i++ {
		o.Enqueue(msg(i))
	}
	flush(t, o)
	if got := r.sentTo(); !slices.Equal(got, []string{msg(1).To, msg(4).To}) {
		t.Fatalf("sent %v", got)
	}
	// Two retries of msg 1, three of msg 2, none of msg 3.
	if s := o.Stats(); s != (OutboxStats{Sent: 2, Failed: 2, Retries: 5}) {
		t.Fatalf("stats %+v", s)
	}
	want := []time.Duration{time.Second, 2 * time.Second, time.Second, 2 * time.Second, 4 * time.Second}
	if !slices.Equal(slept, want) {
		t.Fatalf("backoff %v, want %v", slept, want)
	}
	if !strings.Contains(log.String(), "mail not sent") {
		t.Fatalf("failure not logged:\n%s", log.String())
	}
}

// TestOutboxFull holds the worker inside a send, fills the queue, and
// checks that the next message is dropped at once, logged and counted.
func TestOutboxFull(t *testing.T) {
	r := &recorder{started: make(chan Message, 10), release: make(chan struct{})}
	log := &testkit.LogBuffer{}
	o := NewOutbox(r, slog.New(slog.NewTextHandler(log, nil)), WithQueueSize(2))
	defer o.Close(context.Background())
	o.Enqueue(msg(0))
	<-r.started // the worker holds msg 0; the queue is empty
	o.Enqueue(msg(1))
	o.Enqueue(msg(2))
	o.Enqueue(msg(3)) // full: returns at once
	if s := o.Stats(); s.Dropped != 1 {
		t.Fatalf("stats %+v", s)
	}
	if !strings.Contains(log.String(), "mail dropped") || !strings.Contains(log.String(), msg(3).To) {
		t.Fatalf("drop not logged:\n%s", log.String())
	}
	close(r.release)
	flush(t, o)
	if got := r.sentTo(); !slices.Equal(got, []string{msg(0).To, msg(1).To, msg(2).To}) {
		t.Fatalf("sent %v", got)
	}
}

func TestOutboxCloseDrains(t *testing.T) {
	r := &recorder{started: make(chan Message, 10), release: make(chan struct{})}
	o := NewOutbox(r, testLogger(t))
	for i := range 3 {
		o.Enqueue(msg(i))
	}
	<-r.started
	closed := make(chan error)
	go func() { closed <- o.Close(context.Background()) }()
	// Close refuses new messages at once, even while it waits.
	for !o.isClosed() {
		runtime.Gosched()
	}
	o.Enqueue(msg(9))
	if s := o.Stats(); s.Dropped != 1 {
		t.Fatalf("enqueued after Close: %+v", s)
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned %v before the queue drained", err)
	default:
	}
	close(r.release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if got := r.sentTo(); !slices.Equal(got, []string{msg(0).To, msg(1).To, msg(2).To}) {
		t.Fatalf("sent %v", got)
	}
	if err := o.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	o.Enqueue(msg(10)) // after Close: dropped, no panic
}

// TestOutboxCloseGivesUp: when Close's context ends, the send in flight is
// cancelled and the rest are dropped, so shutdown is bounded.
func TestOutboxCloseGivesUp(t *testing.T) {
	r := &recorder{started: make(chan Message, 10), release: make(chan struct{})} // never released
	o := NewOutbox(r, testLogger(t))
	for i := range 3 {
		o.Enqueue(msg(i))
	}
	<-r.started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := o.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close: %v", err)
	}
	if s := o.Stats(); s != (OutboxStats{Failed: 1, Dropped: 2}) {
		t.Fatalf("stats %+v", s)
	}
	flush(t, o) // nothing is left pending
}

// TestOutboxCloseDuringBackoff: a worker waiting to retry stops waiting.
func TestOutboxCloseDuringBackoff(t *testing.T) {
	sleeping := make(chan struct{})
	sleep := func(ctx context.Context, _ time.Duration) error {
		close(sleeping)
		<-ctx.Done()
		return ctx.Err()
	}
	r := &recorder{fail: func(Message, int) error { return errors.New("down") }}
	o := NewOutbox(r, testLogger(t), WithSleep(sleep))
	o.Enqueue(msg(0))
	<-sleeping
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := o.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close: %v", err)
	}
	if s := o.Stats(); s != (OutboxStats{Failed: 1}) {
		t.Fatalf("stats %+v", s)
	}
}

func TestOutboxAttemptTimeout(t *testing.T) {
	r := &recorder{release: make(chan struct{})} // every attempt waits for its deadline
	o := NewOutbox(r, testLogger(t), WithAttemptTimeout(time.Millisecond), WithRetry(2, 0), WithSleep(func(context.Context, time.Duration) error { return nil }))
	defer o.Close(context.Background())
	o.Enqueue(msg(0))
	flush(t, o)
	if s := o.Stats(); s != (OutboxStats{Failed: 1, Retries: 1}) {
		t.Fatalf("stats %+v", s)
	}
}

func TestOutboxFlushContext(t *testing.T) {
	r := &recorder{started: make(chan Message, 1), release: make(chan struct{})}
	o := NewOutbox(r, testLogger(t))
	defer o.Close(context.Background())
	defer close(r.release)
	o.Enqueue(msg(0))
	<-r.started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := o.Flush(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Flush: %v", err)
	}
}

func TestFanout(t *testing.T) {
	a, b := &recorder{}, &recorder{fail: func(Message, int) error { return errors.New("b is down") }}
	c := &Mailbox{}
	err := Fanout(a, b, c).Send(context.Background(), msg(1))
	if err == nil || len(a.sent) != 1 || len(c.Messages()) != 1 {
		t.Fatalf("err %v, a %d, mailbox %d", err, len(a.sent), len(c.Messages()))
	}
}

func TestLogSender(t *testing.T) {
	m := Message{To: "a@example.com", Subject: "Your code", Text: "code 123456", Kind: "login_code"}
	for _, tc := range []struct {
		s             LogSender
		body, errored bool
	}{
		{LogSender{Bodies: true}, true, false},
		{LogSender{}, false, false},
		{LogSender{Unconfigured: true}, false, true},
	} {
		log := &testkit.LogBuffer{}
		tc.s.Logger = slog.New(slog.NewTextHandler(log, nil))
		if err := tc.s.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		has := func(s string) bool { return strings.Contains(log.String(), s) }
		if !has("kind=login_code") || !has("to=a@example.com") ||
			has("123456") != tc.body || has("mail is not configured") != tc.errored || has("level=ERROR") != tc.errored {
			t.Errorf("%+v logged %s", tc.s, log.String())
		}
	}
}
