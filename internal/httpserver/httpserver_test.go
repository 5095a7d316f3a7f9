package httpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// logBuffer collects JSON log records safely across goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// records returns every log record as a map.
func (b *logBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(b.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func newLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

func TestRequestID(t *testing.T) {
	tests := []struct {
		name     string
		incoming string
		keep     bool
	}{
		{"none", "", false},
		{"well formed", "abc-DEF_1.2", true},
		{"64 characters", strings.Repeat("a", 64), true},
		{"65 characters", strings.Repeat("a", 65), false},
		{"bad characters", "abc def", false},
		{"log injection", "a\nlevel=ERROR", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen string
			h := RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen = RequestIDFromContext(r.Context())
			}))
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.incoming != "" {
				req.Header.Set(HeaderRequestID, tt.incoming)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			got := rec.Header().Get(HeaderRequestID)
			if got != seen {
				t.Errorf("response id %q != context id %q", got, seen)
			}
			if tt.keep && got != tt.incoming {
				t.Errorf("id = %q, want the incoming %q", got, tt.incoming)
			}
			if !tt.keep && (got == tt.incoming || !validRequestID(got) || len(got) != 26) {
				t.Errorf("id = %q, want a fresh 26-character id", got)
			}
		})
	}
	if a, b := newRequestID(), newRequestID(); a == b {
		t.Errorf("two generated ids are equal: %q", a)
	}
}

func TestLogger(t *testing.T) {
	logger, logs := newLogger()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /things/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		_, _ = io.WriteString(w, "hello")
	})
	h := Chain(mux, RequestID, Logger(logger))
	req := httptest.NewRequest(http.MethodGet, "/things/42?code=secret", nil)
	req.Header.Set(HeaderRequestID, "rid-1")
	req.RemoteAddr = "192.0.2.7:5555"
	h.ServeHTTP(httptest.NewRecorder(), req)

	recs := logs.records(t)
	if len(recs) != 1 {
		t.Fatalf("got %d log lines, want 1: %v", len(recs), recs)
	}
	r := recs[0]
	want := map[string]any{
		"msg": "request", "level": "INFO", "method": "GET", "path": "/things/42", "route": "GET /things/{id}",
		"status": float64(418), "bytes": float64(5), "request_id": "rid-1", "remote_ip": "192.0.2.7",
	}
	for k, v := range want {
		if r[k] != v {
			t.Errorf("%s = %v, want %v", k, r[k], v)
		}
	}
	if _, ok := r["duration_ms"].(float64); !ok {
		t.Errorf("duration_ms missing: %v", r)
	}
	if strings.Contains(logs.buf.String(), "secret") {
		t.Errorf("the query string reached the log: %s", logs.buf.String())
	}
}

func TestLoggerKeepsFlusher(t *testing.T) {
	logger, _ := newLogger()
	var isFlusher bool
	h := Chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, isFlusher = w.(http.Flusher)
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("flush through the wrappers: %v", err)
		}
	}), Recover(logger), Logger(logger), NewMetrics().Middleware)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if !isFlusher {
		t.Error("the wrapped ResponseWriter is not an http.Flusher")
	}
	if !rec.Flushed {
		t.Error("Flush did not reach the underlying writer")
	}
}

func TestRecover(t *testing.T) {
	logger, logs := newLogger()
	h := Chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Set-Cookie", "half=baked")
		panic("database password is hunter2")
	}), RequestID, Recover(logger), Logger(logger))
	req := httptest.NewRequest(http.MethodPost, "/graphql", nil)
	req.Header.Set(HeaderRequestID, "rid-panic")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)

	if rec.Code != http.StatusInternalServerError {
		t.Errorf("status = %d, want 500", rec.Code)
	}
	if got, want := rec.Body.String(), `{"error":"internal error","request_id":"rid-panic"}`+"\n"; got != want {
		t.Errorf("body = %q, want %q", got, want)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if c := rec.Header().Get("Set-Cookie"); c != "" {
		t.Errorf("the panicking handler's Set-Cookie went out: %q", c)
	}
	if rec.Header().Get(HeaderRequestID) != "rid-panic" {
		t.Errorf("request id header lost")
	}
	var panicked, accessLine bool
	for _, r := range logs.records(t) {
		switch r["msg"] {
		case "panic serving request":
			panicked = true
			if r["level"] != "ERROR" || r["panic"] != "database password is hunter2" || r["request_id"] != "rid-panic" {
				t.Errorf("panic record = %v", r)
			}
			if s, _ := r["stack"].(string); !strings.Contains(s, "TestRecover") {
				t.Errorf("stack does not show the panicking handler: %q", s)
			}
		case "request":
			accessLine = true
			if r["status"] != float64(500) {
				t.Errorf("access line status = %v, want 500", r["status"])
			}
		}
	}
	if !panicked || !accessLine {
		t.Errorf("want a panic record and an access line, got %v", logs.records(t))
	}
}

