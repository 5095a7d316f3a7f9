package httpserver

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
)

// Recover turns a panic into a 500 with the body
// {"error":"internal error","request_id":"…"} and logs the panic with its
// stack at error level. The client never sees the panic's text, nor any
// header the handler had set (a half-built Set-Cookie must not leave). If
// the response had already started, the connection is cut instead so that
// the client cannot take a truncated response for a whole one.
// http.ErrAbortHandler passes through untouched. Put it inside RequestID.
func Recover(logger *slog.Logger) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := recorderFor(w)
			defer func() {
				p := recover()
				if p == nil {
					return
				}
				if err, ok := p.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(p)
				}
				id := RequestIDFromContext(r.Context())
				logger.LogAttrs(r.Context(), slog.LevelError, "panic serving request",
					slog.String("panic", fmt.Sprint(p)),
					slog.String("stack", string(debug.Stack())),
					slog.String("method", r.Method),
					slog.String("path", r.URL.Path),
					slog.String("request_id", id),
				)
				if rec.wroteHeader {
					panic(http.ErrAbortHandler)
				}
				h := w.Header()
				for k := range h {
					if k != HeaderRequestID {
						delete(h, k)
					}
				}
				writeJSON(w, http.StatusInternalServerError, internalError{Error: "internal error", RequestID: id})
			}()
			next.ServeHTTP(rec, r)
		})
	}
}

type internalError struct {
	Error     string `json:"error"`
	RequestID string `json:"request_id,omitempty"`
}
