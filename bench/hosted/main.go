// Command hosted measures the hosted sign-in pages of the real binary on
// PostgreSQL, for docs/BENCHMARKS.md ("Issue 9: hosted sign-in pages"):
//
//   - identify: the identifier step (POST /login/identify: an email in, the
//     page of ways to sign in out) with 1,000,000 users in the database,
//     p50/p99/max latency of a fixed number of requests at a modest
//     concurrency, with known and unknown addresses alternating;
//
//   - hash and signin, in the same run and alternating in order from round
//     to round: argon2id verification alone (internal/password.Verify at
//     the server's parameters, in this process) against full password
//     sign-ins through the hosted pages (GET /login, POST /login/identify,
//     POST /login: a session and the redirect to the account page), both
//     at the concurrency the server's hash slots allow; the ratio of their
//     rates and the CPU time each costs;
//
//   - passkey, after them in every round: whole passkey sign-ins (GET
//     /login, POST /login/passkey/options, POST /login/passkey with an
//     assertion of a software ES256 authenticator), completed per second.
//
//     go run ./bench/hosted
//     BENCH_ROUNDS=3 BENCH_DURATION=10s go run ./bench/hosted
//
// Environment: GATEHOUSE_BENCH_PG (a PostgreSQL server URL without a
// database name, default postgres://postgres@127.0.0.1:5432; a scratch
// database is created and dropped), BENCH_USERS (1000000), BENCH_ROUNDS (5),
// BENCH_DURATION (20s per rate cell, after 1s of warm-up), BENCH_IDENTIFY
// (20000 requests per identify cell), BENCH_CONC (the server's hash slots,
// 2 × CPUs, by default), BENCH_PASSKEY_CONC (browsers signing in with
// passkeys at once, 16), BENCH_PROFILE (a directory for CPU profiles of
// round 1's cells: hash.pprof of this process, signin.pprof and
// passkey.pprof of the server, built with bench/pprof's listener).
//
// The users are written with COPY into the table the real migrations made
// (internal/database), every one with the same argon2id hash of the bench
// password, made at the server's parameters. Linux only (/proc for the CPU
// accounting). Run it from the repository's root, which it builds.
// Results go to stdout, one line per cell, then the medians over rounds.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/internal/database"
	"github.com/gatehouse-id/gatehouse/internal/password"
	"github.com/gatehouse-id/gatehouse/interop/seed"
)

const (
	pw       = "correct horse battery staple"
	redirect = "http://127.0.0.1:9/cb"
	warmup   = time.Second
)

type config struct {
	pg          string
	users       int
	rounds      int
	dur         time.Duration
	identifyN   int
	conc        int
	profile     string // a directory for CPU profiles of round 1's cells, or ""
	passkeyConc int
}

func main() {
	c := config{
		pg:          env("GATEHOUSE_BENCH_PG", "postgres://postgres@127.0.0.1:5432"),
		users:       envInt("BENCH_USERS", 1_000_000),
		rounds:      envInt("BENCH_ROUNDS", 5),
		identifyN:   envInt("BENCH_IDENTIFY", 20_000),
		conc:        envInt("BENCH_CONC", 2*runtime.NumCPU()),
		profile:     os.Getenv("BENCH_PROFILE"),
		passkeyConc: envInt("BENCH_PASSKEY_CONC", 16),
	}
	d, err := time.ParseDuration(env("BENCH_DURATION", "20s"))
	if err != nil {
		fail(fmt.Errorf("BENCH_DURATION: %w", err))
	}
	c.dur = d
	if err := run(c); err != nil {
		fail(err)
	}
}