func TestRecoverAfterResponseStarted(t *testing.T) {
	logger, _ := newLogger()
	h := Recover(logger)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "partial")
		panic("boom")
	}))
	defer func() {
		if p := recover(); p != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler so the connection is cut", p)
		}
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
}

func TestRecoverPassesAbortHandler(t *testing.T) {
	logger, logs := newLogger()
	h := Recover(logger)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	defer func() {
		if p := recover(); p != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler", p)
		}
		if len(logs.records(t)) != 0 {
			t.Errorf("an aborted handler was logged as a panic: %v", logs.records(t))
		}
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
}

// limited serves a handler that reads the whole body and complains with
// 400 text when it cannot, as a JSON decoder behind LimitBody would.
func limited(max int64, tooLarge http.Handler) http.Handler {
	return LimitBody(max, tooLarge)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "could not read body", http.StatusBadRequest)
			return
		}
		w.Header().Set("X-Handler", "yes")
		_, _ = w.Write(body)
	}))
}

const graphQLTooLarge = `{"errors":[{"message":"request body too large","extensions":{"code":"PAYLOAD_TOO_LARGE"}}]}`

func TestLimitBody(t *testing.T) {
	tooLarge := StaticJSON(http.StatusRequestEntityTooLarge, []byte(graphQLTooLarge))
	srv := httptest.NewServer(limited(10, tooLarge))
	defer srv.Close()

	tests := []struct {
		name       string
		body       string
		chunked    bool
		wantStatus int
		wantBody   string
	}{
		{"small with length", "0123456789", false, 200, "0123456789"},
		{"small chunked", "0123456789", true, 200, "0123456789"},
		{"large with length", "0123456789X", false, 413, graphQLTooLarge},
		{"large chunked", strings.Repeat("X", 1<<16), true, 413, graphQLTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader = strings.NewReader(tt.body)
			if tt.chunked {
				body = io.MultiReader(body) // hides the length: sent chunked
			}
			req, err := http.NewRequest(http.MethodPost, srv.URL, body)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus || string(got) != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, got, tt.wantStatus, tt.wantBody)
			}
			if tt.wantStatus == 413 {
				if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type = %q, want the 413's, not the handler's", ct)
				}
			} else if resp.Header.Get("X-Handler") != "yes" || resp.Header.Get("Content-Type") != "text/plain" {
				t.Errorf("the handler's headers were lost: %v", resp.Header)
			}
		})
	}
}

func TestLimitBodyContentLengthSkipsHandler(t *testing.T) {
	called := false
	h := LimitBody(4, nil)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("12345")))
	if called {
		t.Error("the handler ran for a body whose Content-Length is over the limit")
	}
	if rec.Code != 413 || rec.Body.String() != string(DefaultTooLarge) {
		t.Errorf("got %d %q, want 413 %q", rec.Code, rec.Body, DefaultTooLarge)
	}
}

func TestLimitBodyLyingLengthInProcess(t *testing.T) {
	// A request read without a length (ContentLength -1), as a chunked one is.
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("123456789"))
	req.ContentLength = -1
	var sawTooLarge bool
	h := LimitBody(4, nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		sawTooLarge = IsTooLarge(err)
		if err == nil {
			w.WriteHeader(http.StatusNoContent)
		}
		// Writes nothing on error: LimitBody answers.
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if !sawTooLarge {
		t.Error("IsTooLarge(read error) = false")
	}
	if rec.Code != 413 {
		t.Errorf("status = %d, want 413", rec.Code)
	}
	if IsTooLarge(errors.New("other")) || IsTooLarge(nil) {
		t.Error("IsTooLarge is true for an unrelated error")
	}
}

