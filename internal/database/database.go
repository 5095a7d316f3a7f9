package database

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
)

// Dialect names, equal to entgo.io/ent/dialect.SQLite and dialect.Postgres so
// DB.Dialect can be handed to entsql.OpenDB unchanged.
const (
	SQLite   = "sqlite3"
	Postgres = "postgres"
)

// SQLiteFile is the name of the SQLite database file inside Config.DataDir.
const SQLiteFile = "gatehouse.db"

// Pool sizes. SQLite in WAL mode lets readers run beside the one writer;
// writers queue on busy_timeout (and, in transactions, BEGIN IMMEDIATE), so a
// few connections are plenty. PostgreSQL gets a moderate pool by default
// (Config.MaxConns); several replicas share the server's max_connections
// (100 by default).
const (
	sqliteMaxOpenConns       = 4
	defaultPostgresOpenConns = 20
)

// Config says which database to open.
type Config struct {
	// URL selects the database. Empty means the embedded SQLite file
	// gatehouse.db in DataDir; "postgres://…" or "postgresql://…" means
	// PostgreSQL (any libpq URL parameter pgx understands, e.g. sslmode).
	URL string
	// DataDir holds the SQLite file. Required when URL is empty; created with
	// mode 0700 when missing. Ignored for PostgreSQL.
	DataDir string
	// MaxConns is the PostgreSQL pool size. As many idle connections are
	// kept, each for up to 5 minutes unused: a pool that keeps fewer closes
	// and reopens them under load, a backend fork each. Zero means 20.
	// Ignored for SQLite.
	MaxConns int
	// Logger receives one line per applied migration. Defaults to discarding.
	Logger *slog.Logger
	// WrapConnector, when set, wraps the driver connector of the application
	// handle DB.SQL (tracing, metrics; internal/testdb counts statements with
	// it). It is not applied to the short-lived handle Migrate uses on SQLite.
	WrapConnector func(driver.Connector) driver.Connector
}

// DB is an open database.
type DB struct {
	// SQL is the application's connection pool. On SQLite every connection
	// enforces foreign keys.
	SQL *sql.DB
	// Dialect is SQLite ("sqlite3") or Postgres ("postgres").
	Dialect string

	path     string // SQLite: absolute path of the database file
	describe string
	logger   *slog.Logger
}

// Open opens the database cfg names and pings it. It does not migrate: call
// Migrate before serving. Errors start with "open database:" and never contain
// the password.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	switch {
	case cfg.URL == "":
		db, err := openSQLite(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("open database: %w", err)
		}
		db.logger = logger
		return db, nil
	case strings.HasPrefix(cfg.URL, "postgres://"), strings.HasPrefix(cfg.URL, "postgresql://"):
		db, err := openPostgres(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("open database: %w", redact(err, urlPassword(cfg.URL)))
		}
		db.logger = logger
		return db, nil
	default:
		// Name only the scheme: the rest of the URL may hold a password.
		scheme, _, ok := strings.Cut(cfg.URL, ":")
		if !ok || strings.ContainsAny(scheme, "/@?# ") {
			return nil, errors.New(`open database: unsupported database URL: want "postgres://…" or "postgresql://…" for PostgreSQL, or no URL for SQLite in the data directory`)
		}
		return nil, fmt.Errorf(`open database: unsupported database URL scheme %q: want "postgres://…" or "postgresql://…" for PostgreSQL, or no URL for SQLite in the data directory`, scheme)
	}
}

// SQLiteDSN returns the modernc.org/sqlite DSN the application handle uses for
// the database file at path: foreign keys on, WAL, and BEGIN IMMEDIATE for
// transactions so concurrent read-then-write transactions wait for the write
// lock (busy_timeout) instead of failing with SQLITE_BUSY on lock upgrade.
func SQLiteDSN(path string) string {
	return sqliteDSN(path, true)
}

func sqliteDSN(path string, foreignKeys bool) string {
	fk := "1"
	if !foreignKeys {
		fk = "0"
	}
	// SQLite decodes %XX in URI filenames; escape so '?', '#' and '%' in the
	// path stay part of it.
	p := (&url.URL{Path: filepath.ToSlash(path)}).EscapedPath()
	return "file:" + p + "?_pragma=foreign_keys(" + fk + ")" +
		"&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)" +
		"&_txlock=immediate"
}

