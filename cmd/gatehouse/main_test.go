package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/config"
	"github.com/gatehouse-id/gatehouse/internal/htmlform"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
)

// result is what one in-process run of the command produced.
type result struct {
	code           int
	stdout, stderr string
}

func runCmd(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, func(k string) string { return env[k] }, &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

func TestHelp(t *testing.T) {
	tests := []struct {
		args []string
		want []string // on stdout
	}{
		{[]string{"--help"}, []string{"serve", "migrate", "apikey", "version"}},
		{[]string{"-h"}, []string{"serve", "migrate", "apikey", "version"}},
		{[]string{"help"}, []string{"serve", "migrate", "apikey", "version"}},
		{[]string{"help", "serve"}, []string{"gatehouse serve [flags]"}},
		{[]string{"serve", "--help"}, []string{"gatehouse serve [flags]"}},
		{[]string{"migrate", "-h"}, []string{"gatehouse migrate [flags]"}},
		{[]string{"apikey", "--help"}, []string{"gatehouse apikey <command>", "create"}},
		{[]string{"apikey", "create", "--help"}, []string{"gatehouse apikey create [flags]", "--name name", "--scope org:ID"}},
		{[]string{"keys", "--help"}, []string{"gatehouse keys <command>", "rotate", "revoke"}},
		{[]string{"keys", "rotate", "--help"}, []string{"gatehouse keys rotate [flags]", "publish"}},
		{[]string{"keys", "revoke", "--help"}, []string{"gatehouse keys revoke [flags]", "--kid id"}},
		{[]string{"version", "--help"}, []string{"gatehouse version"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runCmd(t, nil, tt.args...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q; want 0 and nothing on stderr", r.code, r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("help lacks %q:\n%s", w, r.stdout)
				}
			}
		})
	}
}

// TestHelpListsEveryConfigFlag: each configuration flag appears with its
// variable and default in the help of every command that reads configuration.
func TestHelpListsEveryConfigFlag(t *testing.T) {
	for _, cmd := range [][]string{{"serve"}, {"migrate"}, {"apikey", "create"}, {"keys", "rotate"}, {"keys", "revoke"}, {"keys", "rotate-master"}} {
		r := runCmd(t, nil, append(cmd, "--help")...)
		for _, v := range config.Table() {
			if v.Flag == "" {
				if !strings.Contains(r.stdout, "  "+v.Name+"\n") || !strings.Contains(r.stdout, "(default "+v.Default+")") {
					t.Errorf("%s --help lacks the environment-only %s with its default", strings.Join(cmd, " "), v.Name)
				}
				continue
			}
			want := "(env " + v.Name + ", default " + v.Default + ")"
			if !strings.Contains(r.stdout, "--"+v.Flag) || !strings.Contains(r.stdout, want) {
				t.Errorf("%s --help lacks --%s with %q", strings.Join(cmd, " "), v.Flag, want)
			}
		}
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // on stderr
	}{
		{"no command", nil, "Usage:"},
		{"unknown command", []string{"frobnicate"}, `gatehouse: unknown command "frobnicate"`},
		{"unknown flag", []string{"serve", "--nope"}, "flag provided but not defined: -nope"},
		{"stray argument", []string{"migrate", "now"}, `gatehouse migrate: unexpected argument "now"`},
		{"apikey without command", []string{"apikey"}, "gatehouse apikey <command>"},
		{"apikey create without name", []string{"apikey", "create"}, "gatehouse apikey create: --name is required"},
		{"keys revoke without kid", []string{"keys", "revoke"}, "gatehouse keys revoke: --kid is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCmd(t, nil, tt.args...)
			if r.code != 2 {
				t.Errorf("exit %d, want 2", r.code)
			}
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr lacks %q:\n%s", tt.want, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
		})
	}
}

