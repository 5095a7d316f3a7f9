package config

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-id/gatehouse/internal/dnsresolver"
	"github.com/gatehouse-id/gatehouse/internal/httpserver"
	"github.com/gatehouse-id/gatehouse/internal/mail"
	"github.com/gatehouse-id/gatehouse/internal/seal"
)

// Config is everything the gatehouse binary is told by its operator.
type Config struct {
	// Addr is the host:port the HTTP server listens on.
	Addr string
	// DataDir holds the embedded SQLite database and, when MasterKeys is
	// unset, the generated master key file.
	DataDir string
	// DatabaseURL selects PostgreSQL (postgres:// or postgresql://); empty
	// means embedded SQLite in DataDir.
	DatabaseURL string
	// DatabaseMaxConns is the PostgreSQL connection pool size of this node.
	DatabaseMaxConns int
	// Issuer is the public base URL of this instance, the OpenID issuer.
	Issuer string
	// Dev relaxes production checks (plain-http issuer) and serves the
	// GraphQL playground.
	Dev bool
	// AuditTokenRefresh writes token.refresh for every refresh rotation.
	AuditTokenRefresh bool
	// LogLevel is one of debug, info, warn, error.
	LogLevel string
	// LogFormat is json or text.
	LogFormat string
	// ShutdownTimeout bounds how long in-flight requests may finish after
	// SIGTERM or SIGINT.
	ShutdownTimeout time.Duration
	// MasterKeys seal secrets at rest (signing keys): 32 bytes each,
	// decoded from base64 or hex, from GATEHOUSE_MASTER_KEY or the file
	// GATEHOUSE_MASTER_KEY_FILE names — never from the command line, where
	// other users of the machine see it. The first seals; the others, during
	// a rotation, only open. Nil means a generated key file in DataDir.
	MasterKeys [][]byte
	// RedisURL, when set, shares sign-in throttle counters between nodes
	// (redis:// or rediss://); empty means each node counts on its own.
	// From GATEHOUSE_REDIS_URL or the file GATEHOUSE_REDIS_URL_FILE names,
	// never from the command line: it may hold a password.
	RedisURL string
	// SMTPURL, when set, is the mail server for verification codes, links
	// and security notices (smtp:// with STARTTLS, smtps://, plain only to
	// a loopback host); empty means mail goes to the log (and /dev/mail in
	// dev mode or on a loopback issuer and listen address). From GATEHOUSE_SMTP_URL or the file
	// GATEHOUSE_SMTP_URL_FILE names, never from the command line: it may
	// hold a password.
	SMTPURL string
	// SMTPFrom is the sender of that mail; empty means "Gatehouse
	// <no-reply@issuer host>".
	SMTPFrom string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed; empty means the header is ignored.
	TrustedProxies []netip.Prefix
	// PasswordConcurrency bounds concurrent argon2id computations on this
	// node; 0 means twice the CPU count.
	PasswordConcurrency int
	// PasswordMemoryKiB, PasswordIterations and PasswordParallelism are the
	// argon2id costs new hashes are made with; a sign-in whose stored hash
	// is weaker is rehashed with them (internal/password.Params).
	PasswordMemoryKiB   int
	PasswordIterations  int
	PasswordParallelism int
	// DNSResolver is the host:port of the DNS server domain verification
	// asks (an IP address); empty means the system resolver.
	DNSResolver string
	// DomainRecheckInterval is how often a VERIFIED domain's TXT record is
	// looked up again.
	DomainRecheckInterval time.Duration
	// DomainGracePeriod is how long a VERIFIED domain may miss its TXT
	// record before it is unverified.
	DomainGracePeriod time.Duration
	// SAMLMetadataRefresh is how often a SAML connection's IdP metadata
	// URL is fetched again (tenants.RefreshConnectionMetadata).
	SAMLMetadataRefresh time.Duration

	// labels names where each field's value came from (flag or variable),
	// so that a problem points at what the operator actually typed.
	labels map[string]string
	// issuerDerived is set when Issuer was not given and Load made it up
	// from Addr.
	issuerDerived bool
}

