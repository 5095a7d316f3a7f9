package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/database"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
)

// Environment variables read by All and Empty.
const (
	// EnvPostgresURL names a PostgreSQL server on which tests may create and
	// drop databases, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
	EnvPostgresURL = "GATEHOUSE_TEST_DATABASE_URL"
	// EnvRequireAll, set to 1, turns a missing backend into a test failure
	// (CI sets it so PostgreSQL cannot be skipped by accident).
	EnvRequireAll = testkit.RequireAllEnv
)

// Database is one fresh database for one test.
type Database struct {
	// Name is the backend, "sqlite" or "postgres"; use it as the t.Run name
	// so `go test -run 'TestX/postgres'` targets one backend.
	Name string
	// Dialect is ent's dialect name, "sqlite3" or "postgres"
	// (database.SQLite, database.Postgres).
	Dialect string
	// SQL is open for the whole test and closed in t.Cleanup.
	SQL *sql.DB
	// DSN is the driver DSN of the database: a modernc.org/sqlite "file:…"
	// DSN (driver "sqlite") or a postgres:// URL (driver "pgx").
	DSN string
	// Config opens the same database again through database.Open, e.g. for
	// code under test that opens its own pool.
	Config database.Config
}

// All returns a fresh database per backend, migrated with the real
// migrations: SQLite always (a file in t.TempDir, so several connections
// share it), and PostgreSQL when GATEHOUSE_TEST_DATABASE_URL is set (a new
// database on that server named after t.Name(), dropped in t.Cleanup).
// With GATEHOUSE_TEST_REQUIRE_ALL=1 a missing backend fails the test;
// otherwise it is left out with a t.Log saying what to set.
func All(t testing.TB) []Database {
	t.Helper()
	return open(t, true)
}

// Each runs fn as a subtest named after each database of All, so that
// `go test -run 'TestX/postgres'` targets one backend.
func Each(t *testing.T, fn func(t *testing.T, db Database)) {
	t.Helper()
	for _, db := range All(t) {
		t.Run(db.Name, func(t *testing.T) { fn(t, db) })
	}
}

// Empty is All without migrating: every database holds no tables. It is for
// tests of migrations themselves.
func Empty(t testing.TB) []Database {
	t.Helper()
	return open(t, false)
}

func open(t testing.TB, migrate bool) []Database {
	t.Helper()
	dbs := []Database{openSQLite(t, migrate)}
	if server := testkit.ServerURL(t, EnvPostgresURL, "PostgreSQL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"); server != "" {
		dbs = append(dbs, openPostgres(t, server, migrate))
	}
	return dbs
}

func openSQLite(t testing.TB, migrate bool) Database {
	t.Helper()
	cfg := database.Config{DataDir: t.TempDir()}
	db := openDB(t, cfg, migrate)
	return Database{
		Name:    "sqlite",
		Dialect: database.SQLite,
		SQL:     db.SQL,
		DSN:     database.SQLiteDSN(filepath.Join(cfg.DataDir, database.SQLiteFile)),
		Config:  cfg,
	}
}

func openPostgres(t testing.TB, server string, migrate bool) Database {
	t.Helper()
	u, err := url.Parse(server)
	if err != nil {
		t.Fatalf("testdb: parse %s: malformed URL", EnvPostgresURL)
	}
	name := databaseName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := admin(ctx, server, `CREATE DATABASE "`+name+`"`); err != nil {
		t.Fatalf("testdb: create database %s on %s: %v", name, u.Redacted(), err)
	}
	t.Cleanup(func() {
		// Runs after the pools below are closed (cleanups run last-in first-out);
		// FORCE ends connections a test leaked.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := admin(ctx, server, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`); err != nil {
			t.Errorf("testdb: drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	cfg := database.Config{URL: u.String()}
	db := openDB(t, cfg, migrate)
	return Database{Name: "postgres", Dialect: database.Postgres, SQL: db.SQL, DSN: cfg.URL, Config: cfg}
}

func openDB(t testing.TB, cfg database.Config, migrate bool) *database.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := database.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("testdb: close %s: %v", db.Describe(), err)
		}
	})
	if migrate {
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("testdb: %s: %v", db.Describe(), err)
		}
	}
	return db
}

// admin runs one statement on the server's own database (CREATE and DROP
// DATABASE cannot run in the database they name).
func admin(ctx context.Context, server, stmt string) error {
	db, err := database.Open(ctx, database.Config{URL: server})
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.SQL.ExecContext(ctx, stmt)
	return err
}

// databaseName turns a test name into a PostgreSQL database name: lower case,
// [a-z0-9_] only, at most 63 bytes, unique thanks to a random suffix.
func databaseName(testName string) string {
	var b strings.Builder
	underscore := false
	for _, r := range strings.ToLower(testName) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			underscore = false
		} else if !underscore {
			b.WriteByte('_')
			underscore = true
		}
	}
	base := strings.Trim(b.String(), "_")
	if len(base) > 48 {
		base = base[:48]
	}
	suffix := make([]byte, 4)
	rand.Read(suffix)
	return fmt.Sprintf("%s_%s", base, hex.EncodeToString(suffix))
}
