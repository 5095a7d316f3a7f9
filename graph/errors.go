package graph

import (
	"context"
	"errors"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/privacy"
	"github.com/gatehouse-id/gatehouse/graph/model"
	"github.com/gatehouse-id/gatehouse/internal/httpserver"
	"github.com/gatehouse-id/gatehouse/internal/password"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// Error codes in extensions.code.
const (
	CodeBadUserInput    = "BAD_USER_INPUT"
	CodeUnauthenticated = "UNAUTHENTICATED"
	CodeForbidden       = "FORBIDDEN"
	CodeNotFound        = "NOT_FOUND"
	CodeConflict        = "CONFLICT"
	CodeInternal        = "INTERNAL_SERVER_ERROR"
	CodeRateLimited     = "RATE_LIMITED"
)

// resolverError marks an error that a resolver returned, as opposed to one
// gqlgen raised while parsing, validating or coercing the request.
type resolverError struct{ err error }

func (e resolverError) Error() string { return e.err.Error() }
func (e resolverError) Unwrap() error { return e.err }

// markResolverErrors is a field middleware that tags resolver errors, so the
// presenter knows which errors may carry internal detail.
func markResolverErrors(ctx context.Context, next graphql.Resolver) (any, error) {
	res, err := next(ctx)
	if err != nil {
		var already resolverError
		if !errors.As(err, &already) {
			err = resolverError{err}
		}
	}
	return res, err
}

// presentErrors is the one place where errors become what API clients see:
// a message fit for them and extensions.code, never Go error text or SQL.
// Internal errors are logged with the request id and shown as "internal error".
func presentErrors(logger *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		var rerr resolverError
		if !errors.As(err, &rerr) {
			// Parse, validation and coercion errors: gqlgen's own messages
			// describe the request, not the server.
			if gqlErr.Extensions == nil {
				gqlErr.Extensions = map[string]any{}
			}
			if _, ok := gqlErr.Extensions["code"]; !ok {
				gqlErr.Extensions["code"] = CodeBadUserInput
			}
			return gqlErr
		}
		code, msg, field := classify(rerr.err)
		if code == CodeInternal {
			logger.ErrorContext(ctx, "graphql resolver failed", "err", rerr.err,
				"path", gqlErr.Path.String(), "request_id", httpserver.RequestIDFromContext(ctx))
		}
		gqlErr.Message = msg
		gqlErr.Extensions = map[string]any{"code": code}
		if field != "" {
			gqlErr.Extensions["field"] = field
		}
		if inErr := (*tenants.InputError)(nil); errors.As(rerr.err, &inErr) && inErr.Code != "" {
			gqlErr.Extensions["reason"] = inErr.Code // such as tenants.PasswordBreached
		}
		return gqlErr
	}
}

// classify maps a resolver error to its code, public message and input field.
func classify(err error) (code, msg, field string) {
	var (
		inErr    *tenants.InputError
		conflict *tenants.ConflictError
		denied   *tenants.ForbiddenError
		gqlErr   *gqlerror.Error
	)
	switch {
	case errors.As(err, &inErr):
		return CodeBadUserInput, inErr.Error(), inErr.Field
	case errors.As(err, &conflict):
		return CodeConflict, conflict.Error(), conflict.Field
	case errors.As(err, &denied):
		return CodeForbidden, denied.Error(), denied.Field
	case errors.Is(err, tenants.ErrUnauthenticated):
		return CodeUnauthenticated, "authentication required", ""
	case errors.Is(err, tenants.ErrNotFound), ent.IsNotFound(err):
		return CodeNotFound, "not found", ""
	case errors.Is(err, tenants.ErrForbidden), errors.Is(err, privacy.Deny):
		return CodeForbidden, "forbidden", ""
	case errors.Is(err, password.ErrBusy):
		// Every password hash of the process shares one bound
		// (internal/password), so aliased mutations cannot exceed it.
		return CodeRateLimited, "too many passwords are being hashed right now; try again in a second", ""
	case errors.As(err, &gqlErr) && gqlErr.Extensions["code"] != nil:
		code, _ := gqlErr.Extensions["code"].(string)
		return code, gqlErr.Message, ""
	}
	return CodeInternal, "internal error", ""
}

// recoverPanic turns a resolver panic into an internal error; the panic
// value goes to the log only.
func recoverPanic(logger *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		logger.ErrorContext(ctx, "graphql resolver panicked", "panic", p,
			"request_id", httpserver.RequestIDFromContext(ctx))
		return resolverError{errors.New("panic in resolver")}
	}
}

// failureCode is a failed domain check's kind as the API's enum, or nil
// for a check that carries none.
func failureCode(e *tenants.VerificationError) *model.DomainVerificationFailure {
	c := model.DomainVerificationFailure(e.Code)
	if !c.IsValid() {
		return nil
	}
	return &c
}