// Var documents one setting: its environment variable, its flag and its
// default. Table lists them all; the README's configuration table must agree.
type Var struct {
	Name        string // environment variable, e.g. GATEHOUSE_ADDR
	Flag        string // flag name without dashes, e.g. addr
	Default     string // the default as a person reads it
	Description string
}

// Defaults of the settings that have a fixed one.
const (
	DefaultAddr            = "127.0.0.1:8080"
	DefaultDataDir         = "./data"
	DefaultLogLevel        = "info"
	DefaultShutdownTimeout = 15 * time.Second
	// DefaultDatabaseMaxConns is a moderate pool: a few nodes stay under
	// PostgreSQL's default max_connections of 100.
	DefaultDatabaseMaxConns = 20
	maxDatabaseMaxConns     = 1000
	// DefaultDomainRecheckInterval and DefaultDomainGracePeriod: a domain
	// whose record disappears is looked at about three times before it
	// loses its verification.
	DefaultDomainRecheckInterval = 24 * time.Hour
	DefaultDomainGracePeriod     = 72 * time.Hour
	// DefaultSAMLMetadataRefresh: an IdP's new signing certificate, which
	// it publishes ahead of a rollover, is picked up within a day.
	DefaultSAMLMetadataRefresh = 24 * time.Hour
)

// setting ties a Var to the Config field it fills.
type setting struct {
	Var
	set func(c *Config, raw string) error
}

