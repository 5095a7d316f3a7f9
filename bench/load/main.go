// Command load is the load generator behind the side-by-side OpenID
// provider benchmarks in docs/BENCHMARKS.md. It speaks HTTP/1.1 itself over
// keep-alive connections (one per worker) so that one core of client can
// saturate one core of server; net/http's client costs several times more
// CPU per request and would measure itself.
//
//	load get     -url URL                                   [-c 32 -d 10s]
//	load post    -url URL -body FORM [-user id -pass secret] [-c 32 -d 10s]
//	load refresh -url TOKEN_URL -user id -pass secret -tokens FILE [-c W -d 10s]
//	load static  -url 127.0.0.1:PORT -n SIZE   (serves a SIZE-byte body: the net/http floor)
//	load seed    -issuer ISS -pass APIKEY -email E -password P -redirect URI
//	load login   -issuer ISS -client id -secret s -redirect URI -email E -password P [-n 50] [-tokens-out FILE -pool W]
//
// get and post send the same request over and over; refresh chains the
// refresh tokens of FILE (one a line, one chain per worker: each answer's
// refresh_token is the next request's), so rotation is part of every
// request. login drives Gatehouse's hosted login like a browser and times
// the authorization-code + PKCE round trip, with and without a session.
//
// Every mode prints one line: requests, errors, req/s, p50, p99, max. Any
// error (a transport error, or a status other than 200) is counted; the
// benchmark scripts require 0.
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: load get|post|refresh|static|seed|login [flags]")
		os.Exit(2)
	}
	mode := os.Args[1]
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	var (
		target    = fs.String("url", "", "request URL (http only)")
		body      = fs.String("body", "", "POST body (application/x-www-form-urlencoded)")
		user      = fs.String("user", "", "client_id for HTTP Basic (client_secret_basic)")
		pass      = fs.String("pass", "", "client_secret for HTTP Basic")
		conc      = fs.Int("c", 32, "concurrent workers, one keep-alive connection each")
		dur       = fs.Duration("d", 10*time.Second, "measured duration (at most 20s)")
		warm      = fs.Duration("warmup", time.Second, "unmeasured warm-up before the measured duration")
		limit     = fs.Int("n", 0, "stop after this many measured requests (0: by duration); static: body size; login: round trips")
		name      = fs.String("name", mode, "label printed with the result")
		tokens    = fs.String("tokens", "", "refresh: file of refresh tokens, one a line, at least -c")
		expect    = fs.String("expect", "", "require this substring in every response body")
		issuer    = fs.String("issuer", "", "login: Gatehouse issuer")
		clientID  = fs.String("client", "", "login: client_id")
		secretArg = fs.String("secret", "", "login: client_secret")
		redirect  = fs.String("redirect", "", "login: registered redirect_uri")
		email     = fs.String("email", "", "login: user email")
		password  = fs.String("password", "", "login: user password")
		scope     = fs.String("scope", "openid offline_access", "login: scope")
		tokensOut = fs.String("tokens-out", "", "login: write -pool refresh tokens here (one session per token)")
		pool      = fs.Int("pool", 0, "login: refresh tokens to write")
	)
	_ = fs.Parse(os.Args[2:])
	if *dur > 20*time.Second {
		fatalf("-d %s: runs are bounded to 20s", *dur)
	}
	var err error
	switch mode {
	case "get", "post", "refresh":
		var u *url.URL
		u, err = url.Parse(*target)
		if err != nil || u.Scheme != "http" || !loopback(u.Hostname()) {
			fatalf("-url %q: an http URL on the loopback interface is required", *target)
		}
		g := &gen{u: u, method: "GET", body: *body, conc: *conc, dur: *dur, warm: *warm, max: *limit, expect: []byte(*expect)}
		if mode != "get" {
			g.method = "POST"
		}
		if *user != "" {
			g.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(*user)+":"+url.QueryEscape(*pass)))
		}
		if mode == "refresh" {
			g.chains, err = readLines(*tokens)
			if err == nil && len(g.chains) < *conc {
				err = fmt.Errorf("%s has %d tokens, -c %d needs one per worker", *tokens, len(g.chains), *conc)
			}
		}
		if err == nil {
			var r result
			r, err = g.run()
			r.print(*name)
			if err == nil && r.errors > 0 {
				err = fmt.Errorf("%d errors, first: %s", r.errors, r.firstErr)
			}
		}
	case "static":
		if !loopback(strings.Split(*target, ":")[0]) {
			fatalf("-url %q: a loopback host:port is required", *target)
		}
		err = staticMode(*target, *limit)
	case "seed":
		err = seedMode(*issuer, *pass, *email, *password, *redirect)
	case "login":
		err = loginMode(loginConfig{issuer: *issuer, client: *clientID, secret: *secretArg, redirect: *redirect,
			email: *email, password: *password, scope: *scope, n: *limit, tokensOut: *tokensOut, pool: *pool, name: *name})
	default:
		err = fmt.Errorf("unknown mode %q", mode)
	}
	if err != nil {
		fatalf("%s: %v", *name, err)
	}
}

