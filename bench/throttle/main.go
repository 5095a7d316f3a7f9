// Command throttle measures, against the real binary, what
// docs/BENCHMARKS.md reports on sign-in throttling (SECURITY-CHECKLIST
// ATO-11): the server's peak RSS under a burst of correct sign-ins to
// distinct accounts from distinct addresses, and how many argon2id
// verifications 60 parallel wrong passwords for one account cause.
//
//	go run ./bench/throttle [-users 64] [-password-concurrency N]
//
// It builds gatehouse, serves it on a free loopback port with a fresh
// SQLite data directory and 127.0.0.1 as a trusted proxy (so that
// X-Forwarded-For gives each simulated client its own address), seeds the
// accounts over GraphQL and drives the hosted sign-in (interop/hosted).
// Linux only (/proc/PID/status). About 30 s.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse-id/gatehouse/interop/hosted"
	"github.com/gatehouse-id/gatehouse/interop/seed"
)

const (
	pw       = "correct horse battery staple"
	redirect = "https://rp.example/cb"
)

func main() {
	users := flag.Int("users", 64, "accounts signed in to at once, each from its own address")
	conc := flag.Int("password-concurrency", 0, "GATEHOUSE_PASSWORD_CONCURRENCY for the server (0: its default, 2 × CPUs)")
	flag.Parse()
	if err := run(*users, *conc); err != nil {
		fmt.Fprintln(os.Stderr, "throttle:", err)
		os.Exit(1)
	}
}