var settings = []setting{
	{Var{"GATEHOUSE_ADDR", "addr", DefaultAddr,
		"`host:port` the HTTP server listens on"},
		func(c *Config, s string) error { c.Addr = s; return nil }},
	{Var{"GATEHOUSE_DATA_DIR", "data-dir", DefaultDataDir,
		"`directory` for the embedded SQLite database and, when GATEHOUSE_MASTER_KEY is unset, the generated master key file"},
		func(c *Config, s string) error { c.DataDir = s; return nil }},
	{Var{"GATEHOUSE_DATABASE_URL", "database-url", "none",
		"PostgreSQL `URL` (postgres://user:pass@host/db); when unset, embedded SQLite in the data directory"},
		func(c *Config, s string) error { c.DatabaseURL = s; return nil }},
	{Var{"GATEHOUSE_DATABASE_MAX_CONNS", "database-max-conns", strconv.Itoa(DefaultDatabaseMaxConns),
		"PostgreSQL connection pool size of this node (`n`, 1 to 1000); all nodes together must stay under the server's max_connections"},
		wholeNumber(1, maxDatabaseMaxConns, func(c *Config) *int { return &c.DatabaseMaxConns })},
	{Var{"GATEHOUSE_ISSUER", "issuer", "http:// + the listen address",
		"public base `URL` of this instance, the OpenID issuer; https unless loopback or dev"},
		func(c *Config, s string) error { c.Issuer = s; return nil }},
	boolean(Var{"GATEHOUSE_DEV", "dev", "false",
		"development mode: allows a plain-http issuer, serves the GraphQL playground, text logs"},
		func(c *Config) *bool { return &c.Dev }),
	boolean(Var{"GATEHOUSE_AUDIT_TOKEN_REFRESH", "audit-token-refresh", "false",
		"write a token.refresh audit event for every refresh-token rotation, in the rotation's own statement (costs about an eighth of the PostgreSQL refresh rate: docs/BENCHMARKS.md); reuse, revocation and refusals are audited either way"},
		func(c *Config) *bool { return &c.AuditTokenRefresh }),
	{Var{"GATEHOUSE_LOG_LEVEL", "log-level", DefaultLogLevel,
		"log `level`: debug, info, warn or error"},
		func(c *Config, s string) error { c.LogLevel = s; return nil }},
	{Var{"GATEHOUSE_LOG_FORMAT", "log-format", "json (text with dev)",
		"log `format`: json or text"},
		func(c *Config, s string) error { c.LogFormat = s; return nil }},
	{Var{"GATEHOUSE_SHUTDOWN_TIMEOUT", "shutdown-timeout", DefaultShutdownTimeout.String(),
		"how long in-flight requests may finish after SIGTERM or SIGINT (a Go `duration`, e.g. 30s)"},
		func(c *Config, s string) error {
			d, err := time.ParseDuration(s)
			if err != nil {
				return fmt.Errorf("must be a duration such as 15s or 1m")
			}
			c.ShutdownTimeout = d
			return nil
		}},
	{Var{"GATEHOUSE_MASTER_KEY", "", "a generated key file (mode 0600) in the data directory",
		"32-byte `key` (base64 or hex) that seals signing keys and other secrets at rest; set it (or GATEHOUSE_MASTER_KEY_FILE) in production. " +
			"Environment only, never a flag. To rotate, put the new key first and the old one after it, comma-separated, and run gatehouse keys rotate-master"},
		func(c *Config, s string) error {
			keys, err := seal.ParseKeys(s)
			if err != nil {
				// seal's reasons are worded for the key file; the value is never repeated.
				return errors.New("must be 32 bytes in hex (64 characters) or base64 (e.g. openssl rand -base64 32), or several such keys separated by commas")
			}
			c.MasterKeys = keys
			return nil
		}},
	{Var{"GATEHOUSE_MASTER_KEY_FILE", "master-key-file", "none",
		"`path` of a file (mode 0600) holding the master key, or the keys of a rotation one a line, newest first; instead of GATEHOUSE_MASTER_KEY"},
		func(c *Config, s string) error {
			keys, err := seal.ReadKeyFile(s)
			if err != nil {
				return err
			}
			if c.MasterKeys != nil {
				return errors.New("set GATEHOUSE_MASTER_KEY or GATEHOUSE_MASTER_KEY_FILE, not both")
			}
			c.MasterKeys = keys
			return nil
		}},
	{Var{"GATEHOUSE_REDIS_URL", "", "none",
		"Redis `URL` (redis://host:6379/0, rediss:// for TLS) shared by every node for sign-in throttle counters; when unset, each node counts on its own; while Redis is unreachable each node falls back to its own counters. " +
			"Environment only, never a flag: the URL may hold a password, and other users of the machine read the command line"},
		func(c *Config, s string) error { c.RedisURL = s; return nil }},
	{Var{"GATEHOUSE_REDIS_URL_FILE", "redis-url-file", "none",
		"`path` of a file (mode 0600) holding the Redis URL; instead of GATEHOUSE_REDIS_URL"},
		func(c *Config, s string) error {
			u, err := seal.ReadSecretFile(s)
			if err != nil {
				return err
			}
			if c.RedisURL != "" {
				return errors.New("set GATEHOUSE_REDIS_URL or GATEHOUSE_REDIS_URL_FILE, not both")
			}
			c.RedisURL = u
			c.labels["GATEHOUSE_REDIS_URL"] = "the Redis URL in " + s
			return nil
		}},
	{Var{"GATEHOUSE_SMTP_URL", "", "none",
		"mail server `URL` for verification codes, sign-in links and security notices: smtp://user:pass@host:587 (STARTTLS required), smtps://user:pass@host:465 (TLS), or smtp://localhost:25?tls=none (loopback only); when unset, mail is only logged, and in dev mode (or with a loopback issuer and listen address) also shown at /dev/mail. " +
			"Environment only, never a flag: the URL may hold a password"},
		func(c *Config, s string) error { c.SMTPURL = s; return nil }},
	{Var{"GATEHOUSE_SMTP_URL_FILE", "smtp-url-file", "none",
		"`path` of a file (mode 0600) holding the mail server URL; instead of GATEHOUSE_SMTP_URL"},
		func(c *Config, s string) error {
			u, err := seal.ReadSecretFile(s)
			if err != nil {
				return err
			}
			if c.SMTPURL != "" {
				return errors.New("set GATEHOUSE_SMTP_URL or GATEHOUSE_SMTP_URL_FILE, not both")
			}
			c.SMTPURL = u
			c.labels["GATEHOUSE_SMTP_URL"] = "the mail server URL in " + s
			return nil
		}},
	{Var{"GATEHOUSE_SMTP_FROM", "smtp-from", "no-reply@ the issuer's host, named Gatehouse",
		"sender `address` of the mail Gatehouse sends (RFC 5322: no-reply@acme.example, optionally with a display name before it in angle brackets)"},
		func(c *Config, s string) error { c.SMTPFrom = s; return nil }},
	{Var{"GATEHOUSE_TRUSTED_PROXIES", "trusted-proxies", "none",
		"comma-separated `CIDR` prefixes or addresses of your reverse proxies; only requests from them have X-Forwarded-For read (the client is the rightmost address not in the list); when unset, X-Forwarded-For is ignored"},
		func(c *Config, s string) error {
			p, err := httpserver.ParsePrefixes(s)
			if err != nil {
				return err
			}
			for _, x := range p {
				if x.Bits() == 0 {
					return fmt.Errorf("%s would trust every client's X-Forwarded-For", x)
				}
			}
			c.TrustedProxies = p
			return nil
		}},
	{Var{"GATEHOUSE_PASSWORD_CONCURRENCY", "password-concurrency", "2 × CPU count",
		"how many argon2id password hashes (64 MiB each) may run at once on this node (`n`, 1 to 1024); more wait up to 2s, then get 503 / RATE_LIMITED"},
		wholeNumber(1, 1024, func(c *Config) *int { return &c.PasswordConcurrency })},
	{Var{"GATEHOUSE_PASSWORD_MEMORY_KIB", "password-memory-kib", "65536",
		"argon2id memory per password hash, in KiB (`n`, 19456 to 1048576); raising it rehashes each password at its next sign-in"},
		wholeNumber(19456, 1<<20, func(c *Config) *int { return &c.PasswordMemoryKiB })},
	{Var{"GATEHOUSE_PASSWORD_ITERATIONS", "password-iterations", "3",
		"argon2id passes per password hash (`n`, 1 to 10); raising it rehashes each password at its next sign-in"},
		wholeNumber(1, 10, func(c *Config) *int { return &c.PasswordIterations })},
	{Var{"GATEHOUSE_PASSWORD_PARALLELISM", "password-parallelism", "2",
		"argon2id lanes per password hash (`n`, 1 to 16)"},
		wholeNumber(1, 16, func(c *Config) *int { return &c.PasswordParallelism })},
	{Var{"GATEHOUSE_DNS_RESOLVER", "dns-resolver", "the system resolver",
		"DNS server (`ip:port`, e.g. 10.0.0.2:53) asked for the TXT records that verify organizations' domains"},
		func(c *Config, s string) error {
			if err := dnsresolver.Check(s); err != nil {
				return err
			}
			c.DNSResolver = s
			return nil
		}},
	{Var{"GATEHOUSE_DOMAIN_RECHECK_INTERVAL", "domain-recheck-interval", "24h",
		"how often each verified domain's TXT record is looked up again (a Go `duration`, 1m to 720h)"},
		duration(time.Minute, 720*time.Hour, func(c *Config) *time.Duration { return &c.DomainRecheckInterval })},
	{Var{"GATEHOUSE_DOMAIN_GRACE_PERIOD", "domain-grace-period", "72h",
		"how long a verified domain may miss its TXT record before it is unverified (a Go `duration`, at least the re-check interval, at most 2160h)"},
		duration(time.Minute, 2160*time.Hour, func(c *Config) *time.Duration { return &c.DomainGracePeriod })},
	{Var{"GATEHOUSE_SAML_METADATA_REFRESH", "saml-metadata-refresh", "24h",
		"how often a SAML connection's IdP metadata URL is fetched again, for new certificates or endpoints (a Go `duration`, 1m to 720h)"},
		duration(time.Minute, 720*time.Hour, func(c *Config) *time.Duration { return &c.SAMLMetadataRefresh })},
}

