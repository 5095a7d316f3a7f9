package mail

import (
	"context"
	"errors"
	"log/slog"
)

// Message is one mail to one recipient, ready to send.
type Message struct {
	// To is the recipient's address (an addr-spec, no display name).
	To string
	// Subject, Text and HTML are the rendered message; HTML may be empty.
	Subject, Text, HTML string
	// Kind names the template the message came from (signup_verify,
	// password_reset…), for logs and tests; it is never sent.
	Kind string
}

// Sender delivers a message. Send is called from the Outbox's worker, one
// message at a time, with a context that bounds the attempt. An error that
// wraps ErrPermanent is not retried.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// ErrPermanent marks a failure that sending again cannot cure: a refused
// recipient or message (an SMTP 5xx reply), an address that does not parse.
var ErrPermanent = errors.New("permanent failure")

// permanent wraps err so that errors.Is(err, ErrPermanent) holds.
func permanent(err error) error {
	return &permanentError{err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() []error {
	return []error{e.err, ErrPermanent}
}

// Fanout sends each message to every sender in turn and returns their
// errors joined; dev mode uses it to log a message and keep it in the
// Mailbox. A retry after a failure sends again to every sender.
func Fanout(senders ...Sender) Sender {
	return fanout(senders)
}

type fanout []Sender

func (f fanout) Send(ctx context.Context, m Message) error {
	var errs []error
	for _, s := range f {
		if err := s.Send(ctx, m); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// LogSender writes each message to the log instead of sending it.
type LogSender struct {
	Logger *slog.Logger
	// Bodies adds the subject and the text part, codes and links
	// included: only where the log is the developer's own (dev mode, a
	// loopback issuer).
	Bodies bool
	// Unconfigured logs each message as an error, "mail is not
	// configured", for an instance that has users but no way to mail them.
	Unconfigured bool
}

// Send logs m and never fails.
func (s LogSender) Send(ctx context.Context, m Message) error {
	attrs := []any{"kind", m.Kind, "to", m.To}
	if s.Bodies {
		attrs = append(attrs, "subject", m.Subject, "text", m.Text)
	}
	if s.Unconfigured {
		s.Logger.ErrorContext(ctx, "mail is not configured: message not sent (set GATEHOUSE_SMTP_URL)", attrs...)
		return nil
	}
	s.Logger.InfoContext(ctx, "mail", attrs...)
	return nil
}