func run(users, conc int) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "gatehouse-throttle-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "gatehouse")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/gatehouse").CombinedOutput(); err != nil {
		return fmt.Errorf("build: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	issuer := "http://" + addr
	env := append(os.Environ(), "GATEHOUSE_DATA_DIR="+filepath.Join(dir, "data"), "GATEHOUSE_ADDR="+addr,
		"GATEHOUSE_TRUSTED_PROXIES=127.0.0.1", "GATEHOUSE_LOG_LEVEL=error")
	if conc > 0 {
		env = append(env, "GATEHOUSE_PASSWORD_CONCURRENCY="+strconv.Itoa(conc))
	}
	srv := exec.Command(bin, "serve")
	logFile, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	srv.Env, srv.Stderr = env, logFile
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	if err := waitReady(issuer); err != nil {
		return err
	}
	keyCmd := exec.Command(bin, "apikey", "create", "--name", "bench")
	keyCmd.Env = env
	out, err := keyCmd.Output()
	if err != nil {
		return fmt.Errorf("apikey create: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	c := &seed.Client{Issuer: issuer, APIKey: lines[len(lines)-1]}
	org, err := c.CreateOrganization(ctx, "Acme", "acme")
	if err != nil {
		return err
	}
	// Two at a time: more would meet the hashing bound (RATE_LIMITED).
	seedErr := make(chan error, users)
	next := make(chan int, users)
	for i := range users {
		next <- i
	}
	close(next)
	for range 2 {
		go func() {
			for i := range next {
				_, err := c.CreateUser(ctx, org, fmt.Sprintf("user%d@example.com", i), pw, "User")
				seedErr <- err
			}
		}()
	}
	for range users {
		if err := <-seedErr; err != nil {
			return err
		}
	}
	if _, err := c.CreateUser(ctx, org, "victim@example.com", pw, "Victim"); err != nil {
		return err
	}
	app, err := c.CreateApplication(ctx, map[string]any{"name": "web", "type": "WEB", "redirectURIs": []string{redirect},
		"grantTypes": []string{"AUTHORIZATION_CODE"}})
	if err != nil {
		return err
	}
	pid := srv.Process.Pid
	hwm0, rss0, err := memory(pid)
	if err != nil {
		return err
	}
	fmt.Printf("# %s; %d CPUs; password concurrency %s; GOMEMLIMIT=%q GOGC=%q\n", time.Now().UTC().Format(time.RFC3339),
		runtime.NumCPU(), orDefault(conc), os.Getenv("GOMEMLIMIT"), os.Getenv("GOGC"))
	fmt.Printf("after seeding: VmRSS %d MiB, VmHWM %d MiB\n", rss0>>10, hwm0>>10)

	// Burst: every account at once, each from its own address.
	statuses, elapsed, err := burst(users, func(i int) (string, string, string) {
		return fmt.Sprintf("user%d@example.com", i), pw, fmt.Sprintf("198.18.%d.%d", i/250, i%250+1)
	}, issuer, app.ID)
	if err != nil {
		return err
	}
	hwm1, rss1, err := memory(pid)
	if err != nil {
		return err
	}
	fmt.Printf("burst of %d correct sign-ins to distinct accounts from distinct addresses: %v in %.1fs; VmRSS %d MiB, peak VmHWM %d MiB\n",
		users, statuses, elapsed.Seconds(), rss1>>10, hwm1>>10)

	// 60 parallel wrong passwords for one account, from 60 addresses.
	before, err := hashes(issuer)
	if err != nil {
		return err
	}
	statuses, elapsed, err = burst(60, func(i int) (string, string, string) {
		return "victim@example.com", "wrong password " + strconv.Itoa(i), fmt.Sprintf("198.19.0.%d", i+1)
	}, issuer, app.ID)
	if err != nil {
		return err
	}
	after, err := hashes(issuer)
	if err != nil {
		return err
	}
	fmt.Printf("60 parallel wrong passwords for one account: %v in %.1fs; argon2id verifications run: %d\n",
		statuses, elapsed.Seconds(), after-before)
	return nil
}

// burst drives n sign-ins at once (released together) and counts how each
// ended: "ok" (back at the client with a code) or the final HTTP status.
func burst(n int, who func(int) (email, password, addr string), issuer, clientID string) (map[string]int, time.Duration, error) {
	browsers := make([]*hosted.Browser, n)
	for i := range n {
		email, password, addr := who(i)
		b, err := hosted.New(issuer, email, password)
		if err != nil {
			return nil, 0, err
		}
		b.HTTP.Timeout = time.Minute
		b.HTTP.Transport = forwardedFor{addr}
		browsers[i] = b
	}
	counts := map[string]int{}
	var mu sync.Mutex
	var start, done sync.WaitGroup
	start.Add(1)
	for _, b := range browsers {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			res, err := b.Drive(context.Background(), authorizeURL(issuer, clientID))
			key := strconv.Itoa(res.Status)
			switch {
			case err != nil:
				key = "error"
			case res.Redirect != nil && res.Redirect.Query().Get("code") != "":
				key = "ok"
			}
			mu.Lock()
			counts[key]++
			mu.Unlock()
		}()
	}
	t0 := time.Now()
	start.Done()
	done.Wait()
	return counts, time.Since(t0), nil
}

// forwardedFor sends every request as if a trusted proxy forwarded it from addr.
type forwardedFor struct{ addr string }

var transport = &http.Transport{MaxIdleConnsPerHost: 128}

func (f forwardedFor) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", f.addr)
	return transport.RoundTrip(r)
}

func authorizeURL(issuer, clientID string) string {
	verifier := oauth2.GenerateVerifier()
	q := url.Values{"client_id": {clientID}, "redirect_uri": {redirect}, "response_type": {"code"}, "scope": {"openid"},
		"state": {rand.Text()}, "code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}
	return issuer + "/oauth/v2/authorize?" + q.Encode()
}

// waitReady polls an external process with a deadline.
func waitReady(issuer string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(issuer + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server not ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// memory is the process's peak (VmHWM) and current (VmRSS) resident set,
// KiB. An error stops the run (a figure of 0 MiB would read as a result)
// through run's return, so that its deferred clean-up (the server, the
// temporary directory) still happens.
func memory(pid int) (hwm, rss int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read the server's memory: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		n, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "VmHWM:":
			hwm = n
		case "VmRSS:":
			rss = n
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, fmt.Errorf("read the server's memory: %w", err)
	}
	return hwm, rss, nil
}

// hashes reads gatehouse_password_hashes_total from /metrics.
func hashes(issuer string) (int64, error) {
	resp, err := http.Get(issuer + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("read /metrics: %w", err)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, "gatehouse_password_hashes_total "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int64(f), err
		}
	}
	return 0, fmt.Errorf("no gatehouse_password_hashes_total in /metrics")
}

func orDefault(n int) string {
	if n == 0 {
		return "default (2 × CPUs)"
	}
	return strconv.Itoa(n)
}