func openSQLite(ctx context.Context, cfg Config) (*DB, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("no data directory for the SQLite file: set DataDir, or a postgres:// URL")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	shown := filepath.Join(cfg.DataDir, SQLiteFile)
	path, err := filepath.Abs(shown)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", shown, err)
	}
	c, err := sqlite.NewConnector(sqliteDSN(path, true))
	if err != nil {
		return nil, fmt.Errorf("sqlite %s: %w", shown, err)
	}
	if cfg.WrapConnector != nil {
		c = cfg.WrapConnector(c)
	}
	sdb := sql.OpenDB(c)
	sdb.SetMaxOpenConns(sqliteMaxOpenConns)
	sdb.SetMaxIdleConns(sqliteMaxOpenConns)
	sdb.SetConnMaxIdleTime(0)
	if err := sdb.PingContext(ctx); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("sqlite %s: %w", shown, err)
	}
	// Without foreign_keys(1), SQLite accepts dangling references silently.
	var fk int
	if err := sdb.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("sqlite %s: read foreign_keys pragma: %w", shown, err)
	}
	if fk != 1 {
		sdb.Close()
		return nil, fmt.Errorf("sqlite %s: foreign keys are off after open", shown)
	}
	return &DB{SQL: sdb, Dialect: SQLite, path: path, describe: "sqlite " + shown}, nil
}

func openPostgres(ctx context.Context, cfg Config) (*DB, error) {
	pc, err := pgx.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("parse postgres URL: %w", err)
	}
	describe := fmt.Sprintf("postgres %s:%d/%s", pc.Host, pc.Port, pc.Database)
	var c driver.Connector = stdlib.GetConnector(*pc)
	if cfg.WrapConnector != nil {
		c = cfg.WrapConnector(c)
	}
	sdb := sql.OpenDB(c)
	size := cfg.MaxConns
	if size <= 0 {
		size = defaultPostgresOpenConns
	}
	sdb.SetMaxOpenConns(size)
	sdb.SetMaxIdleConns(size)
	sdb.SetConnMaxIdleTime(5 * time.Minute)
	sdb.SetConnMaxLifetime(30 * time.Minute)
	pingCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := sdb.PingContext(pingCtx); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("%s: %w", describe, err)
	}
	return &DB{SQL: sdb, Dialect: Postgres, describe: describe}, nil
}

// Ready reports whether the database answers. It is meant for /readyz and
// is cheap: one ping on a pooled connection. The caller bounds it with ctx
// (httpserver.Readyz allows ReadyTimeout).
func (db *DB) Ready(ctx context.Context) error {
	if err := db.SQL.PingContext(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// Close closes the connection pool.
func (db *DB) Close() error {
	return db.SQL.Close()
}

// Describe names the database for logs: "sqlite data/gatehouse.db" or
// "postgres 127.0.0.1:5432/gatehouse". It never includes credentials.
func (db *DB) Describe() string {
	return db.describe
}

// urlPassword returns the password in a postgres URL, best effort, so errors
// can be scrubbed of it even when the URL does not parse.
func urlPassword(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		p, _ := u.User.Password()
		return p
	}
	_, rest, _ := strings.Cut(raw, "://")
	userinfo := rest
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		userinfo = rest[:i]
	} else {
		return ""
	}
	_, p, _ := strings.Cut(userinfo, ":")
	return p
}

// redact hides secret in err's message while keeping err in the chain for
// errors.Is and errors.As. pgx already redacts what it recognises; this also
// covers the URLs it cannot parse.
func redact(err error, secret string) error {
	if secret == "" {
		return err
	}
	return &redactedError{err: err, secret: secret}
}

type redactedError struct {
	err    error
	secret string
}

func (e *redactedError) Error() string {
	msg := e.err.Error()
	for _, s := range []string{e.secret, url.QueryEscape(e.secret), url.PathEscape(e.secret)} {
		msg = strings.ReplaceAll(msg, s, "xxxxx")
	}
	return msg
}

func (e *redactedError) Unwrap() error { return e.err }
