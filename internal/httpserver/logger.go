package httpserver

import (
	"log/slog"
	"net/http"
	"time"
)

// Logger writes one log line per request when it ends: method, path, route,
// status, bytes, duration_ms, request_id and remote_ip. The query string is
// left out because it may carry secrets (codes, tokens). A request whose
// handler panicked is logged with status 500. Put it inside RequestID.
func Logger(logger *slog.Logger) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			rec := recorderFor(w)
			completed := false
			defer func() {
				status := rec.finalStatus(completed)
				level := slog.LevelInfo
				if status >= 500 {
					level = slog.LevelError
				}
				if !logger.Enabled(r.Context(), level) {
					return
				}
				attrs := []slog.Attr{
					slog.String("method", r.Method),
					slog.String("path", r.URL.Path),
					slog.Int("status", status),
					slog.Int64("bytes", rec.bytes),
					slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
					slog.String("request_id", RequestIDFromContext(r.Context())),
					slog.String("remote_ip", ClientIP(r)),
				}
				if r.Pattern != "" {
					attrs = append(attrs, slog.String("route", r.Pattern))
				}
				logger.LogAttrs(r.Context(), level, "request", attrs...)
			}()
			next.ServeHTTP(rec, r)
			completed = true
		})
	}
}