func run(c config) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "gatehouse-hosted-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	say("%s; %d CPUs; load %s; %d users; %d rounds of %s; identify %d requests; concurrency %d (the server's hash slots)",
		time.Now().UTC().Format(time.RFC3339), runtime.NumCPU(), loadavg(), c.users, c.rounds, c.dur, c.identifyN, c.conc)
	bin := filepath.Join(dir, "gatehouse")
	build := []string{"build", "-o", bin}
	if c.profile != "" {
		// bench/pprof's listener, added to this build only (as bench/oidc.sh does).
		root, err := os.Getwd()
		if err != nil {
			return err
		}
		overlay := filepath.Join(dir, "overlay.json")
		o := fmt.Sprintf(`{"Replace":{%q:%q}}`, filepath.Join(root, "cmd/gatehouse/zz_bench_pprof.go"), filepath.Join(root, "bench/pprof/pprof.go.txt"))
		if err := os.WriteFile(overlay, []byte(o), 0o600); err != nil {
			return err
		}
		build = append(build, "-overlay", overlay)
	}
	if out, err := exec.Command("go", append(build, "./cmd/gatehouse")...).CombinedOutput(); err != nil {
		return fmt.Errorf("build: %v\n%s", err, out)
	}

	// The scratch database, migrated as serve would, then the users.
	scratch := fmt.Sprintf("gatehouse_hosted_%d", os.Getpid())
	admin, err := pgx.Connect(ctx, c.pg+"/postgres?sslmode=disable")
	if err != nil {
		return err
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+scratch); err != nil {
		return err
	}
	defer func() {
		if _, err := admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+scratch+" WITH (FORCE)"); err != nil {
			fmt.Fprintln(os.Stderr, "hosted: drop scratch database:", err)
		}
	}()
	dbURL := c.pg + "/" + scratch + "?sslmode=disable"
	db, err := database.Open(ctx, database.Config{URL: dbURL})
	if err != nil {
		return err
	}
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	_ = db.Close()
	hash, err := password.Hash(pw, password.Default)
	if err != nil {
		return err
	}
	t0 := time.Now()
	if err := seedUsers(ctx, dbURL, c.users, hash); err != nil {
		return err
	}
	say("seeded %d users (COPY, then VACUUM ANALYZE) in %.1fs; argon2id m=%d KiB t=%d p=%d", c.users, time.Since(t0).Seconds(),
		password.Default.Memory, password.Default.Iterations, password.Default.Parallelism)

	// The server.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	// Passkeys need a host name for their RP ID (an IP address turns them
	// off): the issuer is localhost, while requests go to 127.0.0.1.
	_, port, _ := net.SplitHostPort(addr)
	origin := "http://localhost:" + port
	issuer := "http://" + addr
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o700); err != nil {
		return err
	}
	srvEnv := append(os.Environ(), "GATEHOUSE_ADDR="+addr, "GATEHOUSE_ISSUER="+origin, "GATEHOUSE_DATA_DIR="+filepath.Join(dir, "data"),
		"GATEHOUSE_DEV=true", "GATEHOUSE_LOG_FORMAT=json", "GATEHOUSE_LOG_LEVEL=warn", "GATEHOUSE_DATABASE_URL="+dbURL,
		"GATEHOUSE_PASSWORD_CONCURRENCY="+strconv.Itoa(c.conc))
	pprofAddr := ""
	if c.profile != "" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		pprofAddr = l.Addr().String()
		_ = l.Close()
		srvEnv = append(srvEnv, "GATEHOUSE_BENCH_PPROF="+pprofAddr)
	}
	logFile, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	keyCmd := exec.Command(bin, "apikey", "create", "--name", "bench")
	keyCmd.Env, keyCmd.Stderr = srvEnv, logFile
	out, err := keyCmd.Output()
	if err != nil {
		return fmt.Errorf("apikey create: %w (log in %s)", err, logFile.Name())
	}
	apiKey := strings.TrimSpace(string(out))
	apiKey = apiKey[strings.LastIndex(apiKey, "\n")+1:]
	srv := exec.Command(bin, "serve")
	srv.Env, srv.Stdout, srv.Stderr = srvEnv, logFile, logFile
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	// Interrupted: the same clean-up as the deferred calls above.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		_ = srv.Process.Kill()
		if conn, err := pgx.Connect(context.Background(), c.pg+"/postgres?sslmode=disable"); err == nil { // admin may be busy
			_, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+scratch+" WITH (FORCE)")
		}
		_ = os.RemoveAll(dir)
		fail(errors.New("interrupted"))
	}()
	if err := waitReady(issuer); err != nil {
		log, _ := os.ReadFile(logFile.Name())
		return fmt.Errorf("%w; serve's log:\n%s", err, log)
	}
	app, err := (&seed.Client{Issuer: issuer, APIKey: apiKey}).CreateApplication(ctx, map[string]any{
		"name": "web", "type": "WEB", "redirectURIs": []string{redirect}, "grantTypes": []string{"AUTHORIZATION_CODE"}})
	if err != nil {
		return err
	}
	h := &hostedClient{issuer: issuer, origin: origin, rpID: "localhost", clientID: app.ID, users: c.users,
		http: &http.Client{
			Transport: &http.Transport{MaxIdleConnsPerHost: 2 * max(c.conc, c.passkeyConc), DisableCompression: true},
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
			Timeout: time.Minute,
		}}

	// The identifier step: for an application's authorization request
	// (which the step loads) and for a direct sign-in (nothing loaded).
	for _, kind := range []string{"app", "direct"} {
		if err := identifyCell(h, kind, c); err != nil {
			return err
		}
	}

	const perWorker = 4
	t0 = time.Now()
	keys, err := seedPasskeys(ctx, dbURL, perWorker*c.passkeyConc, c.users, h.rpID)
	if err != nil {
		return err
	}
	say("registered %d software passkeys (ES256) for as many users in %.1fs", len(keys), time.Since(t0).Seconds())

	// The server's garbage collector settings for the hash-only cell
	// (serve: GOGC=400 and a memory limit of its slots × 64 MiB + 256
	// MiB), so that both cells pay the same for the hash's 64 MiB.
	debug.SetGCPercent(400)
	debug.SetMemoryLimit(int64(c.conc)*int64(password.Default.Memory)<<10 + 256<<20)
	password.SetConcurrency(c.conc, 0)
	var rounds []map[string]cellResult
	for r := 1; r <= c.rounds; r++ {
		say("round %d of %d; load %s", r, c.rounds, loadavg())
		res := map[string]cellResult{}
		cells := []string{"hash", "signin"}
		if r%2 == 0 {
			slices.Reverse(cells)
		}
		for _, cell := range cells {
			var cr cellResult
			var err error
			stop := func() {}
			if c.profile != "" && r == 1 {
				if stop, err = profileCell(c, cell, pprofAddr); err != nil {
					return err
				}
			}
			switch cell {
			case "hash":
				cr, err = rateCell(c, c.conc, func(int) error {
					_, err := password.Verify(pw, hash, password.Default)
					return err
				}, nil, func() []int { return nil }, nil)
			case "signin":
				h.stepN.Store(0)
				for i := range h.steps {
					h.steps[i].Store(0)
				}
				cr, err = rateCell(c, c.conc, h.signIn, []int{srv.Process.Pid}, backends(admin, scratch), dbStatsOf(admin, scratch))
			}
			stop()
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", r, cell, err)
			}
			res[cell] = cr
			steps := ""
			if n := float64(h.stepN.Load()); cell == "signin" && n > 0 {
				steps = fmt.Sprintf(" mean_ms GET_login=%.1f identify=%.1f POST_login=%.1f",
					ms(time.Duration(h.steps[0].Load()))/n, ms(time.Duration(h.steps[1].Load()))/n, ms(time.Duration(h.steps[2].Load()))/n)
			}
			fmt.Printf("%-8s rps=%.2f ops=%d server_cpu_ms=%.1f pg_cpu_ms=%.1f driver_cpu_ms=%.1f%s%s\n",
				cell, cr.rate, cr.ops, cr.serverCPU, cr.pgCPU, cr.selfCPU, steps, cr.db)
		}
		fmt.Printf("ratio    signin/hash rate=%.3f; cpu per sign-in (server+postgres) / cpu per verify=%.3f\n",
			res["signin"].rate/res["hash"].rate, (res["signin"].serverCPU+res["signin"].pgCPU)/res["hash"].selfCPU)
		// Passkey sign-ins: no password hash, so no hash slots to respect;
		// each browser cycles through its own authenticators, whose
		// counters must only grow.
		next := make([]int, c.passkeyConc)
		stop := func() {}
		if c.profile != "" && r == 1 {
			if stop, err = profileCell(c, "passkey", pprofAddr); err != nil {
				return err
			}
		}
		cr, err := rateCell(c, c.passkeyConc, func(w int) error {
			k := keys[w+c.passkeyConc*(next[w]%perWorker)]
			next[w]++
			return h.passkeySignIn(k)
		}, []int{srv.Process.Pid}, backends(admin, scratch), dbStatsOf(admin, scratch))
		stop()
		if err != nil {
			return fmt.Errorf("round %d, passkey: %w", r, err)
		}
		res["passkey"] = cr
		fmt.Printf("%-8s rps=%.2f ops=%d c=%d server_cpu_ms=%.3f pg_cpu_ms=%.3f driver_cpu_ms=%.3f%s\n",
			"passkey", cr.rate, cr.ops, c.passkeyConc, cr.serverCPU, cr.pgCPU, cr.selfCPU, cr.db)
		rounds = append(rounds, res)
	}
	summary(rounds)
	say("done; load %s", loadavg())
	return nil
}

