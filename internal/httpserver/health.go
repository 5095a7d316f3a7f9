package httpserver

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// ReadyTimeout bounds one readiness check.
const ReadyTimeout = 5 * time.Second

// status is the answer of Healthz and Readyz; Degraded only in Readyz's
// "degraded".
type status struct {
	Status   string   `json:"status"`
	Degraded []string `json:"degraded,omitempty"`
}

// Healthz answers 200 {"status":"ok"} while the process can serve at all
// (a liveness probe).
func Healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, status{Status: "ok"})
	})
}

// Readyz answers 200 {"status":"ok"} when check (the database ping, say)
// succeeds within ReadyTimeout, and 503 {"status":"unavailable"} otherwise.
// The reason goes to logger, never to the caller. Each of degraded names,
// in a sentence, a way in which the node serves but less well than it
// should (a shared store unreachable, say), or returns "": any sentence
// makes the answer 200 {"status":"degraded","degraded":[…]} — still ready,
// since taking the node out would only make things worse.
func Readyz(check func(context.Context) error, logger *slog.Logger, degraded ...func() string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), ReadyTimeout)
		defer cancel()
		if err := check(ctx); err != nil {
			logger.LogAttrs(r.Context(), slog.LevelWarn, "not ready",
				slog.String("error", err.Error()),
				slog.String("request_id", RequestIDFromContext(r.Context())))
			writeJSON(w, http.StatusServiceUnavailable, status{Status: "unavailable"})
			return
		}
		answer := status{Status: "ok"}
		for _, d := range degraded {
			if s := d(); s != "" {
				answer = status{Status: "degraded", Degraded: append(answer.Degraded, s)}
			}
		}
		writeJSON(w, http.StatusOK, answer)
	})
}