// duration is the setter of a Go duration setting from lo to hi.
func duration(lo, hi time.Duration, field func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, s string) error {
		d, err := time.ParseDuration(s)
		if err != nil || d < lo || d > hi {
			return fmt.Errorf("must be a duration from %s to %s, such as 24h", lo, hi)
		}
		*field(c) = d
		return nil
	}
}

// boolFlags names the flags of boolean settings, which may stand alone
// (--dev for --dev=true); boolean fills it.
var boolFlags = map[string]bool{}

// boolean is a true-or-false setting v stored in field.
func boolean(v Var, field func(*Config) *bool) setting {
	boolFlags[v.Flag] = true
	return setting{v, func(c *Config, s string) error {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return errors.New("must be true or false")
		}
		*field(c) = b
		return nil
	}}
}

// wholeNumber is the setter of a whole-number setting from lo to hi.
func wholeNumber(lo, hi int, field func(*Config) *int) func(*Config, string) error {
	return func(c *Config, s string) error {
		n, err := strconv.Atoi(s)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("must be a whole number from %d to %d", lo, hi)
		}
		*field(c) = n
		return nil
	}
}

// Table lists every setting in the order of Config's fields.
func Table() []Var {
	vars := make([]Var, len(settings))
	for i, s := range settings {
		vars[i] = s.Var
		vars[i].Description = strings.ReplaceAll(s.Description, "`", "")
	}
	return vars
}