func TestMetricsRouteLabelIsBounded(t *testing.T) {
	m := NewMetrics()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("POST /graphql", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
	})
	mux.Handle("GET /metrics", m.Handler())
	h := m.Middleware(mux)

	for _, req := range []*http.Request{
		httptest.NewRequest(http.MethodGet, "/users/usr_1", nil),
		httptest.NewRequest(http.MethodGet, "/users/usr_2", nil),
		httptest.NewRequest(http.MethodPost, "/graphql", nil),
		httptest.NewRequest(http.MethodGet, "/random/path/one", nil),
		httptest.NewRequest(http.MethodGet, "/random/path/two", nil),
		httptest.NewRequest("BREW", "/graphql", nil),
	} {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	out := rec.Body.String()

	for _, want := range []string{
		`gatehouse_http_requests_total{code="200",method="GET",route="/users/{id}"} 2`,
		`gatehouse_http_requests_total{code="400",method="POST",route="/graphql"} 1`,
		`gatehouse_http_requests_total{code="404",method="GET",route="other"} 2`,
		`gatehouse_http_requests_total{code="405",method="OTHER",route="other"} 1`,
		`gatehouse_http_request_duration_seconds_count{method="GET",route="/users/{id}"} 2`,
		`go_goroutines `,
		`process_start_time_seconds `,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	for _, leak := range []string{"usr_1", "/random", "BREW"} {
		if strings.Contains(out, leak) {
			t.Errorf("a raw request value %q became a label", leak)
		}
	}
}

func TestMetricsCountsPanics(t *testing.T) {
	logger, _ := newLogger()
	m := NewMetrics()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /boom", func(http.ResponseWriter, *http.Request) { panic("boom") })
	h := Chain(mux, Recover(logger), m.Middleware)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/boom", nil))
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if want := `gatehouse_http_requests_total{code="500",method="GET",route="/boom"} 1`; !strings.Contains(rec.Body.String(), want) {
		t.Errorf("metrics lack %q", want)
	}
}

func TestMetricsRegistriesAreIndependent(t *testing.T) {
	// Two instances in one process must not collide (the global registry would panic).
	a, b := NewMetrics(), NewMetrics()
	if a.Registry() == b.Registry() {
		t.Error("both Metrics share a registry")
	}
}

func TestHealth(t *testing.T) {
	logger, logs := newLogger()
	notReady := errors.New("dial tcp 10.0.0.5:5432: connection refused")
	tests := []struct {
		name       string
		h          http.Handler
		wantStatus int
		wantBody   string
	}{
		{"healthz", Healthz(), 200, `{"status":"ok"}` + "\n"},
		{"ready", Readyz(func(context.Context) error { return nil }, logger), 200, `{"status":"ok"}` + "\n"},
		{"not ready", Readyz(func(context.Context) error { return notReady }, logger), 503, `{"status":"unavailable"}` + "\n"},
		{"degraded but ready", Readyz(func(context.Context) error { return nil }, logger,
			func() string { return "" }, func() string { return "rate limiter on its own" }), 200,
			`{"status":"degraded","degraded":["rate limiter on its own"]}` + "\n"},
		{"degraded and not ready", Readyz(func(context.Context) error { return notReady }, logger,
			func() string { return "rate limiter on its own" }), 503, `{"status":"unavailable"}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tt.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			if rec.Code != tt.wantStatus || rec.Body.String() != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", rec.Code, rec.Body, tt.wantStatus, tt.wantBody)
			}
		})
	}
	if !strings.Contains(logs.buf.String(), "connection refused") {
		t.Errorf("the readiness failure was not logged: %s", logs.buf.String())
	}
}

func TestReadyzBoundsTheCheck(t *testing.T) {
	logger, _ := newLogger()
	var deadline time.Time
	h := Readyz(func(ctx context.Context) error {
		deadline, _ = ctx.Deadline()
		return nil
	}, logger)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if deadline.IsZero() || time.Until(deadline) > ReadyTimeout {
		t.Errorf("check deadline = %v, want within %v", deadline, ReadyTimeout)
	}
}

// serve starts Serve on a loopback port and returns its base URL and the
// channel its result arrives on.
func serve(t *testing.T, ctx context.Context, h http.Handler, shutdown time.Duration) (string, *http.Server, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logger, _ := newLogger()
	srv := &http.Server{Handler: h}
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, srv, ln, logger, shutdown) }()
	return "http://" + ln.Addr().String(), srv, done
}

func TestServeShutsDownGracefully(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", Healthz())
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		_, _ = io.WriteString(w, "finished")
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base, srv, done := serve(t, ctx, mux, 10*time.Second)

	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz = %d", resp.StatusCode)
	}
	if srv.ReadHeaderTimeout != DefaultReadHeaderTimeout || srv.IdleTimeout != DefaultIdleTimeout {
		t.Errorf("timeouts not defaulted: %+v", srv)
	}

	slow := make(chan string, 1)
	go func() {
		resp, err := http.Get(base + "/slow")
		if err != nil {
			slow <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		slow <- string(b)
	}()
	<-started
	cancel() // SIGTERM
	// Shutdown has begun once new connections are refused.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			break
		}
		c.Close()
		select {
		case err := <-done:
			t.Fatalf("Serve returned %v before the in-flight request finished", err)
		default:
		}
	}
	close(release)
	if got := <-slow; got != "finished" {
		t.Errorf("in-flight request got %q, want it to finish", got)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
}

func TestServeShutdownTimeout(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base, _, done := serve(t, ctx, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
	}), 50*time.Millisecond)
	go func() {
		if resp, err := http.Get(base); err == nil {
			resp.Body.Close()
		}
	}()
	<-started
	cancel()
	if err := <-done; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Serve = %v, want the shutdown deadline", err)
	}
}

func TestChainOrder(t *testing.T) {
	var order []string
	mw := func(name string) Middleware {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				order = append(order, name)
				next.ServeHTTP(w, r)
			})
		}
	}
	Chain(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { order = append(order, "h") }),
		mw("a"), mw("b")).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if got := strings.Join(order, ","); got != "a,b,h" {
		t.Errorf("order = %s, want a,b,h", got)
	}
}