func fatalf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "load: "+format+"\n", a...)
	os.Exit(1)
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func readLines(path string) ([]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range strings.Split(string(raw), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out, nil
}

// gen is a closed-loop generator: conc workers, each sending its next
// request as soon as the previous answer is read.
type gen struct {
	u      *url.URL
	method string
	body   string
	auth   string
	conc   int
	dur    time.Duration
	warm   time.Duration
	max    int
	expect []byte
	chains []string // refresh tokens, one chain per worker
}

type result struct {
	requests, errors int
	elapsed          time.Duration
	lat              []time.Duration
	firstErr         string
}

func (r result) rps() float64 { return float64(r.requests) / r.elapsed.Seconds() }

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.999999) - 1 // nearest rank
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) }

func (r result) print(name string) {
	slices.Sort(r.lat)
	fmt.Printf("%-34s requests=%d errors=%d seconds=%.2f rps=%.0f p50_ms=%s p99_ms=%s max_ms=%s\n",
		name, r.requests, r.errors, r.elapsed.Seconds(), r.rps(), ms(pct(r.lat, .50)), ms(pct(r.lat, .99)), ms(pct(r.lat, 1)))
}

func (g *gen) request(refresh string) []byte {
	var b bytes.Buffer
	path := g.u.RequestURI()
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: gatehouse-bench\r\nAccept: application/json\r\n", g.method, path, g.u.Host)
	if g.auth != "" {
		fmt.Fprintf(&b, "Authorization: %s\r\n", g.auth)
	}
	if g.method == "POST" {
		body := g.body
		if refresh != "" {
			body = "grant_type=refresh_token&refresh_token=" + url.QueryEscape(refresh)
		}
		fmt.Fprintf(&b, "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	} else {
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

func (g *gen) run() (result, error) {
	var (
		measuring atomic.Bool
		stop      atomic.Bool
		count     atomic.Int64
		wg        sync.WaitGroup
		mu        sync.Mutex
		total     result
	)
	ready := make(chan error, g.conc)
	for w := 0; w < g.conc; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			conn, err := net.Dial("tcp", g.u.Host)
			ready <- err
			if err != nil {
				return
			}
			defer conn.Close()
			br := bufio.NewReaderSize(conn, 64<<10)
			var (
				lat      = make([]time.Duration, 0, 1<<16)
				errs     int
				firstErr string
				fixed    []byte
				chain    string
				body     []byte
			)
			if g.chains != nil {
				chain = g.chains[w]
			} else {
				fixed = g.request("")
			}
			for !stop.Load() {
				req := fixed
				if fixed == nil {
					req = g.request(chain)
				}
				t0 := time.Now()
				transport := true
				if _, err = conn.Write(req); err == nil {
					var status int
					status, body, err = readResponse(br, body[:0])
					transport = err != nil
					if err == nil && status != 200 {
						err = fmt.Errorf("status %d: %.200s", status, body)
					}
					if err == nil && len(g.expect) > 0 && !bytes.Contains(body, g.expect) {
						err = fmt.Errorf("body lacks %q: %.200s", g.expect, body)
					}
					if err == nil && g.chains != nil {
						var tok struct {
							RefreshToken string `json:"refresh_token"`
							AccessToken  string `json:"access_token"`
						}
						if json.Unmarshal(body, &tok) != nil || tok.RefreshToken == "" || tok.AccessToken == "" {
							err = fmt.Errorf("no refresh_token/access_token in %.200s", body)
						} else {
							chain = tok.RefreshToken
						}
					}
				}
				d := time.Since(t0)
				if !measuring.Load() {
					if err != nil {
						ready <- err
						return
					}
					continue
				}
				if err != nil {
					errs++
					if firstErr == "" {
						firstErr = err.Error()
					}
					if transport {
						break // the connection is gone
					}
					continue
				}
				lat = append(lat, d)
				if n := count.Add(1); g.max > 0 && n >= int64(g.max) {
					stop.Store(true)
				}
			}
			mu.Lock()
			total.lat = append(total.lat, lat...)
			total.errors += errs
			if total.firstErr == "" {
				total.firstErr = firstErr
			}
			mu.Unlock()
		}(w)
	}
	for w := 0; w < g.conc; w++ {
		if err := <-ready; err != nil {
			stop.Store(true)
			wg.Wait()
			return total, err
		}
	}
	time.Sleep(g.warm)
	select {
	case err := <-ready: // a warm-up request failed
		stop.Store(true)
		wg.Wait()
		return total, fmt.Errorf("warm-up: %v", err)
	default:
	}
	measuring.Store(true)
	start := time.Now()
	deadline := time.NewTimer(g.dur)
	tick := time.NewTicker(10 * time.Millisecond)
	for !stop.Load() {
		select {
		case <-deadline.C:
			stop.Store(true)
		case <-tick.C:
		}
	}
	total.elapsed = time.Since(start)
	wg.Wait()
	total.requests = len(total.lat)
	return total, nil
}

// readResponse reads one HTTP/1.1 response (Content-Length or chunked).
func readResponse(br *bufio.Reader, body []byte) (int, []byte, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, body, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, body, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, body, fmt.Errorf("bad status line %q", line)
	}
	length, chunked, closing := -1, false, false
	for {
		h, err := br.ReadSlice('\n')
		if err != nil {
			return 0, body, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		k, v, _ := bytes.Cut(h, []byte(":"))
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			length, _ = strconv.Atoi(string(v))
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(v, []byte("chunked"))
		case bytes.EqualFold(k, []byte("Connection")):
			closing = bytes.EqualFold(v, []byte("close"))
		}
	}
	switch {
	case chunked:
		for {
			l, err := br.ReadSlice('\n')
			if err != nil {
				return 0, body, err
			}
			l = bytes.TrimRight(l, "\r\n")
			if i := bytes.IndexByte(l, ';'); i >= 0 {
				l = l[:i]
			}
			n, err := strconv.ParseInt(string(l), 16, 64)
			if err != nil {
				return 0, body, fmt.Errorf("bad chunk size %q", l)
			}
			if n == 0 {
				// trailers
				for {
					t, err := br.ReadSlice('\n')
					if err != nil {
						return 0, body, err
					}
					if len(bytes.TrimRight(t, "\r\n")) == 0 {
						break
					}
				}
				break
			}
			start := len(body)
			body = append(body, make([]byte, n)...)
			if _, err := io.ReadFull(br, body[start:]); err != nil {
				return 0, body, err
			}
			if _, err := br.Discard(2); err != nil {
				return 0, body, err
			}
		}
	case length >= 0:
		start := len(body)
		body = append(body, make([]byte, length)...)
		if _, err := io.ReadFull(br, body[start:]); err != nil {
			return 0, body, err
		}
	default:
		return 0, body, errors.New("response without length on a keep-alive connection")
	}
	if closing {
		return status, body, errors.New("server closed the connection")
	}
	return status, body, nil
}
