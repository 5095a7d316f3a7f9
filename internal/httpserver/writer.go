package httpserver

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
)

// Middleware wraps a handler.
type Middleware = func(http.Handler) http.Handler

// Chain wraps h in mw, the first outermost: Chain(h, a, b) serves a(b(h)).
func Chain(h http.Handler, mw ...Middleware) http.Handler {
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return h
}

// recorder remembers the status and size of a response. It keeps
// http.Flusher and http.Hijacker working, and Unwrap lets
// http.ResponseController reach the connection's other abilities.
type recorder struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

// recorderFor returns the recorder an outer middleware of this package
// already put around w, or a new one: the middleware of one Stack share a
// single recorder per request.
func recorderFor(w http.ResponseWriter) *recorder {
	if rec, ok := w.(*recorder); ok {
		return rec
	}
	return &recorder{ResponseWriter: w}
}

func (w *recorder) WriteHeader(code int) {
	// 1xx responses other than 101 precede the real one.
	if !w.wroteHeader && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = http.StatusOK, true
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

func (w *recorder) Flush() {
	if !w.wroteHeader {
		w.status, w.wroteHeader = http.StatusOK, true
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && !w.wroteHeader {
		w.status, w.wroteHeader = http.StatusSwitchingProtocols, true
	}
	return conn, rw, err
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// finalStatus is the status the response went out with once the handler
// has returned (completed) or panicked: the one written, else 200, or 500
// for a panic before anything was written.
func (w *recorder) finalStatus(completed bool) int {
	switch {
	case w.wroteHeader:
		return w.status
	case completed:
		return http.StatusOK
	}
	return http.StatusInternalServerError // the handler panicked
}

// StaticJSON answers every request with status and body, a JSON document
// fixed in advance (an error body for LimitBody, for instance).
func StaticJSON(status int, body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeRaw(w, status, body)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only our own fixed shapes come here; they always marshal.
		panic(err)
	}
	writeRaw(w, status, append(body, '\n'))
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Stack wraps a server's mux in the middleware every Gatehouse server runs,
// outermost first: request id, panic recovery, request log, metrics. Metrics
// wraps the mux directly: it reads the pattern the mux matched.
func Stack(mux http.Handler, logger *slog.Logger, m *Metrics) http.Handler {
	return Chain(mux, RequestID, Recover(logger), Logger(logger), m.Middleware)
}