func TestBadConfiguration(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"bad address", map[string]string{"GATEHOUSE_ADDR": "x"}, nil,
			`gatehouse: invalid configuration: GATEHOUSE_ADDR "x": missing port`},
		{"every problem at once", map[string]string{"GATEHOUSE_ADDR": "x", "GATEHOUSE_ISSUER": "ftp://a"}, nil,
			`gatehouse: invalid configuration: GATEHOUSE_ADDR "x": missing port; GATEHOUSE_ISSUER "ftp://a": must be an http(s) URL`},
		{"flag named as typed", nil, []string{"--log-level", "loud"},
			`gatehouse: invalid configuration: --log-level "loud": must be debug, info, warn or error`},
		{"password never shown", map[string]string{"GATEHOUSE_DATABASE_URL": "mysql://root:hunter2@db/app"}, nil,
			`gatehouse: invalid configuration: GATEHOUSE_DATABASE_URL "mysql://root:xxxxx@db/app": must be a postgres:// or postgresql:// URL (leave empty for embedded SQLite)`},
	}
	for _, tt := range tests {
		for _, cmd := range [][]string{{"serve"}, {"migrate"}, {"apikey", "create", "--name", "boot"}, {"keys", "rotate"}, {"keys", "revoke", "--kid", "sk_x"}} {
			t.Run(tt.name+"/"+strings.Join(cmd, " "), func(t *testing.T) {
				dataDir := filepath.Join(t.TempDir(), "data")
				env := map[string]string{"GATEHOUSE_DATA_DIR": dataDir}
				for k, v := range tt.env {
					env[k] = v
				}
				r := runCmd(t, env, append(cmd, tt.args...)...)
				if r.code != 2 {
					t.Errorf("exit %d, want 2", r.code)
				}
				if r.stderr != tt.want+"\n" {
					t.Errorf("stderr:\n got %q\nwant %q", r.stderr, tt.want+"\n")
				}
				if r.stdout != "" {
					t.Errorf("stdout = %q, want nothing", r.stdout)
				}
				if _, err := os.Stat(dataDir); err == nil {
					t.Errorf("the data directory was created although the configuration is invalid")
				}
			})
		}
	}
}

func TestVersion(t *testing.T) {
	r := runCmd(t, nil, "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "gatehouse ") || !strings.Contains(r.stdout, runtime.Version()) {
		t.Errorf("version: exit %d, stdout %q", r.code, r.stdout)
	}
}

func TestVersionFrom(t *testing.T) {
	setting := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	tests := []struct {
		name string
		info debug.BuildInfo
		want string
	}{
		{"module version", debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, "v1.2.3"},
		{"vcs revision", debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: setting("vcs.revision", "0123456789abcdef0123", "vcs.modified", "false")}, "0123456789ab"},
		{"dirty tree", debug.BuildInfo{Settings: setting("vcs.revision", "0123456789abcdef", "vcs.modified", "true")}, "0123456789ab-dirty"},
		{"nothing known", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "dev"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := versionFrom(&tt.info); got != tt.want {
				t.Errorf("versionFrom = %q, want %q", got, tt.want)
			}
		})
	}
}

// lineWriter is a goroutine-safe log sink that hands each line to lines.
type lineWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	all   bytes.Buffer
	lines chan string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.all.Write(p)
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			w.buf.WriteString(line) // incomplete: keep for later
			return len(p), nil
		}
		select {
		case w.lines <- strings.TrimSuffix(line, "\n"):
		default: // nobody is listening any more
		}
	}
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.all.String()
}

