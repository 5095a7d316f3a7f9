package mail

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Defaults of the Outbox.
const (
	DefaultQueueSize = 1000
	DefaultAttempts  = 4
	DefaultBackoff   = 2 * time.Second
	// DefaultAttemptTimeout bounds one attempt; an SMTP sender has its
	// own, shorter bounds inside it.
	DefaultAttemptTimeout = time.Minute
)

// Outbox sends messages in the background, in the order they were
// enqueued, so that a request never waits on the mail server (and the
// time a page takes cannot tell whether an address has an account:
// SECURITY-CHECKLIST ATO-04). A failed attempt is retried with growing
// delays; a message that still fails, or that finds the queue full, is
// logged and counted, never blocks and never panics.
type Outbox struct {
	sender Sender
	logger *slog.Logger
	opts   outboxOptions
	queue  chan Message
	ctx    context.Context // ends the worker's sends and sleeps when Close gives up
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	closed  bool
	pending int // enqueued and not yet sent, failed or dropped
	idle    []chan struct{}
	stats   OutboxStats
}

// OutboxStats counts what became of the enqueued messages.
type OutboxStats struct {
	Sent    int64 // delivered to the Sender
	Failed  int64 // given up after the last attempt, or a permanent failure
	Dropped int64 // refused (queue full, Outbox closed) or abandoned at Close
	Retries int64 // attempts after the first
}

// Option tunes an Outbox.
type Option func(*outboxOptions)

type outboxOptions struct {
	queueSize      int
	attempts       int
	backoff        time.Duration
	attemptTimeout time.Duration
	sleep          func(ctx context.Context, d time.Duration) error
}

// WithQueueSize bounds how many messages may wait. Defaults to
// DefaultQueueSize.
func WithQueueSize(n int) Option { return func(o *outboxOptions) { o.queueSize = n } }

// WithRetry sets how many attempts a message gets and the delay after the
// first failure, doubled after each further one. Defaults to
// DefaultAttempts and DefaultBackoff.
func WithRetry(attempts int, backoff time.Duration) Option {
	return func(o *outboxOptions) { o.attempts, o.backoff = attempts, backoff }
}

// WithAttemptTimeout bounds one attempt. Defaults to DefaultAttemptTimeout.
func WithAttemptTimeout(d time.Duration) Option {
	return func(o *outboxOptions) { o.attemptTimeout = d }
}

// WithSleep replaces the wait between attempts; it must return ctx's error
// when ctx ends first. Tests use it to hold the worker at a barrier.
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(o *outboxOptions) { o.sleep = sleep }
}

// NewOutbox starts the worker that sends through sender. Close stops it.
func NewOutbox(sender Sender, logger *slog.Logger, opts ...Option) *Outbox {
	o := outboxOptions{
		queueSize:      DefaultQueueSize,
		attempts:       DefaultAttempts,
		backoff:        DefaultBackoff,
		attemptTimeout: DefaultAttemptTimeout,
		sleep:          sleep,
	}
	for _, opt := range opts {
		opt(&o)
	}
	o.queueSize = max(o.queueSize, 1)
	o.attempts = max(o.attempts, 1)
	ctx, cancel := context.WithCancel(context.Background())
	b := &Outbox{sender: sender, logger: logger, opts: o, queue: make(chan Message, o.queueSize),
		ctx: ctx, cancel: cancel, done: make(chan struct{})}
	go b.work()
	return b
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Enqueue hands m to the worker and returns at once. When the queue is
// full or the Outbox closed, m is dropped: logged and counted.
func (b *Outbox) Enqueue(m Message) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		select {
		case b.queue <- m:
			b.pending++
			return
		default:
		}
	}
	b.stats.Dropped++
	b.logger.Error("mail dropped: the outbox is full or closed", "kind", m.Kind, "to", m.To, "queue", cap(b.queue))
}

// Stats returns the counts so far.
func (b *Outbox) Stats() OutboxStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stats
}

// Flush waits until every message enqueued so far has been sent, has
// failed or was dropped, or until ctx ends.
func (b *Outbox) Flush(ctx context.Context) error {
	b.mu.Lock()
	if b.pending == 0 {
		b.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	b.idle = append(b.idle, ch)
	b.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close refuses new messages and waits for the queued ones to be sent.
// When ctx ends first, the attempt in flight is cancelled, the rest are
// dropped (and counted), and Close returns ctx's error.
func (b *Outbox) Close(ctx context.Context) error {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.queue)
	}
	b.mu.Unlock()
	select {
	case <-b.done: // drained already: ctx does not matter
		return nil
	default:
	}
	select {
	case <-b.done:
		return nil
	case <-ctx.Done():
		b.cancel()
		<-b.done
		return ctx.Err()
	}
}

func (b *Outbox) work() {
	defer close(b.done)
	defer b.cancel()
	for m := range b.queue {
		if b.ctx.Err() != nil {
			b.finish(func(s *OutboxStats) { s.Dropped++ })
			b.logger.Error("mail dropped: shutting down", "kind", m.Kind, "to", m.To)
			continue
		}
		b.deliver(m)
	}
}

// deliver makes up to the configured number of attempts at m.
func (b *Outbox) deliver(m Message) {
	delay := b.opts.backoff
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(b.ctx, b.opts.attemptTimeout)
		err := b.sender.Send(ctx, m)
		cancel()
		if err == nil {
			b.finish(func(s *OutboxStats) { s.Sent++ })
			return
		}
		last := attempt >= b.opts.attempts || errors.Is(err, ErrPermanent) || b.ctx.Err() != nil
		if last {
			b.finish(func(s *OutboxStats) { s.Failed++ })
			b.logger.Error("mail not sent", "kind", m.Kind, "to", m.To, "attempts", attempt, "err", err)
			return
		}
		b.logger.Warn("mail attempt failed; retrying", "kind", m.Kind, "to", m.To, "attempt", attempt, "in", delay, "err", err)
		if err := b.opts.sleep(b.ctx, delay); err != nil {
			b.finish(func(s *OutboxStats) { s.Failed++ })
			b.logger.Error("mail not sent: shutting down", "kind", m.Kind, "to", m.To, "attempts", attempt)
			return
		}
		delay *= 2
		b.mu.Lock()
		b.stats.Retries++
		b.mu.Unlock()
	}
}

// finish counts the end of one message and wakes Flush when none is left.
func (b *Outbox) finish(count func(*OutboxStats)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	count(&b.stats)
	b.pending--
	if b.pending == 0 {
		for _, ch := range b.idle {
			close(ch)
		}
		b.idle = nil
	}
}
