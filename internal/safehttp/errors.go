package safehttp

import (
	"errors"
	"net/netip"
)

// Kinds of failure. Every error Get returns for a refused or failed fetch
// is an *Error whose Kind is one of these, so callers branch with
// errors.Is(err, ErrForbiddenAddress) and show Error() to the admin who
// configured the URL.
var (
	// ErrInvalidURL: not an absolute URL with a host, longer than 2048
	// bytes, or carrying a user name or password.
	ErrInvalidURL = errors.New("safehttp: invalid URL")
	// ErrForbiddenScheme: not https (http is accepted only for
	// Config.AllowedInternal addresses, in tests).
	ErrForbiddenScheme = errors.New("safehttp: scheme not allowed")
	// ErrForbiddenAddress: the host is, or resolves to, an address that is
	// not on the public internet (loopback, private, link-local, …).
	ErrForbiddenAddress = errors.New("safehttp: address not allowed")
	// ErrResolve: the host name does not resolve.
	ErrResolve = errors.New("safehttp: host not found")
	// ErrConnect: no connection or TLS handshake could be made.
	ErrConnect = errors.New("safehttp: connection failed")
	// ErrTooManyRedirects: more than MaxRedirects redirects.
	ErrTooManyRedirects = errors.New("safehttp: too many redirects")
	// ErrStatus: the final answer's status is not 200.
	ErrStatus = errors.New("safehttp: unexpected status")
	// ErrContentType: the answer is not JSON.
	ErrContentType = errors.New("safehttp: unexpected content type")
	// ErrTooLarge: the body is longer than Config.MaxBytes.
	ErrTooLarge = errors.New("safehttp: response too large")
	// ErrTimeout: the fetch took longer than Config.Timeout.
	ErrTimeout = errors.New("safehttp: timed out")
)

// Error is a refused or failed fetch. Error() is written for the
// organization admin who configured the URL: it names the URL and what to
// change, never an address the host resolved to (that stays in Addr, for
// the operator's log).
type Error struct {
	// Kind is one of the Err* values above.
	Kind error
	// URL is the URL that failed: the one given, or where a redirect led.
	URL string
	// Reason says what went wrong, in a sentence fragment.
	Reason string
	// Addr is the refused address (ErrForbiddenAddress), if any.
	Addr netip.Addr
	// Err is the underlying cause, if any.
	Err error
}

func (e *Error) Error() string {
	s := "fetch " + e.URL + ": " + e.Reason
	if e.URL == "" {
		s = "fetch: " + e.Reason
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns Kind and the cause, so errors.Is matches both.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}