// TestServe runs serve on SQLite in a temporary directory and checks the
// wiring from the outside: probes, metrics, request ids, the GraphQL body
// limit and authentication, apikey create, and a graceful stop.
func TestServe(t *testing.T) {
	dataDir := t.TempDir()
	env := func(k string) string {
		return map[string]string{"GATEHOUSE_DATA_DIR": dataDir, "GATEHOUSE_ADDR": "127.0.0.1:0"}[k]
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	logs := &lineWriter{lines: make(chan string, 100)}
	var stdout bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve"}, env, &stdout, logs) }()

	var base string
	for base == "" {
		select {
		case line := <-logs.lines:
			var rec struct{ Msg, Addr, Database string }
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("log line is not JSON: %q", line)
			}
			if rec.Msg == "gatehouse started" {
				base = "http://" + rec.Addr
				if !strings.HasPrefix(rec.Database, "sqlite ") {
					t.Errorf("database = %q", rec.Database)
				}
			}
		case code := <-done:
			t.Fatalf("serve exited with %d before starting:\n%s", code, logs)
		}
	}

	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	post := func(body io.Reader, header ...string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+"/graphql", body)
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	if resp, body := get("/healthz"); resp.StatusCode != 200 || body != `{"status":"ok"}`+"\n" {
		t.Errorf("/healthz = %d %q", resp.StatusCode, body)
	} else if resp.Header.Get("X-Request-Id") == "" {
		t.Error("/healthz has no X-Request-Id")
	}
	if resp, body := get("/readyz"); resp.StatusCode != 200 {
		t.Errorf("/readyz = %d %q", resp.StatusCode, body)
	}
	if resp, _ := post(strings.NewReader(`{"query":"{ __typename }"}`)); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/graphql without a key = %d, want 401", resp.StatusCode)
	}
	big := `{"query":"` + strings.Repeat("a", 1<<20) + `"}`
	if resp, body := post(strings.NewReader(big)); resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(body, "PAYLOAD_TOO_LARGE") {
		t.Errorf("/graphql with 1 MiB = %d %q, want 413 PAYLOAD_TOO_LARGE", resp.StatusCode, body)
	}

	// apikey create beside the running server, on the same database.
	var keyOut, keyErr bytes.Buffer
	if code := run(context.Background(), []string{"apikey", "create", "--name", "bootstrap"}, env, &keyOut, &keyErr); code != 0 {
		t.Fatalf("apikey create: exit %d\n%s", code, keyErr.String())
	}
	secret := strings.TrimSuffix(keyOut.String(), "\n")
	if secret == "" || strings.ContainsAny(secret, "\n ") {
		t.Fatalf("stdout = %q, want the secret alone on one line", keyOut.String())
	}
	if strings.Contains(keyErr.String(), secret) {
		t.Error("the secret was written to stderr too")
	}

	resp, body := post(strings.NewReader(`{"query":"{ organizations(first: 1) { totalCount } }"}`), "Authorization", "Bearer "+secret)
	if resp.StatusCode != 200 || !strings.Contains(body, `"totalCount":0`) {
		t.Errorf("/graphql with the new key = %d %s", resp.StatusCode, body)
	}
	// Chunked and over the limit, from an authenticated caller: still 413.
	if resp, body := post(io.MultiReader(strings.NewReader(big)), "Authorization", "Bearer "+secret); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("/graphql chunked 1 MiB = %d %q, want 413", resp.StatusCode, body)
	}

	// A loopback issuer without GATEHOUSE_SMTP_URL: mail is shown at /dev/mail.
	if resp, body := get("/dev/mail"); resp.StatusCode != 200 || !strings.Contains(body, "Dev mailbox") {
		t.Errorf("/dev/mail = %d %q", resp.StatusCode, body)
	}

	signUpThroughDevMail(t, base)

	_, metrics := get("/metrics")
	for _, want := range []string{
		"gatehouse_mail_dropped_total 0",
		`gatehouse_http_requests_total{code="200",method="GET",route="/healthz"} 1`,
		`gatehouse_http_requests_total{code="401",method="POST",route="/graphql"} 1`,
		`go_sql_open_connections{db_name="gatehouse"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	stop() // as SIGTERM does
	if code := <-done; code != 0 {
		t.Errorf("serve exited with %d after SIGTERM, want 0:\n%s", code, logs)
	}
	if stdout.Len() != 0 {
		t.Errorf("serve wrote to stdout: %q", stdout.String())
	}
	var accessLines int
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"msg":"request"`) {
			accessLines++
		}
	}
	if accessLines < 5 {
		t.Errorf("want an access log line per request, got %d:\n%s", accessLines, logs)
	}
}

// TestServeReportsListenError: an address already in use fails serve with
// exit 1 and one line naming the listen.
func TestServeReportsListenError(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	r := runCmd(t, map[string]string{"GATEHOUSE_DATA_DIR": t.TempDir(), "GATEHOUSE_ADDR": taken.Addr().String()}, "serve")
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	if !strings.Contains(r.stderr, "gatehouse: listen: ") {
		t.Errorf("stderr lacks the listen error:\n%s", r.stderr)
	}
}

