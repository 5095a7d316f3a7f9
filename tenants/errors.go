package tenants

import (
	"errors"
	"fmt"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/privacy"
)

// Sentinel errors callers branch on. The GraphQL error presenter turns them
// into extensions.code.
var (
	// ErrNotFound: the object does not exist or the viewer may not see it;
	// the two are deliberately indistinguishable.
	ErrNotFound = errors.New("not found")
	// ErrForbidden: the viewer is authenticated but may not do this.
	ErrForbidden = errors.New("forbidden")
	// ErrUnauthenticated: no valid credential.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrInsufficientScope: a valid access token that may not be used here
	// (RFC 6750 §3.1): without gatehouse:admin, or from an application not
	// granted it.
	ErrInsufficientScope = errors.New("insufficient scope")
)

// InputError says which input field is wrong and why, in words fit for the
// API client.
type InputError struct {
	Field  string
	Reason string
	// Code, when set, says why in a word a program can branch on (such as
	// PasswordBreached); Reason stays the sentence for people.
	Code string
}

func (e *InputError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Reason) }

func invalid(field, format string, args ...any) error {
	return &InputError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// ForbiddenError says that the viewer may not do what one input field
// asks, and why, in words fit for the API client. It is an ErrForbidden.
type ForbiddenError struct {
	Field  string
	Reason string
}

func (e *ForbiddenError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Reason) }

// Unwrap makes a ForbiddenError match ErrForbidden.
func (e *ForbiddenError) Unwrap() error { return ErrForbidden }

// ConflictError says that a unique value is already taken.
type ConflictError struct {
	Field  string
	Reason string
}

func (e *ConflictError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Reason) }

// translateWrite is translate for a write guarded by a unique constraint:
// a violation becomes a ConflictError on field.
func translateWrite(err error, notFound, field, reason string) error {
	if ent.IsConstraintError(err) {
		return &ConflictError{Field: field, Reason: reason}
	}
	return translate(err, notFound)
}

// translate maps storage errors to the domain's errors; anything unknown is
// returned unchanged (and shown to clients only as an internal error).
func translate(err error, notFound string) error {
	var verr *ent.ValidationError
	switch {
	case err == nil:
		return nil
	case ent.IsNotFound(err):
		return fmt.Errorf("%s: %w", notFound, ErrNotFound)
	case errors.Is(err, privacy.Deny):
		return fmt.Errorf("%w: %w", ErrForbidden, err)
	case errors.As(err, &verr):
		return &InputError{Field: verr.Name, Reason: "is not valid"}
	}
	return err
}