// seedUsers writes n active users with verified addresses
// user0000000@bench.example… and password hash into the users table
// with COPY, after checking that every NOT NULL column without a default
// is one it fills.
func seedUsers(ctx context.Context, dbURL string, n int, hash string) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	cols := []string{"id", "created_at", "updated_at", "email", "email_verified", "status", "password_hash"}
	rows, err := conn.Query(ctx, `SELECT column_name FROM information_schema.columns
		WHERE table_name = 'users' AND is_nullable = 'NO' AND column_default IS NULL`)
	if err != nil {
		return err
	}
	required, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, col := range required {
		if !slices.Contains(cols, col) {
			return fmt.Errorf("users.%s is NOT NULL without a default: the seeding must fill it", col)
		}
	}
	now := time.Now().UTC()
	i := 0
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"users"}, cols, pgx.CopyFromFunc(func() ([]any, error) {
		if i == n {
			return nil, nil
		}
		id := pulid.New("usr")
		email := knownEmail(i)
		i++
		return []any{string(id), now, now, email, true, "ACTIVE", hash}, nil
	}))
	if err != nil {
		return fmt.Errorf("copy users: %w", err)
	}
	_, err = conn.Exec(ctx, "VACUUM ANALYZE users")
	return err
}

func knownEmail(i int) string   { return fmt.Sprintf("user%07d@bench.example", i) }
func unknownEmail(i int) string { return fmt.Sprintf("nobody%07d@bench.example", i) }