func TestMigrate(t *testing.T) {
	env := map[string]string{"GATEHOUSE_DATA_DIR": t.TempDir()}
	for range 2 { // the second run finds nothing to do
		r := runCmd(t, env, "migrate")
		if r.code != 0 || !strings.Contains(r.stdout, "is up to date") {
			t.Fatalf("migrate: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	}
}

// TestKeysRotateAndRevoke runs both key commands against one data
// directory: rotate prints the new (pending) key ids; revoking one of them
// replaces nothing, and revoking it again is a usage error.
func TestKeysRotateAndRevoke(t *testing.T) {
	env := map[string]string{"GATEHOUSE_DATA_DIR": t.TempDir()}
	r := runCmd(t, env, "keys", "rotate")
	ids := strings.Fields(r.stdout)
	if r.code != 0 || len(ids) != 3 {
		t.Fatalf("keys rotate: exit %d, stdout %q, stderr %q; want 3 key ids", r.code, r.stdout, r.stderr)
	}
	r = runCmd(t, env, "keys", "revoke", "--kid", ids[0])
	if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "Revoked "+ids[0]+": it was not signing") {
		t.Errorf("keys revoke of a pending key: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = runCmd(t, env, "keys", "revoke", "--kid", ids[0])
	if r.code != 2 || !strings.Contains(r.stderr, "no such signing key") {
		t.Errorf("keys revoke again: exit %d, stderr %q; want 2 and no such signing key", r.code, r.stderr)
	}
}

// TestKeysRotateMaster: the operator's master-key rotation, as the help
// describes it. Keys sealed under the old key are re-sealed under the new
// one; afterwards the new key alone serves, and the old key alone no
// longer opens them.
func TestKeysRotateMaster(t *testing.T) {
	oldKey := strings.Repeat("11", 32)
	newKey := strings.Repeat("22", 32)
	dir := t.TempDir()
	with := func(key string) map[string]string {
		return map[string]string{"GATEHOUSE_DATA_DIR": dir, "GATEHOUSE_MASTER_KEY": key}
	}
	if r := runCmd(t, with(oldKey), "keys", "rotate"); r.code != 0 {
		t.Fatalf("keys rotate under the old key: exit %d, stderr %q", r.code, r.stderr)
	}
	r := runCmd(t, with(newKey+","+oldKey), "keys", "rotate-master")
	if r.code != 0 || !strings.Contains(r.stderr, "Re-sealed 6 signing keys") || len(strings.TrimSpace(r.stdout)) != 8 {
		t.Fatalf("rotate-master: exit %d, stdout %q, stderr %q; want 6 keys re-sealed and the new key id", r.code, r.stdout, r.stderr)
	}
	newID := strings.TrimSpace(r.stdout)
	r = runCmd(t, with(newKey+","+oldKey), "keys", "rotate-master")
	if r.code != 0 || !strings.Contains(r.stderr, "Re-sealed 0 signing keys") || strings.TrimSpace(r.stdout) != newID {
		t.Fatalf("rotate-master again: exit %d, stdout %q, stderr %q; want nothing to do", r.code, r.stdout, r.stderr)
	}
	if r := runCmd(t, with(newKey), "keys", "rotate"); r.code != 0 {
		t.Fatalf("the new key alone: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := runCmd(t, with(oldKey), "keys", "rotate"); r.code == 0 || !strings.Contains(r.stderr, "cannot open") {
		t.Fatalf("the old key alone: exit %d, stderr %q; want it to fail opening the keys", r.code, r.stderr)
	}
	// The key is never an argument.
	if r := runCmd(t, map[string]string{"GATEHOUSE_DATA_DIR": dir}, "keys", "rotate-master", "--master-key", newKey); r.code != 2 {
		t.Fatalf("--master-key on the command line: exit %d, stderr %q; want a usage error", r.code, r.stderr)
	}
}

// signUpThroughDevMail signs up at base as a person would on a fresh
// server: the signup form, the code from the mail (read off /dev/mail,
// where the outbox delivers it in the background), and the account page.
func signUpThroughDevMail(t *testing.T, base string) {
	t.Helper()
	c := &http.Client{Jar: testkit.NewJar(testkit.NewRealClock().Now),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path string, form url.Values) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(form.Encode()))
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	_, page := do(http.MethodGet, "/signup", nil)
	forms := htmlform.Parse(page)
	if len(forms) == 0 {
		t.Fatalf("no signup form:\n%s", page)
	}
	form := forms[0].Values()
	form.Set("email", "first.user@example.com")
	form.Set("password", "a long enough passphrase")
	resp, page := do(http.MethodPost, "/signup", form)
	forms = htmlform.Parse(page)
	if resp.StatusCode != http.StatusOK || len(forms) == 0 {
		t.Fatalf("signup: %d\n%s", resp.StatusCode, page)
	}
	code := regexp.MustCompile(`\b(\d{6})\b`)
	var found string
	deadline := time.Now().Add(10 * time.Second) // the outbox delivers in the background
	for found == "" && time.Now().Before(deadline) {
		_, box := do(http.MethodGet, "/dev/mail", nil)
		if i := strings.Index(box, "first.user@example.com"); i >= 0 {
			if m := code.FindStringSubmatch(box[i:]); m != nil {
				found = m[1]
			}
		}
		if found == "" {
			runtime.Gosched()
		}
	}
	if found == "" {
		t.Fatal("no code for first.user@example.com reached /dev/mail")
	}
	verify := forms[0].Values()
	verify.Set("code", found)
	resp, page = do(http.MethodPost, forms[0].Action, verify)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/account" {
		t.Fatalf("verify: %d %q\n%s", resp.StatusCode, resp.Header.Get("Location"), page)
	}
	if resp, page := do(http.MethodGet, "/account", nil); resp.StatusCode != http.StatusOK || !strings.Contains(page, "first.user@example.com") {
		t.Fatalf("account page: %d\n%s", resp.StatusCode, page)
	}
}