// Markdown renders Table as the README's configuration table.
func Markdown() string {
	var b strings.Builder
	b.WriteString("| Variable | Flag | Default | Description |\n|---|---|---|---|\n")
	for _, v := range Table() {
		flag := "(environment only)"
		if v.Flag != "" {
			flag = "`--" + v.Flag + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", v.Name, flag, v.Default, v.Description)
	}
	return b.String()
}

// Loader reads a Config once its flag set has been parsed.
type Loader struct {
	getenv func(string) string
	flags  map[string]*flagValue
}

// Bind registers one flag per setting on fs. Each flag's usage names its
// environment variable and default. Call Load after fs.Parse.
// getenv is os.Getenv in production and a map lookup in tests.
func Bind(fs *flag.FlagSet, getenv func(string) string) *Loader {
	l := &Loader{getenv: getenv, flags: make(map[string]*flagValue, len(settings))}
	for _, s := range settings {
		if s.Flag == "" {
			continue // environment only
		}
		v := &flagValue{isBool: boolFlags[s.Flag]}
		l.flags[s.Flag] = v
		fs.Var(v, s.Flag, fmt.Sprintf("%s\n(env %s, default %s)", s.Description, s.Name, s.Default))
	}
	return l
}

// Load builds the Config: defaults, then environment variables, then the
// flags given on the command line. An empty variable counts as unset. The
// error, an *Error, lists every problem found, parsing and validation alike.
func (l *Loader) Load() (*Config, error) {
	c := &Config{
		Addr:             DefaultAddr,
		DataDir:          DefaultDataDir,
		LogLevel:         DefaultLogLevel,
		ShutdownTimeout:  DefaultShutdownTimeout,
		DatabaseMaxConns: DefaultDatabaseMaxConns,
		labels:           make(map[string]string),

		PasswordMemoryKiB: 64 * 1024, PasswordIterations: 3, PasswordParallelism: 2,
		DomainRecheckInterval: DefaultDomainRecheckInterval, DomainGracePeriod: DefaultDomainGracePeriod,
		SAMLMetadataRefresh: DefaultSAMLMetadataRefresh,
	}
	var problems []problem
	given := make(map[string]bool)
	for _, s := range settings {
		raw, label := "", ""
		if f := l.flags[s.Flag]; f != nil && f.set {
			raw, label = f.value, "--"+s.Flag
		} else if env := l.getenv(s.Name); env != "" {
			raw, label = env, s.Name
		} else {
			continue
		}
		given[s.Flag] = true
		c.labels[s.Name] = label
		if err := s.set(c, raw); err != nil {
			shown := fmt.Sprintf("%q", raw)
			if s.Name == "GATEHOUSE_MASTER_KEY" {
				shown = "(value hidden)" // a mistyped key is still a secret
			}
			problems = append(problems, problem{s.Name, fmt.Sprintf("%s %s: %v", label, shown, err)})
		}
	}
	if !given["log-format"] {
		c.LogFormat = "json"
		if c.Dev {
			c.LogFormat = "text"
		}
	}
	if !given["issuer"] {
		c.issuerDerived = true
		c.Issuer = deriveIssuer(c.Addr)
	}
	if err := newError(append(problems, c.problems()...)); err != nil {
		return nil, err
	}
	return c, nil
}

// problem is one thing wrong with the setting of variable name.
type problem struct {
	name, text string
}

// newError returns an *Error listing problems in the order of Table, or nil.
func newError(problems []problem) error {
	if len(problems) == 0 {
		return nil
	}
	order := make(map[string]int, len(settings))
	for i, s := range settings {
		order[s.Name] = i
	}
	slices.SortStableFunc(problems, func(a, b problem) int { return order[a.name] - order[b.name] })
	e := &Error{}
	for _, p := range problems {
		e.Problems = append(e.Problems, p.text)
	}
	return e
}

// deriveIssuer makes the default issuer from the listen address: a wildcard
// host (":8080", "0.0.0.0:8080") becomes localhost.
func deriveIssuer(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// Error is an invalid configuration: every problem, in the order of Table.
type Error struct {
	Problems []string
}

func (e *Error) Error() string {
	return "invalid configuration: " + strings.Join(e.Problems, "; ")
}

// Validate checks every field and returns an *Error listing all problems,
// or nil.
func (c *Config) Validate() error {
	return newError(c.problems())
}

// label names where field name's value came from.
func (c *Config) label(name string) string {
	if l, ok := c.labels[name]; ok {
		return l
	}
	return name
}

func (c *Config) problems() []problem {
	var out []problem
	bad := func(name, shown, why string) {
		if shown == "" {
			out = append(out, problem{name, fmt.Sprintf("%s: %s", c.label(name), why)})
			return
		}
		out = append(out, problem{name, fmt.Sprintf("%s %q: %s", c.label(name), shown, why)})
	}

	addrOK := true
	if why := checkAddr(c.Addr); why != "" {
		addrOK = false
		bad("GATEHOUSE_ADDR", c.Addr, why)
	}
	if strings.TrimSpace(c.DataDir) == "" {
		bad("GATEHOUSE_DATA_DIR", "", "must not be empty")
	}
	if shown, why := checkDatabaseURL(c.DatabaseURL); why != "" {
		bad("GATEHOUSE_DATABASE_URL", shown, why)
	}
	switch {
	case c.issuerDerived && !addrOK:
		// The address problem says it all.
	case c.issuerDerived && !c.Dev && !isLoopback(hostOf(c.Addr)):
		bad("GATEHOUSE_ISSUER", "", fmt.Sprintf("must be set when the listen address %q is not a loopback address (or set GATEHOUSE_DEV)", c.Addr))
	default:
		if shown, why := checkIssuer(c.Issuer, c.Dev); why != "" {
			bad("GATEHOUSE_ISSUER", shown, why)
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("GATEHOUSE_LOG_LEVEL", c.LogLevel, "must be debug, info, warn or error")
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		bad("GATEHOUSE_LOG_FORMAT", c.LogFormat, "must be json or text")
	}
	if c.ShutdownTimeout <= 0 {
		bad("GATEHOUSE_SHUTDOWN_TIMEOUT", c.ShutdownTimeout.String(), "must be positive")
	}
	if shown, why := checkRedisURL(c.RedisURL); why != "" {
		bad("GATEHOUSE_REDIS_URL", shown, why)
	}
	if shown, why := checkSMTPURL(c.SMTPURL); why != "" {
		bad("GATEHOUSE_SMTP_URL", shown, why)
	}
	if c.DomainGracePeriod < c.DomainRecheckInterval {
		bad("GATEHOUSE_DOMAIN_GRACE_PERIOD", c.DomainGracePeriod.String(),
			fmt.Sprintf("must be at least the re-check interval (%s): a missing record must be seen before it costs the verification", c.DomainRecheckInterval))
	}
	if c.SMTPFrom != "" {
		if _, err := mail.ParseFrom(c.SMTPFrom); err != nil {
			bad("GATEHOUSE_SMTP_FROM", c.SMTPFrom, "must be an address such as \"Acme <no-reply@acme.example>\"")
		}
	}
	return out
}

func checkAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		if strings.Contains(err.Error(), "missing port") {
			return "missing port"
		}
		return "must be host:port"
	}
	if strings.ContainsAny(host, " /") {
		return "invalid host"
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n > 65535 {
		return "port must be a number from 0 to 65535"
	}
	return ""
}

func hostOf(addr string) string {
	host, _, _ := net.SplitHostPort(addr)
	return host
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkDatabaseURL returns the URL as it may be shown (password redacted,
// nothing at all when it does not parse) and what is wrong with it.
func checkDatabaseURL(raw string) (shown, why string) {
	if raw == "" {
		return "", ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		// The parse error quotes the URL, password included: say less.
		return "", "not a valid URL"
	}
	shown = u.Redacted()
	switch u.Scheme {
	case "postgres", "postgresql":
		return shown, ""
	}
	return shown, "must be a postgres:// or postgresql:// URL (leave empty for embedded SQLite)"
}

// checkRedisURL returns the URL as it may be shown (password redacted)
// and what is wrong with it. Valid is what go-redis's ParseURL accepts
// (internal/ratelimit opens it so), over TCP, naming its host.
func checkRedisURL(raw string) (shown, why string) {
	if raw == "" {
		return "", ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		// The parse error quotes the URL, password included: say less.
		return "", "not a valid URL"
	}
	shown = u.Redacted()
	switch {
	case u.Scheme != "redis" && u.Scheme != "rediss":
		return shown, "must be a redis:// or rediss:// URL"
	case u.Hostname() == "":
		return shown, "must name a host" // go-redis would quietly take localhost
	}
	if _, err := redis.ParseURL(raw); err != nil {
		// Its reasons name a path or an option, never the user information.
		return shown, strings.TrimPrefix(err.Error(), "redis: ")
	}
	return shown, ""
}

// checkSMTPURL returns the URL as it may be shown (password redacted) and
// what is wrong with it: what internal/mail's ParseSMTPURL refuses.
func checkSMTPURL(raw string) (shown, why string) {
	if raw == "" {
		return "", ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		// The parse error quotes the URL, password included: say less.
		return "", "not a valid URL"
	}
	if u.User != nil {
		if _, ok := u.User.Password(); !ok {
			u.User = url.User("xxxxx") // a lone user name may be a password in the wrong place
		}
	}
	if _, err := mail.ParseSMTPURL(raw); err != nil {
		return u.Redacted(), err.Error() // its errors never repeat the password
	}
	return "", ""
}

// checkIssuer enforces what OpenID Connect Discovery 1.0 §3 asks of an
// issuer: an absolute https URL without query or fragment; plain http only
// for loopback or in dev mode.
func checkIssuer(raw string, dev bool) (shown, why string) {
	u, err := url.Parse(raw)
	if err != nil {
		return raw, "must be an http(s) URL"
	}
	shown = u.Redacted()
	switch {
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "", u.Opaque != "":
		return shown, "must be an http(s) URL"
	case u.User != nil:
		return shown, "must not contain user information"
	case u.RawQuery != "" || u.ForceQuery:
		return shown, "must not have a query"
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return shown, "must not have a fragment"
	case strings.HasSuffix(u.Path, "/"):
		return shown, "must not end with a slash"
	case u.Scheme == "http" && !dev && !isLoopback(u.Hostname()):
		return shown, "must use https unless the host is loopback or GATEHOUSE_DEV is set"
	}
	return shown, ""
}

// Level is LogLevel as a slog level.
func (c *Config) Level() slog.Level {
	switch c.LogLevel {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// flagValue is a flag that remembers whether it was given, so that an
// unset flag leaves the environment's value in place.
type flagValue struct {
	value  string
	set    bool
	isBool bool
}

func (f *flagValue) String() string {
	if f == nil {
		return ""
	}
	return f.value
}

func (f *flagValue) Set(s string) error {
	f.value, f.set = s, true
	return nil
}

// IsBoolFlag lets a boolean flag (--dev) stand alone, without =true.
func (f *flagValue) IsBoolFlag() bool { return f.isBool }