// hostedClient drives the hosted pages as a browser would, one cookie set
// per sign-in, over keep-alive connections shared by every worker.
type hostedClient struct {
	issuer, clientID string // issuer: the base URL requests go to (127.0.0.1)
	origin, rpID     string // the issuer as configured (localhost), for WebAuthn
	users            int
	http             *http.Client
	next             atomic.Int64 // the next user to sign in as
	// steps sums the time of each request of signIn (GET /login, POST
	// /login/identify, POST /login) over stepN sign-ins.
	steps [3]atomic.Int64
	stepN atomic.Int64
}

type browser struct {
	h       *hostedClient
	cookies map[string]string
}

func (h *hostedClient) browser() *browser { return &browser{h: h, cookies: map[string]string{}} }

// do sends one request with the browser's cookies, keeps the ones it sets
// and returns the status, the Location header and the body.
func (b *browser) do(method, path string, form url.Values) (int, string, []byte, error) {
	if form == nil {
		return b.send(method, path, "", nil)
	}
	return b.send(method, path, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
}

// doJSON posts a JSON body.
func (b *browser) doJSON(path, body string) (int, string, []byte, error) {
	return b.send(http.MethodPost, path, "application/json", strings.NewReader(body))
}

func (b *browser) send(method, path, ctype string, body io.Reader) (int, string, []byte, error) {
	req, err := http.NewRequest(method, b.h.issuer+path, body)
	if err != nil {
		return 0, "", nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	resp, err := b.h.http.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	raw, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return 0, "", nil, err
	}
	for _, ck := range resp.Cookies() {
		b.cookies[ck.Name] = ck.Value
	}
	return resp.StatusCode, resp.Header.Get("Location"), raw, nil
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// start opens the sign-in form: for an application (GET
// /oauth/v2/authorize, whose redirect names the authorization request)
// or direct (GET /login). It returns the authorization request's id ("" for
// direct) and the form's CSRF field.
func (b *browser) start(app bool) (string, string, error) {
	path := "/login"
	authRequest := ""
	if app {
		q := url.Values{"client_id": {b.h.clientID}, "redirect_uri": {redirect}, "response_type": {"code"}, "scope": {"openid"},
			"state": {"bench-state-0123456789"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}
		status, loc, body, err := b.do(http.MethodGet, "/oauth/v2/authorize?"+q.Encode(), nil)
		if err != nil {
			return "", "", err
		}
		u, err := url.Parse(loc)
		if status/100 != 3 || err != nil || u.Query().Get("authRequest") == "" {
			return "", "", fmt.Errorf("authorize: %d %q %.200s", status, loc, body)
		}
		authRequest = u.Query().Get("authRequest")
		path = "/login?authRequest=" + url.QueryEscape(authRequest)
	}
	status, _, body, err := b.do(http.MethodGet, path, nil)
	if err != nil {
		return "", "", err
	}
	m := csrfRE.FindSubmatch(body)
	if status != http.StatusOK || m == nil {
		return "", "", fmt.Errorf("GET %s: %d, no csrf field: %.300s", path, status, body)
	}
	return authRequest, string(m[1]), nil
}

// identify posts the identifier step and checks that the answer is the
// page of ways to sign in as email.
func (b *browser) identify(authRequest, csrf, email string) error {
	status, _, body, err := b.do(http.MethodPost, "/login/identify", url.Values{"authRequest": {authRequest}, "csrf": {csrf}, "email": {email}})
	if err != nil {
		return err
	}
	if status != http.StatusOK || !bytes.Contains(body, []byte(`action="/login"`)) || !bytes.Contains(body, []byte(email)) {
		return fmt.Errorf("POST /login/identify %s: %d %.300s", email, status, body)
	}
	return nil
}

// signIn is one direct password sign-in of the next user, as a browser
// without cookies makes it: GET /login, POST /login/identify, POST /login,
// which must answer with a session cookie and the redirect to the account.
func (h *hostedClient) signIn(int) error {
	b := h.browser()
	t0 := time.Now()
	_, csrf, err := b.start(false)
	if err != nil {
		return err
	}
	t1 := time.Now()
	// Users in a stride across the table, none twice in a run of < 1M.
	email := knownEmail(int(h.next.Add(1)*7919) % h.users)
	if err := b.identify("", csrf, email); err != nil {
		return err
	}
	t2 := time.Now()
	status, loc, body, err := b.do(http.MethodPost, "/login", url.Values{"authRequest": {""}, "csrf": {csrf}, "email": {email}, "password": {pw}})
	if err != nil {
		return err
	}
	h.steps[0].Add(int64(t1.Sub(t0)))
	h.steps[1].Add(int64(t2.Sub(t1)))
	h.steps[2].Add(int64(time.Since(t2)))
	h.stepN.Add(1)
	if status != http.StatusSeeOther || loc != "/account" || b.cookies["gatehouse_session"] == "" {
		return fmt.Errorf("POST /login %s: %d %q (session cookie %t) %.300s", email, status, loc, b.cookies["gatehouse_session"] != "", body)
	}
	return nil
}

// identifyCell times c.identifyN identifier steps (after 1,000 not
// timed) at c.conc concurrent browsers, each with its own sign-in form,
// known and unknown addresses alternating.
func identifyCell(h *hostedClient, kind string, c config) error {
	type form struct {
		b                 *browser
		authRequest, csrf string
	}
	forms := make([]form, c.conc)
	for w := range forms {
		b := h.browser()
		ar, csrf, err := b.start(kind == "app")
		if err != nil {
			return err
		}
		forms[w] = form{b, ar, csrf}
	}
	const untimed = 1000
	total := untimed + c.identifyN
	lat := make([]time.Duration, total)
	var next atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for _, f := range forms {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= total {
					return
				}
				email := knownEmail((i * 7919) % h.users)
				if i%2 == 1 {
					email = unknownEmail(i)
				}
				t := time.Now()
				err := f.b.identify(f.authRequest, f.csrf, email)
				lat[i] = time.Since(t)
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					next.Store(int64(total))
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return fmt.Errorf("identify/%s: %w", kind, firstErr)
	}
	l := lat[untimed:]
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	rank := func(p float64) time.Duration { // nearest rank
		k := int(p*float64(len(l))+0.999999) - 1
		return l[max(k, 0)]
	}
	fmt.Printf("identify/%-6s requests=%d c=%d p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f rps=%.0f (known and unknown alternating)\n",
		kind, len(l), c.conc, ms(rank(0.50)), ms(rank(0.90)), ms(rank(0.99)), ms(l[len(l)-1]), float64(total)/elapsed.Seconds())
	return nil
}

// profileCell starts a CPU profile of round 1's cell: of this process for
// the hash cell, of the server (bench/pprof's listener) for the sign-in
// and passkey cells, over the warm-up and window. stop waits for it and writes it to
// c.profile/cell.pprof.
func profileCell(c config, cell, pprofAddr string) (stop func(), err error) {
	if err := os.MkdirAll(c.profile, 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(filepath.Join(c.profile, cell+".pprof"))
	if err != nil {
		return nil, err
	}
	if cell == "hash" {
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		return func() { pprof.StopCPUProfile(); _ = f.Close() }, nil
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer f.Close()
		secs := int((warmup + c.dur).Seconds())
		resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", pprofAddr, secs))
		if err != nil {
			fmt.Fprintln(os.Stderr, "hosted: profile:", err)
			return
		}
		defer resp.Body.Close()
		_, _ = io.Copy(f, resp.Body)
	}()
	return func() { <-done }, nil
}

type cellResult struct {
	rate                      float64 // completed operations per second in the window
	ops                       int
	db                        string  // the database's counters per operation in the window, or ""
	serverCPU, pgCPU, selfCPU float64 // ms of CPU per operation in the window
}

// rateCell runs op on c.conc workers for 1s of warm-up and c.dur of
// measurement, and counts the operations completed in the window; with
// stats, also the database's counters over the window. CPU
// time is read at the window's edges: of the server processes (pids), of
// the PostgreSQL backends pg names, and of this process.
func rateCell(c config, conc int, op func(worker int) error, pids []int, pg func() []int, stats func() (dbStats, error)) (cellResult, error) {
	var done atomic.Int64
	var stop atomic.Bool
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range conc {
		wg.Go(func() {
			for !stop.Load() {
				if err := op(w); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					stop.Store(true)
					return
				}
				done.Add(1)
			}
		})
	}
	time.Sleep(warmup)
	pgPIDs := pg()
	var d0, d1 dbStats
	var dErr error
	if stats != nil {
		d0, dErr = stats()
	}
	s0, p0, self0, n0, t0 := procTicks(pids), procTicks(pgPIDs), selfCPU(), done.Load(), time.Now()
	time.Sleep(c.dur)
	s1, p1, self1, n1, t1 := procTicks(pids), procTicks(pgPIDs), selfCPU(), done.Load(), time.Now()
	if stats != nil && dErr == nil {
		d1, dErr = stats()
	}
	stop.Store(true)
	wg.Wait()
	if firstErr != nil {
		return cellResult{}, firstErr
	}
	if dErr != nil {
		return cellResult{}, dErr
	}
	n := n1 - n0
	db := ""
	if stats != nil {
		db = perOp(d0, d1, n)
	}
	if n == 0 {
		return cellResult{}, fmt.Errorf("no operation completed in %s", c.dur)
	}
	tick := 1000 / float64(clockTicks) // ms per tick
	return cellResult{
		rate: float64(n) / t1.Sub(t0).Seconds(), ops: int(n), db: db,
		serverCPU: float64(ticksUsed(s0, s1)) * tick / float64(n), pgCPU: float64(ticksUsed(p0, p1)) * tick / float64(n),
		selfCPU: float64(self1-self0) / float64(time.Millisecond) / float64(n),
	}, nil
}

// clockTicks is USER_HZ, 100 on every Linux this runs on (getconf CLK_TCK).
const clockTicks = 100

// procTicks is the user and system CPU time of each of the processes
// that is still running, in clock ticks (fields 14 and 15 of
// /proc/PID/stat).
func procTicks(pids []int) map[int]int64 {
	t := map[int]int64{}
	for _, p := range pids {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		s := string(raw)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // fields from 3 on
		u, _ := strconv.ParseInt(f[11], 10, 64)
		k, _ := strconv.ParseInt(f[12], 10, 64)
		t[p] = u + k
	}
	return t
}

// ticksUsed is the CPU time, in clock ticks, that the processes running at
// both readings used between them.
func ticksUsed(before, after map[int]int64) int64 {
	var n int64
	for p, t := range after {
		if t0, ok := before[p]; ok {
			n += t - t0
		}
	}
	return n
}

// dbStats are the scratch database's counters in pg_stat_database:
// committed transactions (every statement outside a transaction is one),
// rows inserted, updated and deleted.
type dbStats [4]int64

func dbStatsOf(admin *pgx.Conn, db string) func() (dbStats, error) {
	return func() (dbStats, error) {
		var s dbStats
		err := admin.QueryRow(context.Background(), `SELECT xact_commit, tup_inserted, tup_updated, tup_deleted
			FROM pg_stat_database WHERE datname = $1`, db).Scan(&s[0], &s[1], &s[2], &s[3])
		return s, err
	}
}

// perOp is what the database counted between two readings, per
// operation. PostgreSQL's backends report their counters when idle, at
// most once a second, so both readings lag by up to that much; in a busy
// cell the lags cancel. The pool's health checks are counted too.
func perOp(before, after dbStats, ops int64) string {
	if ops == 0 {
		return ""
	}
	per := func(i int) float64 { return float64(after[i]-before[i]) / float64(ops) }
	return fmt.Sprintf(" per_op xact_commit=%.2f tup_inserted=%.2f tup_updated=%.2f tup_deleted=%.2f", per(0), per(1), per(2), per(3))
}

// backends are the PostgreSQL backends connected to the scratch database:
// the server's pool, which keeps its connections open. PostgreSQL's
// shared processes (WAL writer, checkpointer…) and other databases'
// backends, which other users of a shared cluster drive, are left out.
func backends(admin *pgx.Conn, db string) func() []int {
	return func() []int {
		rows, err := admin.Query(context.Background(), "SELECT pid FROM pg_stat_activity WHERE datname = $1", db)
		if err != nil {
			return nil
		}
		pids, _ := pgx.CollectRows(rows, pgx.RowTo[int32])
		out := make([]int, len(pids))
		for i, p := range pids {
			out[i] = int(p)
		}
		return out
	}
}

// selfCPU is this process's user and system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// summary prints the median over rounds of each rate and of each ratio
// computed within a round.
func summary(rounds []map[string]cellResult) {
	med := func(f func(map[string]cellResult) float64) (float64, string) {
		var v []float64
		var s []string
		for _, r := range rounds {
			v = append(v, f(r))
			s = append(s, fmt.Sprintf("%.3f", f(r)))
		}
		sorted := slices.Clone(v)
		slices.Sort(sorted)
		m := sorted[len(sorted)/2]
		if len(sorted)%2 == 0 {
			m = (sorted[len(sorted)/2-1] + sorted[len(sorted)/2]) / 2
		}
		return m, strings.Join(s, " ")
	}
	say("summary: medians over %d rounds (each round's value in brackets)", len(rounds))
	for _, l := range []struct {
		label string
		f     func(map[string]cellResult) float64
	}{
		{"hash-only verifications/s", func(r map[string]cellResult) float64 { return r["hash"].rate }},
		{"password sign-ins/s", func(r map[string]cellResult) float64 { return r["signin"].rate }},
		{"sign-ins / verifications (>= 0.95)", func(r map[string]cellResult) float64 { return r["signin"].rate / r["hash"].rate }},
		{"CPU ms per verification (this process)", func(r map[string]cellResult) float64 { return r["hash"].selfCPU }},
		{"CPU ms per sign-in, server", func(r map[string]cellResult) float64 { return r["signin"].serverCPU }},
		{"CPU ms per sign-in, PostgreSQL", func(r map[string]cellResult) float64 { return r["signin"].pgCPU }},
		{"CPU ms per sign-in, load driver", func(r map[string]cellResult) float64 { return r["signin"].selfCPU }},
		{"CPU per sign-in (server+postgres) / per verification", func(r map[string]cellResult) float64 {
			return (r["signin"].serverCPU + r["signin"].pgCPU) / r["hash"].selfCPU
		}},
		{"passkey sign-ins/s (>= 500)", func(r map[string]cellResult) float64 { return r["passkey"].rate }},
		{"CPU ms per passkey sign-in, server", func(r map[string]cellResult) float64 { return r["passkey"].serverCPU }},
		{"CPU ms per passkey sign-in, PostgreSQL", func(r map[string]cellResult) float64 { return r["passkey"].pgCPU }},
		{"CPU ms per passkey sign-in, load driver", func(r map[string]cellResult) float64 { return r["passkey"].selfCPU }},
	} {
		m, s := med(l.f)
		fmt.Printf("%-54s median %9.3f  [%s]\n", l.label, m, s)
	}
}

func waitReady(issuer string) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(issuer + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server not ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func loadavg() string {
	raw, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func say(format string, a ...any) {
	w := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(w, "# "+format+"\n", a...)
	_ = w.Flush()
}

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func envInt(k string, def int) int {
	v := os.Getenv(k)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		fail(fmt.Errorf("%s=%q: want a positive whole number", k, v))
	}
	return n
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "hosted:", err)
	os.Exit(1)
}
