package httpserver

import (
	"errors"
	"io"
	"net/http"
	"sync/atomic"
)

// DefaultTooLarge is the body LimitBody sends when given no handler of its own.
var DefaultTooLarge = []byte(`{"error":"request body too large"}` + "\n")

// LimitBody refuses request bodies larger than maxBytes with 413, served by
// tooLarge (nil: StaticJSON(413, DefaultTooLarge)).
//
// A Content-Length above maxBytes is refused before next runs. Other bodies
// (chunked, or lying about their length) are read through
// http.MaxBytesReader; once a read fails that way, whatever next answers
// (typically a 400 about a broken body) is replaced by tooLarge's 413,
// provided next had not yet written anything. Handlers that want to know
// can test the read error with IsTooLarge.
func LimitBody(maxBytes int64, tooLarge http.Handler) Middleware {
	if tooLarge == nil {
		tooLarge = StaticJSON(http.StatusRequestEntityTooLarge, DefaultTooLarge)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > maxBytes {
				tooLarge.ServeHTTP(w, r)
				return
			}
			if r.Body == nil || r.Body == http.NoBody {
				next.ServeHTTP(w, r)
				return
			}
			lw := &limitWriter{w: w, r: r, tooLarge: tooLarge, header: w.Header().Clone()}
			r2 := r.WithContext(r.Context())
			r2.Body = &limitReader{ReadCloser: http.MaxBytesReader(w, r.Body, maxBytes), exceeded: &lw.exceeded}
			next.ServeHTTP(lw, r2)
			lw.commit()
		})
	}
}

// IsTooLarge reports whether err comes from reading a body past its limit.
func IsTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

type limitReader struct {
	io.ReadCloser
	exceeded *atomic.Bool
}

func (l *limitReader) Read(p []byte) (int, error) {
	n, err := l.ReadCloser.Read(p)
	if err != nil && IsTooLarge(err) {
		l.exceeded.Store(true)
	}
	return n, err
}

// limitWriter holds back the handler's headers until the handler first
// writes: then either they go out as usual or, when the body turned out too
// large, tooLarge answers instead and the handler's writes are dropped.
type limitWriter struct {
	w        http.ResponseWriter
	r        *http.Request
	tooLarge http.Handler
	header   http.Header
	exceeded atomic.Bool
	state    int // undecided, passing or replaced
}

const (
	undecided = iota
	passing
	replaced
)

func (lw *limitWriter) Header() http.Header {
	if lw.state == passing {
		return lw.w.Header()
	}
	return lw.header
}

// commit decides, once, and reports whether the handler's writes pass.
func (lw *limitWriter) commit() bool {
	if lw.state == undecided {
		if lw.exceeded.Load() {
			lw.state = replaced
			lw.tooLarge.ServeHTTP(lw.w, lw.r)
		} else {
			lw.state = passing
			lw.copyHeader()
		}
	}
	return lw.state == passing
}

func (lw *limitWriter) copyHeader() {
	h := lw.w.Header()
	for k := range h {
		if _, ok := lw.header[k]; !ok {
			delete(h, k)
		}
	}
	for k, v := range lw.header {
		h[k] = v
	}
}

func (lw *limitWriter) WriteHeader(code int) {
	if code < 200 && code != http.StatusSwitchingProtocols {
		// An informational response does not decide the final one.
		if lw.state != replaced && !lw.exceeded.Load() {
			if lw.state == undecided {
				lw.copyHeader()
			}
			lw.w.WriteHeader(code)
		}
		return
	}
	if lw.commit() {
		lw.w.WriteHeader(code)
	}
}

func (lw *limitWriter) Write(p []byte) (int, error) {
	if lw.commit() {
		return lw.w.Write(p)
	}
	return len(p), nil
}

func (lw *limitWriter) Flush() {
	if lw.commit() {
		_ = http.NewResponseController(lw.w).Flush()
	}
}

func (lw *limitWriter) Unwrap() http.ResponseWriter { return lw.w }
