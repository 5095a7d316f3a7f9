package config

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// load binds a fresh flag set, parses args and loads with env.
func load(t *testing.T, env map[string]string, args ...string) (*Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	l := Bind(fs, func(k string) string { return env[k] })
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return l.Load()
}

func TestDefaults(t *testing.T) {
	c, err := load(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Addr:            "127.0.0.1:8080",
		DataDir:         "./data",
		Issuer:          "http://127.0.0.1:8080",
		LogLevel:        "info",
		LogFormat:       "json",
		ShutdownTimeout: 15 * time.Second,
	}
	if c.Addr != want.Addr || c.DataDir != want.DataDir || c.DatabaseURL != "" || c.Issuer != want.Issuer ||
		c.Dev || c.LogLevel != want.LogLevel || c.LogFormat != want.LogFormat || c.ShutdownTimeout != want.ShutdownTimeout ||
		c.DatabaseMaxConns != 20 {
		t.Errorf("defaults = %+v, want %+v", *c, want)
	}
}

func TestPrecedence(t *testing.T) {
	env := map[string]string{
		"GATEHOUSE_ADDR":               "127.0.0.1:9000",
		"GATEHOUSE_DATA_DIR":           "/env/data",
		"GATEHOUSE_LOG_LEVEL":          "warn",
		"GATEHOUSE_SHUTDOWN_TIMEOUT":   "1m",
		"GATEHOUSE_DATABASE_URL":       "", // empty counts as unset
		"GATEHOUSE_DATABASE_MAX_CONNS": "50",
	}
	c, err := load(t, env, "--addr", "localhost:7000", "--log-level=debug")
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "localhost:7000" {
		t.Errorf("Addr = %q: a flag must win over the environment", c.Addr)
	}
	if c.LogLevel != "debug" {
		t.Errorf("LogLevel = %q: a flag must win over the environment", c.LogLevel)
	}
	if c.DataDir != "/env/data" {
		t.Errorf("DataDir = %q: the environment must win over the default", c.DataDir)
	}
	if c.DatabaseMaxConns != 50 {
		t.Errorf("DatabaseMaxConns = %d, want 50 from the environment", c.DatabaseMaxConns)
	}
	if c.ShutdownTimeout != time.Minute {
		t.Errorf("ShutdownTimeout = %v, want 1m", c.ShutdownTimeout)
	}
	if c.Issuer != "http://localhost:7000" {
		t.Errorf("Issuer = %q, want it derived from the flag's address", c.Issuer)
	}
}

func TestDev(t *testing.T) {
	tests := []struct {
		name       string
		env        map[string]string
		args       []string
		wantDev    bool
		wantFormat string
	}{
		{"flag alone", nil, []string{"--dev"}, true, "text"},
		{"env", map[string]string{"GATEHOUSE_DEV": "1"}, nil, true, "text"},
		{"flag false beats env", map[string]string{"GATEHOUSE_DEV": "true"}, []string{"--dev=false"}, false, "json"},
		{"explicit format kept", nil, []string{"--dev", "--log-format", "json"}, true, "json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(t, tt.env, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			if c.Dev != tt.wantDev || c.LogFormat != tt.wantFormat {
				t.Errorf("Dev, LogFormat = %v, %q; want %v, %q", c.Dev, c.LogFormat, tt.wantDev, tt.wantFormat)
			}
		})
	}
}

func TestDerivedIssuer(t *testing.T) {
	tests := []struct {
		addr string
		dev  bool
		want string // issuer, or the error's text
	}{
		{"127.0.0.1:8080", false, "http://127.0.0.1:8080"},
		{"[::1]:8080", false, "http://[::1]:8080"},
		{":8080", true, "http://localhost:8080"},
		{"0.0.0.0:8080", true, "http://localhost:8080"},
		{"0.0.0.0:8080", false, `invalid configuration: GATEHOUSE_ISSUER: must be set when the listen address "0.0.0.0:8080" is not a loopback address (or set GATEHOUSE_DEV)`},
		{"x", false, `invalid configuration: GATEHOUSE_ADDR "x": missing port`},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			env := map[string]string{"GATEHOUSE_ADDR": tt.addr}
			if tt.dev {
				env["GATEHOUSE_DEV"] = "true"
			}
			c, err := load(t, env)
			got := ""
			if err != nil {
				got = err.Error()
			} else {
				got = c.Issuer
			}
			if got != tt.want {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestEveryProblemInOneError(t *testing.T) {
	env := map[string]string{
		"GATEHOUSE_ADDR":               "x",
		"GATEHOUSE_ISSUER":             "ftp://a",
		"GATEHOUSE_DEV":                "maybe",
		"GATEHOUSE_LOG_LEVEL":          "loud",
		"GATEHOUSE_SHUTDOWN_TIMEOUT":   "soon",
		"GATEHOUSE_DATABASE_MAX_CONNS": "0",
	}
	_, err := load(t, env, "--log-format", "xml", "--database-url", "mysql://root:hunter2@db/app")
	var cerr *Error
	if !errors.As(err, &cerr) {
		t.Fatalf("err = %v, want *Error", err)
	}
	want := `invalid configuration: ` +
		`GATEHOUSE_ADDR "x": missing port; ` +
		`--database-url "mysql://root:xxxxx@db/app": must be a postgres:// or postgresql:// URL (leave empty for embedded SQLite); ` +
		`GATEHOUSE_DATABASE_MAX_CONNS "0": must be a whole number from 1 to 1000; ` +
		`GATEHOUSE_ISSUER "ftp://a": must be an http(s) URL; ` +
		`GATEHOUSE_DEV "maybe": must be true or false; ` +
		`GATEHOUSE_LOG_LEVEL "loud": must be debug, info, warn or error; ` +
		`--log-format "xml": must be json or text; ` +
		`GATEHOUSE_SHUTDOWN_TIMEOUT "soon": must be a duration such as 15s or 1m`
	if err.Error() != want {
		t.Errorf("error:\n got %s\nwant %s", err, want)
	}
	if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "\n") {
		t.Errorf("error leaks a password or spans lines: %s", err)
	}
}

func TestValidate(t *testing.T) {
	valid := func() Config {
		return Config{
			Addr: "127.0.0.1:8080", DataDir: "d", Issuer: "https://id.example.com",
			LogLevel: "info", LogFormat: "json", ShutdownTimeout: time.Second,
		}
	}
	tests := []struct {
		name   string
		modify func(*Config)
		want   string // substring of the error; "" for valid
	}{
		{"valid", func(*Config) {}, ""},
		{"issuer with path", func(c *Config) { c.Issuer = "https://example.com/id" }, ""},
		{"postgres", func(c *Config) { c.DatabaseURL = "postgres://u:p@h:5432/db?sslmode=require" }, ""},
		{"postgresql", func(c *Config) { c.DatabaseURL = "postgresql:///db?host=/run/postgresql" }, ""},
		{"port zero", func(c *Config) { c.Addr = "127.0.0.1:0" }, ""},
		{"http loopback", func(c *Config) { c.Issuer = "http://localhost:8080" }, ""},
		{"http ipv6 loopback", func(c *Config) { c.Issuer = "http://[::1]:8080" }, ""},
		{"http in dev", func(c *Config) { c.Issuer = "http://id.example.com"; c.Dev = true }, ""},
		{"http remote", func(c *Config) { c.Issuer = "http://id.example.com" }, `GATEHOUSE_ISSUER "http://id.example.com": must use https`},
		{"relative issuer", func(c *Config) { c.Issuer = "/id" }, "must be an http(s) URL"},
		{"empty issuer", func(c *Config) { c.Issuer = "" }, "GATEHOUSE_ISSUER: must be an http(s) URL"},
		{"query", func(c *Config) { c.Issuer = "https://a.example?x=1" }, "must not have a query"},
		{"empty query", func(c *Config) { c.Issuer = "https://a.example?" }, "must not have a query"},
		{"fragment", func(c *Config) { c.Issuer = "https://a.example#x" }, "must not have a fragment"},
		{"userinfo", func(c *Config) { c.Issuer = "https://u:p@a.example" }, `"https://u:xxxxx@a.example": must not contain user information`},
		{"trailing slash", func(c *Config) { c.Issuer = "https://a.example/" }, "must not end with a slash"},
		{"bad port", func(c *Config) { c.Addr = "127.0.0.1:http" }, "port must be a number"},
		{"big port", func(c *Config) { c.Addr = "127.0.0.1:70000" }, "port must be a number"},
		{"empty data dir", func(c *Config) { c.DataDir = " " }, "GATEHOUSE_DATA_DIR: must not be empty"},
		{"unparsable db url", func(c *Config) { c.DatabaseURL = "postgres://u:sec%zz@h" }, "GATEHOUSE_DATABASE_URL: not a valid URL"},
		{"zero timeout", func(c *Config) { c.ShutdownTimeout = 0 }, "GATEHOUSE_SHUTDOWN_TIMEOUT \"0s\": must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.modify(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.want != "" && err == nil:
				t.Errorf("Validate() = nil, want %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Errorf("Validate() = %v, want it to contain %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "sec") {
				t.Errorf("error leaks a secret: %v", err)
			}
		})
	}
}

func TestBindUsageNamesEnvAndDefault(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	Bind(fs, func(string) string { return "" })
	for _, v := range Table() {
		if v.Flag == "" {
			continue // environment only (GATEHOUSE_MASTER_KEY)
		}
		f := fs.Lookup(v.Flag)
		if f == nil {
			t.Errorf("flag --%s not registered", v.Flag)
			continue
		}
		if !strings.Contains(f.Usage, v.Name) || !strings.Contains(f.Usage, "default "+v.Default) {
			t.Errorf("usage of --%s = %q, want it to name %s and its default", v.Flag, f.Usage, v.Name)
		}
	}
}

func TestLevel(t *testing.T) {
	for in, want := range map[string]string{"debug": "DEBUG", "info": "INFO", "warn": "WARN", "error": "ERROR"} {
		if got := (&Config{LogLevel: in}).Level().String(); got != want {
			t.Errorf("Level(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestREADMEConfigurationTable keeps the README's table and Table in step:
// a row for every variable, and no row for a variable that does not exist.
func TestREADMEConfigurationTable(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	section, ok := markdownSection(string(data), "## Configuration")
	if !ok {
		t.Fatal(`README.md has no "## Configuration" section`)
	}
	rows := make(map[string]string) // variable -> row
	for line := range strings.SplitSeq(section, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			continue
		}
		for _, cell := range strings.Split(line, "|") {
			name := strings.Trim(strings.TrimSpace(cell), "`")
			if strings.HasPrefix(name, "GATEHOUSE_") {
				rows[name] = line
				break
			}
		}
	}
	known := make(map[string]bool)
	for _, v := range Table() {
		known[v.Name] = true
		row, ok := rows[v.Name]
		if !ok {
			t.Errorf("README.md configuration table has no row for %s (--%s)", v.Name, v.Flag)
			continue
		}
		if v.Flag != "" && !strings.Contains(row, "--"+v.Flag) {
			t.Errorf("README.md row for %s does not name its flag --%s: %s", v.Name, v.Flag, row)
		}
		if v.Flag == "" && !strings.Contains(row, "environment only") {
			t.Errorf("README.md row for %s does not say it has no flag: %s", v.Name, row)
		}
	}
	for name := range rows {
		if !known[name] {
			t.Errorf("README.md configuration table lists %s, which config.Table does not know", name)
		}
	}
	if t.Failed() {
		t.Logf("config.Markdown() renders the table:\n%s", Markdown())
	}
}

// markdownSection returns the text under heading up to the next heading of
// the same or a higher level.
func markdownSection(doc, heading string) (string, bool) {
	lines := strings.Split(doc, "\n")
	for i, line := range lines {
		if strings.TrimSpace(line) != heading {
			continue
		}
		end, fenced := len(lines), false
		for j := i + 1; j < len(lines); j++ {
			if strings.HasPrefix(lines[j], "```") {
				fenced = !fenced
			}
			if !fenced && (strings.HasPrefix(lines[j], "# ") || strings.HasPrefix(lines[j], "## ")) {
				end = j
				break
			}
		}
		return strings.Join(lines[i+1:end], "\n"), true
	}
	return "", false
}

func TestMasterKey(t *testing.T) {
	const hexKey = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	const b64Key = "ASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4mrze8="
	const otherKey = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
	dir := t.TempDir()
	file := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rotation := file("rotation.key", otherKey+"\n"+hexKey+"\n", 0o600)
	for _, c := range []struct {
		name  string
		env   map[string]string
		args  []string
		keys  int    // keys loaded; 0 when an error is wanted
		error string // in the error; the key itself never is
	}{
		{"hex", map[string]string{"GATEHOUSE_MASTER_KEY": hexKey}, nil, 1, ""},
		{"base64", map[string]string{"GATEHOUSE_MASTER_KEY": b64Key}, nil, 1, ""},
		{"a rotation", map[string]string{"GATEHOUSE_MASTER_KEY": otherKey + "," + hexKey}, nil, 2, ""},
		{"file", map[string]string{"GATEHOUSE_MASTER_KEY_FILE": file("one.key", b64Key+"\n", 0o600)}, nil, 1, ""},
		{"file by flag", nil, []string{"--master-key-file", rotation}, 2, ""},
		{"too short", map[string]string{"GATEHOUSE_MASTER_KEY": "s3cret-but-too-short"}, nil, 0, "GATEHOUSE_MASTER_KEY (value hidden)"},
		{"both", map[string]string{"GATEHOUSE_MASTER_KEY": hexKey, "GATEHOUSE_MASTER_KEY_FILE": rotation}, nil, 0, "not both"},
		{"readable by others", map[string]string{"GATEHOUSE_MASTER_KEY_FILE": file("open.key", hexKey, 0o644)}, nil, 0, "must not be accessible"},
		{"missing file", map[string]string{"GATEHOUSE_MASTER_KEY_FILE": filepath.Join(dir, "nope")}, nil, 0, "GATEHOUSE_MASTER_KEY_FILE"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			l := Bind(fs, func(k string) string { return c.env[k] })
			if err := fs.Parse(c.args); err != nil {
				t.Fatal(err)
			}
			cfg, err := l.Load()
			if c.keys > 0 {
				if err != nil || len(cfg.MasterKeys) != c.keys {
					t.Fatalf("Load = %v, want %d keys", err, c.keys)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.error) || strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), hexKey) {
				t.Fatalf("Load error = %v; want it to say %q and never show a key", err, c.error)
			}
		})
	}
	// The key is never a flag: other users of the machine read argv.
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	Bind(fs, func(string) string { return "" })
	if err := fs.Parse([]string{"--master-key", hexKey}); err == nil {
		t.Fatal("--master-key was accepted on the command line")
	}
}

// The argon2id costs default to password.Default's and take a range each.
func TestPasswordCosts(t *testing.T) {
	c, err := load(t, map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if c.PasswordMemoryKiB != 64*1024 || c.PasswordIterations != 3 || c.PasswordParallelism != 2 {
		t.Errorf("defaults %d KiB, %d, %d", c.PasswordMemoryKiB, c.PasswordIterations, c.PasswordParallelism)
	}
	c, err = load(t, map[string]string{"GATEHOUSE_PASSWORD_MEMORY_KIB": "131072", "GATEHOUSE_PASSWORD_ITERATIONS": "4"}, "--password-parallelism", "4")
	if err != nil || c.PasswordMemoryKiB != 131072 || c.PasswordIterations != 4 || c.PasswordParallelism != 4 {
		t.Errorf("set: %+v %v", c, err)
	}
	if _, err := load(t, map[string]string{"GATEHOUSE_PASSWORD_MEMORY_KIB": "1024"}); err == nil || !strings.Contains(err.Error(), "GATEHOUSE_PASSWORD_MEMORY_KIB") {
		t.Errorf("1 MiB: %v", err)
	}
}

// TestDomainChecks: the DNS resolver is an IP address and port, the
// re-check interval and grace period are durations, and the grace period
// is never shorter than the interval.
func TestDomainChecks(t *testing.T) {
	c, err := load(t, nil)
	if err != nil || c.DNSResolver != "" || c.DomainRecheckInterval != 24*time.Hour || c.DomainGracePeriod != 72*time.Hour ||
		c.SAMLMetadataRefresh != 24*time.Hour {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	c, err = load(t, map[string]string{"GATEHOUSE_DNS_RESOLVER": "10.0.0.2:53", "GATEHOUSE_DOMAIN_GRACE_PERIOD": "96h",
		"GATEHOUSE_SAML_METADATA_REFRESH": "6h"}, "--domain-recheck-interval", "12h")
	if err != nil || c.DNSResolver != "10.0.0.2:53" || c.DomainRecheckInterval != 12*time.Hour || c.DomainGracePeriod != 96*time.Hour ||
		c.SAMLMetadataRefresh != 6*time.Hour {
		t.Fatalf("set: %+v %v", c, err)
	}
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"GATEHOUSE_DNS_RESOLVER": "dns.example:53"}, `GATEHOUSE_DNS_RESOLVER "dns.example:53": host must be an IP address`},
		{map[string]string{"GATEHOUSE_DNS_RESOLVER": "10.0.0.2"}, `GATEHOUSE_DNS_RESOLVER "10.0.0.2": must be host:port`},
		{map[string]string{"GATEHOUSE_DOMAIN_RECHECK_INTERVAL": "1s"}, "GATEHOUSE_DOMAIN_RECHECK_INTERVAL \"1s\": must be a duration from 1m0s"},
		{map[string]string{"GATEHOUSE_DOMAIN_GRACE_PERIOD": "12h"}, `GATEHOUSE_DOMAIN_GRACE_PERIOD "12h0m0s": must be at least the re-check interval (24h0m0s)`},
	} {
		if _, err := load(t, tc.env); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want %q", tc.env, err, tc.want)
		}
	}
}
